"""When `events()` subscribes again after losing the daemon, and when it gives up: a bounded
exponential backoff, kept apart from any I/O so both clients share it."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ._wire import convert, schema
from .errors import DaemonUnavailable, TetherError, Timeout, UntrustedSocket
from .events import Event

FIRST_DELAY = 0.05
MAX_DELAY = 1.0
# How long the daemon may stay away before events() raises DaemonUnavailable.
WINDOW = 30.0

# Codes that end a subscription because the daemon went away (or is restarting), not because
# the request was wrong.
LOST_CODES = ("UNAVAILABLE", "CANCELLED")


class Backoff:
    """Delays between attempts: doubling from FIRST_DELAY up to MAX_DELAY, for WINDOW seconds
    from the first failure, and never past the caller's deadline."""

    def __init__(self, now: float, deadline: float | None) -> None:
        self._delay = FIRST_DELAY
        self._give_up = now + WINDOW
        self._deadline = deadline

    def next_delay(self, now: float, why: TetherError) -> float:
        """The wait before the next attempt; raises once there is no time left."""
        if self._deadline is not None and now >= self._deadline:
            raise Timeout("failed to watch events: the deadline passed while tetherd was away")
        if now >= self._give_up:
            raise DaemonUnavailable(
                f"failed to watch events: tetherd stayed away for {WINDOW:.0f} s ({why})"
            ) from why
        delay = min(self._delay, max(0.0, self._give_up - now))
        if self._deadline is not None:
            delay = min(delay, max(0.0, self._deadline - now))
        self._delay = min(self._delay * 2, MAX_DELAY)
        return delay

    def reset(self, now: float) -> None:
        """A subscription worked: the next loss starts over."""
        self._delay = FIRST_DELAY
        self._give_up = now + WINDOW


def is_loss(error: TetherError) -> bool:
    """Whether a failed or ended subscription means the daemon went away."""
    if isinstance(error, UntrustedSocket):
        return False
    return isinstance(error, DaemonUnavailable) or error.code in LOST_CODES


def ended() -> TetherError:
    """Why to subscribe again after the daemon ended the stream (it is shutting down)."""
    return TetherError("tetherd ended the event stream", code="UNAVAILABLE")


class Subscription:
    """One `events()` iteration: its request, what is left of its deadline, and the wait before
    each new subscription."""

    def __init__(self, names: Sequence[str] | None, timeout: float | None) -> None:
        now = time.monotonic()
        self.request = schema.WATCH_EVENTS.request(names=list(names or ()))
        self._deadline = None if timeout is None else now + timeout
        self._backoff = Backoff(now, self._deadline)
        # Subscriptions lost so far: after one, the client reconnects before the next.
        self.losses = 0

    def time_left(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def event(self, message: schema.Pb) -> Event | None:
        """An answer arrived, so the subscription works: the next loss backs off from the
        start. None for a kind this package does not know."""
        self._backoff.reset(time.monotonic())
        return convert.event(message)

    def next_delay(self, lost: TetherError) -> float:
        """The wait before subscribing again; raises once there is no time left."""
        self.losses += 1
        return self._backoff.next_delay(time.monotonic(), lost)
