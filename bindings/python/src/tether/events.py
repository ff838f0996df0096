"""Typed events: what `events()` yields about forwards and sessions, and what `attach()` yields
about one session. Each is a small frozen dataclass; match on the class.

```python
for ev in tc.events(names=["web"]):
    if isinstance(ev, tether.StatusChanged) and ev.status.phase is tether.Phase.READY: ...
```
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import ForwardStatus, ReasonKind, Session, SessionPhase


@dataclass(frozen=True)
class Event:
    """Something that happened in the daemon."""

    time: datetime
    # The forward concerned; empty for session events.
    forward: str


@dataclass(frozen=True)
class StatusChanged(Event):
    """The forward's state changed. After each (re)subscription, one of these per matching
    forward comes first and describes its current state."""

    status: ForwardStatus


@dataclass(frozen=True)
class ConnectionOpened(Event):
    """A local connection was accepted."""

    id: int
    peer: str
    pod: str


@dataclass(frozen=True)
class ConnectionClosed(Event):
    """A local connection ended; `error` is None for a normal end."""

    id: int
    bytes_out: int
    bytes_in: int
    error: str | None


@dataclass(frozen=True)
class ForwardDeleted(Event):
    """The forward was removed."""


@dataclass(frozen=True)
class TunnelUp(Event):
    """A tunnel to a pod was established, `setup_ms` after the attempt began."""

    pod: str
    protocol: str
    setup_ms: int


@dataclass(frozen=True)
class TunnelDown(Event):
    """A tunnel was lost; `reason_kind` is None from a daemon that does not send it."""

    pod: str
    reason: str
    reason_kind: ReasonKind | None = None


@dataclass(frozen=True)
class SessionChanged(Event):
    """A session was created, changed phase, or was forgotten."""

    session: str
    phase: SessionPhase
    reason: str | None
    pod: str


# What `attach()` yields.


@dataclass(frozen=True)
class Output:
    """Output of an attached session: replayed scrollback first, then live."""

    data: bytes
    stderr: bool = False


@dataclass(frozen=True)
class ReplayDone:
    """The end of the replayed scrollback; live output follows."""


@dataclass(frozen=True)
class Lagged:
    """This client fell behind and `skipped` bytes of output were dropped for it."""

    skipped: int


@dataclass(frozen=True)
class SessionUpdate:
    """The session changed phase (exited, lost, reconnecting, running again)."""

    session: Session


AttachEvent = Output | ReplayDone | Lagged | SessionUpdate
