"""What both clients send and how they judge the answers, without I/O: requests from the
public arguments, deadlines, and the checks on `forward(wait=True)`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import _execution, _locate
from ._wire import convert
from .errors import ClusterError, InvalidArgument, Timeout
from .models import Forward, Phase

# forward(wait=True) waits this long unless told (the daemon's default too).
DEFAULT_WAIT = 30.0
# Extra time a waiting call gets beyond the wait, for the daemon to answer.
CALL_MARGIN = 10.0


@dataclass(frozen=True)
class ForwardCall:
    request: Any
    # The gRPC deadline.
    deadline: float
    # How long the daemon waits for Ready (0: no wait).
    wait: float
    # What the request names, for messages.
    subject: str


def forward_call(
    target: str,
    ports: Sequence[str | int],
    *,
    name: str | None,
    namespace: str | None,
    context: str | None,
    kubeconfig: str | None,
    address: str | None,
    wait: bool,
    timeout: float | None,
    call_timeout: float,
) -> ForwardCall:
    if not ports:
        raise InvalidArgument(
            'failed to create forward: give at least one port, such as "8080:80" or ":80"',
            field="spec.ports",
        )
    waited = (timeout if timeout is not None else DEFAULT_WAIT) if wait else 0.0
    request = convert.forward_request(
        target=target,
        ports=[str(p) for p in ports],
        name=name,
        namespace=namespace,
        context=context,
        kubeconfig=_locate.kubeconfig_list(kubeconfig),
        address=address,
        wait=wait,
        wait_ms=max(1, int(waited * 1000)) if wait else 0,
    )
    deadline = waited + CALL_MARGIN if wait else call_timeout
    return ForwardCall(request, deadline, waited, name or target)


def check_ready(forward: Forward, waited: float) -> Forward:
    """The forward, if Ready after a wait; otherwise why not, as an exception."""
    name, status = forward.name, forward.status
    if status.phase is Phase.READY:
        return forward
    why = f": {status.reason}" if status.reason else ""
    if status.phase is Phase.FAILED:
        raise ClusterError(
            f"forward {name} failed{why}; fix the cause, then remove it with "
            f"remove({name!r}) (or `tether rm {name}`)",
            forward=forward,
        )
    raise Timeout(
        f"forward {name} was not ready within {waited:g} s (it is {status.phase.value}{why}); "
        f"it keeps trying: follow it with events([{name!r}]), or remove it with remove({name!r})",
        forward=forward,
    )


def temporary_name(target: str) -> str:
    """A name no other forward has: `py-<target>-<8 hex>`, in the daemon's name grammar."""
    stem = re.sub(r"[^a-z0-9]+", "-", target.lower()).strip("-")[:40] or "forward"
    return f"py-{stem}-{uuid.uuid4().hex[:8]}"


def process_spec(
    target: str,
    command: Sequence[str],
    *,
    namespace: str | None,
    context: str | None,
    kubeconfig: str | None,
    container: str | None,
    stdin: bool,
    tty: bool,
    size: tuple[int, int] | None = None,
) -> Any:
    return convert.process_spec(
        target=target,
        command=command,
        namespace=namespace,
        context=context,
        kubeconfig=_locate.kubeconfig_list(kubeconfig),
        container=container,
        stdin=stdin,
        tty=tty,
        size=size,
    )


def exec_action(target: str, command: Sequence[str]) -> str:
    return _execution.describe(target, command)
