"""A task's log as a live SSE stream, and which log file holds which attempt.

``GET /api/runs/{id}/logs/{unit}``: the lines of the logs of a task (or of a matrix cell, ``train:3``) as they are
written, each ``{"attempt": n, "line": text}`` (a loop's, ``repeat:``, with ``"iteration": i`` too) with ``id:
<attempt>:<offset>`` (``<iteration>.<attempt>:<offset>`` in a loop). Every attempt of every iteration is sent in
the order they began, each after an ``attempt`` message naming it; ``?iteration=`` and ``?attempt=`` keep one
iteration or one attempt (a loop's attempts count afresh in each iteration, as ``dagctl logs`` counts them). The
stream completes when nothing more can come (the task, or the run, has ended; the attempt or iteration asked for
has ended) and the logs have been read to the end. A line still being written is sent once its newline is there
(or when its attempt ended). Lines longer than :data:`MAX_LINE` are cut, and say so.

Which file is whose comes from the run's events, read as ``dagctl logs`` reads them (:mod:`dagctl.store.tasklogs`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from dagctl.errors import DagctlError, UsageError
from dagctl.store import layout
from dagctl.store.tasklogs import AttemptLog, log_name, number, unit_of

from .context import WebContext
from .security import FULL
from .sse import RETRY_MS, comment, message
from .streams import INLINE_BYTES, START_WAIT_S, Beat, file_size, launch_failure, problem, read_records

MAX_LINE = 64 * 1024
CUT_NOTE = " … (line cut at 64 KiB)"
"""Ends a line longer than :data:`MAX_LINE` bytes, in place of the rest."""
READ_MOST = 1 << 20
"""Bytes of a log read per step."""
TASK_END = frozenset({"task_ok", "task_fail", "task_skip", "task_cancel"})
ATTEMPT_END = frozenset({"task_ok", "task_fail", "task_retry", "task_cancel"})
ITERATED = "iterated"
"""The status of the ``task_ok`` that ends a loop's iteration after which another one runs (not the task's end)."""


def line_text(raw: bytes) -> str:
    """One line of a log as text: invalid UTF-8 replaced, a ``\\r`` at its end dropped, cut (and saying so) after
    :data:`MAX_LINE` bytes."""
    if len(raw) > MAX_LINE:
        return raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\ufffd") + CUT_NOTE
    return raw.decode("utf-8", "replace").rstrip("\r")


def split_lines(data: bytes, base: int) -> tuple[list[tuple[int, str]], int]:
    """Complete lines of ``data`` (read from byte ``base``) as ``(offset, text)``, and how many bytes they used."""
    lines: list[tuple[int, str]] = []
    pos = 0
    while True:
        cut = data.find(b"\n", pos)
        if cut < 0:
            return lines, pos
        lines.append((base + pos, line_text(data[pos:cut])))
        pos = cut + 1


# --------------------------------------------------------------------------------------------- which log


class Piece(AttemptLog):
    """One attempt of a task or cell (of one iteration, for a loop), and its log file's name in the run folder."""

    __slots__ = ()

    def event_id(self, offset: int) -> str:
        where = str(self.attempt) if self.iteration is None else f"{self.iteration}.{self.attempt}"
        return f"{where}:{offset}"

    def names(self) -> dict[str, int]:
        """What an ``attempt`` message (and each line's data) says of the piece."""
        return (
            {"attempt": self.attempt}
            if self.iteration is None
            else {"iteration": self.iteration, "attempt": self.attempt}
        )


