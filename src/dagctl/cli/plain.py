"""Plain lines, one per state change, for pipes, files, cron mail, CI and journald (:class:`PlainView`), and the
thread that writes them (:class:`LineWriter`): whoever hands lines over, the run's thread, the signal thread, the
summary, never waits for the stream's reader. The live view for terminals is :mod:`dagctl.cli.view`."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import deque
from itertools import repeat, starmap

from dagctl.dag.durations import format_duration
from dagctl.report.fmt import with_values
from dagctl.store.events import (
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    DagDone,
    DagResume,
    DagStart,
    Event,
    RunWarning,
    TaskCancel,
    TaskEvent,
    TaskFail,
    TaskOk,
    TaskRetry,
    TaskSkip,
    TaskStart,
    parse_ts,
)

from .render import printable, write

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, TextIO

    from dagctl.protocols import Clock


def local_time(ts: str) -> str:
    return parse_ts(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def unit_name(event: TaskEvent) -> str:
    """What a task event is about: the task, a matrix cell with its values, or a loop's iteration."""
    if event.cell:
        return with_values(event.cell, event.matrix)
    if event.iteration and event.iteration > 1:
        return f"{event.task_id} (iteration {event.iteration})"
    return event.task_id


def describe(event: Event) -> str | None:
    """One plain line for a state change (None for events not worth a line), without escape sequences or control
    characters (an error or a matrix value may hold them: :func:`~dagctl.cli.render.printable`)."""
    line = _describe(event)
    return line if line is None or line.isprintable() else printable(line)


def _describe(event: Event) -> str | None:
    if isinstance(event, DagStart):
        return f"run {event.run_id} of {event.dag_name} started ({event.tasks} tasks, trigger {event.trigger})"
    if isinstance(event, DagResume):
        return f"run {event.run_id} of {event.dag_name} resumed ({event.reused} tasks kept)"
    if isinstance(event, DagDone):
        line = f"run {event.run_id} {event.status} in {format_duration(event.duration_s)}"
        return line + (f"; resume with: dagctl resume {event.run_id}" if event.status == "paused" else "")
    if isinstance(event, RunWarning):
        return f"warning: {event.message}"
    if not isinstance(event, TaskEvent):
        return None
    name = unit_name(event)
    if isinstance(event, TaskStart):
        again = f" (attempt {event.attempt})" if event.attempt and event.attempt > 1 else ""
        if event.cells is not None:
            return f"start  {name}: {event.cells} cells"
        if event.child_run_id:
            return f"start  {name}{again}: sub-DAG run {event.child_run_id}"
        return f"start  {name}{again}"
    if isinstance(event, TaskOk):
        if event.cached:
            return f"ok     {name} from the cache (key {(event.cache_key or '')[:12]})"
        if event.status == "iterated":
            return f"ok     {name} in {format_duration(event.duration_s)}; again: {event.reason}"
        return f"ok     {name} in {format_duration(event.duration_s)}"
    if isinstance(event, TaskRetry):
        return (
            f"retry  {name}: attempt {event.attempt} {event.status}: {event.error}; next try in "
            f"{format_duration(event.delay_s)}"
        )
    if isinstance(event, TaskFail):
        word = "TIMEOUT" if event.status == "timeout" else "FAILED"
        tail = f" (log: {event.log_path})" if event.log_path else ""
        after = f" after {event.attempt} attempt{'s' if event.attempt != 1 else ''}" if event.attempt else ""
        return f"{word} {name}{after}: {event.error}{tail}"
    if isinstance(event, TaskSkip):
        return f"skip   {name}: {event.reason}"
    if isinstance(event, TaskCancel):
        return f"cancel {name}: {event.reason}"
    if isinstance(event, ApprovalRequested):
        who = ", ".join(event.approvers) if event.approvers else "anyone"
        ask = f" {event.message!r}" if event.message else ""
        return f"wait   {name}: approval{ask} from {who}; dagctl approve {event.run_id} {event.task_id}"
    if isinstance(event, ApprovalGranted):
        return f"approved {name} by {', '.join(event.by)}"
    if isinstance(event, ApprovalRejected):
        return f"rejected {name} by {', '.join(event.by)}: {event.reason}"
    return None


