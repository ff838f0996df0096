"""Daemon-owned sessions: create, attach (replay, then live output), detach, attach again
(replay), kill."""

from __future__ import annotations

import tether


def read_until(attachment: tether.Attachment, marker: bytes) -> bytes:
    """Output until `marker` shows up; the attachment's own deadline bounds the wait."""
    seen = bytearray()
    for event in attachment:
        if isinstance(event, tether.Output):
            seen.extend(event.data)
            if marker in seen:
                return bytes(seen)
    raise AssertionError(f"the session ended before {marker!r}; output: {bytes(seen)!r}")


def test_a_session_replays_its_output_to_each_attach_and_outlives_them(tc: tether.Client):
    session = tc.create_session("toolbox", ["sh"], tty=True, size=(80, 24))
    assert session.phase is tether.SessionPhase.RUNNING
    assert session.kind is tether.SessionKind.EXEC and session.pod == "toolbox"
    assert session.id in {s.id for s in tc.sessions()}

    with tc.attach(session.id, timeout=30) as first:
        assert first.session.id == session.id
        first.read_replay()
        first.send(b"echo live-$((40+2))\n")
        # The shell's echo of the typed line has no "42"; the command's output has.
        assert b"live-42" in read_until(first, b"live-42")
        first.detach()
        # Detaching ends this client's stream (what was on its way may still come), not the
        # session.
        assert all(isinstance(e, tether.Output) for e in list(first))

    assert tc.get_session(session.id).phase is tether.SessionPhase.RUNNING
    with tc.attach(session.id, timeout=30) as second:
        assert b"live-42" in second.read_replay()

    killed = tc.kill_session(session.id)
    assert killed.phase is tether.SessionPhase.KILLED
    assert tc.get_session(session.id).phase.ended


def test_attach_without_replay_starts_with_live_output(tc: tether.Client):
    session = tc.create_session("toolbox", ["sh", "-c", "echo before; cat"], stdin=True)
    try:
        with tc.attach(session.id, timeout=30) as a:
            assert b"before" in read_until(a, b"before")
        with tc.attach(session.id, replay=False, timeout=30) as a:
            assert a.read_replay() == b""
            a.send(b"after\n")
            assert b"before" not in read_until(a, b"after")
    finally:
        tc.kill_session(session.id)


def test_an_exec_session_that_exits_keeps_its_output_and_exit_code(tc: tether.Client):
    session = tc.create_session("toolbox", ["sh", "-c", "echo bye; exit 4"], stdin=False)
    with tc.attach(session.id, timeout=30) as a:
        # The stream ends with the session; its output is kept.
        output = b"".join(e.data for e in a if isinstance(e, tether.Output))
    assert b"bye" in output
    final = tc.get_session(session.id)
    assert final.phase is tether.SessionPhase.EXITED
    assert (final.exit_code, final.error) == (4, None)
    tc.kill_session(session.id)


def test_attaching_to_a_missing_session_raises_not_found(tc: tether.Client):
    try:
        tc.attach("no-such-session", timeout=30)
    except tether.NotFound as e:
        assert "no-such-session" in str(e)
    else:
        raise AssertionError("attach to a missing session did not raise")
