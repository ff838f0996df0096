"""The blocking client. Every method is one call to tetherd (streams are read as you iterate);
nothing runs in the background, except one pump thread per `dial_socket()` socket.

```python
with tether.Client() as tc:
    fwd = tc.forward("svc/web", "8080:80", wait=True)
    print(fwd.local_addresses, fwd.status.pod)
```
"""

from __future__ import annotations

import os
import socket as so
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Union

import grpc

from . import _calls, _dial, _exec, _resubscribe
from ._attach import Attachment
from ._dial import DialStream
from ._exec import Process
from ._transport import Settings, SyncConnection
from ._wire import convert, schema
from .errors import NotFound, TetherError
from .events import Event
from .models import DaemonInfo, ExecResult, Forward, RestartPolicy, Session

PathArg = Union[str, "os.PathLike[str]"]


class Client:
    """A connection to tetherd, made on first use (or by `connect()` / `with`).

    - `socket`: the daemon's socket; default TETHER_SOCKET, else the standard place.
    - `autostart`: start tetherd (TETHER_DAEMON_BIN, else `tetherd` on PATH) when none answers.
    - `timeout`: the deadline, in seconds, of calls that answer at once.
    """

    def __init__(
        self,
        socket: PathArg | None = None,
        *,
        autostart: bool = True,
        daemon_bin: PathArg | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._settings = Settings.resolve(socket, autostart, daemon_bin, timeout)
        self._conn: SyncConnection | None = None
        self._lock = threading.Lock()

    @property
    def socket(self) -> str:
        """The daemon's socket, absolute."""
        return self._settings.socket

    def connect(self) -> None:
        """Finds (or starts) the daemon and makes the handshake, if not done yet."""
        self._connection()

    def _connection(self) -> SyncConnection:
        with self._lock:
            if self._conn is None:
                self._conn = SyncConnection(self._settings)
            return self._conn

    def _reconnect(self) -> SyncConnection:
        """A new channel and handshake, after the daemon went away."""
        self.close()
        return self._connection()

    def close(self) -> None:
        """Closes the channel; forwards and sessions stay with the daemon."""
        with self._lock:
            old, self._conn = self._conn, None
        if old is not None:
            old.close()

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def daemon_version(self) -> str:
        """The daemon's version, from the handshake."""
        return self._connection().daemon_version

    def _unary(
        self, method: schema.Method, request: object, action: str, timeout: float | None = None
    ) -> schema.Pb:
        deadline = self._settings.timeout if timeout is None else timeout
        return self._connection().unary(method, request, action, deadline)

    # The daemon.

    def info(self) -> DaemonInfo:
        """Facts about the running daemon (version, pid, socket, state folder)."""
        answer = self._unary(schema.GET_INFO, schema.GET_INFO.request(), "get daemon info")
        return convert.daemon_info(answer)

    def shutdown_daemon(self) -> None:
        """Asks the daemon to drain and exit, as SIGTERM does. Forwards are kept and restored
        by the next daemon."""
        self._unary(schema.SHUTDOWN, schema.SHUTDOWN.request(), "stop tetherd")
        self.close()

    # Forwards.

    def forward(
        self,
        target: str,
        *ports: str | int,
        name: str | None = None,
        namespace: str | None = None,
        context: str | None = None,
        kubeconfig: str | None = None,
        address: str | None = None,
        wait: bool = False,
        timeout: float | None = None,
    ) -> Forward:
        """Ensures a forward: creates it, or returns the identical one that exists
        (`existed=True`). The same name with another spec raises AlreadyExists.

        `target` is kubectl's (svc/NAME, deploy/NAME, sts/NAME, pod/NAME or NAME); each port is
        "LOCAL:REMOTE", ":REMOTE" (any free local port, kept across restarts) or "PORT".
        `kubeconfig` defaults to the caller's KUBECONFIG (made absolute). With `wait`, returns
        once Ready, or raises Timeout after `timeout` (30 s) or ClusterError if it failed."""
        call = _calls.forward_call(
            target,
            ports,
            name=name,
            namespace=namespace,
            context=context,
            kubeconfig=kubeconfig,
            address=address,
            wait=wait,
            timeout=timeout,
            call_timeout=self._settings.timeout,
        )
        answer = self._unary(schema.CREATE_FORWARD, call.request, call.action, call.deadline)
        forward = convert.forward(answer.forward, existed=answer.existed)
        return _calls.check_ready(forward, call.wait) if wait else forward

    def forwards(self) -> list[Forward]:
        """Every forward the daemon holds, by name (following the pages of ListForwards)."""
        found: list[Forward] = []
        token = ""
        while True:
            request = schema.LIST_FORWARDS.request(page_token=token)
            answer = self._unary(schema.LIST_FORWARDS, request, "list forwards")
            found.extend(convert.forward(f) for f in answer.forwards)
            token = answer.next_page_token
            if not token:
                return found

    def get(self, name: str) -> Forward:
        """One forward; NotFound if there is none of that name."""
        request = schema.GET_FORWARD.request(name=name)
        answer = self._unary(schema.GET_FORWARD, request, f"get forward {name}")
        return convert.forward(answer.forward)

    def remove(self, name: str) -> None:
        """Stops a forward, frees its local ports and forgets it."""
        request = schema.DELETE_FORWARD.request(name=name)
        self._unary(schema.DELETE_FORWARD, request, f"remove forward {name}")

    def pause(self, name: str) -> Forward:
        """Stops serving but keeps the forward and its local ports."""
        request = schema.PAUSE_FORWARD.request(name=name)
        answer = self._unary(schema.PAUSE_FORWARD, request, f"pause forward {name}")
        return convert.forward(answer.forward)

    def resume(self, name: str) -> Forward:
        request = schema.RESUME_FORWARD.request(name=name)
        answer = self._unary(schema.RESUME_FORWARD, request, f"resume forward {name}")
        return convert.forward(answer.forward)

    @contextmanager
    def temporary_forward(
        self,
        target: str,
        *ports: str | int,
        name: str | None = None,
        namespace: str | None = None,
        context: str | None = None,
        kubeconfig: str | None = None,
        address: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> Iterator[Forward]:
        """A forward for the `with` block, removed on exit even after an error. Its name is
        unique (`py-<target>-<hex>`) unless given; it waits for Ready unless `wait=False`."""
        name = name or _calls.temporary_name(target)
        try:
            yield self.forward(
                target,
                *ports,
                name=name,
                namespace=namespace,
                context=context,
                kubeconfig=kubeconfig,
                address=address,
                wait=wait,
                timeout=timeout,
            )
        finally:
            try:
                self.remove(name)
            except NotFound:
                pass

    # Streams through a forward.

    def dial(
        self, forward: str, port: str | int | None = None, *, timeout: float | None = None
    ) -> DialStream:
        """A byte stream to `port` (number or name; default the forward's first) of the
        forward's pod, through its tunnel, with no local listener."""
        return DialStream(self._connection(), forward, port, timeout)

    def dial_socket(
        self, forward: str, port: str | int | None = None, *, timeout: float | None = None
    ) -> so.socket:
        """As `dial`, as a real connected `socket.socket` for libraries that need one. One
        thread pumps the pod's bytes into it until the stream ends; close it when done."""
        return _dial.dial_socket(self._connection(), forward, port, timeout)

    # Commands.

    def exec(
        self,
        target: str,
        command: Sequence[str],
        *,
        input: bytes | None = None,
        namespace: str | None = None,
        context: str | None = None,
        kubeconfig: str | None = None,
        container: str | None = None,
        tty: bool = False,
        timeout: float | None = None,
    ) -> ExecResult:
        """Runs a command like `kubectl exec` and returns its exit code and output. `input`
        is sent as stdin, then EOF (None: no stdin). A command that cannot start (no such
        pod) raises NotFound or ClusterError."""
        proc = _calls.process_call(
            target,
            command,
            namespace=namespace,
            context=context,
            kubeconfig=kubeconfig,
            container=container,
            stdin=input is not None,
            tty=tty,
        )
        return _exec.run(self._connection(), proc.spec, input, proc.action, timeout)

    def popen(
        self,
        target: str,
        command: Sequence[str],
        *,
        stdin: bool = False,
        namespace: str | None = None,
        context: str | None = None,
        kubeconfig: str | None = None,
        container: str | None = None,
        tty: bool = False,
        timeout: float | None = None,
    ) -> Process:
        """Starts a command with streamed I/O (`stdin`, `stdout`, `stderr`, `wait()`); returns
        once it runs. The command lives as long as the Process: `kill()` or `with` ends it."""
        proc = _calls.process_call(
            target,
            command,
            namespace=namespace,
            context=context,
            kubeconfig=kubeconfig,
            container=container,
            stdin=stdin,
            tty=tty,
        )
        return Process(self._connection(), proc.spec, stdin, proc.action, timeout)

    # Events.

    def events(
        self, names: Sequence[str] | None = None, *, timeout: float | None = None
    ) -> Iterator[Event]:
        """State changes and connections of forwards (all, or those named) and sessions, as
        they happen. The first events describe the current state. If the daemon restarts,
        the stream subscribes again (backing off up to 1 s between tries, for up to 30 s; the
        current state comes first again). `timeout` bounds the whole iteration (then Timeout).
        """
        sub = _resubscribe.Subscription(names, timeout)
        while True:
            try:
                conn = self._reconnect() if sub.losses else self._connection()
                call = conn.server_stream(schema.WATCH_EVENTS)(sub.request, timeout=sub.time_left())
                try:
                    for message in call:
                        event = sub.event(message)
                        if event is not None:
                            yield event
                except grpc.RpcError as e:
                    raise conn.of(e, "watch events") from e
                finally:
                    call.cancel()
                # The daemon ended the stream (it is shutting down): subscribe again.
                lost = _resubscribe.ended()
            except TetherError as e:
                if not _resubscribe.is_loss(e):
                    raise
                lost = e
            time.sleep(sub.next_delay(lost))

    # Sessions.

    def create_session(
        self,
        target: str,
        command: Sequence[str] | None = None,
        *,
        tty: bool = False,
        stdin: bool = True,
        namespace: str | None = None,
        context: str | None = None,
        kubeconfig: str | None = None,
        container: str | None = None,
        restart: RestartPolicy = RestartPolicy.NEVER,
        scrollback_bytes: int = 0,
        size: tuple[int, int] | None = None,
    ) -> Session:
        """Starts a session owned by the daemon: `command` run in the container, or (None) an
        attach to its main process. It runs whether or not a client is attached, and keeps
        `scrollback_bytes` of output (1 MiB when 0) for replay. Returns once it started."""
        call = _calls.session_call(
            target,
            command,
            namespace=namespace,
            context=context,
            kubeconfig=kubeconfig,
            container=container,
            stdin=stdin,
            tty=tty,
            size=size,
            restart=restart,
            scrollback_bytes=scrollback_bytes,
            call_timeout=self._settings.timeout,
        )
        answer = self._unary(schema.CREATE_SESSION, call.request, call.action, call.deadline)
        return convert.session(answer.session)

    def attach(
        self, session: str, *, replay: bool = True, timeout: float | None = None
    ) -> Attachment:
        """Joins a session: its kept output first (unless `replay=False`), then live output.
        Several clients may attach at once; leaving never stops the session."""
        return Attachment(self._connection(), session, replay, timeout)

    def sessions(self) -> list[Session]:
        request = schema.LIST_SESSIONS.request()
        answer = self._unary(schema.LIST_SESSIONS, request, "list sessions")
        return [convert.session(s) for s in answer.sessions]

    def get_session(self, session: str) -> Session:
        request = schema.GET_SESSION.request(id=session)
        answer = self._unary(schema.GET_SESSION, request, f"get session {session}")
        return convert.session(answer.session)

    def kill_session(self, session: str, *, graceful: bool = False) -> Session:
        """Ends a session's process (with `graceful` and a TTY, `exit` and Ctrl-D are sent
        first), or forgets a session that has already ended."""
        request = schema.KILL_SESSION.request(id=session, graceful=graceful)
        answer = self._unary(schema.KILL_SESSION, request, f"kill session {session}")
        return convert.session(answer.session)
