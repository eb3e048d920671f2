"""The two live streams, as async generators of SSE bytes: a run's events, and a task's log lines.

**Events** (``GET /api/runs/{id}/events``): every record of the run's ``events.jsonl`` in order, as it is
appended, each a plain message whose ``id:`` is the byte offset of its line in that file; then one ``complete``
message (``{"status": ...}``) after ``dag_done``, and the stream ends. A client that reconnects with
``Last-Event-ID: N`` gets exactly the records after the line at offset N: nothing lost, nothing twice. A
finished run streams its whole history and completes at once.

**Logs** (``GET /api/runs/{id}/logs/{task}``): the lines of the task's log as they are written, each
``{"attempt": n, "line": text}`` with ``id: <attempt>:<offset>``. Following the latest attempt (the default), a
new attempt starts with an ``attempt`` message; the stream completes when the task (or the run) has ended and
its log has been read to the end. A line still being written is sent once its newline is there (or when the
task ended).

Both end cleanly when the server stops, and after ``stream_idle_s`` without a message (EventSource reconnects
on its own, resuming by ``Last-Event-ID``); both send a comment every ``heartbeat_s`` while quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dagctl.errors import DagctlError, UsageError
from dagctl.store import layout
from dagctl.store.jsonl import iter_with_offsets

from .context import WebContext
from .sse import RETRY_MS, comment, message

BATCH = 2000
"""Records read per step: a long history goes out in pieces, the loop stays responsive."""
INLINE_BYTES = 256 * 1024
"""Less than this to read: read on the event loop; more: in a worker thread."""
OWNER_CHECK_S = 5.0
"""A quiet running run's owner is checked this often (a dead owner: the run is recorded ``abandoned``)."""
START_WAIT_S = 60.0
"""How long a stream waits for a run this server started to write its first event."""
MAX_LINE = 64 * 1024
TASK_END = frozenset({"task_ok", "task_fail", "task_skip", "task_cancel"})
ATTEMPT_END = frozenset({"task_ok", "task_fail", "task_retry", "task_cancel"})


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _read_records(path: Path, offset: int) -> list[tuple[int, int, dict[str, Any]]]:
    out = []
    for item in iter_with_offsets(path, offset):
        out.append(item)
        if len(out) >= BATCH:
            break
    return out


async def read_records(path: Path, offset: int) -> list[tuple[int, int, dict[str, Any]]]:
    if _size(path) - offset > INLINE_BYTES:
        return await asyncio.to_thread(_read_records, path, offset)
    return _read_records(path, offset)


def check_resume_offset(path: Path, value: str) -> int:
    """The offset in a ``Last-Event-ID`` of an event stream: a line start inside the file."""
    try:
        offset = int(value)
    except ValueError:
        offset = -1
    size = _size(path)
    ok = 0 <= offset < size
    if ok and offset > 0:
        with open(path, "rb") as fh:
            fh.seek(offset - 1)
            ok = fh.read(1) == b"\n"
    if not ok:
        raise UsageError(
            f"Last-Event-ID {value!r} is not the offset of an event of this run",
            hint="reconnect without it to get every event from the start",
        )
    return offset


class _Beat:
    """When the stream last sent something, and when to send a heartbeat or give up as idle."""

    def __init__(self, ctx: WebContext) -> None:
        self.clock = ctx.clock
        self.heartbeat_s = ctx.config.heartbeat_s
        self.idle_s = ctx.config.stream_idle_s
        self.sent = self.beat = self.clock.monotonic()

    def sent_now(self) -> None:
        self.sent = self.beat = self.clock.monotonic()

    def idle(self) -> bool:
        return self.clock.monotonic() - self.sent >= self.idle_s

    def due(self) -> bool:
        now = self.clock.monotonic()
        if now - self.beat >= self.heartbeat_s:
            self.beat = now
            return True
        return False

    def timeout(self, *others: float) -> float:
        now = self.clock.monotonic()
        left = min(self.beat + self.heartbeat_s - now, self.sent + self.idle_s - now, *others)
        return max(left, 0.01)