class PlainView:
    """Timestamped lines, one per state change; for logs, cron mail, CI and journald.

    The lines reach the stream through a :class:`LineWriter`, so a reader that stops reading never slows the run:
    :meth:`emit` only queues the event, the writer's thread makes the line and writes it when the run flushes its
    events (at most :data:`~dagctl.run.runner.FLUSH_EVERY_S` after it happened, as the event log). A ``writer``
    given by the caller (``dagctl run``: the one that also writes the summary's lines on stderr) is the caller's
    to close; without one the view makes its own on ``stream`` (stderr) and closes it with the run.
    A writer that failed (a closed pipe, ``2>/dev/full``) makes the next :meth:`flush` raise its error, which
    ``run_dag`` notes in the run's events once (``progress output stopped``) before it drops the view.
    """

    def __init__(self, stream: TextIO | None = None, *, writer: LineWriter | None = None) -> None:
        self._own = writer is None
        self.writer = writer if writer is not None else LineWriter(stream or sys.stderr)
        self.writer.render = self.render
        self.stream = self.writer.stream
        self.emit: Callable[[Event], None] = self.writer.put
        self._second = ""  # the last event's time to the second (UTC), and the local time it reads as
        self._local = ""

    def render(self, event: Event) -> str | None:
        """The event's line with its newline (None for an event without one); on the writer's thread."""
        line = describe(event)
        if line is None:
            return None
        ts = event.ts
        if ts[-1:] == "Z":  # the runner's times (format_ts): every event of one second reads as the same local time
            second = ts[:19]
            if second != self._second:
                self._second, self._local = second, local_time(ts)
            return f"{self._local} {line}\n"
        return f"{local_time(ts)} {line}\n"

    def flush(self) -> None:
        failed = self.writer.failed
        if failed is not None:
            raise failed
        self.writer.wake()

    def close(self) -> None:
        if self._own:
            self.writer.close()
        else:
            self.writer.wake()


# --------------------------------------------------------------------------------------------- the line writer

HELD_LINES = 1000
"""Lines a :class:`LineWriter` keeps for a reader that is not reading, to show when it reads again; later ones are
dropped (and counted) until it does. A burst of events (a stopped run cancels every task it did not start) may
queue more while the reader keeps up: those are all written."""

STALLED_S = 2.0
"""How long one write must have waited for the reader before the reader counts as not reading."""

END_WAIT_S = 5.0
"""How long the end of a command waits for a reader that is not reading to take the last lines: after that dagctl
exits (with the run's exit code) without them, instead of hanging for as long as the reader does."""


