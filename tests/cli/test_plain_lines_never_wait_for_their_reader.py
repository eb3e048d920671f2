"""The plain lines of a run reach stderr through a writer of their own: a reader that stops reading never holds up
the run (emit and flush return at once), the lines it missed are counted in one note where they were, and the end
waits a bounded time for it."""

from __future__ import annotations

import array
import fcntl
import os
import termios
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from dagctl.clock import SystemClock
from dagctl.store.events import TaskStart, format_ts
from tests.support import wait_until

TS = format_ts(datetime(2026, 12, 6, 12, 0, 0, tzinfo=timezone.utc))


def start(task: str) -> TaskStart:
    return TaskStart(ts=TS, run_id="r1", dag_name="d", tenant_id="default", task_id=task, attempt=1)


class Pipe:
    """A pipe of one page (4 KB): ``stream`` is its write end as a text file; nothing reads it until :meth:`read`."""

    def __init__(self) -> None:
        self.r, w = os.pipe()
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
        self.stream = os.fdopen(w, "w", encoding="utf-8")
        self.data = bytearray()
        self._reader: threading.Thread | None = None

    def held(self) -> int:
        """Bytes in the pipe, not read yet."""
        buf = array.array("i", [0])
        fcntl.ioctl(self.r, termios.FIONREAD, buf)
        return buf[0]

    def read(self) -> None:
        """From now on, a reader that keeps up."""

        def loop() -> None:
            while chunk := os.read(self.r, 65536):
                self.data += chunk

        self._reader = threading.Thread(target=loop, daemon=True)
        self._reader.start()

    def lines(self) -> list[str]:
        return self.data.decode().splitlines()

    def close(self) -> None:
        if self._reader is None:  # whatever waits on the pipe may go on
            self.read()
        self.stream.close()
        assert self._reader is not None
        self._reader.join(10)
        os.close(self.r)


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    p = Pipe()
    try:
        yield p
    finally:
        if not p.stream.closed:
            p.close()


def test_emit_and_flush_return_while_the_reader_is_not_reading(pipe: Pipe) -> None:
    """A run's 2,000 lines (~90 KB) into a 4 KB pipe nobody reads: the runner's calls all return."""
    from dagctl.cli.plain import PlainView

    view = PlainView(pipe.stream)
    done = threading.Event()

    def runner() -> None:
        for i in range(2000):
            view.emit(start(f"t{i:04d}"))
            if i % 10 == 9:
                view.flush()  # as the runner does before it waits
        done.set()

    threading.Thread(target=runner, daemon=True).start()
    assert done.wait(10), "emit or flush waited for the reader of the pipe"
    wait_until(lambda: pipe.held() == 4096, what="a full pipe")  # the writer's thread waits on it, not the runner
    pipe.read()
    view.close()
    pipe.close()
    lines = pipe.lines()
    assert lines[0].endswith("start  t0000") and lines[-1].endswith("start  t1999"), lines[-3:]
    assert len(lines) == 2000


class StallClock(SystemClock):
    """Real waits; the monotonic time the writer uses to see a stalled reader moves only when told."""

    def __init__(self) -> None:
        self.mono = 1000.0

    def monotonic(self) -> float:
        return self.mono


def test_lines_dropped_while_the_reader_was_not_reading_are_counted_where_they_were(pipe: Pipe) -> None:
    from dagctl.cli.plain import STALLED_S, LineWriter, PlainView

    clock = StallClock()
    writer = LineWriter(pipe.stream, clock=clock, held=10)
    view = PlainView(writer=writer)
    for i in range(200):  # ~9 KB: the pipe holds under half of it
        view.emit(start(f"e{i:03d}"))
    view.flush()  # the writer takes the 200, and waits on the full pipe
    wait_until(lambda: pipe.held() == 4096 and writer.writing_since is not None, what="the writer waits on the pipe")
    clock.mono += STALLED_S  # the reader has not read for that long
    for i in range(25):
        view.emit(start(f"d{i:03d}"))  # the first 10 wait for the reader, the others are dropped
    view.flush()
    pipe.read()  # the reader reads again: what was kept goes out
    wait_until(lambda: any(line.endswith("d009") for line in pipe.lines()), what="the kept lines written")
    view.emit(start("after"))
    assert writer.close()
    pipe.close()
    lines = pipe.lines()
    assert [line[20:] for line in lines] == [
        *(f"start  e{i:03d}" for i in range(200)),
        *(f"start  d{i:03d}" for i in range(10)),
        "15 lines not shown: the reader of stderr was not reading",
        "start  after",
    ]


def test_a_burst_of_lines_is_not_dropped_when_the_reader_keeps_up(pipe: Pipe) -> None:
    """A stopped run cancels every task it did not start at once: thousands of lines in one go, all shown."""
    from dagctl.cli.plain import HELD_LINES, PlainView

    pipe.read()
    view = PlainView(pipe.stream)
    for i in range(HELD_LINES * 5):
        view.emit(start(f"t{i:04d}"))
    view.flush()
    view.close()
    pipe.close()
    lines = pipe.lines()
    assert len(lines) == HELD_LINES * 5 and not [line for line in lines if "not shown" in line]


def test_the_end_waits_a_bounded_time_for_a_reader_that_never_reads(pipe: Pipe) -> None:
    from dagctl.cli.plain import END_WAIT_S, LineWriter
    from dagctl.clock import FakeClock

    clock = FakeClock()
    writer = LineWriter(pipe.stream, clock=clock)
    for i in range(200):
        writer.say(f"line {i}")  # ~2 KB... and more: what the summary writes is never dropped
        writer.say("x" * 100)
    before = clock.monotonic()
    assert not writer.drain()  # the reader did not take it all within END_WAIT_S
    assert clock.monotonic() - before == END_WAIT_S
    assert not writer.close()  # and the next wait does not wait again
    assert clock.monotonic() - before == END_WAIT_S
    pipe.read()
    pipe.close()
