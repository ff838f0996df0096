"""Attach for the blocking client: join a daemon-owned session, read its replayed and live
output as typed events, and send it input. Leaving never stops the session."""

from __future__ import annotations

from typing import Any

import grpc

from . import _calls
from ._outbox import open_call
from ._transport import SyncConnection
from ._wire import convert, schema
from .events import AttachEvent, Output, ReplayDone
from .models import Session


class Attachment:
    """One client's view of a session:

    ```python
    with tc.attach(session.id, timeout=60) as a:
        print(a.read_replay())          # the kept output
        a.send(b"echo hi\\n")
        for event in a: ...             # Output, Lagged, SessionUpdate, until detach or the end
    ```

    Iteration ends when the session ends or after `detach()`. `timeout` given to `attach`
    bounds the whole attachment (then `tether.Timeout`); the session goes on.
    """

    def __init__(
        self, conn: SyncConnection, session: str, replay: bool, timeout: float | None
    ) -> None:
        self._conn = conn
        self._action = f"attach to session {session}"
        self._outbox, self._call = open_call(
            conn.bidi(schema.ATTACH_SESSION), convert.attach_open(session, replay), timeout
        )
        try:
            # The session as it was when joined.
            self.session: Session = _calls.attach_joined(self._next_message(), self._action)
        except BaseException:
            self.close()
            raise

    def _next_message(self) -> Any:
        try:
            return next(self._call)
        except StopIteration:
            return None
        except grpc.RpcError as e:
            raise self._conn.of(e, self._action) from e

    def __iter__(self) -> Attachment:
        return self

    def __next__(self) -> AttachEvent:
        while True:
            message = self._next_message()
            if message is None:
                raise StopIteration
            event = convert.attach_event(message)
            if event is not None:
                return event

    def read_replay(self) -> bytes:
        """The replayed scrollback (everything up to ReplayDone), as one bytes object."""
        kept = bytearray()
        for event in self:
            if isinstance(event, ReplayDone):
                break
            if isinstance(event, Output):
                kept.extend(event.data)
        return bytes(kept)

    def send(self, data: bytes) -> None:
        """Sends input to the session's process (it must have been created with stdin)."""
        try:
            self._outbox.put(convert.attach_stdin(bytes(data)))
        except BrokenPipeError:
            raise BrokenPipeError(f"the attachment to {self.session.id} is closed") from None

    def resize(self, width: int, height: int) -> None:
        try:
            self._outbox.put(convert.attach_resize(width, height))
        except BrokenPipeError:
            pass

    def detach(self) -> None:
        """Leaves the session running; iteration ends after what is already on its way."""
        try:
            self._outbox.put(convert.attach_detach())
        except BrokenPipeError:
            return
        self._outbox.close()

    def close(self) -> None:
        """Leaves at once; the session goes on."""
        self._outbox.abort()
        self._call.cancel()

    def __enter__(self) -> Attachment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