async def run_events(ctx: WebContext, run_id: str, resume_from: int | None) -> AsyncIterator[bytes]:
    """The SSE stream of one run's events (see the module's docstring)."""
    ctx.loop = ctx.loop or asyncio.get_running_loop()
    path = layout.events_file(ctx.history.run_dir(run_id))
    offset = resume_from or 0
    skip_through = resume_from  # the line at the resume offset was received already
    beat = _Beat(ctx)
    epoch = ctx.token_epoch
    checked = ctx.clock.monotonic()
    waited_from = ctx.clock.monotonic()
    sub = ctx.watcher.subscribe(path)
    try:
        yield RETRY_MS
        while ctx.streaming(epoch):
            batch = await read_records(path, offset)
            done: dict[str, Any] | None = None
            for start, end, record in batch:
                offset = end
                kind = record.get("event")
                if kind == "dag_done":
                    done = record  # seen before a resume or not: the stream completes after it ...
                elif kind == "dag_resume":
                    done = None  # ... unless the (paused) run went on
                if skip_through is not None and start <= skip_through:
                    continue
                yield message(record, event_id=start)
            if batch:
                beat.sent_now()
            if done is not None:
                yield message({"status": done.get("status"), "run_id": run_id}, event="complete")
                return
            if len(batch) >= BATCH:
                continue  # more to read: no waiting
            if not path.exists():
                failed = _launch_failure(ctx, run_id)
                if failed is not None or ctx.clock.monotonic() - waited_from > START_WAIT_S:
                    yield message(
                        {"status": "not_started", "run_id": run_id, "error": failed or "the run wrote no events"},
                        event="complete",
                    )
                    return
            elif ctx.clock.monotonic() - checked >= OWNER_CHECK_S and not batch:
                checked = ctx.clock.monotonic()
                await asyncio.to_thread(_check_owner, ctx, run_id)  # a dead owner's run gets its dag_done
            if beat.idle():
                return
            if beat.due():
                yield comment("keep-alive")
            await sub.wait(beat.timeout(OWNER_CHECK_S))
    finally:
        sub.close()


def _check_owner(ctx: WebContext, run_id: str) -> None:
    with contextlib.suppress(DagctlError):
        ctx.index.summary(run_id)


def _launch_failure(ctx: WebContext, run_id: str) -> str | None:
    launch = ctx.launcher.by_run_id(run_id)
    if launch is None or not launch.done.is_set():
        return None
    return launch.error or f"dagctl run exited {launch.exit_code} before the run started"


# --------------------------------------------------------------------------------------------- logs


def split_lines(data: bytes, base: int) -> tuple[list[tuple[int, str]], int]:
    """Complete lines of ``data`` (read from byte ``base``) as ``(offset, text)``, and how many bytes they used."""
    lines: list[tuple[int, str]] = []
    pos = 0
    while True:
        cut = data.find(b"\n", pos)
        if cut < 0:
            return lines, pos
        raw = data[pos:cut]
        if len(raw) > MAX_LINE:
            raw = raw[:MAX_LINE] + "…".encode()
        lines.append((base + pos, raw.decode("utf-8", "replace").rstrip("\r")))
        pos = cut + 1


def _read_bytes(path: Path, offset: int, most: int = 1 << 20) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(most)
    except OSError:
        return b""


def parse_log_id(value: str) -> tuple[int, int]:
    attempt, _, offset = value.partition(":")
    try:
        numbers = int(attempt), int(offset)
    except ValueError:
        numbers = (0, -1)
    if numbers[0] < 1 or numbers[1] < 0:
        raise UsageError(
            f"Last-Event-ID {value!r} is not a position in a task log (ATTEMPT:OFFSET)",
            hint="reconnect without it to get the log from the start",
        )
    return numbers


