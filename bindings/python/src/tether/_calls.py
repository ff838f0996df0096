"""What both clients send and how they judge the answers, without I/O: requests from the
public arguments, deadlines, the checks on `forward(wait=True)`, and on the first answer of a
stream."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from . import _execution, _locate
from ._wire import convert, schema
from .errors import ClusterError, InvalidArgument, TetherError, Timeout
from .models import Forward, Phase, RestartPolicy, Session

# forward(wait=True) waits this long unless told (the daemon's default too).
DEFAULT_WAIT = 30.0
# Extra time a waiting call gets beyond the wait, for the daemon to answer.
CALL_MARGIN = 10.0
# Extra time CreateSession gets beyond the client's timeout: it answers once the command runs.
SESSION_MARGIN = 30.0
# The most bytes one request carries (stdin, Dial data).
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Call:
    """One unary request and how to make it."""

    request: Any
    # Completes "failed to ..." in messages.
    action: str
    # The gRPC deadline.
    deadline: float
    # How long the daemon waits for Ready (0: no wait).
    wait: float = 0.0


@dataclass(frozen=True)
class ProcessCall:
    """A command to run (or attach to) in a container."""

    spec: Any
    # Completes "failed to ...": "run `ls` in toolbox".
    action: str


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
) -> Call:
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
    return Call(request, f"create forward {name or target}", deadline, waited)


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


def process_call(
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
) -> ProcessCall:
    """The spec of exec, popen and create_session; `command` must be a list, not a string."""
    argv = _execution.check_command(command)
    spec = convert.process_spec(
        target=target,
        command=argv,
        namespace=namespace,
        context=context,
        kubeconfig=_locate.kubeconfig_list(kubeconfig),
        container=container,
        stdin=stdin,
        tty=tty,
        size=size,
    )
    return ProcessCall(spec, _execution.describe(target, argv))


def session_call(
    target: str,
    command: Sequence[str] | None,
    *,
    namespace: str | None,
    context: str | None,
    kubeconfig: str | None,
    container: str | None,
    stdin: bool,
    tty: bool,
    size: tuple[int, int] | None,
    restart: RestartPolicy,
    scrollback_bytes: int,
    call_timeout: float,
) -> Call:
    """CreateSession of `command`, or (None) of an attach to the container's main process."""
    process = process_call(
        target,
        () if command is None else command,
        namespace=namespace,
        context=context,
        kubeconfig=kubeconfig,
        container=container,
        stdin=stdin,
        tty=tty,
        size=size,
    )
    request = convert.session_request(process.spec, restart, scrollback_bytes)
    return Call(request, f"create a session in {target}", call_timeout + SESSION_MARGIN)


def chunks(data: bytes) -> Iterator[bytes]:
    """`data` in pieces of at most CHUNK bytes, as requests carry them."""
    view = memoryview(data)
    for at in range(0, len(view), CHUNK):
        yield bytes(view[at : at + CHUNK])


def exec_requests(spec: Any, input: bytes | None) -> Iterator[Any]:
    """What a one-shot exec sends: the start, then `input` (if any) and its EOF."""
    yield convert.exec_start(spec)
    if input is not None:
        for chunk in chunks(input):
            yield convert.exec_stdin(chunk)
        yield convert.exec_close_stdin()


def dial_opened(first: schema.Pb | None, action: str) -> tuple[str, int]:
    """The pod and container port a Dial reached, from its first answer (None: the stream
    ended)."""
    if first is None:
        raise ClusterError(f"failed to {action}: tetherd ended the stream at once")
    if first.WhichOneof("kind") != "opened":
        raise TetherError(
            f"failed to {action}: tetherd answered out of order; see `tether daemon logs`"
        )
    return first.opened.pod, first.opened.port


def attach_joined(first: schema.Pb | None, action: str) -> Session:
    """The session as it was when joined, from an attachment's first answer."""
    if first is None or first.WhichOneof("kind") != "session":
        raise TetherError(f"failed to {action}: tetherd answered out of order")
    return convert.session(first.session)
