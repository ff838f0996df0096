"""The streams of the async client: Dial, exec and attach over `grpc.aio`, read and written
with the call's own `read()`/`write()`, so nothing runs beside the caller (except the pump task
of an `AsyncClient.dial_socket()` socket)."""

from __future__ import annotations

import asyncio
import socket as so
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

import grpc
import grpc.aio

from . import _calls, _execution
from ._transport import AsyncConnection
from ._wire import convert, schema
from ._wire.convert import Chunk
from .errors import TetherError
from .events import AttachEvent, Output, ReplayDone
from .models import ExecResult, Session

T = TypeVar("T")


class Opening(Generic[T]):
    """What `dial`, `popen` and `attach` return: await it for the stream, or use
    `async with` to close the stream on exit."""

    def __init__(self, opener: Callable[[], Awaitable[T]]) -> None:
        self._opener = opener
        self._value: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._open().__await__()

    async def _open(self) -> T:
        self._value = await self._opener()
        return self._value

    async def __aenter__(self) -> T:
        return await self._open()

    async def __aexit__(self, *exc: Any) -> None:
        if self._value is not None:
            await self._value.__aexit__(*exc)  # type: ignore[attr-defined]


async def _read(conn: AsyncConnection, call: Any, action: str) -> Any:
    """The next answer, or None at the end of the stream."""
    try:
        message = await call.read()
    except grpc.RpcError as e:
        raise conn.of(e, action) from e
    except asyncio.InvalidStateError:
        return None
    return None if message is grpc.aio.EOF else message  # type: ignore[attr-defined]


async def _write(conn: AsyncConnection, call: Any, request: Any, action: str) -> None:
    try:
        await call.write(request)
    except grpc.RpcError as e:
        raise conn.of(e, action) from e
    except asyncio.InvalidStateError:
        raise BrokenPipeError(f"failed to {action}: the stream is closed") from None


async def _opened(conn: AsyncConnection, call: Any, forward: str) -> tuple[str, int]:
    action = f"dial forward {forward}"
    return _calls.dial_opened(await _read(conn, call, action), action)


class AsyncDialStream:
    """A byte stream to a forward's pod: `await s.sendall(b)`, `await s.recv(n)` (b"" at the
    end), `await s.shutdown_write()`, `await s.close()`."""

    def __init__(self, conn: AsyncConnection, call: Any, forward: str) -> None:
        self._conn, self._call = conn, call
        self._action = f"use dial stream to forward {forward}"
        self._buffer = b""
        self._eof = False
        self.pod, self.port = "", 0

    @classmethod
    async def open(
        cls, conn: AsyncConnection, forward: str, port: str | int | None, timeout: float | None
    ) -> AsyncDialStream:
        call = conn.bidi(schema.DIAL)(timeout=timeout)
        stream = cls(conn, call, forward)
        try:
            await _write(conn, call, convert.dial_open(forward, port), f"dial forward {forward}")
            stream.pod, stream.port = await _opened(conn, call, forward)
        except BaseException:
            call.cancel()
            raise
        return stream

    async def sendall(self, data: bytes) -> None:
        for chunk in _calls.chunks(data):
            await _write(self._conn, self._call, convert.dial_data(chunk), self._action)

    async def send(self, data: bytes) -> int:
        await self.sendall(data)
        return len(data)

    async def shutdown_write(self) -> None:
        """Half-closes: the pod reads EOF; its answer can still be read."""
        await _write(self._conn, self._call, convert.dial_close_write(), self._action)
        await self._call.done_writing()

    async def shutdown(self, how: int) -> None:
        """As `socket.shutdown`: SHUT_WR half-closes; SHUT_RD and SHUT_RDWR close."""
        if how == so.SHUT_WR:
            await self.shutdown_write()
        else:
            await self.close()

    async def recv(self, bufsize: int) -> bytes:
        while not self._buffer and not self._eof:
            message = await _read(self._conn, self._call, self._action)
            if message is None:
                self._eof = True
            elif message.WhichOneof("kind") == "data":
                self._buffer = message.data
        data, self._buffer = self._buffer[:bufsize], self._buffer[bufsize:]
        return data

    async def close(self) -> None:
        self._call.cancel()
        self._eof = True

    async def __aenter__(self) -> AsyncDialStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


