"""Protobuf messages to the package's dataclasses, and requests from plain arguments.

This and `schema` are the only modules that touch protobuf messages; everything they return is
a type from `tether.models` or `tether.events`, or plain bytes and strings.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

from .. import events as ev
from ..models import (
    DaemonInfo,
    Forward,
    ForwardStats,
    ForwardStatus,
    Phase,
    ReasonKind,
    RestartPolicy,
    Session,
    SessionKind,
    SessionPhase,
)
from . import schema
from .schema import Pb

API_MAJOR = 1

E = TypeVar("E", bound=enum.Enum)


def _enum_map(proto_enum: str, prefix: str, public: type[E], unknown: E) -> dict[int, E]:
    """Proto enum numbers to public members by name; a value this package does not know (a
    newer daemon) becomes `unknown`."""
    return {
        number: public.__members__.get(name.removeprefix(prefix), unknown)
        for number, name in schema.enum_names(proto_enum).items()
    }


_PHASES = _enum_map("Phase", "PHASE_", Phase, Phase.UNSPECIFIED)
_REASONS = _enum_map("ReasonKind", "REASON_KIND_", ReasonKind, ReasonKind.OTHER)
_SESSION_PHASES = _enum_map(
    "SessionPhase", "SESSION_PHASE_", SessionPhase, SessionPhase.UNSPECIFIED
)
_SESSION_KINDS = _enum_map("SessionKind", "SESSION_KIND_", SessionKind, SessionKind.UNSPECIFIED)
_KIND_NUMBERS = {v: n for n, v in schema.enum_names("SessionKind").items()}
_RESTART_NUMBERS = {v: n for n, v in schema.enum_names("RestartPolicy").items()}
_ON_DROP = _RESTART_NUMBERS["RESTART_POLICY_ON_DROP"]
_PHASE_BY_WORD = {p.value: p for p in SessionPhase}


def _opt(text: str) -> str | None:
    return text or None


def _seconds(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


def _millis(unix_ms: int) -> datetime:
    return datetime.fromtimestamp(unix_ms / 1000, tz=timezone.utc)


# Requests.


def handshake_request(client_version: str) -> Pb:
    return schema.HANDSHAKE.request(
        client_version=client_version, api_major=API_MAJOR, client_name="python"
    )


def forward_request(
    *,
    target: str,
    ports: Iterable[str],
    name: str | None,
    namespace: str | None,
    context: str | None,
    kubeconfig: str,
    address: str | None,
    wait: bool,
    wait_ms: int,
) -> Pb:
    spec = schema.message("ForwardSpec")(
        name=name or "",
        target=target,
        namespace=namespace or "",
        context=context or "",
        kubeconfig=kubeconfig,
        ports=list(ports),
        address=address or "",
    )
    return schema.CREATE_FORWARD.request(spec=spec, wait_ready=wait, wait_timeout_ms=wait_ms)


def process_spec(
    *,
    target: str,
    command: Iterable[str],
    namespace: str | None,
    context: str | None,
    kubeconfig: str,
    container: str | None,
    stdin: bool,
    tty: bool,
    size: tuple[int, int] | None,
) -> Pb:
    spec = schema.message("ProcessSpec")(
        target=target,
        namespace=namespace or "",
        context=context or "",
        kubeconfig=kubeconfig,
        container=container or "",
        command=list(command),
        stdin=stdin,
        tty=tty,
    )
    if tty and size is not None:
        spec.size.width, spec.size.height = size
    return spec


def session_request(spec: Pb, restart: RestartPolicy, scrollback_bytes: int) -> Pb:
    kind = "SESSION_KIND_ATTACH" if not spec.command else "SESSION_KIND_EXEC"
    number = _RESTART_NUMBERS[
        "RESTART_POLICY_ON_DROP" if restart is RestartPolicy.ON_DROP else "RESTART_POLICY_NEVER"
    ]
    return schema.CREATE_SESSION.request(
        spec=spec, kind=_KIND_NUMBERS[kind], restart=number, scrollback_bytes=scrollback_bytes
    )


def exec_start(spec: Pb) -> Pb:
    return schema.EXEC.request(start=spec)


def exec_stdin(data: bytes) -> Pb:
    return schema.EXEC.request(stdin=data)


def exec_close_stdin() -> Pb:
    return schema.EXEC.request(close_stdin=True)


def exec_resize(width: int, height: int) -> Pb:
    return schema.EXEC.request(resize=schema.message("TerminalSize")(width=width, height=height))


def dial_open(forward: str, port: str | int | None) -> Pb:
    opened = schema.message("DialOpen")(forward=forward, port="" if port is None else str(port))
    return schema.DIAL.request(open=opened)


def dial_data(data: bytes) -> Pb:
    return schema.DIAL.request(data=data)


def dial_close_write() -> Pb:
    return schema.DIAL.request(close_write=True)


def attach_open(session: str, replay: bool) -> Pb:
    opened = schema.message("AttachOpen")(session=session, no_replay=not replay)
    return schema.ATTACH_SESSION.request(open=opened)


def attach_stdin(data: bytes) -> Pb:
    return schema.ATTACH_SESSION.request(stdin=data)


def attach_resize(width: int, height: int) -> Pb:
    size = schema.message("TerminalSize")(width=width, height=height)
    return schema.ATTACH_SESSION.request(resize=size)


def attach_detach() -> Pb:
    return schema.ATTACH_SESSION.request(detach=True)


# Answers.


def forward_status(m: Pb) -> ForwardStatus:
    phase = _PHASES.get(m.phase, Phase.UNSPECIFIED)
    has_reason = phase in (Phase.RECONNECTING, Phase.FAILED)
    return ForwardStatus(
        phase=phase,
        attempt=m.attempt,
        reason_kind=_REASONS.get(m.reason_kind, ReasonKind.OTHER) if has_reason else None,
        reason=_opt(m.reason),
        pod=_opt(m.pod),
        local_addresses=tuple(m.local_addresses),
        since=_seconds(m.since_unix),
        protocol=_opt(m.protocol),
    )


def forward(m: Pb, existed: bool = False) -> Forward:
    spec, stats = m.spec, m.stats
    return Forward(
        name=spec.name,
        target=spec.target,
        namespace=_opt(spec.namespace),
        context=_opt(spec.context),
        kubeconfig=_opt(spec.kubeconfig),
        ports=tuple(spec.ports),
        address=spec.address,
        status=forward_status(m.status),
        stats=ForwardStats(
            connections_total=stats.connections_total,
            connections_active=stats.connections_active,
            reconnects=stats.reconnects,
            bytes_out=stats.bytes_out,
            bytes_in=stats.bytes_in,
        ),
        created=_seconds(m.created_unix),
        existed=existed,
    )


def daemon_info(m: Pb) -> DaemonInfo:
    return DaemonInfo(
        version=m.daemon_version,
        api_major=m.api_major,
        pid=m.pid,
        uptime_seconds=m.uptime_seconds,
        socket=m.socket_path,
        state_dir=m.state_dir,
        forwards=m.forwards,
        forwards_ready=m.forwards_ready,
        log_file=_opt(m.log_file),
    )


@dataclass(frozen=True)
class Exit:
    """An ExitStatus: a code, or the cluster's error (with its Kubernetes status reason)."""

    code: int | None
    error: str | None
    reason: str | None


