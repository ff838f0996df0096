"""The request side of a blocking bidirectional call.

grpcio's sync API takes a request iterator and reads it on a thread of its own for the life of
the call. An `Outbox` is that iterator: the caller `put`s requests (waiting while `limit` are
queued, which passes the daemon's backpressure on), and `close` ends the stream after what is
queued. When the call ends for any reason, `abort` wakes everyone, so neither the caller nor
grpc's thread waits on a dead call.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class Outbox:
    def __init__(self, limit: int = 16) -> None:
        self._items: deque[Any] = deque()
        self._cond = threading.Condition()
        self._limit = limit
        self._closed = False
        self._aborted = False

    def put(self, item: Any) -> None:
        """Queues a request; raises BrokenPipeError once the stream is closed or the call over."""
        with self._cond:
            while len(self._items) >= self._limit and not (self._closed or self._aborted):
                self._cond.wait()
            if self._closed or self._aborted:
                raise BrokenPipeError("the stream to tetherd is closed")
            self._items.append(item)
            self._cond.notify_all()

    def close(self) -> None:
        """No more requests: grpc half-closes the stream once the queue is sent."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def abort(self, _call: object = None) -> None:
        """The call ended: drop what is queued (a grpc done-callback)."""
        with self._cond:
            self._aborted = True
            self._items.clear()
            self._cond.notify_all()

    def __iter__(self) -> Outbox:
        return self

    def __next__(self) -> Any:
        with self._cond:
            while not self._items and not (self._closed or self._aborted):
                self._cond.wait()
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            raise StopIteration


def open_call(
    start: Callable[..., Any], first: Any, timeout: float | None, *, more: bool = True
) -> tuple[Outbox, Any]:
    """A bidirectional call fed by a new Outbox that holds `first` (and is closed after it
    unless `more`); the call's end aborts the outbox."""
    outbox = Outbox()
    outbox.put(first)
    if not more:
        outbox.close()
    call = start(outbox, timeout=timeout)
    call.add_done_callback(outbox.abort)
    return outbox, call