class LogState:
    """What the run's events say about one unit's attempts, read incrementally (:meth:`apply` each record)."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.offset = 0
        """How far the run's events file has been read."""
        self.pieces: list[Piece] = []
        """Every attempt, in the order they began."""
        self.ended: dict[tuple[int | None, int], str] = {}
        """Attempts that ended: the event kind (and ``iterated``) that ended each."""
        self.task_done = False
        self.run_done = False
        self._at: dict[tuple[int | None, int], int] = {}

    def apply(self, record: Mapping[str, Any]) -> None:
        kind = record.get("event")
        if kind in ("dag_done", "dag_resume"):
            self.run_done = kind == "dag_done"  # a paused run that is resumed goes on
            return
        if unit_of(record) != self.unit:
            return
        iteration = number(record.get("iteration"))
        attempt = number(record.get("attempt"))
        if kind == "task_start" and record.get("cells") is None:  # not a matrix task fanning out to its cells
            if attempt is None:  # written by an older dagctl: the next attempt of its iteration
                attempt = 1 + sum(1 for p in self.pieces if p.iteration == iteration)
            key = (iteration, attempt)
            if key not in self._at:
                self._at[key] = len(self.pieces)
                self.pieces.append(Piece(iteration, attempt, log_name(record, self.unit, iteration, attempt)))
        if kind in ATTEMPT_END:
            if attempt is None and self.pieces:
                iteration, attempt = self.pieces[-1].key
            if attempt is not None:
                self.ended[iteration, attempt] = ITERATED if record.get("status") == ITERATED else str(kind)
        if kind in TASK_END and record.get("status") != ITERATED:
            self.task_done = True

    def index(self, key: tuple[int | None, int]) -> int | None:
        return self._at.get(key)

    def next_wanted(self, start: int, wanted: Callable[[Piece], bool]) -> int | None:
        return next((n for n in range(start, len(self.pieces)) if wanted(self.pieces[n])), None)

    def iteration_over(self, iteration: int) -> bool:
        """Has a loop's ``iteration`` ended for good (not merely one of its attempts), or a later one begun?"""
        return any(
            (p.iteration == iteration and self.ended.get(p.key, "task_retry") != "task_retry")
            or (p.iteration or 0) > iteration
            for p in self.pieces
        )

    def finished(self, current: Piece | None, attempt: int | None, iteration: int | None) -> bool:
        """Can no more lines come for what is asked (every attempt; ``iteration``; ``attempt``), ``current`` being
        the last piece asked for that began?"""
        if self.run_done or self.task_done:
            return True
        if attempt is None:
            return iteration is not None and self.iteration_over(iteration)
        if current is None or current.key not in self.ended:
            return False
        return iteration is not None or current.iteration is None  # a loop's attempt N may come in each iteration


def pieces_of(events: Iterable[Mapping[str, Any]], unit: str) -> list[Piece]:
    """Every attempt of ``unit`` the run's events tell of, in the order they began. Pure."""
    state = LogState(unit)
    for record in events:
        state.apply(record)
    return state.pieces


def pick_piece(pieces: list[Piece], *, iteration: int | None, attempt: int | None) -> Piece | None:
    """The log ``dagctl logs`` prints: the last attempt (of the last iteration, or of ``iteration``), or
    ``attempt`` of it; None when there is none."""
    if iteration is None and pieces:
        iteration = pieces[-1].iteration
    chosen = [p for p in pieces if p.iteration == iteration and (attempt is None or p.attempt == attempt)]
    return chosen[-1] if chosen else None


def parse_log_id(value: str) -> tuple[int | None, int, int]:
    """``(iteration, attempt, offset)`` of a log stream's ``Last-Event-ID`` (``ATTEMPT:OFFSET`` or
    ``ITERATION.ATTEMPT:OFFSET``)."""
    where, _, offset = value.partition(":")
    first, dot, second = where.partition(".")
    try:
        iteration = int(first) if dot else None
        numbers = int(second if dot else first), int(offset)
    except ValueError:
        iteration, numbers = None, (0, -1)
    if numbers[0] < 1 or numbers[1] < 0 or (iteration is not None and iteration < 1):
        raise UsageError(
            f"Last-Event-ID {value!r} is not a position in a task log (ATTEMPT:OFFSET, or ITERATION.ATTEMPT:OFFSET)",
            hint="reconnect without it to get the log from the start",
        )
    return iteration, numbers[0], numbers[1]


# --------------------------------------------------------------------------------------------- the stream


def _read_bytes(path: Path, offset: int, most: int = READ_MOST) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(most)
    except OSError:
        return b""


async def _read_log(path: Path, offset: int) -> bytes:
    if file_size(path) - offset > INLINE_BYTES:
        return await asyncio.to_thread(_read_bytes, path, offset)
    return _read_bytes(path, offset)


def _line(piece: Piece, text: str, start: int) -> bytes:
    return message({**piece.names(), "line": text}, event_id=piece.event_id(start))


async def _read_lines(path: Path, offset: int) -> tuple[list[tuple[int, str]], int, bool]:
    """The complete lines of a log from ``offset``, how many bytes they used, and whether there is more to read."""
    data = await _read_log(path, offset)
    lines, used = split_lines(data, offset)
    return lines, used, len(data) >= READ_MOST


def _sent(piece: Piece, lines: list[tuple[int, str]], skip_through: int | None) -> list[bytes]:
    return [_line(piece, text, start) for start, text in lines if skip_through is None or start > skip_through]


