"""Python client for tetherd: Kubernetes port-forwards, exec and sessions that a background
daemon keeps alive across pod restarts, network drops and daemon restarts.

```python
import tether

with tether.Client() as tc:
    fwd = tc.forward("svc/web", "8080:80", wait=True)
    print(fwd.local_addresses, fwd.status.pod)
```

`Client` blocks; `AsyncClient` has the same methods as coroutines. Values are typed dataclasses
(`tether.models`, `tether.events`); failures are `tether.TetherError` subclasses.
"""

from ._attach import Attachment
from ._dial import DialStream
from ._exec import Process
from ._version import __version__
from .aio import AsyncAttachment, AsyncClient, AsyncDialStream, AsyncProcess
from .client import Client
from .errors import (
    AlreadyExists,
    ClusterError,
    DaemonUnavailable,
    IncompatibleDaemon,
    InvalidArgument,
    NotFound,
    TetherError,
    Timeout,
    UntrustedSocket,
)
from .events import (
    AttachEvent,
    ConnectionClosed,
    ConnectionOpened,
    Event,
    ForwardDeleted,
    Lagged,
    Output,
    ReplayDone,
    SessionChanged,
    SessionUpdate,
    StatusChanged,
    TunnelDown,
    TunnelUp,
)
from .models import (
    DaemonInfo,
    ExecResult,
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

__all__ = [
    "AlreadyExists",
    "AsyncAttachment",
    "AsyncClient",
    "AsyncDialStream",
    "AsyncProcess",
    "AttachEvent",
    "Attachment",
    "Client",
    "ClusterError",
    "ConnectionClosed",
    "ConnectionOpened",
    "DaemonInfo",
    "DaemonUnavailable",
    "DialStream",
    "Event",
    "ExecResult",
    "Forward",
    "ForwardDeleted",
    "ForwardStats",
    "ForwardStatus",
    "IncompatibleDaemon",
    "InvalidArgument",
    "Lagged",
    "NotFound",
    "Output",
    "Phase",
    "Process",
    "ReasonKind",
    "ReplayDone",
    "RestartPolicy",
    "Session",
    "SessionChanged",
    "SessionKind",
    "SessionPhase",
    "SessionUpdate",
    "StatusChanged",
    "TetherError",
    "Timeout",
    "TunnelDown",
    "TunnelUp",
    "UntrustedSocket",
    "__version__",
]
