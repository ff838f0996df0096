"""The exceptions, and the one table that turns a failed gRPC call into one of them.

Every exception is a `TetherError`. Its message is the daemon's own words (which name what was
wrong) plus what to do; a raw gRPC error is never shown, but stays reachable as `__cause__`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc

    from .models import Forward

# "spec.ports[0]: ..." -> "spec.ports[0]": INVALID_ARGUMENT messages start with the field.
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]]*): ")


class TetherError(Exception):
    """Any failure of a Tether call. `code` is the gRPC status name (such as "NOT_FOUND") when
    the daemon or the transport reported one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class NotFound(TetherError, LookupError):
    """No such forward, session, pod or other object."""


class AlreadyExists(TetherError):
    """A forward of that name exists with another spec; the message names the field."""


class InvalidArgument(TetherError, ValueError):
    """The daemon rejected a value; `field` names it as the API does ("spec.ports[0]")."""

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message, code=code)
        self.field = field


class DaemonUnavailable(TetherError, ConnectionError):
    """tetherd could not be reached, started or trusted."""


class UntrustedSocket(DaemonUnavailable):
    """The socket's folder (or the socket) could be replaced by another user, so it is not used:
    `path` is the folder or socket, `owner_uid` its owner and `mode` its permission bits."""

    def __init__(self, message: str, *, path: str, owner_uid: int, mode: int) -> None:
        super().__init__(message)
        self.path = path
        self.owner_uid = owner_uid
        self.mode = mode


class ClusterError(TetherError):
    """The cluster could not be reached or refused. For `forward(wait=True)` on a forward that
    failed, `forward` is its last state."""

    def __init__(
        self, message: str, *, code: str | None = None, forward: Forward | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.forward = forward


class Timeout(TetherError, TimeoutError):
    """A deadline passed. For `forward(wait=True)`, `forward` is its state at the deadline; the
    daemon keeps trying."""

    def __init__(
        self, message: str, *, code: str | None = None, forward: Forward | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.forward = forward


class IncompatibleDaemon(TetherError):
    """The running tetherd speaks another API version than this package."""

    def __init__(
        self,
        message: str,
        *,
        daemon_version: str,
        client_version: str,
        daemon_api_major: int,
        client_api_major: int,
    ) -> None:
        super().__init__(message)
        self.daemon_version = daemon_version
        self.client_version = client_version
        self.daemon_api_major = daemon_api_major
        self.client_api_major = client_api_major


_LOGS = "see `tether daemon logs`"


def from_rpc(
    error: grpc.RpcError, action: str, socket: str, daemon_answers: Callable[[], bool]
) -> TetherError:
    """The table: a failed call to an exception. `action` completes "failed to ..."; the
    daemon's own messages already say what failed, so they are used as they are."""
    code = error.code()
    name: str = code.name if code is not None else "UNKNOWN"
    details: str = error.details() or name
    if name == "NOT_FOUND":
        return NotFound(details, code=name)
    if name == "ALREADY_EXISTS":
        return AlreadyExists(details, code=name)
    if name in ("INVALID_ARGUMENT", "OUT_OF_RANGE"):
        match = _FIELD.match(details)
        field = match.group(1) if match else None
        return InvalidArgument(f"failed to {action}: {details}", code=name, field=field)
    if name == "DEADLINE_EXCEEDED":
        return Timeout(f"failed to {action}: it did not finish in time", code=name)
    if name == "UNAVAILABLE" and not daemon_answers():
        return DaemonUnavailable(
            f"failed to {action}: tetherd does not answer at {socket} ({details}); "
            "check it with `tether daemon status` and `tether daemon logs`",
            code=name,
        )
    if name == "UNAVAILABLE":
        # The daemon's own UNAVAILABLE: the cluster or the forward's tunnel is not there.
        return ClusterError(f"failed to {action}: {details}", code=name)
    if name in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
        return ClusterError(f"failed to {action}: {details}; check your access", code=name)
    if name == "UNIMPLEMENTED":
        return TetherError(
            f"failed to {action}: tetherd is older than this client; "
            "restart it with `tether daemon stop` (the next call starts the new one)",
            code=name,
        )
    if name == "CANCELLED":
        return TetherError(f"failed to {action}: the call was cancelled", code=name)
    if name in ("INTERNAL", "UNKNOWN", "DATA_LOSS"):
        return TetherError(f"failed to {action}: {details}; {_LOGS}", code=name)
    return TetherError(f"failed to {action}: {details}", code=name)