def _rest(path: Path, piece: Piece, offset: int, skip_through: int | None) -> list[bytes]:
    """The last line of an ended attempt's log, written without its newline (none when there is none)."""
    data = _read_bytes(path, offset, MAX_LINE + 1)
    if not data or (skip_through is not None and offset <= skip_through):
        return []
    return [_line(piece, line_text(data.split(b"\n", 1)[0]), offset)]


async def _flush(run_dir: Path, piece: Piece, offset: int, skip_through: int | None) -> AsyncIterator[bytes]:
    """Everything left in an ended attempt's log from ``offset``, the last line even without its newline."""
    path = run_dir / piece.name
    if file_size(path) < offset:  # cut shorter (copytruncate): from its start again
        offset, skip_through = 0, None
    while True:
        lines, used, more = await _read_lines(path, offset)
        for chunk in _sent(piece, lines, skip_through):
            yield chunk
        offset += used
        if not more:
            break
    for chunk in _rest(path, piece, offset, skip_through):
        yield chunk


async def task_log(
    ctx: WebContext,
    run_id: str,
    unit: str,
    *,
    attempt: int | None = None,
    iteration: int | None = None,
    resume: tuple[int | None, int, int] | None = None,
    access: str = FULL,
) -> AsyncIterator[bytes]:
    """The SSE stream of one task's (or cell's) log lines (see the module's docstring); ``access``: the token it
    was let in with (it ends when that token changes)."""
    ctx.loop = ctx.loop or asyncio.get_running_loop()
    run_dir = ctx.history.run_dir(run_id)
    events = layout.events_file(run_dir)
    state = LogState(unit)

    def wanted(piece: Piece) -> bool:
        return (iteration is None or piece.iteration == iteration) and (attempt is None or piece.attempt == attempt)

    current: Piece | None = None
    cursor = 0  # the next piece to look at
    offset = 0
    skip_through: int | None = None
    waiting_for = resume  # a resumed stream: the piece of its Last-Event-ID, until the events name it
    beat = Beat(ctx)
    epoch = ctx.epoch(access)
    waited_from = ctx.clock.monotonic()
    sub = ctx.watcher.subscribe(events)
    try:
        yield RETRY_MS
        while ctx.streaming(epoch):
            if state.offset == 0 and not events.exists():  # a run this server started, not started yet ...
                failed = launch_failure(ctx, run_id)
                if failed is not None or ctx.clock.monotonic() - waited_from > START_WAIT_S:  # ... nor ever will
                    error = failed or "the run wrote no events"
                    yield message(
                        {"status": "not_started", "run_id": run_id, "task": unit, "error": error}, event="complete"
                    )
                    return
            try:
                records = await read_records(events, state.offset)
            except DagctlError as exc:
                yield problem(exc, run_id)
                return
            for _start, end, record in records:
                state.offset = end
                state.apply(record)
            if waiting_for is not None:
                at = state.index(waiting_for[:2])
                if at is not None:
                    current, cursor, offset = state.pieces[at], at + 1, waiting_for[2]
                    skip_through, waiting_for = offset, None
            while waiting_for is None and (later := state.next_wanted(cursor, wanted)) is not None:
                if current is not None:  # it has ended (a newer one began): all of it
                    async for chunk in _flush(run_dir, current, offset, skip_through):
                        yield chunk
                current, cursor, offset, skip_through = state.pieces[later], later + 1, 0, None
                yield message(current.names(), event="attempt")
                beat.sent_now()
            if waiting_for is None:
                finished = state.finished(current, attempt, iteration)
            else:  # the position resumed from is of no attempt the run made: nothing more is coming for it
                finished = state.run_done or state.task_done
            if current is not None:
                path = run_dir / current.name
                sub.watch(events, path)
                if file_size(path) < offset:  # cut shorter (copytruncate): from its start again, as tail -F does
                    offset, skip_through = 0, None
                lines, used, more = await _read_lines(path, offset)
                for chunk in _sent(current, lines, skip_through):
                    yield chunk
                offset += used
                if lines:
                    beat.sent_now()
                if more:
                    continue  # more to read: no waiting
                if finished:
                    for chunk in _rest(path, current, offset, skip_through):
                        yield chunk
            if finished:
                done: dict[str, Any] = {**(current.names() if current else {"attempt": None}), "run_id": run_id}
                yield message({**done, "task": unit}, event="complete")
                return
            if beat.idle():
                return
            if beat.due():
                yield comment("keep-alive")
            await sub.wait(beat.timeout())
    finally:
        sub.close()
