"""What both clients do with an Exec stream's answers, without any I/O: fold them into an
`ExecResult`, and decide which endings are errors.

An exit status that comes before `started` means the command never ran (no such pod, the
cluster refused): that raises. One after `started` is the command's own outcome: an exit code,
or the cluster's words when there is none (`ExecResult.error`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._wire.convert import Chunk, ExecReply, Exit, Note, Started
from .errors import ClusterError, NotFound, TetherError
from .models import ExecResult


def describe(target: str, command: Sequence[str]) -> str:
    shown = " ".join(command) if command else "(attach)"
    return f"run `{shown}` in {target}"


def start_failure(outcome: Exit, action: str) -> TetherError:
    """The error for a command that never started."""
    words = outcome.error or "the cluster refused"
    if outcome.reason == "NotFound":
        return NotFound(f"failed to {action}: {words}")
    return ClusterError(f"failed to {action}: {words}")


def check_command(command: Sequence[str]) -> list[str]:
    if isinstance(command, (str, bytes)):
        raise TypeError("command must be a list of strings, such as ['sh', '-c', 'exit 3']")
    return list(command)


class Collector:
    """Folds the answers of one exec into an ExecResult."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.started: Started | None = None
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.warnings: list[str] = []

    def feed(self, reply: ExecReply | None) -> ExecResult | None:
        """Takes one answer; returns the result once the command has ended."""
        if isinstance(reply, Started):
            self.started = reply
        elif isinstance(reply, Chunk):
            (self.stderr if reply.stderr else self.stdout).extend(reply.data)
        elif isinstance(reply, Note):
            self.warnings.append(reply.text)
        elif isinstance(reply, Exit):
            return self.result(reply)
        return None

    def result(self, outcome: Exit) -> ExecResult:
        if self.started is None:
            raise start_failure(outcome, self.action)
        return ExecResult(
            exit_code=outcome.code,
            stdout=bytes(self.stdout),
            stderr=bytes(self.stderr),
            error=outcome.error,
            reason=outcome.reason,
            pod=self.started.pod,
            container=self.started.container,
            warnings=tuple(self.warnings),
        )

    def ended_early(self) -> TetherError:
        return ClusterError(
            f"failed to {self.action}: tetherd ended the stream without an exit status; "
            "see `tether daemon logs`"
        )


def stdin_chunks(data: bytes, size: int = 64 * 1024) -> list[bytes]:
    view = memoryview(data)
    return [bytes(view[at : at + size]) for at in range(0, len(view), size)]