async def dial_socket(
    conn: AsyncConnection,
    forward: str,
    port: str | int | None,
    timeout: float | None,
    tasks: set[asyncio.Task[None]],
) -> so.socket:
    """A connected socket whose other end is pumped to the pod by grpc's request task (to the
    pod) and one task of ours (from the pod), both on the running loop."""
    loop = asyncio.get_running_loop()
    ours, theirs = so.socketpair()
    ours.setblocking(False)

    async def requests() -> AsyncIterator[Any]:
        yield convert.dial_open(forward, port)
        while True:
            try:
                data = await loop.sock_recv(ours, _calls.CHUNK)
            except OSError:
                return
            if not data:
                yield convert.dial_close_write()
                return
            yield convert.dial_data(data)

    call = conn.bidi(schema.DIAL)(requests(), timeout=timeout)
    try:
        await _opened(conn, call, forward)
    except BaseException:
        call.cancel()
        ours.close()
        theirs.close()
        raise

    async def pump() -> None:
        try:
            while (message := await _read(conn, call, "dial")) is not None:
                if message.WhichOneof("kind") == "data":
                    await loop.sock_sendall(ours, message.data)
            ours.shutdown(so.SHUT_WR)
        except (TetherError, OSError):
            call.cancel()
            try:
                ours.shutdown(so.SHUT_RDWR)
            except OSError:
                pass

    task = loop.create_task(pump(), name=f"tether-dial-{forward}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return theirs


async def run_exec(
    conn: AsyncConnection, spec: Any, input: bytes | None, action: str, timeout: float | None
) -> ExecResult:
    # grpc.aio takes a plain iterator too; this one only builds messages.
    call = conn.bidi(schema.EXEC)(_calls.exec_requests(spec, input), timeout=timeout)
    collector = _execution.Collector(action)
    try:
        while True:
            message = await _read(conn, call, action)
            if message is None:
                raise collector.ended_early()
            outcome = collector.feed(convert.exec_reply(message))
            if outcome is not None:
                return collector.result(outcome)
    finally:
        call.cancel()


class AsyncStdin:
    """The command's stdin: `await write(b)`, `await close()` (EOF)."""

    def __init__(self, process: AsyncProcess) -> None:
        self._process = process
        self.closed = False

    async def write(self, data: bytes) -> int:
        p = self._process
        for chunk in _calls.chunks(bytes(data)):
            await _write(p._conn, p._call, convert.exec_stdin(chunk), p._action)
        return len(data)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        p = self._process
        try:
            await _write(p._conn, p._call, convert.exec_close_stdin(), p._action)
            await p._call.done_writing()
        except (BrokenPipeError, TetherError):
            pass


class AsyncOutput:
    """stdout or stderr: `await read(n)` (b"" at the end, which is the command's end),
    `await read()` for all of it, or `async for chunk in ...`."""

    def __init__(self, process: AsyncProcess) -> None:
        self._process = process
        self.chunks: list[bytes] = []

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            while await self._process._step():
                pass
            data = b"".join(self.chunks)
            self.chunks.clear()
            return data
        while not self.chunks:
            if not await self._process._step():
                return b""
        chunk = self.chunks.pop(0)
        if len(chunk) > n:
            self.chunks.insert(0, chunk[n:])
        return chunk[:n]

    def __aiter__(self) -> AsyncOutput:
        return self

    async def __anext__(self) -> bytes:
        data = await self.read(_calls.CHUNK)
        if not data:
            raise StopAsyncIteration
        return data


class AsyncProcess:
    """A running command with streamed I/O; see `Process`. `await wait()` gives the exit code."""

    def __init__(self, conn: AsyncConnection, call: Any, action: str, stdin: bool) -> None:
        self._conn, self._call, self._action = conn, call, action
        self._lock = asyncio.Lock()
        self.stdout = AsyncOutput(self)
        self.stderr = AsyncOutput(self)
        self._replies = _execution.Replies(action, self._route)
        self.stdin: AsyncStdin | None = AsyncStdin(self) if stdin else None
        self.returncode: int | None = None
        self.error: str | None = None
        self.warnings: list[str] = self._replies.warnings
        self.pod = self.container = ""

    @classmethod
    async def open(
        cls, conn: AsyncConnection, spec: Any, stdin: bool, action: str, timeout: float | None
    ) -> AsyncProcess:
        call = conn.bidi(schema.EXEC)(timeout=timeout)
        process = cls(conn, call, action, stdin)
        try:
            await _write(conn, call, convert.exec_start(spec), action)
            if not stdin:
                await call.done_writing()
            while not process._replies.started and await process._step():
                pass
        except BaseException:
            call.cancel()
            raise
        process.pod, process.container = process._replies.pod, process._replies.container
        return process

    def _route(self, chunk: Chunk) -> None:
        (self.stderr if chunk.stderr else self.stdout).chunks.append(chunk.data)

    async def _step(self) -> bool:
        replies = self._replies
        async with self._lock:
            if replies.ended:
                return False
            message = await _read(self._conn, self._call, self._action)
            if message is None:
                replies.ended = True
                raise replies.ended_early()
            outcome = replies.feed(convert.exec_reply(message))
            if outcome is not None:
                self.returncode, self.error = outcome.code, outcome.error
                return False
            return True

    async def wait(self) -> int:
        while await self._step():
            pass
        return self._replies.exit_code()

    async def resize(self, width: int, height: int) -> None:
        await _write(self._conn, self._call, convert.exec_resize(width, height), self._action)

    def kill(self) -> None:
        self._call.cancel()
        self._replies.ended = True

    async def __aenter__(self) -> AsyncProcess:
        return self

    async def __aexit__(self, exc_type: Any, *rest: Any) -> None:
        try:
            if self.stdin is not None:
                await self.stdin.close()
            if exc_type is None and not self._replies.ended:
                await self.wait()
        finally:
            self.kill()


class AsyncAttachment:
    """One client's view of a session; see `Attachment`. `async for event in a`."""

    def __init__(self, conn: AsyncConnection, call: Any, action: str, session: Session) -> None:
        self._conn, self._call, self._action = conn, call, action
        # The session as it was when joined.
        self.session = session

    @classmethod
    async def open(
        cls, conn: AsyncConnection, session: str, replay: bool, timeout: float | None
    ) -> AsyncAttachment:
        action = f"attach to session {session}"
        call = conn.bidi(schema.ATTACH_SESSION)(timeout=timeout)
        try:
            await _write(conn, call, convert.attach_open(session, replay), action)
            joined = _calls.attach_joined(await _read(conn, call, action), action)
        except BaseException:
            call.cancel()
            raise
        return cls(conn, call, action, joined)

    def __aiter__(self) -> AsyncAttachment:
        return self

    async def __anext__(self) -> AttachEvent:
        while True:
            message = await _read(self._conn, self._call, self._action)
            if message is None:
                raise StopAsyncIteration
            event = convert.attach_event(message)
            if event is not None:
                return event

    async def read_replay(self) -> bytes:
        kept = bytearray()
        async for event in self:
            if isinstance(event, ReplayDone):
                break
            if isinstance(event, Output):
                kept.extend(event.data)
        return bytes(kept)

    async def send(self, data: bytes) -> None:
        await _write(self._conn, self._call, convert.attach_stdin(bytes(data)), self._action)

    async def resize(self, width: int, height: int) -> None:
        await _write(self._conn, self._call, convert.attach_resize(width, height), self._action)

    async def detach(self) -> None:
        await _write(self._conn, self._call, convert.attach_detach(), self._action)
        await self._call.done_writing()

    async def close(self) -> None:
        self._call.cancel()

    async def __aenter__(self) -> AsyncAttachment:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
