"""Dial for the blocking client: a byte stream to a forward's pod through its tunnel, with no
local listener. `DialStream` looks like a connected socket; `dial_socket` hands out a real
`socket.socket` for libraries that need one.
"""

from __future__ import annotations

import socket as so
import threading
from collections.abc import Iterator
from typing import Any

import grpc

from . import _calls
from ._outbox import open_call
from ._transport import SyncConnection
from ._wire import convert, schema


def _opened(conn: SyncConnection, call: Any, forward: str) -> tuple[str, int]:
    """Reads the `opened` answer: the pod and container port the stream reached."""
    action = f"dial forward {forward}"
    try:
        first = next(call)
    except StopIteration:
        first = None
    except grpc.RpcError as e:
        raise conn.of(e, action) from e
    return _calls.dial_opened(first, action)


class DialStream:
    """A connected byte stream, used like a blocking socket:

    ```python
    with tc.dial("db", port=5432, timeout=30) as s:
        s.sendall(b"ping"); s.shutdown_write(); reply = s.recv(65536)
    ```

    `recv` returns b"" at the end of the stream. `timeout` given to `dial` bounds the whole
    stream: past it, calls raise `tether.Timeout`. An error from the tunnel is raised by the
    next `recv`.
    """

    def __init__(
        self, conn: SyncConnection, forward: str, port: str | int | None, timeout: float | None
    ) -> None:
        self._conn = conn
        self._action = f"read from dial stream to forward {forward}"
        self._outbox, self._call = open_call(
            conn.bidi(schema.DIAL), convert.dial_open(forward, port), timeout
        )
        self._buffer = b""
        self._eof = False
        try:
            self.pod, self.port = _opened(conn, self._call, forward)
        except BaseException:
            self.close()
            raise

    def sendall(self, data: bytes) -> None:
        """Sends all of `data`, waiting while the daemon applies backpressure."""
        try:
            for chunk in _calls.chunks(data):
                self._outbox.put(convert.dial_data(chunk))
        except BrokenPipeError:
            self._raise_ended()

    def send(self, data: bytes) -> int:
        self.sendall(data)
        return len(data)

    def shutdown_write(self) -> None:
        """Half-closes: the pod reads EOF, and its answer can still be read."""
        try:
            self._outbox.put(convert.dial_close_write())
        except BrokenPipeError:
            return
        self._outbox.close()

    def shutdown(self, how: int) -> None:
        """As `socket.shutdown`: SHUT_WR half-closes; SHUT_RD and SHUT_RDWR close."""
        if how == so.SHUT_WR:
            self.shutdown_write()
        else:
            self.close()

    def recv(self, bufsize: int) -> bytes:
        """Up to `bufsize` bytes; b"" once the pod has closed its side."""
        while not self._buffer and not self._eof:
            self._buffer = self._next_data()
        data, self._buffer = self._buffer[:bufsize], self._buffer[bufsize:]
        return data

    def _next_data(self) -> bytes:
        try:
            message = next(self._call)
        except StopIteration:
            self._eof = True
            return b""
        except grpc.RpcError as e:
            self._eof = True
            raise self._conn.of(e, self._action) from e
        return message.data if message.WhichOneof("kind") == "data" else b""

    def _raise_ended(self) -> None:
        """The call is over: raise why, or BrokenPipeError after a clean end."""
        if self._call.done() and self._call.code() != grpc.StatusCode.OK:
            raise self._conn.of(self._call, "write to the dial stream")
        raise BrokenPipeError("the dial stream is closed")

    def close(self) -> None:
        """Ends the stream at once (the pod's connection is reset if still open)."""
        self._outbox.abort()
        self._call.cancel()
        self._eof = True

    def __enter__(self) -> DialStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dial_socket(
    conn: SyncConnection, forward: str, port: str | int | None, timeout: float | None
) -> so.socket:
    """A connected socket (one end of a socketpair) whose other end is pumped to the pod.

    Bytes to the pod are read from the pair on grpcio's request thread; bytes from the pod are
    written by one pump thread that lives as long as the stream. Close the socket to end both.
    """
    ours, theirs = so.socketpair()
    ends = _Ends(ours)

    def requests() -> Iterator[Any]:
        yield convert.dial_open(forward, port)
        try:
            while True:
                try:
                    data = ours.recv(_calls.CHUNK)
                except OSError:
                    return
                if not data:
                    yield convert.dial_close_write()
                    return
                yield convert.dial_data(data)
        finally:
            ends.release()

    call = conn.bidi(schema.DIAL)(requests(), timeout=timeout)
    try:
        _opened(conn, call, forward)
    except BaseException:
        call.cancel()
        ours.close()
        theirs.close()
        raise
    pump = threading.Thread(
        target=_pump_from_pod, args=(call, ends), name=f"tether-dial-{forward}", daemon=True
    )
    pump.start()
    return theirs


class _Ends:
    """Our end of the pair, closed once both directions are done with it."""

    def __init__(self, sock: so.socket) -> None:
        self.sock = sock
        self._users = 2
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self.sock.close()


def _pump_from_pod(call: Any, ends: _Ends) -> None:
    """Writes the pod's bytes into our end; at the pod's EOF, half-closes it so the user reads
    EOF; when the user's end closes, cancels the call."""
    ours = ends.sock
    try:
        for message in call:
            if message.WhichOneof("kind") == "data":
                ours.sendall(message.data)
        ours.shutdown(so.SHUT_WR)
    except grpc.RpcError:
        # The stream failed: the user sees EOF both ways.
        _shutdown(ours)
    except OSError:
        # The user closed their end.
        call.cancel()
        _shutdown(ours)
    finally:
        ends.release()


def _shutdown(sock: so.socket) -> None:
    try:
        sock.shutdown(so.SHUT_RDWR)
    except OSError:
        pass
