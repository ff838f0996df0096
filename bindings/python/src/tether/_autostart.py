"""Starting tetherd when nothing answers on its socket, as `proto/src/autostart.rs` does.

Clients take turns through an exclusive `flock` on `<socket folder>/lifecycle.lock`, the same
file the Rust CLI locks, and look again once they hold it; so racing clients (Python or CLI)
start exactly one daemon. These functions block; the async client runs them in a thread.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket as so
import subprocess
import time

from . import _locate
from .errors import DaemonUnavailable

START_TIMEOUT = 10.0
LOCK_TIMEOUT = 30.0
_POLL = 0.02

# Daemons this process started. Keeping their Popen objects means no "still running" warning
# when one outlives the client, and lets a later start reap those that ended.
_started: list[subprocess.Popen[bytes]] = []


def answers(path: str) -> bool:
    """Whether something accepts connections on the socket at `path`."""
    probe = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def ensure_running(socket: str, daemon_bin: str, timeout: float = START_TIMEOUT) -> None:
    """Returns once a daemon answers at `socket`, starting one if none does."""
    if answers(socket):
        return
    folder = os.path.dirname(socket)
    _prepare_folder(folder)
    _locate.check_trusted(socket)
    lock_path = os.path.join(folder, _locate.LOCK_NAME)
    with open(lock_path, "a") as lock:
        _lock(lock.fileno(), lock_path)
        # Another client may have started it while we waited for the lock.
        if answers(socket):
            return
        _start(socket, daemon_bin, timeout)


def _prepare_folder(folder: str) -> None:
    """As `paths::socket_dir`: the default runtime folder is made private (0700); a folder the
    user chose is created 0700 when missing and otherwise left as it is."""
    try:
        if folder == _locate.runtime_dir() or not os.path.exists(folder):
            os.makedirs(folder, mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
    except OSError as e:
        raise DaemonUnavailable(
            f"failed to prepare tetherd's socket folder {folder}: {e.strerror}; it must be a "
            f"folder only you can use (or set {_locate.ENV_SOCKET})"
        ) from e


def _lock(fd: int, path: str) -> None:
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise DaemonUnavailable(
                    f"failed to take the daemon lifecycle lock {path}: {e.strerror}"
                ) from e
        if time.monotonic() >= deadline:
            raise DaemonUnavailable(
                f"failed to take the daemon lifecycle lock {path} within {LOCK_TIMEOUT:.0f} s: "
                "another client holds it; is a `tether` or script stuck starting the daemon?"
            )
        time.sleep(_POLL)


def _start(socket: str, daemon_bin: str, timeout: float) -> None:
    _reap()
    try:
        child = subprocess.Popen(
            [daemon_bin, "--socket", socket, "--log-file"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as e:
        raise DaemonUnavailable(
            f"failed to start tetherd ({daemon_bin}): {e.strerror}; install tetherd or set "
            f"{_locate.ENV_DAEMON_BIN} to its path"
        ) from e
    _started.append(child)
    deadline = time.monotonic() + timeout
    while not answers(socket):
        code = child.poll()
        if code is not None:
            raise DaemonUnavailable(
                f"failed to start tetherd ({daemon_bin}): it exited with code {code}; see "
                "`tether daemon logs`"
            )
        if time.monotonic() >= deadline:
            raise DaemonUnavailable(
                f"failed to start tetherd ({daemon_bin}): it did not answer at {socket} within "
                f"{timeout:.0f} s; see `tether daemon logs`"
            )
        time.sleep(_POLL)


def _reap() -> None:
    for child in list(_started):
        if child.poll() is not None:
            _started.remove(child)