class LineWriter:
    """Lines for a stream (stderr) written by a thread of their own: whoever hands them over never waits.

    A reader of dagctl's stderr that stops reading (a stopped ``tee``, a stalled log shipper, ``| (sleep 30; cat)``)
    fills the pipe, and a write to a full pipe waits until the reader reads again. Only this writer's thread waits:
    :meth:`put` (a run's events, on the runner's thread) and :meth:`say` (the signal thread's and the summary's
    lines) add to a queue and return. When :data:`HELD_LINES` events wait and a write has waited for the reader for
    :data:`STALLED_S` seconds, :meth:`put` drops new ones and counts them; once the reader takes lines again, a note
    ``N lines not shown: the reader of stderr was not reading`` stands where they were (every event is in the run's
    event log anyway). What :meth:`say` hands over is never dropped. :meth:`drain` and :meth:`close` wait for what
    was handed over to be written, :data:`END_WAIT_S` seconds at most for the whole command: a reader that never
    reads again cannot hang dagctl's exit.

    On a stream with a file descriptor the thread writes with ``os.write`` (the stream's encoding and error handler;
    ``?`` for what it cannot hold), holding no lock of the stream while it waits: nothing else, not the interpreter's
    exit, waits for it. A write that fails (a closed pipe, a full disk) ends the writing: the rest is thrown away
    and :attr:`failed` says why. Items other than text are made into lines by :attr:`render` (the view's), on the
    writer's thread.
    """

    def __init__(
        self, stream: TextIO, *, clock: Clock | None = None, held: int = HELD_LINES, name: str = "stderr"
    ) -> None:
        if clock is None:
            from dagctl.clock import SystemClock

            clock = SystemClock()
        self.stream = stream
        self.render: Callable[[Any], str | None] = _no_line
        """An item (an event) as text, with its newline, or None; set by the view that writes through it."""
        self.failed: Exception | None = None
        """Why writing stopped (the first error of a write, or of :attr:`render`); None while it goes on."""
        self.name = name
        self._clock = clock
        self._held = held
        self.writing_since: float | None = None
        """When the write under way began (the clock's monotonic time); None between writes."""
        self._queue: deque[Any] = deque()
        self._dropped = 0  # events dropped since the queue filled up, and the first of them
        self._first_dropped: Any = None
        self._lock = threading.Lock()  # for dropping, and for starting the thread
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._busy = False  # the thread holds lines it took from the queue
        self._gave_up = False  # a wait for the reader ran out (or was given up): later ones do not wait again
        self._waiting: threading.Event | None = None  # what drain() waits on
        try:
            self._fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):  # a StringIO, a stand-in for a closed stream
            self._fd = None
        encoding = getattr(stream, "encoding", None) or "utf-8"
        errors = getattr(stream, "errors", None) or "strict"
        self._encoding, self._errors = encoding, "replace" if errors == "strict" else errors

    def put(self, item: Any) -> None:
        """Queue an item (an event) for the writer, which writes it when :meth:`wake` is called; dropped (and counted)
        while the reader is not reading and :data:`HELD_LINES` wait."""
        if not self._dropped and len(self._queue) < self._held:
            self._queue.append(item)
        else:
            self._overflow(item)

    def _overflow(self, item: Any) -> None:
        with self._lock:
            since = self.writing_since
            if since is None or self._clock.monotonic() - since < STALLED_S or len(self._queue) < self._held:
                if self._dropped:  # the reader took lines again: the note where the gap is, then on
                    self._queue.append(_Gap(self._dropped, self._first_dropped))
                    self._dropped, self._first_dropped = 0, None
                self._queue.append(item)
            elif describe(item) is not None:
                if not self._dropped:
                    self._first_dropped = item
                self._dropped += 1

    def say(self, line: str) -> None:
        """Write ``line`` (and a newline) soon, after what was handed over before; never dropped, never waits."""
        self._queue.append(line + "\n")
        self.wake()

    def wake(self) -> None:
        """Have what was handed over written (the writer's thread starts with the first lines)."""
        if self._thread is None:
            with self._lock:  # the runner's, the signals' and the main thread may all be first
                if self._thread is None:
                    if not self._queue or self._closed:
                        return
                    self._thread = threading.Thread(target=self._loop, name="dagctl-lines", daemon=True)
                    self._thread.start()
        self._wake.set()

    def drain(self, timeout: float = END_WAIT_S) -> bool:
        """Wait until what was handed over is written (or thrown away after a failure), at most ``timeout`` seconds,
        and not at all once such a wait ran out; whether it was."""
        if self._closed:
            return not self._queue
        with self._lock:
            if self._dropped:  # dropped up to the end: the note comes last
                self._queue.append(_Gap(self._dropped, self._first_dropped))
                self._dropped, self._first_dropped = 0, None
        if self._thread is None and not self._queue:
            return True
        done = self._waiting = threading.Event()
        self._queue.append(done)
        self.wake()
        if self._gave_up:
            return done.is_set()
        if self._clock.wait(done, timeout) and not self._gave_up:
            return True
        self._gave_up = True
        return False

    def idle(self) -> bool:
        """Whether nothing handed over waits to be written (a :meth:`drain` now would not wait)."""
        return not self._busy and not self._queue and not self._dropped

    def give_up(self) -> None:
        """Stop waiting for the reader: a :meth:`drain` under way returns now, later ones at once (a signal at the end
        of a command: nothing is left to stop, and the command's exit code stays the run's)."""
        self._gave_up = True
        waiting = self._waiting
        if waiting is not None:
            waiting.set()

    def close(self, timeout: float = END_WAIT_S) -> bool:
        """:meth:`drain`, then end the writer's thread (once it is done with the stream); whether all was written."""
        written = self.drain(timeout)
        self._closed = True
        self._wake.set()
        return written

    # ------------------------------------------------------------------ the writer's thread
    def _loop(self) -> None:
        from dagctl.run import childsignal

        childsignal.block()  # never starts a process (see dagctl.run.childsignal)
        with contextlib.suppress(Exception):  # what was written through the stream itself goes first
            self.stream.flush()
        queue, take = self._queue, self._queue.popleft
        while True:
            self._wake.wait()
            self._wake.clear()
            self._busy = True
            while queue:  # what was appended meanwhile; more is appended at the other end
                self._write_batch(list(starmap(take, repeat((), len(queue)))))
            self._busy = False
            if self._closed:
                return

    def _write_batch(self, batch: list[Any]) -> None:
        chunks: list[str] = []
        for item in batch:
            kind = type(item)
            if kind is threading.Event:  # drain(): all before it is written
                self._write("".join(chunks))
                chunks = []
                item.set()
                continue
            if self.failed is not None:
                continue
            try:
                text = item if kind is str else self._note(item) if kind is _Gap else self.render(item)
            except Exception as exc:  # a view's bug: it stops, never the run
                self.failed = exc
                continue
            if text:
                chunks.append(text)
        self._write("".join(chunks))

    def _note(self, gap: _Gap) -> str:
        ts = getattr(gap.first, "ts", None)
        when = f"{local_time(ts)} " if isinstance(ts, str) else ""
        return f"{when}{gap.count} lines not shown: the reader of {self.name} was not reading\n"

    def _write(self, text: str) -> None:
        if not text or self.failed is not None:
            return
        self.writing_since = self._clock.monotonic()
        try:
            if self._fd is None:
                write(self.stream, text)
                self.stream.flush()
                return
            try:
                data = text.encode(self._encoding, self._errors)
            except (UnicodeEncodeError, LookupError):
                data = text.encode(self._encoding if self._errors != "strict" else "utf-8", "replace")
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except Exception as exc:
            self.failed = exc
        finally:
            self.writing_since = None


