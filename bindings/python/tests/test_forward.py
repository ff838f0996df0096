"""Forwards through the blocking client: a GET through svc/web, surviving the deletion of its
pod, the idempotent ensure, and the forward lifecycle calls."""

from __future__ import annotations

import threading
import time
import urllib.request

import pytest

import tether
from harness import Cluster, wait_for


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
        return answer.read().decode().strip()


def phase_is(tc: tether.Client, name: str, phase: tether.Phase) -> bool | None:
    return True if tc.get(name).status.phase is phase else None


def test_a_get_through_a_forward_to_svc_web_returns_a_pods_name(tc: tether.Client, name: str):
    fwd = tc.forward("svc/web", ":80", name=name, namespace="default", wait=True, timeout=30)

    assert fwd.status.phase is tether.Phase.READY
    assert fwd.local_addresses == (f"127.0.0.1:{fwd.local_port}",)
    assert fwd.status.pod is not None and fwd.status.pod.startswith("web-")
    assert get(fwd.local_port) == fwd.status.pod
    tc.remove(name)


def test_a_forward_survives_the_deletion_of_its_pod(tc: tether.Client, cluster: Cluster, name: str):
    fwd = tc.forward("svc/web", ":80", name=name, wait=True, timeout=30)
    first_pod = fwd.status.pod
    assert first_pod is not None and get(fwd.local_port) == first_pod
    events = tc.events([name], timeout=60)
    current = next(events)
    assert isinstance(current, tether.StatusChanged) and current.status.pod == first_pod

    # Requests keep going while the pod is deleted; every one must succeed.
    answers: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                answers.append(get(fwd.local_port))
            except OSError as e:
                failures.append(repr(e))
            time.sleep(0.02)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        cluster.fault("delete-pod", first_pod)
        phases = []
        for event in events:
            if isinstance(event, tether.StatusChanged):
                phases.append(event.status.phase)
                if event.status.phase is tether.Phase.READY and event.status.pod != first_pod:
                    break
        # Let requests run on the new pod for a moment too.
        time.sleep(0.5)
    finally:
        stop.set()
        loader.join(timeout=30)
        events.close()

    assert tether.Phase.RECONNECTING in phases, phases
    assert failures == []
    assert len(answers) > 5
    after = tc.get(name)
    assert after.status.pod not in (None, first_pod)
    assert after.local_port == fwd.local_port
    assert get(after.local_port) == after.status.pod
    tc.remove(name)


def test_forward_twice_returns_the_same_forward_and_another_spec_is_refused(
    tc: tether.Client, name: str
):
    first = tc.forward("svc/web", ":80", name=name)
    again = tc.forward("svc/web", ":80", name=name)

    assert not first.existed and again.existed
    assert again.name == first.name and again.local_port == first.local_port
    assert again.ports == first.ports
    with pytest.raises(tether.AlreadyExists) as refused:
        tc.forward("svc/web", ":8080", name=name)
    assert "spec.ports" in str(refused.value)
    assert tc.get(name).ports == first.ports
    tc.remove(name)


def test_the_derived_name_is_the_same_on_every_call(tc: tether.Client):
    fwd = tc.forward("deploy/web", ":http")
    try:
        assert fwd.name == "deploy-web-http"
        assert tc.forward("deploy/web", ":http").existed
    finally:
        tc.remove(fwd.name)


def test_the_callers_kubeconfig_is_sent_absolute(
    tc: tether.Client, name: str, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(cluster.kubeconfig.parent)
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig.name)
    fwd = tc.forward("svc/web", ":80", name=name)
    assert fwd.kubeconfig == str(cluster.kubeconfig)
    tc.remove(name)


def test_list_get_pause_resume_remove(tc: tether.Client, name: str):
    tc.forward("svc/web", ":80", name=name, wait=True, timeout=30)
    assert name in {f.name for f in tc.forwards()}

    tc.pause(name)
    # PauseForward answers before the supervisor has stopped serving: wait for the phase.
    wait_for("Paused", lambda: phase_is(tc, name, tether.Phase.PAUSED), timeout=10)
    tc.resume(name)
    wait_for("Ready again", lambda: phase_is(tc, name, tether.Phase.READY), timeout=30)
    tc.remove(name)

    with pytest.raises(tether.NotFound) as missing:
        tc.get(name)
    assert name in str(missing.value)
    assert name not in {f.name for f in tc.forwards()}


def test_a_temporary_forward_is_removed_on_exit_even_after_an_error(tc: tether.Client):
    with pytest.raises(ZeroDivisionError), tc.temporary_forward("deploy/web", ":8080") as tmp:
        assert tmp.ready and tmp.name.startswith("py-deploy-web-")
        assert get(tmp.local_port).startswith("web-")
        _ = 1 / 0
    with pytest.raises(tether.NotFound):
        tc.get(tmp.name)


def test_a_bad_port_names_the_field(tc: tether.Client):
    with pytest.raises(tether.InvalidArgument) as bad:
        tc.forward("svc/web", "eighty:80")
    assert bad.value.field == "spec.ports[0]"
    assert "eighty" in str(bad.value)


def test_waiting_for_a_target_that_does_not_exist_gives_up_with_its_state(
    tc: tether.Client, name: str
):
    with pytest.raises((tether.Timeout, tether.ClusterError)) as failed:
        tc.forward("svc/no-such-service", ":80", name=name, wait=True, timeout=2)
    assert failed.value.forward is not None
    assert failed.value.forward.name == name
    assert name in str(failed.value)
    tc.remove(name)
