"""What a person sees while a DAG runs: a live view on a terminal, plain lines elsewhere (cron, CI, journald).

The live view's model is :mod:`dagctl.report.progress` (pure); this module draws it with ANSI escape sequences
(:func:`live_lines` makes the lines, :class:`LiveView` keeps them up to date on the terminal). The plain lines
are :mod:`dagctl.cli.plain`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import deque
from datetime import datetime
from itertools import repeat, starmap
from pathlib import Path

from dagctl.report.fmt import short_duration
from dagctl.store.events import (
    DagResume,
    Event,
    parse_ts,
)

from .render import clip, compose, printable, text_width, write

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, TextIO

    from dagctl.dag.plan import Plan
    from dagctl.protocols import Clock
    from dagctl.report.progress import Progress, RunProgress
    from dagctl.settings import Settings
    from dagctl.store.recent import RecentDurations

    from .render import TermStyle


def log_tail(path: str | None, lines: int = 15) -> list[str]:
    if not path:
        return []
    p = Path(path)
    try:
        with p.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return data.splitlines()[-lines:]


def started_at(ts: str) -> datetime:
    return parse_ts(ts)


def last_output_line(path: str | None) -> str:
    """The last non-blank line a task wrote to its log (read from the end: a few KB, never the whole file)."""
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 2048))
            data = fh.read()
    except OSError:
        return ""
    for raw in reversed(data.splitlines()):
        line = raw.decode("utf-8", "replace").strip()
        if line:
            return line.rsplit("\r", 1)[-1]  # a progress bar redrawn with \r: its latest state
    return ""


# --------------------------------------------------------------------------------------------- live view

HEADER_LINES = 2
"""Lines above the task rows: the run's name and times, and the progress bar with counts."""

_WORDS = {"success": "ok", "reused": "reused", "skipped": "skipped", "cancelled": "cancelled", "failed": "failed"}