class _Through:
    """A stand-in for ``sys.stderr`` while a run goes on (:func:`stderr_through`): whole lines go to a writer."""

    def __init__(self, writer: LineWriter, real: Any) -> None:
        self._writer = writer
        self._real = real
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:  # the runner's, the workers' and the signals' threads may all log
            *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._writer.say(line)
        return len(text)

    def flush(self) -> None:
        pass

    def rest(self) -> str:
        with self._lock:
            text, self._pending = self._pending, ""
        return text

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextlib.contextmanager
def stderr_through(writer: LineWriter) -> Iterator[None]:
    """While the block runs, what other code writes to ``sys.stderr`` (logging's warnings: a task's cache entry not
    stored, processes a task left behind; Python's warnings; a CI annotation) goes through ``writer`` too, after
    the lines handed to it before: a reader of stderr that stops reading then holds the writer's thread only, never
    the thread that logged (the runner's, which would stop starting tasks). Nothing changes when ``writer`` writes
    to another stream than ``sys.stderr``."""
    real = sys.stderr
    if writer.stream is not real:
        yield
        return
    stand_in = _Through(writer, real)
    sys.stderr = stand_in
    try:
        yield
    finally:
        if sys.stderr is stand_in:  # not replaced meanwhile by someone else
            sys.stderr = real
        rest = stand_in.rest()
        if rest:
            writer.say(rest)


class _Gap:
    """Where a :class:`LineWriter` dropped ``count`` lines, the first of them ``first``."""

    __slots__ = ("count", "first")

    def __init__(self, count: int, first: Any) -> None:
        self.count = count
        self.first = first


def _no_line(item: Any) -> str | None:
    return None
