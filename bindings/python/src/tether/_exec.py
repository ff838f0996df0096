"""Exec for the blocking client: `run` (all output, then the result) and `Process` (streamed
output, like `subprocess.Popen`, that still ends with the exit code).

The process lives as long as the call, as with `kubectl exec`: closing or killing the
`Process` closes the connection to the cluster, which ends the command.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

import grpc

from . import _execution
from ._outbox import Outbox
from ._transport import SyncConnection
from ._wire import convert, schema
from ._wire.convert import Chunk, Exit, Note, Started
from .errors import ClusterError, TetherError
from .models import ExecResult


def run(
    conn: SyncConnection, spec: Any, input: bytes | None, action: str, timeout: float | None
) -> ExecResult:
    """Runs to the end; `input` (all of it, then EOF) is sent while output is read, so a command
    that echoes a large input does not deadlock."""

    def requests() -> Iterator[Any]:
        yield convert.exec_start(spec)
        if input is not None:
            for chunk in _execution.stdin_chunks(input):
                yield convert.exec_stdin(chunk)
            yield convert.exec_close_stdin()

    call = conn.bidi(schema.EXEC)(requests(), timeout=timeout)
    collector = _execution.Collector(action)
    try:
        for message in call:
            result = collector.feed(convert.exec_reply(message))
            if result is not None:
                return result
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
            for chunk in _execution.stdin_chunks(data):
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
        self._action = action
        self._lock = threading.RLock()
        self._outbox = Outbox()
        self._outbox.put(convert.exec_start(spec))
        if not stdin:
            self._outbox.close()
        self._call = conn.bidi(schema.EXEC)(self._outbox, timeout=timeout)
        self._call.add_done_callback(self._outbox.abort)
        self._out = _Output(self, stderr=False)
        self._err = _Output(self, stderr=True)
        self.stdout = io.BufferedReader(self._out)
        self.stderr = io.BufferedReader(self._err)
        self.stdin: io.RawIOBase | None = _Stdin(self._outbox) if stdin else None
        self.returncode: int | None = None
        # When the command ended without an exit code: the cluster's words.
        self.error: str | None = None
        self.warnings: list[str] = []
        self._ended = False
        started = None
        try:
            while started is None and self._step():
                started = self._started
        except BaseException:
            self.kill()
            raise
        self.pod = started.pod if started else ""
        self.container = started.container if started else ""

    _started: Started | None = None

    def _step(self) -> bool:
        """Reads one answer from the daemon and routes it; False once the command has ended."""
        with self._lock:
            if self._ended:
                return False
            try:
                message = next(self._call)
            except StopIteration:
                self._ended = True
                raise ClusterError(
                    f"failed to {self._action}: tetherd ended the stream "
                    "without an exit status; see `tether daemon logs`"
                ) from None
            except grpc.RpcError as e:
                self._ended = True
                raise self._conn.of(e, self._action) from e
            reply = convert.exec_reply(message)
            if isinstance(reply, Started):
                self._started = reply
            elif isinstance(reply, Chunk):
                (self._err if reply.stderr else self._out).chunks.append(reply.data)
            elif isinstance(reply, Note):
                self.warnings.append(reply.text)
            elif isinstance(reply, Exit):
                self._ended = True
                self._finish(reply)
                return False
            return True

    def _finish(self, outcome: Exit) -> None:
        if self._started is None:
            raise _execution.start_failure(outcome, self._action)
        self.returncode, self.error = outcome.code, outcome.error

    def wait(self) -> int:
        """Waits for the command to end (output not read is kept) and returns its exit code.
        Raises ClusterError when it ended without one (the container went away)."""
        while self._step():
            pass
        if self.returncode is None:
            raise ClusterError(f"failed to {self._action}: {self.error or 'no exit code'}")
        return self.returncode

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
            self._ended = True

    def __enter__(self) -> Process:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if self.stdin is not None:
                self.stdin.close()
            if exc_type is None and not self._ended:
                self.wait()
        except TetherError:
            if exc_type is None:
                raise
        finally:
            self.kill()