def live_lines(progress: Progress, width: int, style: TermStyle, tails: Mapping[str, str] | None = None) -> list[str]:
    """The live view as lines of at most ``width - 1`` columns: header, progress bar, one line per row, and what
    was folded away. Pure: ``progress`` was made for one instant, ``tails`` are the running tasks' last lines."""
    width = max(width - 1, 20)  # the last column stays empty: no terminal wraps a line early
    sym = style.symbol
    p = progress
    lines: list[str] = []
    # line 1: what runs, and how long it has been and will be
    if p.status == "running":
        eta = "no history" if p.eta_s is None else f"ETA {short_duration(p.eta_s)}"
        right = (
            f"{short_duration(p.elapsed_s or 0.0)} elapsed · {eta}"
            if style.unicode
            else (f"{short_duration(p.elapsed_s or 0.0)} elapsed, {eta}")
        )
        right_style = "dim"
    else:
        right = f"{p.status} in {short_duration(p.elapsed_s or 0.0)}" + (" since resumed" if p.since_resume else "")
        right_style = "success" if p.status == "success" else "failed"
    left = [(p.dag_name or "run", "bold"), (f"  run {p.run_id}" if p.run_id else "", "dim")]
    gap = width - sum(text_width(t) for t, _ in left) - text_width(right)
    if gap < 2:  # a narrow terminal: the times matter more than the run id, and than the end of the name
        name = clip(left[0][0], max(width - text_width(right) - 2, 8), style.ellipsis)
        left = [(name, "bold")]
        gap = width - text_width(name) - text_width(right)
    lines.append(compose([*left, (" " * max(gap, 2), ""), (right, right_style)], width, style))
    # line 2: the bar and the counts
    c = p.counts
    counts: list[tuple[str, str]] = [(f" {p.done}/{p.total}", "bold")]
    for status, word in (
        ("failed", "failed"),
        ("running", "running"),
        ("retrying", "retrying"),
        ("waiting", "waiting"),
    ):
        if c.get(status):
            counts.append((f"  {sym(status)} {c[status]} {word}", status))
    left_count = c.get("queued", 0) + c.get("pending", 0)
    if left_count:
        counts.append((f"  {left_count} to go", "dim"))
    bar = max(10, min(60, width - sum(text_width(t) for t, _ in counts)))
    total = max(p.total, 1)
    bad = min(bar, -(-c.get("failed", 0) * bar // total))  # at least one cell for a failure
    good = min(bar - bad, (p.done - c.get("failed", 0)) * bar // total)
    full, empty = ("━", "─") if style.unicode else ("#", "-")
    lines.append(
        compose(
            [
                (full * good, "success"),
                ((full if style.unicode else "x") * bad, "failed"),
                (empty * (bar - good - bad), "dim"),
                *counts,
            ],
            width,
            style,
        )
    )
    # the rows
    rows = p.rows
    labels = [style.clean("  " * r.depth + r.label) for r in rows]  # matrix values may be anything: measured clean
    label_w = min(max(map(text_width, labels), default=4), max(12, width // 3))
    most = p.most_attempts
    attempt_w = len(f"{most}/{most}") if most > 1 else 0
    for r, label in zip(rows, labels, strict=True):
        attempt = f"{r.attempt}/{r.max_attempts}" if r.max_attempts > 1 and r.attempt else ""
        took = short_duration(r.elapsed_s) if r.elapsed_s is not None else ""
        expected = f"~{short_duration(r.expected_s)}" if r.expected_s is not None and r.status in _UNFINISHED else ""
        note, note_style = r.note, r.status if r.status in ("failed", "retrying", "waiting") else "dim"
        if r.status == "running" and tails:
            note = tails.get(r.task_id, "") or note
        elif r.retry_in_s is not None:
            note = f"retry in {short_duration(r.retry_in_s)}" + (f": {note}" if note else "")
        if r.iteration and r.status in _UNFINISHED | {"running"}:
            note = f"iteration {r.iteration}" + (f": {note}" if note else "")
        pieces = [
            (f" {sym(r.status)} ", r.status),
            (_pad(label, label_w, style), "failed" if r.status == "failed" else ""),
            (f" {attempt:>{attempt_w}}" if attempt_w else "", "retrying" if r.attempt > 1 else "dim"),
            (f" {took:>5} {expected:<6} ", ""),
            (note, note_style),  # made fit for the terminal by compose (TermStyle.clean), as every piece
        ]
        lines.append(compose(pieces, width, style).rstrip())
    if p.hidden:
        parts = [f"{n} {_WORDS.get(s, s)}" for s, n in sorted(p.hidden.items(), key=_fold_order)]
        more = sum(p.hidden.values())
        dot = " · " if style.unicode else ", "
        lines.append(compose([(f" {style.ellipsis} {more} more not shown: {dot.join(parts)}", "dim")], width, style))
    return lines


_UNFINISHED = frozenset({"running", "queued", "pending", "waiting"})


def _fold_order(item: tuple[str, int]) -> int:
    from dagctl.report.progress import STATUSES

    return STATUSES.index(item[0]) if item[0] in STATUSES else len(STATUSES)


def _pad(text: str, width: int, style: TermStyle) -> str:
    text = clip(text, width, style.ellipsis)
    return text + " " * (width - text_width(text))


class LiveView:
    """The live view of a run on a terminal: an event sink that never slows the run.

    :meth:`emit` (on the runner's thread) only appends the event to a queue. A thread of the view's own folds
    the queue into the model (:class:`~dagctl.report.progress.RunProgress`), asks it for the rows that fit the
    terminal at ``clock.now()``, and redraws at most once per ``interval`` seconds, in place, with ANSI cursor
    movements; the first frame comes one interval after the start, and the last one as soon as the run closes
    the view (right after ``dag_done``). Before its first frame it asks ``history`` for the DAG's expected task
    durations (ETA, expected times, and the critical-path-first order of the rows). While it is on, lines other
    code writes to ``sys.stderr`` (and to ``sys.stdout`` when that is the same terminal) are printed above it. A
    resized terminal gets a fresh frame at the top of a cleared screen (a narrower one may have re-wrapped the
    old one). For a resumed run (its first event is ``dag_resume``), ``before_resume`` gives the run's events
    before the resume, so the tasks it kept show as done and its times count from its start
    (:meth:`~dagctl.report.progress.RunProgress.resume_from`).
    Drawing problems (a closed terminal) stop the view, never the run.
    """

    def __init__(
        self,
        model: RunProgress | Callable[[], RunProgress],
        *,
        clock: Clock,
        stream: TextIO | None = None,
        interval: float = 0.25,
        history: Callable[[], Mapping[str, float]] | None = None,
        size: Callable[[], tuple[int, int]] | None = None,
        style: TermStyle | None = None,
        last_line: Callable[[str | None], str] = last_output_line,
        on_end: Callable[[RunProgress], None] | None = None,
        before_resume: Callable[[DagResume], Iterable[object]] | None = None,
    ) -> None:
        from collections import deque

        from .render import TermStyle

        self._model = model  # or what makes it: then the view's thread pays for it, not the run's start
        self.clock = clock
        self.stream = stream or sys.stderr
        self.interval = interval
        self.style = style or TermStyle.of(self.stream)
        self.frames = 0
        self._history = history
        self._size = size or self._terminal_size
        self._last_line = last_line
        self._on_end = on_end
        self._before_resume = before_resume
        self._events: deque[object] = deque()
        self.emit = self._events.append
        self._stop = False
        self._wake = threading.Event()  # set by stop() and close() (the run is over)
        self._ended = False  # the final frame is drawn and on_end called
        self._thread: threading.Thread | None = None
        self._drawn = 0  # lines of the frame on screen, above the cursor
        self._seen_size: tuple[int, int] | None = None
        self._broken = False
        self._outside: list[str] = []
        self._lock = threading.Lock()
        self._saved: tuple[Any, Any] | None = None

    @property
    def model(self) -> RunProgress:
        if callable(self._model):
            self._model = self._model()
        return self._model

    # ------------------------------------------------------------------ EventSink
    infallible = True
    """Its methods never raise: the run hands it events without a guard (:class:`~dagctl.store.protocols.EventSink`)."""
    emit: Callable[[Event], None]
    """Queue an event for the view's thread (the queue's own ``append``: called for every event of the run)."""

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """The run is over (``run_dag`` closes its sinks right after ``dag_done``): draw the last frame now, while
        the runner winds down."""
        self._wake.set()

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        self._write("\x1b[?25l")  # no cursor blinking over the frame
        self._capture()
        self._thread = threading.Thread(target=self._loop, name="dagctl-live-view", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Draw the final frame (unless the view's thread did on ``dag_done``), give the cursor back, and let
        other output reach the terminal directly again."""
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if not self._ended:
            self._end()
        self._release()
        self._write("\x1b[?25h", always=True)  # even after a drawing problem, if the terminal is still there

    def _loop(self) -> None:
        # the first frame one interval in: the run starts undisturbed (this thread would hold the interpreter for
        # the history), and a run shorter than that shows its last frame only, without a flash of a first one
        self.clock.wait(self._wake, self.interval)
        if self._history is not None:
            with contextlib.suppress(Exception):  # no ETA is better than no run: history is a nicety
                self.model.set_history(self._history())
        while not self._stop and not self._broken:
            if (self._wake.is_set() or self._over()) and not self._stop:  # the last frame, then done
                self._end()
                return
            try:
                self.draw()
            except Exception:
                self._broken = True
                return
            self.clock.wait(self._wake, self.interval)

    def _over(self) -> bool:
        """``dag_done`` came (from a caller that does not close the view as ``run_dag`` does)."""
        queue = self._events
        return bool(queue) and getattr(queue[-1], "kind", None) == "dag_done"

    def _end(self) -> None:
        self._ended = True
        with contextlib.suppress(Exception):
            self.draw()
        if self._on_end is not None:
            with contextlib.suppress(Exception):  # remembering durations is a nicety too
                self._on_end(self.model)

    # ------------------------------------------------------------------ drawing
    def draw(self) -> None:
        """Fold what has arrived and redraw the frame in place."""
        queue = self._events
        if queue:  # what the run appended since; it goes on appending at the other end meanwhile
            batch = list(starmap(queue.popleft, repeat((), len(queue))))
            if self._before_resume is not None:  # the first batch only
                earlier, self._before_resume = self._before_resume, None
                if isinstance(batch[0], DagResume):  # `dagctl resume`: what the run did before, then the rest
                    with contextlib.suppress(Exception):  # unreadable: the view counts from the resume
                        self.model.resume_from(earlier(batch[0]))
            self.model.apply_batch(batch)
        cols, rows = self._size()
        fit = max(rows - 1, 1)  # the cursor's own line stays below the frame
        progress = self.model.view(self.clock.now(), max_rows=max(fit - HEADER_LINES, 1))
        tails = {r.task_id: self._last_line(r.log_path) for r in progress.rows if r.log_path}
        tails = {tid: printable(text) for tid, text in tails.items() if text}
        lines = live_lines(progress, cols, self.style, tails)[:fit]
        out: list[str] = []
        if self._drawn:
            if (cols, rows) != self._seen_size:
                out.append("\x1b[H\x1b[2J")  # resized: a fresh frame on a cleared screen
            else:
                out.append(f"\r\x1b[{self._drawn}A")
        self._seen_size = (cols, rows)
        with self._lock:
            outside, self._outside = self._outside, []
        if outside:
            out.append("\x1b[J")
            clean = self.style.clean  # a Python task's prints land here: no escape sequence may move the cursor
            out.extend(f"\r{clean(line)}\n" for line in outside)
        out.extend(f"\r\x1b[2K{line}\n" for line in lines)
        out.append("\x1b[J")
        self._write("".join(out))
        self._drawn = len(lines)
        self.frames += 1

    def _write(self, text: str, *, always: bool = False) -> None:
        if self._broken and not always:
            return
        try:
            write(self.stream, text)  # an encoding that cannot hold a character gets "?", never a stopped view
            self.stream.flush()
        except (OSError, ValueError):
            self._broken = True

    def _terminal_size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.stream.fileno())
        except (OSError, ValueError, AttributeError):
            return 80, 24
        return size.columns or 80, size.lines or 24

    # ------------------------------------------------------------------ other output
    def _capture(self) -> None:
        """Send lines written to the terminal by others through the view, so they land above the frame."""
        self._saved = (sys.stdout, sys.stderr)
        sys.stderr = _Above(self, sys.stderr)
        if sys.stdout.isatty():
            sys.stdout = _Above(self, sys.stdout)

    def _release(self) -> None:
        if self._saved is None:
            return
        captured = [s for s in (sys.stdout, sys.stderr) if isinstance(s, _Above)]
        sys.stdout, sys.stderr = self._saved
        self._saved = None
        with self._lock:
            rest, self._outside = self._outside, []
        rest.extend(s.rest() for s in captured if s.pending)
        if rest:  # what others wrote since the last frame; through the real stderr even if the view broke
            with contextlib.suppress(OSError, ValueError):
                write(sys.stderr, "".join(f"\r{self.style.clean(line)}\n" for line in rest))
                sys.stderr.flush()

    def above(self, line: str) -> None:
        with self._lock:
            self._outside.append(line)


class _Above:
    """A stand-in for ``sys.stderr``/``sys.stdout`` while the live view is on: whole lines go above the frame."""

    def __init__(self, view: LiveView, real: Any) -> None:
        self._view = view
        self._real = real
        self.pending = ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self._view.above(line)
        return len(text)

    def flush(self) -> None:
        pass

    def rest(self) -> str:
        text, self.pending = self.pending, ""
        return text

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def live_view(
    plan: Plan, *, parallelism: int | None, clock: Clock, settings: Settings | None = None, stream: TextIO | None = None
) -> LiveView:
    """The live view for a run of ``plan``; with ``settings``, expected durations and the ETA come from the DAG's
    recent successful runs (:mod:`dagctl.store.recent`), and a successful run is remembered for the next one."""

    def model() -> RunProgress:  # made on the view's thread
        from dagctl.report.graph import graph_of_plan
        from dagctl.report.progress import RunProgress

        workers = min(parallelism or plan.dag.parallelism or _default_parallelism(), max(len(plan.tasks), 1))
        return RunProgress(graph_of_plan(plan), parallelism=workers, dag_name=plan.dag.name)

    if settings is None:
        return LiveView(model, clock=clock, stream=stream)
    name, runs_dir, cache_dir = plan.dag.name, settings.runs_dir, settings.logs_dir / "cache" / "durations"

    def before_resume(resume: DagResume) -> list[dict[str, Any]]:
        return events_before_resume(runs_dir, resume)

    known: list[RecentDurations] = []

    def history() -> Mapping[str, float]:
        from dagctl.store.recent import recent_durations

        known.append(recent_durations(runs_dir, name, now=clock.now(), cache_dir=cache_dir))
        return known[0].tasks

    def remember(done: RunProgress) -> None:
        if done.status == "success" and known and done.run_id:
            from dagctl.store.recent import remember_run

            remember_run(cache_dir, name, known[0], done.run_id, done.duration or 0.0, done.succeeded())

    return LiveView(model, clock=clock, stream=stream, history=history, on_end=remember, before_resume=before_resume)


def events_before_resume(runs_dir: Path, resume: DagResume) -> list[dict[str, Any]]:
    """The records of ``resume``'s run before it (its events file up to this ``dag_resume``, which the run may or
    may not have written yet): read once, on the live view's thread, when a resumed run's first frame is drawn."""
    from dagctl.store import layout
    from dagctl.store.jsonl import iter_records

    found: list[dict[str, Any]] = []
    for record in iter_records(layout.events_file(layout.run_dir(runs_dir, resume.run_id))):
        if record.get("event") == "dag_resume" and record.get("pid") == resume.pid and record.get("ts") == resume.ts:
            break
        found.append(record)
    return found


def _default_parallelism() -> int:
    from dagctl.run.state import default_parallelism

    return default_parallelism()


def use_live_view(stream: TextIO) -> bool:
    """A live view on a terminal; plain lines for pipes, files, journald, CI and ``TERM=dumb``."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and os.environ.get("TERM") != "dumb"