def exit_status(m: Pb) -> Exit:
    which = m.WhichOneof("kind")
    return Exit(
        code=m.code if which == "code" else None,
        error=(m.error or "the command ended without an exit code") if which != "code" else None,
        reason=_opt(m.reason),
    )


def session(m: Pb) -> Session:
    spec = m.spec
    ended = m.HasField("exit")
    outcome = exit_status(m.exit) if ended else None
    return Session(
        id=m.id,
        kind=_SESSION_KINDS.get(m.kind, SessionKind.UNSPECIFIED),
        target=spec.target,
        namespace=_opt(spec.namespace),
        command=tuple(spec.command),
        stdin=spec.stdin,
        tty=spec.tty,
        phase=_SESSION_PHASES.get(m.phase, SessionPhase.UNSPECIFIED),
        pod=m.pod,
        container=m.container,
        reason=_opt(m.reason),
        exit_code=outcome.code if outcome else None,
        error=outcome.error if outcome else None,
        created=_seconds(m.created_unix),
        attached=m.attached,
        output_bytes=m.output_bytes,
        protocol=_opt(m.protocol),
        restart=RestartPolicy.ON_DROP if m.restart == _ON_DROP else RestartPolicy.NEVER,
        restarts=m.restarts,
    )


def event(m: Pb) -> ev.Event | None:
    """A typed event; None for a kind this package does not know (a newer daemon)."""
    time, name = _millis(m.time_unix_ms), m.forward
    which = m.WhichOneof("kind")
    if which == "status":
        return ev.StatusChanged(time, name, forward_status(m.status))
    if which == "opened":
        o = m.opened
        return ev.ConnectionOpened(time, name, id=o.id, peer=o.peer, pod=o.pod)
    if which == "closed":
        c = m.closed
        return ev.ConnectionClosed(
            time, name, id=c.id, bytes_out=c.bytes_out, bytes_in=c.bytes_in, error=_opt(c.error)
        )
    if which == "deleted":
        return ev.ForwardDeleted(time, name)
    if which == "tunnel_up":
        up = m.tunnel_up
        return ev.TunnelUp(time, name, pod=up.pod, protocol=up.protocol, setup_ms=up.setup_ms)
    if which == "tunnel_down":
        down = m.tunnel_down
        # 0 (unspecified) from a daemon older than the field.
        kind = _REASONS.get(down.reason_kind, ReasonKind.OTHER) if down.reason_kind else None
        return ev.TunnelDown(time, name, pod=down.pod, reason=down.reason, reason_kind=kind)
    if which == "session":
        s = m.session
        phase = _PHASE_BY_WORD.get(s.phase, SessionPhase.UNSPECIFIED)
        return ev.SessionChanged(
            time, name, session=s.id, phase=phase, reason=_opt(s.reason), pod=s.pod
        )
    return None


def attach_event(m: Pb) -> ev.AttachEvent | None:
    which = m.WhichOneof("kind")
    if which == "output":
        return ev.Output(data=m.output.data, stderr=m.output.stderr)
    if which == "replay_done":
        return ev.ReplayDone()
    if which == "lagged":
        return ev.Lagged(skipped=m.lagged)
    if which == "changed":
        return ev.SessionUpdate(session(m.changed))
    return None


@dataclass(frozen=True)
class Started:
    """The command started in this pod and container."""

    pod: str
    container: str


@dataclass(frozen=True)
class Chunk:
    data: bytes
    stderr: bool


@dataclass(frozen=True)
class Note:
    """A warning from the daemon."""

    text: str


ExecReply = Started | Chunk | Note | Exit


def exec_reply(m: Pb) -> ExecReply | None:
    which = m.WhichOneof("kind")
    if which == "started":
        s = m.started
        return Started(pod=s.pod, container=s.container)
    if which == "stdout":
        return Chunk(m.stdout, stderr=False)
    if which == "stderr":
        return Chunk(m.stderr, stderr=True)
    if which == "exit":
        return exit_status(m.exit)
    if which == "warning":
        return Note(m.warning)
    return None