class _TaskState:
    """What the run's events say about one task, read incrementally."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.offset = 0
        self.latest = 0
        self.ended: set[int] = set()  # attempts that ended
        self.task_done = False
        self.run_done = False

    def apply(self, record: dict[str, Any]) -> None:
        kind = record.get("event")
        if kind in ("dag_done", "dag_resume"):
            self.run_done = kind == "dag_done"  # a paused run that is resumed goes on
            return
        if record.get("task_id") != self.task:
            return
        attempt = record.get("attempt")
        number = attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else self.latest
        if kind == "task_start":
            self.latest = max(self.latest, number or self.latest + 1)
        if kind in ATTEMPT_END and number:
            self.ended.add(number)
        if kind in TASK_END:
            self.task_done = True


async def task_log(
    ctx: WebContext, run_id: str, task: str, attempt: int | None, resume: tuple[int, int] | None
) -> AsyncIterator[bytes]:
    """The SSE stream of one task's log lines (see the module's docstring)."""
    ctx.loop = ctx.loop or asyncio.get_running_loop()
    run_dir = ctx.history.run_dir(run_id)
    events = layout.events_file(run_dir)
    state = _TaskState(task)
    follow = attempt is None
    current = resume[0] if resume else (attempt or 0)
    offset = resume[1] if resume else 0
    skip_through = resume[1] if resume else None
    beat = _Beat(ctx)
    epoch = ctx.token_epoch
    waited_from = ctx.clock.monotonic()
    sub = ctx.watcher.subscribe(events)
    try:
        yield RETRY_MS
        announced = current if resume else 0
        while ctx.streaming(epoch):
            if state.offset == 0 and not events.exists():  # a run this server started, not started yet ...
                failed = _launch_failure(ctx, run_id)
                if failed is not None or ctx.clock.monotonic() - waited_from > START_WAIT_S:  # ... nor ever will
                    error = failed or "the run wrote no events"
                    yield message(
                        {"status": "not_started", "run_id": run_id, "task": task, "error": error}, event="complete"
                    )
                    return
            for _start, end, record in await read_records(events, state.offset):
                state.offset = end
                state.apply(record)
            while follow and state.latest > current:  # through every attempt in turn, the newest last
                if current:  # it has ended (a newer one started): all of it, the last line without its newline
                    async for chunk in _flush(run_dir, task, current, offset, skip_through):
                        yield chunk
                current, offset, skip_through = current + 1, 0, None
                if current < state.latest:  # ended too: announced now, read whole in the next turn
                    announced = current
                    yield message({"attempt": current}, event="attempt")
            if current and announced != current:
                announced = current
                yield message({"attempt": current}, event="attempt")
                beat.sent_now()
            ended = state.run_done or (state.task_done if follow else current in state.ended)
            if current:
                path = Path(layout.log_path(run_dir, task, current))
                sub.watch(events, path)
                if _size(path) < offset:  # cut shorter (copytruncate): from its start again, as tail -F does
                    offset, skip_through = 0, None
                data = await _read_log(path, offset)
                lines, used = split_lines(data, offset)
                for start, text in lines:
                    if skip_through is None or start > skip_through:
                        yield message({"attempt": current, "line": text}, event_id=f"{current}:{start}")
                offset += used
                if lines:
                    beat.sent_now()
                if len(data) >= (1 << 20):
                    continue  # more to read
                if ended:
                    rest = data[used:]
                    if rest and (skip_through is None or offset > skip_through):
                        text = rest[:MAX_LINE].decode("utf-8", "replace").rstrip("\r")
                        yield message({"attempt": current, "line": text}, event_id=f"{current}:{offset}")
            if ended and (current or state.latest == 0):
                yield message({"attempt": current or None, "run_id": run_id, "task": task}, event="complete")
                return
            if beat.idle():
                return
            if beat.due():
                yield comment("keep-alive")
            await sub.wait(beat.timeout())
    finally:
        sub.close()


async def _read_log(path: Path, offset: int) -> bytes:
    if _size(path) - offset > INLINE_BYTES:
        return await asyncio.to_thread(_read_bytes, path, offset)
    return _read_bytes(path, offset)


async def _flush(run_dir: Path, task: str, attempt: int, offset: int, skip_through: int | None) -> AsyncIterator[bytes]:
    """Everything left in an attempt's log from ``offset``, the last line even without its newline (a newer
    attempt has started, so this one has ended)."""
    path = Path(layout.log_path(run_dir, task, attempt))
    if _size(path) < offset:  # cut shorter (copytruncate): from its start again
        offset, skip_through = 0, None
    while True:
        data = await _read_log(path, offset)
        lines, used = split_lines(data, offset)
        for start, text in lines:
            if skip_through is None or start > skip_through:
                yield message({"attempt": attempt, "line": text}, event_id=f"{attempt}:{start}")
        offset += used
        if len(data) >= (1 << 20):
            continue
        rest = data[used:]
        if rest and (skip_through is None or offset > skip_through):
            text = rest[:MAX_LINE].decode("utf-8", "replace").rstrip("\r")
            yield message({"attempt": attempt, "line": text}, event_id=f"{attempt}:{offset}")
        return
