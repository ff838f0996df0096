"""Autostart: a client starts tetherd when none answers, and racing clients start exactly one
(through the lifecycle lock the Rust CLI uses too)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import tether
from harness import alive, stop_pid

CLIENT = """
import sys, tether
print(tether.Client().info().pid)
"""


@pytest.fixture
def counted_tetherd(bins: Path, tmp_path: Path) -> Path:
    """A tetherd wrapper that logs each start (its pid, which exec keeps) to starts.log."""
    wrapper = tmp_path / "tetherd"
    wrapper.write_text(
        f'#!/bin/sh\necho $$ >> {tmp_path / "starts.log"}\nexec {bins / "tetherd"} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


@pytest.fixture
def runtime(tmp_path: Path) -> Path:
    """A fresh XDG_RUNTIME_DIR: the default socket lives in <it>/tether/tetherd.sock."""
    folder = tmp_path / "xdg"
    folder.mkdir(mode=0o700)
    return folder


def test_three_racing_clients_start_exactly_one_daemon(
    counted_tetherd: Path, runtime: Path, tmp_path: Path
):
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "TETHER_STATE_DIR": str(tmp_path / "state"),
        "TETHER_DAEMON_BIN": str(counted_tetherd),
    }
    env.pop("TETHER_SOCKET")
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    pids = []
    try:
        for racer in racers:
            out, err = racer.communicate(timeout=60)
            assert racer.returncode == 0, err.decode()
            pids.append(int(out))
        starts = [int(line) for line in (tmp_path / "starts.log").read_text().split()]
        assert len(starts) == 1, starts
        assert pids == starts * 3
        assert alive(starts[0])
        socket = runtime / "tether" / "tetherd.sock"
        assert socket.is_socket()
        assert stat.S_IMODE(socket.parent.stat().st_mode) == 0o700
        assert (socket.parent / "lifecycle.lock").is_file()
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
        for pid in set(pids):
            stop_pid(pid)


def test_autostart_in_process_then_reuse(
    counted_tetherd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "state"))
    socket = tmp_path / "run" / "tetherd.sock"
    with tether.Client(socket, daemon_bin=counted_tetherd) as first:
        pid = first.info().pid
    try:
        assert stat.S_IMODE(socket.parent.stat().st_mode) == 0o700
        info = tether.Client(socket, daemon_bin=counted_tetherd).info()
        assert info.pid == pid and info.log_file
        assert len((tmp_path / "starts.log").read_text().split()) == 1
    finally:
        stop_pid(pid)


def test_a_daemon_that_exits_at_once_points_at_the_logs(tmp_path: Path):
    broken = tmp_path / "tetherd"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(tether.DaemonUnavailable) as failed:
        tether.Client(tmp_path / "run" / "s.sock", daemon_bin=broken).connect()
    assert "exited with code 3" in str(failed.value)
    assert "tether daemon logs" in str(failed.value)


def test_a_missing_daemon_binary_says_how_to_name_it(tmp_path: Path):
    with pytest.raises(tether.DaemonUnavailable) as failed:
        tether.Client(tmp_path / "run" / "s.sock", daemon_bin=tmp_path / "nope").connect()
    assert "TETHER_DAEMON_BIN" in str(failed.value)
