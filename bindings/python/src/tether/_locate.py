"""Where tetherd is, by the same rules as the Rust client (`proto/src/paths.rs`), and whether
its socket can be trusted. Environment variable names live here and nowhere else.

- Socket: TETHER_SOCKET, else $XDG_RUNTIME_DIR/tether/tetherd.sock, else (macOS, or a Linux
  session without it) $XDG_STATE_HOME/tether/run/tetherd.sock (~/.local/state/tether/run), else
  (no home) <temp dir>/tether-<uid>/tetherd.sock.
- Daemon binary: TETHER_DAEMON_BIN, else `tetherd` on PATH.
- Kubeconfig: the caller's KUBECONFIG, every path made absolute (the daemon runs elsewhere).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping

from .errors import UntrustedSocket

ENV_SOCKET = "TETHER_SOCKET"
ENV_DAEMON_BIN = "TETHER_DAEMON_BIN"
ENV_RUNTIME_DIR = "XDG_RUNTIME_DIR"
ENV_STATE_HOME = "XDG_STATE_HOME"
ENV_KUBECONFIG = "KUBECONFIG"

SOCKET_NAME = "tetherd.sock"
LOCK_NAME = "lifecycle.lock"


def runtime_dir(env: Mapping[str, str] = os.environ) -> str:
    """The folder for the socket and the lifecycle lock."""
    xdg = env.get(ENV_RUNTIME_DIR, "")
    if xdg:
        return os.path.join(xdg, "tether")
    state = env.get(ENV_STATE_HOME, "")
    if os.path.isabs(state):
        return os.path.join(state, "tether", "run")
    home = env.get("HOME", "") or os.path.expanduser("~")
    if os.path.isabs(home):
        return os.path.join(home, ".local", "state", "tether", "run")
    return os.path.join(tempfile.gettempdir(), f"tether-{os.getuid()}")


def socket_path(explicit: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    """The daemon's socket, absolute: `explicit`, TETHER_SOCKET, or the default."""
    path = explicit or env.get(ENV_SOCKET, "") or os.path.join(runtime_dir(env), SOCKET_NAME)
    return absolute(os.fspath(path))


def daemon_bin(explicit: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    """The `tetherd` to start: `explicit`, TETHER_DAEMON_BIN, or `tetherd` (found on PATH)."""
    return explicit or env.get(ENV_DAEMON_BIN, "") or "tetherd"


def absolute(path: str) -> str:
    """`path` against the current folder, as Rust's `std::path::absolute` does on Unix: `.`
    parts go, `..` parts stay (symlinks are not resolved)."""
    if not os.path.isabs(path):
        path = os.path.join(os.getcwd(), path)
    trailing = "/" if path.endswith("/") and path != "/" else ""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    root = "//" if path.startswith("//") and not path.startswith("///") else "/"
    return root + "/".join(parts) + (trailing if parts else "")


def kubeconfig_list(explicit: str | None, env: Mapping[str, str] = os.environ) -> str:
    """The kubeconfig list to send: `explicit`, else the caller's KUBECONFIG, with every path
    made absolute; "" (the daemon's default) for none."""
    listed = explicit if explicit is not None else env.get(ENV_KUBECONFIG, "")
    paths = [absolute(p) for p in listed.split(os.pathsep) if p]
    return os.pathsep.join(paths)


def check_trusted(socket: str) -> None:
    """Refuses a socket that another user could have put there: its folder must be ours and
    not writable by group or others, and the socket, if it exists, must be ours.

    A folder that does not exist yet passes: autostart creates it 0700."""
    folder = os.path.dirname(socket) or "."
    uid = os.getuid()
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid != uid or mode & 0o022:
        whose = "you" if info.st_uid == uid else f"uid {info.st_uid}, not you (uid {uid})"
        raise UntrustedSocket(
            f"refusing to use tetherd's socket folder {folder}: it is owned by {whose} with mode "
            f"{mode:o}, so another user could replace the socket; make it yours and private "
            f"(`chmod 700 {folder}`), or set {ENV_SOCKET} to a socket in a folder only you "
            "can write",
            path=folder,
            owner_uid=info.st_uid,
            mode=mode,
        )
    try:
        info = os.lstat(socket)
    except FileNotFoundError:
        return
    if info.st_uid != uid:
        raise UntrustedSocket(
            f"refusing to use tetherd's socket {socket}: it is owned by uid {info.st_uid}, not "
            f"you (uid {uid}), with mode {stat.S_IMODE(info.st_mode):o}; remove it, or set "
            f"{ENV_SOCKET} to a socket of your own",
            path=socket,
            owner_uid=info.st_uid,
            mode=stat.S_IMODE(info.st_mode),
        )
