"""Command-line entry point. A thin layer: parse, call the library, render, map errors to exit codes.

``main`` answers ``--version`` before importing anything heavy, strips ``--debug`` from anywhere in the
arguments, runs plain ``dagctl run`` command lines without importing typer (:mod:`dagctl.cli.run_main`),
and turns every :class:`~dagctl.errors.DagctlError` into a one-line message (what, where, how to fix) with
the error's exit code. Unexpected exceptions print one line and exit 3; ``--debug``
(or ``DAGCTL_DEBUG=1``) shows the traceback too, and the exit code stays 3.
"""

from __future__ import annotations

import contextlib
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

COMPLETE_VAR = "_DAGCTL_COMPLETE"
"""Set by the completion scripts of ``dagctl --show-completion`` when a shell asks what to complete
(:mod:`dagctl.cli.completion`): such a call always goes to typer."""

FAST_EXIT = True
"""End the ``dagctl`` program without tearing the interpreter down (~12 ms off every command); False exits
the usual way."""


def entry() -> None:
    """The ``dagctl`` program: :func:`main`, then a fast exit.

    Tearing down the interpreter (every module, class and function freed one by one) takes ~12 ms after
    a run, more than many short DAGs take. Nothing dagctl keeps needs it: events and state are written
    with os-level writes as they happen, and files are closed by their ``with`` blocks. So after the
    exit handlers (logging's among them) and a flush of stdout/stderr, the process ends at once.
    """
    _stand_in_for_closed_streams()
    code = main()
    if not FAST_EXIT:
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing more can be said
            stream.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        from dagctl.settings import VERSION as __version__

        try:
            sys.stdout.write(f"dagctl {__version__}\n")
            sys.stdout.flush()
        except OSError as exc:  # >/dev/full, a closed stdout: as every other command says it
            return _output_failed(exc)
        return 0
    debug = "--debug" in args or os.environ.get("DAGCTL_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
    args = [a for a in args if a != "--debug"]

    from dagctl.errors import EXIT_ENVIRONMENT, EXIT_SIGINT, DagctlError, SpecError

    def render_error(exc: DagctlError) -> str:
        if isinstance(exc, SpecError):
            return "".join(f"{p}\n" for p in exc.problems)
        return f"dagctl: error: {exc}\n"

    fast = None
    completing = COMPLETE_VAR in os.environ
    if args[:1] == ["run"] and not completing:  # the command cron and CI start most: plain forms skip typer
        from .run_main import parse_run_args  # (see cli.run_main)

        fast = parse_run_args(args)
    try:
        if not {"--help", "-h"} & set(args) and args and not completing:
            from dagctl.settings import Settings

            Settings.from_env()  # every variable checked before any work starts (docs/operating.md)
        if fast is not None:
            from . import run_main

            return run_main.run_command(**fast)
        from .app import build_app

        if completing:  # a shell asking what comes next: typer answers, from the command's module only
            from .completion import prepare, words_typed

            prepare()
            build_app(words_typed())(args=[], prog_name="dagctl", standalone_mode=True)
            return 0
        if "--show-completion" in args or "--install-completion" in args:
            from .completion import with_shell

            args = with_shell(args)
        app = build_app(args)
        _one_line_usage_errors(app, args)
        app(args=args, prog_name="dagctl", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        if code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            return 0  # click's answer to a closed pipe (it wraps stdout, then exits 1): the reader went away
        return code if isinstance(code, int) else (0 if code is None else 1)
    except DagctlError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        _write_err(render_error(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _write_err("dagctl: interrupted\n")
        return EXIT_SIGINT
    except OSError as exc:  # a file or stream dagctl had to use: the environment, not a bug
        if debug and not isinstance(exc, BrokenPipeError):
            import traceback

            traceback.print_exc()
        return _output_failed(exc)
    except Exception as exc:
        if debug:  # the traceback, and the same exit code as without --debug
            import traceback

            traceback.print_exc()
            _write_err(f"dagctl: internal error: {type(exc).__name__}: {exc} — please report it\n")
            return EXIT_ENVIRONMENT
        _write_err(
            f"dagctl: internal error: {type(exc).__name__}: {exc} — rerun with --debug for a traceback and report it\n"
        )
        return EXIT_ENVIRONMENT
    return 0


def _output_failed(exc: OSError) -> int:
    """The exit code (and line) for an OSError that reached the top: a reader that went away (``dagctl runs |
    head``) is no error; anything else (``>/dev/full``, a closed stdout, a file dagctl had to use) is exit 3."""
    if isinstance(exc, BrokenPipeError):
        return 0  # nothing more to say
    from dagctl.errors import EXIT_ENVIRONMENT

    where = exc.filename or "its output"
    _write_err(f"dagctl: error: cannot use {where}: {exc.strerror or exc}\n")
    return EXIT_ENVIRONMENT


def _stand_in_for_closed_streams() -> None:
    """Stand-ins for the standard streams closed before dagctl started (``dagctl run X >&-``, ``2>&-``, ``<&-``).

    Python leaves such a stream None (every write an AttributeError) and its descriptor free, so the next file
    dagctl opened would get number 1 or 2 and collect whatever a library or a child writes there. The
    descriptor gets /dev/null; the stream fails every write with EBADF, as a write to the closed descriptor
    would: a command whose output is its answer exits 3 (as with ``>/dev/full``), a run keeps the exit code
    of its tasks, and stdin reads as empty.
    """
    import errno
    import io

    class Closed(io.BufferedIOBase):
        @property
        def name(self) -> str:
            return "<closed>"

        def writable(self) -> bool:
            return True

        def write(self, data: object) -> int:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        if getattr(sys, name) is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:  # free: take it before a log or lock file does
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if fd == 0:
            sys.stdin = open(os.devnull)  # noqa: SIM115 - the process's stdin, for as long as it lives
        else:
            stream = io.TextIOWrapper(Closed(), encoding="utf-8", errors="backslashreplace", write_through=True)
            setattr(sys, name, stream)


def _one_line_usage_errors(app: object = None, args: Sequence[str] = ()) -> None:
    """A command line click refuses (an unknown option, a value out of range, a missing argument) gets one line
    like every other error, naming the help to read, instead of click's usage block. An error click raises
    without its context (an option missing its value: ``dagctl run X -p``) names the help of the command that
    ``args`` name, not the root's."""

    def show(self: Any, file: object = None) -> None:
        ctx = getattr(self, "ctx", None)
        command = ctx.command_path if ctx is not None else _command_path(app, args)
        _write_err(f"dagctl: error: {self.format_message().rstrip('.')} — see '{command} --help'\n")

    for name in ("click.exceptions", "typer._click.exceptions"):  # typer may bring a click of its own
        module = sys.modules.get(name)
        if module is not None:
            module.UsageError.show = show


def _command_path(app: object, args: Sequence[str]) -> str:
    """``dagctl run``, ``dagctl schedule list``: the commands of ``app`` that ``args`` name, in order."""
    path = ["dagctl"]
    if app is None:
        return "dagctl"
    try:
        import typer.main

        command: Any = typer.main.get_command(app)  # type: ignore[arg-type]
        for word in args:
            if word.startswith("-"):
                continue
            found = (getattr(command, "commands", None) or {}).get(word)  # a group's commands (typer may bundle click)
            if found is None:
                break
            path.append(word)
            command = found
    except Exception:  # a help to point at is worth no second error
        return "dagctl"
    return " ".join(path)


def _write_err(text: str) -> None:
    """An error line on stderr, if stderr can still be written (2>/dev/full, a closed pipe: the exit code says it)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(text)
        sys.stderr.flush()
