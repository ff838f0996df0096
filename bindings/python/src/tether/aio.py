"""The asyncio client: the same methods as `Client`, as coroutines (streams as awaitable
context managers, events as an async iterator), over `grpc.aio`.

The channel is made lazily inside the running loop, on first use, so an `AsyncClient` built
outside a loop (at import, in a fixture) works inside one; used from another loop later, it
makes a new channel there.

```python
async with tether.AsyncClient() as tc:
    fwd = await tc.forward("svc/web", "8080:80", wait=True)
    reader, writer = await tc.open_connection(fwd.name, 80)
```
"""

from __future__ import annotations

import asyncio
import socket as so
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import grpc

from . import _aio_streams, _calls, _resubscribe
from ._aio_streams import AsyncAttachment, AsyncDialStream, AsyncProcess, Opening
from ._transport import AsyncConnection, Settings
from ._wire import convert, schema
from .client import PathArg
from .errors import NotFound, TetherError
from .events import Event
from .models import DaemonInfo, ExecResult, Forward, RestartPolicy, Session

__all__ = ["AsyncAttachment", "AsyncClient", "AsyncDialStream", "AsyncProcess"]


class AsyncClient:
    """A connection to tetherd for asyncio code; see `Client` for the arguments."""

    def __init__(
        self,
        socket: PathArg | None = None,
        *,
        autostart: bool = True,
        daemon_bin: PathArg | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._settings = Settings.resolve(socket, autostart, daemon_bin, timeout)
        self._conn: AsyncConnection | None = None
        # Serialises connecting within one loop (a lock belongs to the loop it was made in).
        self._opening: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        # The pump tasks of dial_socket() sockets, kept so they are not collected.
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def socket(self) -> str:
        return self._settings.socket

    async def connect(self) -> None:
        """Finds (or starts) the daemon and makes the handshake, if not done yet."""
        await self._connection()

    async def _connection(self) -> AsyncConnection:
        loop = asyncio.get_running_loop()
        if self._conn is not None and self._conn.loop is loop:
            return self._conn
        if self._opening is None or self._opening[0] is not loop:
            self._opening = (loop, asyncio.Lock())
        async with self._opening[1]:
            if self._conn is None or self._conn.loop is not loop:
                self._conn = await AsyncConnection.open(self._settings)
            return self._conn

    async def _reconnect(self) -> AsyncConnection:
        await self.close()
        return await self._connection()

    async def close(self) -> None:
        old, self._conn = self._conn, None
        if old is not None and old.loop is asyncio.get_running_loop():
            await old.close()

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def daemon_version(self) -> str:
        """The daemon's version, from the handshake ("" before the first call)."""
        return self._conn.daemon_version if self._conn else ""

    async def _unary(
        self, method: schema.Method, request: object, action: str, timeout: float | None = None
    ) -> schema.Pb:
        deadline = self._settings.timeout if timeout is None else timeout
        conn = await self._connection()
        return await conn.unary(method, request, action, deadline)

    # The daemon.

    async def info(self) -> DaemonInfo:
        answer = await self._unary(schema.GET_INFO, schema.GET_INFO.request(), "get daemon info")
        return convert.daemon_info(answer)

    async def shutdown_daemon(self) -> None:
        await self._unary(schema.SHUTDOWN, schema.SHUTDOWN.request(), "stop tetherd")
        await self.close()

    # Forwards.

    async def forward(
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
        """See `Client.forward`."""
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
        answer = await self._unary(schema.CREATE_FORWARD, call.request, call.action, call.deadline)
        forward = convert.forward(answer.forward, existed=answer.existed)
        return _calls.check_ready(forward, call.wait) if wait else forward

    async def forwards(self) -> list[Forward]:
        found: list[Forward] = []
        token = ""
        while True:
            request = schema.LIST_FORWARDS.request(page_token=token)
            answer = await self._unary(schema.LIST_FORWARDS, request, "list forwards")
            found.extend(convert.forward(f) for f in answer.forwards)
            token = answer.next_page_token
            if not token:
                return found

    async def get(self, name: str) -> Forward:
        request = schema.GET_FORWARD.request(name=name)
        answer = await self._unary(schema.GET_FORWARD, request, f"get forward {name}")
        return convert.forward(answer.forward)

    async def remove(self, name: str) -> None:
        request = schema.DELETE_FORWARD.request(name=name)
        await self._unary(schema.DELETE_FORWARD, request, f"remove forward {name}")

    async def pause(self, name: str) -> Forward:
        request = schema.PAUSE_FORWARD.request(name=name)
        answer = await self._unary(schema.PAUSE_FORWARD, request, f"pause forward {name}")
        return convert.forward(answer.forward)

    async def resume(self, name: str) -> Forward:
        request = schema.RESUME_FORWARD.request(name=name)
        answer = await self._unary(schema.RESUME_FORWARD, request, f"resume forward {name}")
        return convert.forward(answer.forward)

    @asynccontextmanager
    async def temporary_forward(
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
    ) -> AsyncIterator[Forward]:
        """See `Client.temporary_forward`: `async with tc.temporary_forward(...) as fwd`."""
        name = name or _calls.temporary_name(target)
        try:
            yield await self.forward(
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
                await self.remove(name)
            except NotFound:
                pass

    # Streams through a forward.

    def dial(
        self, forward: str, port: str | int | None = None, *, timeout: float | None = None
    ) -> Opening[AsyncDialStream]:
        """`s = await tc.dial(name)` or `async with tc.dial(name) as s`; see `Client.dial`."""

        async def opener() -> AsyncDialStream:
            conn = await self._connection()
            return await AsyncDialStream.open(conn, forward, port, timeout)

        return Opening(opener)

    async def dial_socket(
        self, forward: str, port: str | int | None = None, *, timeout: float | None = None
    ) -> so.socket:
        """A connected `socket.socket` pumped by a task on this loop; see `Client.dial_socket`."""
        conn = await self._connection()
        return await _aio_streams.dial_socket(conn, forward, port, timeout, self._tasks)

    async def open_connection(
        self,
        forward: str,
        port: str | int | None = None,
        *,
        timeout: float | None = None,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """`reader, writer` to the forward's pod, as `asyncio.open_connection` gives."""
        sock = await self.dial_socket(forward, port, timeout=timeout)
        return await asyncio.open_connection(sock=sock)

    # Commands.

    async def exec(
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
        """See `Client.exec`."""
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
        conn = await self._connection()
        return await _aio_streams.run_exec(conn, proc.spec, input, proc.action, timeout)

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
    ) -> Opening[AsyncProcess]:
        """`p = await tc.popen(...)` or `async with tc.popen(...) as p`; see `Client.popen`."""
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

        async def opener() -> AsyncProcess:
            conn = await self._connection()
            return await AsyncProcess.open(conn, proc.spec, stdin, proc.action, timeout)

        return Opening(opener)

    # Events.

    async def events(
        self, names: Sequence[str] | None = None, *, timeout: float | None = None
    ) -> AsyncIterator[Event]:
        """See `Client.events`: `async for event in tc.events([...])`."""
        sub = _resubscribe.Subscription(names, timeout)
        while True:
            try:
                conn = await (self._reconnect() if sub.losses else self._connection())
                call = conn.server_stream(schema.WATCH_EVENTS)(sub.request, timeout=sub.time_left())
                try:
                    async for message in call:
                        event = sub.event(message)
                        if event is not None:
                            yield event
                except grpc.RpcError as e:
                    raise conn.of(e, "watch events") from e
                finally:
                    call.cancel()
                lost = _resubscribe.ended()
            except TetherError as e:
                if not _resubscribe.is_loss(e):
                    raise
                lost = e
            await asyncio.sleep(sub.next_delay(lost))

    # Sessions.

    async def create_session(
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
        """See `Client.create_session`."""
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
        answer = await self._unary(schema.CREATE_SESSION, call.request, call.action, call.deadline)
        return convert.session(answer.session)

    def attach(
        self, session: str, *, replay: bool = True, timeout: float | None = None
    ) -> Opening[AsyncAttachment]:
        """`a = await tc.attach(id)` or `async with tc.attach(id) as a`; see `Client.attach`."""

        async def opener() -> AsyncAttachment:
            conn = await self._connection()
            return await AsyncAttachment.open(conn, session, replay, timeout)

        return Opening(opener)

    async def sessions(self) -> list[Session]:
        request = schema.LIST_SESSIONS.request()
        answer = await self._unary(schema.LIST_SESSIONS, request, "list sessions")
        return [convert.session(s) for s in answer.sessions]

    async def get_session(self, session: str) -> Session:
        request = schema.GET_SESSION.request(id=session)
        answer = await self._unary(schema.GET_SESSION, request, f"get session {session}")
        return convert.session(answer.session)

    async def kill_session(self, session: str, *, graceful: bool = False) -> Session:
        request = schema.KILL_SESSION.request(id=session, graceful=graceful)
        answer = await self._unary(schema.KILL_SESSION, request, f"kill session {session}")
        return convert.session(answer.session)
