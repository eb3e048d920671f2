"""A run's events as a live stream of SSE bytes, and what the two live streams share (the other one, a task's
log lines, is :mod:`dagctl.web.logstream`).

**Events** (``GET /api/runs/{id}/events``): every record of the run's ``events.jsonl`` in order, as it is
appended, each a plain message whose ``id:`` is the byte offset of its line in that file; then one ``complete``
message (``{"status": ...}``) after ``dag_done``, and the stream ends. A client that reconnects with
``Last-Event-ID: N`` gets exactly the records after the line at offset N: nothing lost, nothing twice. A
finished run streams its whole history and completes at once.

Both end cleanly when the server stops, and after ``stream_idle_s`` without a message (EventSource reconnects
on its own, resuming by ``Last-Event-ID``); both send a comment every ``heartbeat_s`` while quiet. A file that
cannot be read is a 503 before the stream starts; one that becomes unreadable while it runs ends it with a
``problem`` message saying so (:func:`problem`), never a connection cut in the middle of a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dagctl.errors import DagctlError, UsageError, cannot
from dagctl.store import layout
from dagctl.store.jsonl import iter_with_offsets, open_for_reading

from .context import WebContext
from .security import FULL
from .sse import RETRY_MS, comment, message

log = logging.getLogger(__name__)

BATCH = 2000
"""Records read per step: a long history goes out in pieces, the loop stays responsive."""
INLINE_BYTES = 256 * 1024
"""Less than this to read: read on the event loop; more: in a worker thread."""
OWNER_CHECK_S = 5.0
"""A quiet running run's owner is checked this often (a dead owner: the run is recorded ``abandoned``)."""
START_WAIT_S = 60.0
"""How long a stream waits for a run this server started to write its first event."""


def file_size(path: Path) -> int:
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
    if file_size(path) - offset > INLINE_BYTES:
        return await asyncio.to_thread(_read_records, path, offset)
    return _read_records(path, offset)


def check_readable(path: Path) -> None:
    """:class:`EnvironmentProblem` (503, ``cannot read PATH: why``) when a stream's file is there but cannot be
    read: said before the stream answers 200, not by a stream cut in the middle. A file not there yet is fine
    (a run that is starting)."""
    try:
        os.close(open_for_reading(path))  # the store's own check: a directory or a FIFO is said, never waited on
    except FileNotFoundError:
        return
    except OSError as exc:
        raise cannot("read", path, exc) from None


def problem(exc: DagctlError, run_id: str) -> bytes:
    """The last message of a stream that cannot go on (a file became unreadable): ``event: problem`` with the
    error's words; the stream then ends, and a client that reconnects gets them as a 503."""
    log.warning("a stream of run %s ended: %s", run_id, exc)
    return message({"run_id": run_id, "error": exc.message, "hint": exc.hint}, event="problem")


def check_resume_offset(path: Path, value: str) -> int:
    """The offset in a ``Last-Event-ID`` of an event stream: a line start inside the file."""
    try:
        offset = int(value)
    except ValueError:
        offset = -1
    size = file_size(path)
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


class Beat:
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


async def run_events(ctx: WebContext, run_id: str, resume_from: int | None, access: str = FULL) -> AsyncIterator[bytes]:
    """The SSE stream of one run's events (see the module's docstring); ``access``: the token it was let in with
    (it ends when that token changes)."""
    ctx.loop = ctx.loop or asyncio.get_running_loop()
    path = layout.events_file(ctx.history.run_dir(run_id))
    offset = resume_from or 0
    skip_through = resume_from  # the line at the resume offset was received already
    beat = Beat(ctx)
    epoch = ctx.epoch(access)
    checked = ctx.clock.monotonic()
    waited_from = ctx.clock.monotonic()
    sub = ctx.watcher.subscribe(path)
    try:
        yield RETRY_MS
        while ctx.streaming(epoch):
            try:
                batch = await read_records(path, offset)
            except DagctlError as exc:
                yield problem(exc, run_id)
                return
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
                failed = launch_failure(ctx, run_id)
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


def launch_failure(ctx: WebContext, run_id: str) -> str | None:
    launch = ctx.launcher.by_run_id(run_id)
    if launch is None or not launch.done.is_set():
        return None
    return launch.error or f"dagctl run exited {launch.exit_code} before the run started"
