"""One error root for everything dagctl raises on purpose.

    DagctlError                    base: a message a user can act on; ``exit_code`` for the CLI
    ├── SpecError                  a DAG or schedule file is invalid; carries every Problem found
    ├── UsageError                 bad command-line input (unknown param, bad flag value, missing file)
    ├── TemplateError              a ${...} reference or a ``when:`` expression cannot be evaluated
    ├── StateError                 history files or run ids: unknown run, ambiguous prefix, locked state
    ├── ExecutorError              an executor could not run an attempt (missing extra, broker down)
    ├── EnvironmentProblem         a path dagctl must use is unusable (full disk, read-only, FIFO ...)
    └── TaskError                  raised *inside* a task to fail it with a clean message (no traceback)

A task that runs and fails is not an error of dagctl: it is recorded as ``failed`` in the events and
the run exits 1. An error above means dagctl could not do what it was asked (exit 2, or 3 for an
internal/environment problem). Exit codes live in :data:`EXIT_CODES` and nowhere else.
"""

from __future__ import annotations

from .records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_SIGHUP = 129
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success: everything ran (or validated) fine",
    EXIT_FAILED: "the DAG ran and at least one task failed (or a scheduled run failed)",
    EXIT_USAGE: "bad input: invalid DAG/schedule file, unknown flag or param, unknown run id",
    EXIT_ENVIRONMENT: "environment problem: missing optional dependency, broker unreachable, locked state",
    EXIT_SIGHUP: "interrupted by SIGHUP (its terminal closed); running tasks were terminated and recorded as cancelled",
    EXIT_SIGINT: "interrupted by SIGINT (Ctrl+C); running tasks were terminated and recorded as cancelled",
    EXIT_SIGTERM: "interrupted by SIGTERM; running tasks were terminated and recorded as cancelled",
}


def exit_code_of_signal(signum: int | None) -> int:
    """The exit code of a command a signal stopped (128 + its number, as a shell reports it): SIGHUP 129, SIGTERM
    143, SIGINT (and a stop that no signal asked for) 130."""
    return {1: EXIT_SIGHUP, 15: EXIT_SIGTERM}.get(signum or 0, EXIT_SIGINT)


class DagctlError(Exception):
    """Root of every error dagctl raises deliberately."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class Problem(Record):
    """One thing wrong in a file, with where it is and how to fix it."""

    file: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.message)


class SpecError(DagctlError):
    """A DAG or schedule file is invalid. ``problems`` lists all of them, sorted by position."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems), key=Problem.sort_key)
        first = str(self.problems[0]) if self.problems else "invalid specification"
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more)" if more > 0 else ""))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class UsageError(DagctlError):
    """Bad command-line or API input."""


class TemplateError(DagctlError):
    """A template reference or a condition could not be evaluated."""


class StateError(DagctlError):
    """Run history problem: unknown or ambiguous run id, unreadable state."""


class ExecutorError(DagctlError):
    """An executor could not run an attempt at all (not: the task failed)."""

    exit_code = EXIT_ENVIRONMENT


class EnvironmentProblem(DagctlError):
    """The machine around dagctl is unusable: a path it must write (a directory or FIFO where a file should
    be, a symlink loop, a read-only folder, a full disk), or a service it must reach."""

    exit_code = EXIT_ENVIRONMENT


def cannot(action: str, path: object, exc: OSError) -> EnvironmentProblem:
    """``cannot write PATH: reason`` (exit 3) for an OSError met while reading or writing a file."""
    import errno

    reason = exc.strerror or str(exc)
    hints = {
        errno.ENOSPC: "free some space on that disk",
        errno.EDQUOT: "free some space (disk quota exceeded)",
        errno.EROFS: "the file system is read-only: point dagctl at a writable place",
        errno.EACCES: "check the permissions of the file and its folder",
        errno.EPERM: "check the permissions of the file and its folder",
        errno.EISDIR: "a directory is in the way of a file",
        errno.ELOOP: "a symbolic link loop is in the way",
    }
    return EnvironmentProblem(f"cannot {action} {path}: {reason}", hint=hints.get(exc.errno or 0))


class TaskError(DagctlError):
    """Raise inside a Python task to fail it with this message and no traceback in the log."""

    exit_code = EXIT_FAILED
