"""The processes the tests run against: tether-testkit (the emulated cluster) and private
tetherd daemons, found only through TETHER_BIN_DIR, started and stopped by pid. Every wait here
has a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import tether

ENV_BIN_DIR = "TETHER_BIN_DIR"
FIXTURE = Path(__file__).parent / "fixtures" / "cluster.yaml"
T = TypeVar("T")


def bin_dir() -> Path:
    """The folder holding tetherd, tether and tether-testkit; the tests cannot run without."""
    raw = os.environ.get(ENV_BIN_DIR, "")
    if not raw:
        raise RuntimeError(
            f"{ENV_BIN_DIR} is not set: point it at the built binaries (target/debug), or run "
            "`cargo xtask test python`, which builds them and sets it"
        )
    folder = Path(raw).absolute()
    missing = [b for b in ("tetherd", "tether", "tether-testkit") if not (folder / b).is_file()]
    if missing:
        raise RuntimeError(f"{ENV_BIN_DIR}={folder} lacks {', '.join(missing)}: run `cargo build`")
    return folder


def wait_for(what: str, check: Callable[[], T | None], timeout: float, every: float = 0.05) -> T:
    """Polls `check` until it returns something other than None; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM by pid, then SIGKILL if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """Stops a process that is not our child (a daemon another process started)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@dataclass
class Cluster:
    """A running tether-testkit."""

    process: subprocess.Popen[bytes]
    kubeconfig: Path
    testkit: Path

    def fault(self, *args: str) -> None:
        subprocess.run(
            [str(self.testkit), "fault", "--kubeconfig", str(self.kubeconfig), *args],
            check=True,
            timeout=30,
            capture_output=True,
        )


def start_cluster(bins: Path, folder: Path) -> Cluster:
    kubeconfig = folder / "kubeconfig"
    testkit = bins / "tether-testkit"
    with open(folder / "testkit.log", "wb") as log:
        process = subprocess.Popen(
            [str(testkit), "serve", "--kubeconfig-out", str(kubeconfig), "--config", str(FIXTURE)],
            stdout=subprocess.PIPE,
            stderr=log,
        )
    assert process.stdout is not None
    line = _read_line(process, timeout=30)
    if not line.startswith(b"ready "):
        stop(process)
        raise RuntimeError(f"tether-testkit did not start: {line!r}; see {folder}/testkit.log")
    return Cluster(process, kubeconfig, testkit)


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The first stdout line, with a deadline (the read happens in a helper thread)."""
    import threading

    assert process.stdout is not None
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not got:
        stop(process)
        raise RuntimeError(f"tether-testkit printed nothing within {timeout} s")
    return got[0]


@dataclass
class Daemon:
    """A private tetherd on its own socket and state folder."""

    bins: Path
    socket: Path
    state: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bins / "tetherd"),
                    "--socket",
                    str(self.socket),
                    "--state-dir",
                    str(self.state),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_for("tetherd to answer", lambda: True if self._answers() else None, timeout=15)
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"tetherd exited with {self.process.returncode}; see {self.log}")
        return tether._autostart.answers(str(self.socket))

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def client(self, **kwargs: object) -> tether.Client:
        return tether.Client(self.socket, autostart=False, **kwargs)  # type: ignore[arg-type]


def new_daemon(bins: Path, folder: Path) -> Daemon:
    """A daemon in `folder` (socket folder 0700), not started yet."""
    sockets = folder / "run"
    sockets.mkdir(mode=0o700)
    return Daemon(bins, sockets / "tetherd.sock", folder / "state", folder / "tetherd.log")
