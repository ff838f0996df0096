"""Exec for the blocking client: `run` (all output, then the result) and `Process` (streamed
output, like `subprocess.Popen`, that still ends with the exit code).

The process lives as long as the call, as with `kubectl exec`: closing or killing the
`Process` closes the connection to the cluster, which ends the command.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from typing import Any

import grpc

from . import _calls, _execution
from ._outbox import Outbox, open_call
from ._transport import SyncConnection
from ._wire import convert, schema
from ._wire.convert import Chunk
from .errors import TetherError
from .models import ExecResult


def run(
    conn: SyncConnection, spec: Any, input: bytes | None, action: str, timeout: float | None
) -> ExecResult:
    """Runs to the end; `input` (all of it, then EOF) is sent while output is read, so a command
    that echoes a large input does not deadlock."""
    call = conn.bidi(schema.EXEC)(_calls.exec_requests(spec, input), timeout=timeout)
    collector = _execution.Collector(action)
    try:
        for message in call:
            outcome = collector.feed(convert.exec_reply(message))
            if outcome is not None:
                return collector.result(outcome)
    except grpc.RpcError as e:
        raise conn.of(e, action) from e
    finally:
        call.cancel()
    raise collector.ended_early()


class _Stdin(io.RawIOBase):
    """The command's standard input: each write is sent as it is; close() sends EOF."""

    def __init__(self, outbox: Outbox) -> None:
        super().__init__()
        self._outbox = outbox

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        try:
            for chunk in _calls.chunks(data):
                self._outbox.put(convert.exec_stdin(chunk))
        except BrokenPipeError:
            raise BrokenPipeError("the command's stdin is closed (or the command ended)") from None
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._outbox.put(convert.exec_close_stdin())
            except BrokenPipeError:
                pass
            self._outbox.close()
        super().close()


class _Output(io.RawIOBase):
    """One of the command's output streams; its end is the command's end."""

    def __init__(self, process: Process, stderr: bool) -> None:
        super().__init__()
        self._process = process
        self._stderr = stderr
        self.chunks: deque[bytes] = deque()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.chunks:
            if not self._process._step():
                return 0
        chunk = self.chunks.popleft()
        n = min(len(buffer), len(chunk))
        buffer[:n] = chunk[:n]
        if n < len(chunk):
            self.chunks.appendleft(chunk[n:])
        return n


class Process:
    """A running command with streamed I/O:

    ```python
    with tc.popen("toolbox", ["cat"], stdin=True) as p:
        p.stdin.write(b"hi"); p.stdin.close()
        assert p.stdout.read() == b"hi"
        assert p.wait() == 0
    ```

    `stdout` and `stderr` are binary file objects (`read`, `readline`, iteration); output not
    read yet is kept in memory. Reading one stream stores what arrives for the other. With a
    TTY, stderr is merged into stdout. `timeout` given to `popen` bounds the whole command.
    """

    def __init__(
        self, conn: SyncConnection, spec: Any, stdin: bool, action: str, timeout: float | None
    ) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self._out = _Output(self, stderr=False)
        self._err = _Output(self, stderr=True)
        self._replies = _execution.Replies(action, self._route)
        self._outbox, self._call = open_call(
            conn.bidi(schema.EXEC), convert.exec_start(spec), timeout, more=stdin
        )
        self.stdout = io.BufferedReader(self._out)
        self.stderr = io.BufferedReader(self._err)
        self.stdin: io.RawIOBase | None = _Stdin(self._outbox) if stdin else None
        self.returncode: int | None = None
        # When the command ended without an exit code: the cluster's words.
        self.error: str | None = None
        self.warnings: list[str] = self._replies.warnings
        try:
            while not self._replies.started and self._step():
                pass
        except BaseException:
            self.kill()
            raise
        self.pod = self._replies.pod
        self.container = self._replies.container

    def _route(self, chunk: Chunk) -> None:
        (self._err if chunk.stderr else self._out).chunks.append(chunk.data)

    def _step(self) -> bool:
        """Reads one answer from the daemon and routes it; False once the command has ended."""
        replies = self._replies
        with self._lock:
            if replies.ended:
                return False
            try:
                message = next(self._call)
            except StopIteration:
                replies.ended = True
                raise replies.ended_early() from None
            except grpc.RpcError as e:
                replies.ended = True
                raise self._conn.of(e, replies.action) from e
            outcome = replies.feed(convert.exec_reply(message))
            if outcome is not None:
                self.returncode, self.error = outcome.code, outcome.error
                return False
            return True

    def wait(self) -> int:
        """Waits for the command to end (output not read is kept) and returns its exit code.
        Raises ClusterError when it ended without one (the container went away)."""
        while self._step():
            pass
        return self._replies.exit_code()

    def resize(self, width: int, height: int) -> None:
        """Tells a TTY its new size."""
        try:
            self._outbox.put(convert.exec_resize(width, height))
        except BrokenPipeError:
            pass

    def kill(self) -> None:
        """Ends the command by closing its connection, as leaving `kubectl exec` does."""
        self._outbox.abort()
        self._call.cancel()
        with self._lock:
            self._replies.ended = True

    def __enter__(self) -> Process:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if self.stdin is not None:
                self.stdin.close()
            if exc_type is None and not self._replies.ended:
                self.wait()
        except TetherError:
            if exc_type is None:
                raise
        finally:
            self.kill()
