"""The values the clients return: plain, typed, immutable dataclasses and enums.

They are built from the daemon's answers by `tether._wire.convert`; nothing here knows protobuf.
Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Phase(str, enum.Enum):
    """Where a forward is in its life. Only READY serves new connections at once; during
    CONNECTING and RECONNECTING, new local connections wait (30 s by default) for a tunnel."""

    UNSPECIFIED = "Unspecified"
    PENDING = "Pending"
    CONNECTING = "Connecting"
    READY = "Ready"
    RECONNECTING = "Reconnecting"
    PAUSED = "Paused"
    FAILED = "Failed"


class ReasonKind(str, enum.Enum):
    """Why a forward is RECONNECTING or FAILED, as a kind to decide on (the text is `reason`)."""

    UNSPECIFIED = "Unspecified"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"
    NO_READY_POD = "NoReadyPod"
    CONNECTION = "Connection"
    DEAD_PEER = "DeadPeer"
    WAKE = "Wake"
    POD_GONE = "PodGone"
    BIND = "Bind"
    OTHER = "Other"
    FREEZE = "Freeze"
    NO_SUCH_PORT = "NoSuchPort"


@dataclass(frozen=True)
class ForwardStatus:
    """A forward's state as the daemon last reported it."""

    phase: Phase
    # For RECONNECTING: the attempt, from 1; 0 otherwise.
    attempt: int
    # For RECONNECTING and FAILED: why (kind and words); None otherwise.
    reason_kind: ReasonKind | None
    reason: str | None
    # The pod in use when READY.
    pod: str | None
    # The local addresses served, such as "127.0.0.1:5432", one per port mapping.
    local_addresses: tuple[str, ...]
    # When the phase was entered (whole seconds).
    since: datetime
    # The current tunnel's protocol: "websocket-tunnel", "websocket" or "spdy".
    protocol: str | None


@dataclass(frozen=True)
class ForwardStats:
    """Counters since the daemon started serving the forward."""

    connections_total: int
    connections_active: int
    reconnects: int
    # Bytes sent to the pod and received from it.
    bytes_out: int
    bytes_in: int


@dataclass(frozen=True)
class Forward:
    """A port-forward held by the daemon."""

    name: str
    target: str
    # None: the kubeconfig context's namespace / current context / the daemon's default config.
    namespace: str | None
    context: str | None
    kubeconfig: str | None
    # The port mappings as "LOCAL:REMOTE", with the local port the daemon bound for ":REMOTE".
    ports: tuple[str, ...]
    # The local bind address.
    address: str
    status: ForwardStatus
    stats: ForwardStats
    created: datetime
    # For `Client.forward`: an identical forward existed and was returned unchanged.
    existed: bool = False

    @property
    def local_ports(self) -> tuple[int, ...]:
        """The local port of each mapping (reserved for the forward, kept across restarts)."""
        return tuple(int(p.split(":", 1)[0]) for p in self.ports if ":" in p)

    @property
    def local_port(self) -> int:
        """The first mapping's local port."""
        return self.local_ports[0]

    @property
    def local_addresses(self) -> tuple[str, ...]:
        """Where to connect, such as ("127.0.0.1:5432",): the addresses served, else the
        reserved ones (a forward that is not serving yet still owns its ports)."""
        if self.status.local_addresses:
            return self.status.local_addresses
        host = f"[{self.address}]" if ":" in self.address else self.address
        return tuple(f"{host}:{port}" for port in self.local_ports)

    @property
    def ready(self) -> bool:
        return self.status.phase is Phase.READY


@dataclass(frozen=True)
class DaemonInfo:
    """Facts about the running tetherd."""

    version: str
    api_major: int
    pid: int
    uptime_seconds: int
    socket: str
    state_dir: str
    forwards: int
    forwards_ready: int
    # Where it logs, when it logs to a file (as when a client started it).
    log_file: str | None


@dataclass(frozen=True)
class ExecResult:
    """How a one-shot command ended, with all its output.

    Exactly one of `exit_code` and `error` is set: the command's exit code (0-255), or the
    cluster's words when the command could not run to an exit code (command not found, the
    container went away)."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    error: str | None = None
    # The Kubernetes status reason that came with `error`, such as "InternalError".
    reason: str | None = None
    pod: str = ""
    container: str = ""
    # Notes from the daemon, such as "stdin EOF cannot be signalled on this cluster".
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class SessionKind(str, enum.Enum):
    """EXEC runs a command; ATTACH joins a container's main process."""

    UNSPECIFIED = "Unspecified"
    EXEC = "Exec"
    ATTACH = "Attach"


class SessionPhase(str, enum.Enum):
    """Where a daemon-owned session is in its life. EXITED, LOST and KILLED are final."""

    UNSPECIFIED = "Unspecified"
    STARTING = "Starting"
    RUNNING = "Running"
    # An attach session re-joining its container after a drop or a daemon restart.
    RECONNECTING = "Reconnecting"
    EXITED = "Exited"
    # The connection dropped and the process cannot be resumed; the output is kept.
    LOST = "Lost"
    KILLED = "Killed"

    @property
    def ended(self) -> bool:
        return self in (SessionPhase.EXITED, SessionPhase.LOST, SessionPhase.KILLED)


class RestartPolicy(str, enum.Enum):
    """What an exec session does after a connection drop: end LOST, or run again (ON_DROP,
    for commands such as `tail -f`)."""

    NEVER = "never"
    ON_DROP = "on-drop"


@dataclass(frozen=True)
class Session:
    """A session owned by the daemon; it runs whether or not a client is attached."""

    id: str
    kind: SessionKind
    target: str
    namespace: str | None
    # The command; empty for an attach.
    command: tuple[str, ...]
    stdin: bool
    tty: bool
    phase: SessionPhase
    # The pod and container in use.
    pod: str
    container: str
    # Why it is RECONNECTING or LOST.
    reason: str | None
    # When EXITED: the exit code, or the cluster's error instead.
    exit_code: int | None
    error: str | None
    created: datetime
    # Clients attached now.
    attached: int
    # Bytes of output so far.
    output_bytes: int
    protocol: str | None
    restart: RestartPolicy
    # Times the command ran again (ON_DROP) or the attach re-joined.
    restarts: int
