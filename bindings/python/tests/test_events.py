"""The event stream: typed events, the current state first, and a subscription that resumes
by itself across a daemon restart."""

from __future__ import annotations

import threading

import pytest

import tether
from harness import Daemon


def statuses(events, count: int) -> list[tether.StatusChanged]:  # type: ignore[no-untyped-def]
    found = []
    for event in events:
        if isinstance(event, tether.StatusChanged):
            found.append(event)
            if len(found) == count:
                return found
    raise AssertionError("the event stream ended")


def test_the_first_events_describe_the_current_state(tc: tether.Client, name: str):
    fwd = tc.forward("svc/web", ":80", name=name, wait=True, timeout=30)
    events = tc.events([name], timeout=30)
    try:
        (first,) = statuses(events, 1)
        assert first.forward == name
        assert first.status.phase is tether.Phase.READY and first.status.pod == fwd.status.pod
        tc.remove(name)
        for event in events:
            if isinstance(event, tether.ForwardDeleted):
                assert event.forward == name
                break
    finally:
        events.close()


def stop_daemon(daemon: Daemon, how: str) -> None:
    """Stops it gracefully (the Shutdown call) or as a crash (SIGKILL), and waits for the exit."""
    assert daemon.process is not None
    if how == "crash":
        daemon.process.kill()
    else:
        with daemon.client() as other:
            other.shutdown_daemon()
    daemon.process.wait(timeout=15)


@pytest.mark.parametrize("how", ["graceful", "crash"])
def test_events_resume_across_a_daemon_restart(own_daemon: Daemon, how: str):
    with own_daemon.client() as tc:
        fwd = tc.forward("svc/web", ":80", wait=True, timeout=30)
        before = tc.info().pid
        events = tc.events([fwd.name], timeout=60)
        try:
            (current,) = statuses(events, 1)
            assert current.status.phase is tether.Phase.READY

            # The daemon goes away, and comes back a moment later with the same state.
            stop_daemon(own_daemon, how)
            restarter = threading.Timer(1.0, own_daemon.start)
            restarter.start()
            try:
                # Reading on resubscribes (backing off while nothing answers) and gets the
                # restored forward's current state first, then its way back to Ready.
                resumed = statuses(events, 1)[0]
                assert resumed.forward == fwd.name
                while resumed.status.phase is not tether.Phase.READY:
                    resumed = statuses(events, 1)[0]
            finally:
                restarter.join(timeout=30)
        finally:
            events.close()
        assert tc.info().pid != before
        again = tc.get(fwd.name)
        assert again.local_port == fwd.local_port
        tc.remove(fwd.name)


def test_events_give_up_at_their_deadline(tc: tether.Client, name: str):
    tc.forward("svc/web", ":80", name=name)
    outcome: list[BaseException] = []

    def follow() -> None:
        try:
            for _event in tc.events([name], timeout=1):
                pass
        except BaseException as e:
            outcome.append(e)

    follower = threading.Thread(target=follow)
    follower.start()
    follower.join(timeout=30)
    tc.remove(name)
    assert not follower.is_alive(), "events() outlived its deadline"
    assert len(outcome) == 1 and isinstance(outcome[0], tether.Timeout), outcome
