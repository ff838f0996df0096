"""What both clients do with an Exec stream's answers, without any I/O: route them (output,
warnings, where it runs), fold them into an `ExecResult`, and decide which endings are errors.

An exit status that comes before `started` means the command never ran (no such pod, the
cluster refused): that raises. One after `started` is the command's own outcome: an exit code,
or the cluster's words when there is none (`ExecResult.error`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


class Replies:
    """The answers of one exec so far: where it runs once started, the daemon's warnings, and
    whether it has ended. Output goes to `output` as it comes."""

    def __init__(self, action: str, output: Callable[[Chunk], None]) -> None:
        self.action = action
        self._output = output
        self.started = False
        self.pod = ""
        self.container = ""
        self.warnings: list[str] = []
        # Set by the exit status, or by the stream's owner when it ends otherwise.
        self.ended = False
        self.exit: Exit | None = None

    def feed(self, reply: ExecReply | None) -> Exit | None:
        """Takes one answer; returns the exit status once the command has ended (raising if
        it never started)."""
        if isinstance(reply, Started):
            self.started = True
            self.pod, self.container = reply.pod, reply.container
        elif isinstance(reply, Chunk):
            self._output(reply)
        elif isinstance(reply, Note):
            self.warnings.append(reply.text)
        elif isinstance(reply, Exit):
            self.ended = True
            if not self.started:
                raise start_failure(reply, self.action)
            self.exit = reply
            return reply
        return None

    def ended_early(self) -> TetherError:
        """The error for a stream that ended without an exit status."""
        return ClusterError(
            f"failed to {self.action}: tetherd ended the stream without an exit status; "
            "see `tether daemon logs`"
        )

    def exit_code(self) -> int:
        """What `wait()` returns once ended: the exit code, or ClusterError when the command
        ended without one (the container went away, or it was killed)."""
        code = self.exit.code if self.exit else None
        if code is None:
            words = self.exit.error if self.exit else None
            raise ClusterError(f"failed to {self.action}: {words or 'no exit code'}")
        return code


class Collector(Replies):
    """Folds the answers of one exec into an ExecResult."""

    def __init__(self, action: str) -> None:
        self.stdout = bytearray()
        self.stderr = bytearray()
        super().__init__(action, self._keep)

    def _keep(self, chunk: Chunk) -> None:
        (self.stderr if chunk.stderr else self.stdout).extend(chunk.data)

    def result(self, outcome: Exit) -> ExecResult:
        return ExecResult(
            exit_code=outcome.code,
            stdout=bytes(self.stdout),
            stderr=bytes(self.stderr),
            error=outcome.error,
            reason=outcome.reason,
            pod=self.pod,
            container=self.container,
            warnings=tuple(self.warnings),
        )
