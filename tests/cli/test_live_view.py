"""The live view of ``dagctl run`` on a terminal: the frame it draws (snapshots at 80x24 and 120x40 from a model
viewed at a fixed instant), how it redraws in place, and the real program driven through a pseudo-terminal whose
screen a terminal emulator (pyte) keeps, with the run's and the view's clock injected."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pyte
import pytest

from dagctl.cli.render import TermStyle
from dagctl.cli.view import LiveView, live_lines
from dagctl.clock import FakeClock
from dagctl.report.progress import RunProgress
from tests.conftest import ROOT
from tests.report.events import DIAMOND, at, ev, graph

UNICODE = TermStyle(color=False, unicode=True)
ASCII = TermStyle(color=False, unicode=False)
TAILS = {"by_region": "summing regions: 1200 of 5000"}


# --------------------------------------------------------------------------------------------- the frame, pure


def demo_model() -> RunProgress:
    g = graph({**DIAMOND, "lint": [], "notify": ["report"]}, retries={"by_product": 2})
    model = RunProgress(
        g, parallelism=2, expected={"extract": 2.0, "by_region": 30.0, "by_product": 4.0, "report": 1.0}
    )
    return model.apply_all(
        [
            ev("dag_start", 0, run="20261206-120000.000-abc123", dag="diamond_pipeline"),
            ev("task_start", 0, "extract"),
            ev("task_start", 0, "lint"),
            ev("task_fail", 0.4, "lint", duration_s=0.4, error="exit code 2"),
            ev("task_ok", 2.1, "extract", duration_s=2.1),
            ev("task_start", 2.1, "by_region", log_path="/x/by_region.log"),
            ev("task_start", 2.1, "by_product"),
            ev("task_retry", 3.0, "by_product", attempt=1, delay_s=15.0, error="exit code 1"),
        ]
    )


FRAME_80x24 = """\
diamond_pipeline  run 20261206-120000.000-abc123          12s elapsed · ETA 24s
━━━━━━━━━────────────────── 2/6  ✗ 1 failed  ▶ 1 running  ↻ 1 retrying  2 to go
 ✓ extract         2.1s
 ▶ by_region       9.9s ~30s   summing regions: 1200 of 5000
 ↻ by_product 1/3              retry in 6.0s: exit code 1
 · report               ~1.0s  waits on by_region, by_product
 ✗ lint            0.4s        exit code 2
 · notify                      waits on report"""

FRAME_120x40 = """\
diamond_pipeline  run 20261206-120000.000-abc123                                                  12s elapsed · ETA 24s
━━━━━━━━━━━━━━━━━━━━──────────────────────────────────────── 2/6  ✗ 1 failed  ▶ 1 running  ↻ 1 retrying  2 to go
 ✓ extract         2.1s
 ▶ by_region       9.9s ~30s   summing regions: 1200 of 5000
 ↻ by_product 1/3              retry in 6.0s: exit code 1
 · report               ~1.0s  waits on by_region, by_product
 ✗ lint            0.4s        exit code 2
 · notify                      waits on report"""

FRAME_ASCII = """\
diamond_pipeline  run 20261206-120000.000-abc123           12s elapsed, ETA 24s
####xxxxx------------------ 2/6  x 1 failed  > 1 running  r 1 retrying  2 to go
 + extract         2.1s
 > by_region       9.9s ~30s   summing regions: 1200 of 5000
 r by_product 1/3              retry in 6.0s: exit code 1
 . report               ~1.0s  waits on by_region, by_product
 x lint            0.4s        exit code 2
 . notify                      waits on report"""


@pytest.mark.parametrize(("cols", "rows", "frame"), [(80, 24, FRAME_80x24), (120, 40, FRAME_120x40)])
def test_the_frame_at_a_fixed_instant(cols: int, rows: int, frame: str):
    progress = demo_model().view(at(12), max_rows=rows - 1 - 2)
    assert "\n".join(live_lines(progress, cols, UNICODE, TAILS)) == frame


def test_the_frame_in_ascii_for_a_terminal_that_is_not_utf8():
    progress = demo_model().view(at(12), max_rows=21)
    lines = live_lines(progress, 80, ASCII, TAILS)
    assert "\n".join(lines) == FRAME_ASCII
    assert all(line.isascii() for line in lines)


def test_colours_only_when_asked():
    progress = demo_model().view(at(12), max_rows=21)
    coloured = live_lines(progress, 80, TermStyle(color=True, unicode=True), TAILS)
    assert "\x1b[1;31m" in coloured[1] and "\x1b[32m" in coloured[2]  # failures red, successes green
    assert re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(coloured)) == FRAME_80x24
    assert "\x1b" not in "\n".join(live_lines(progress, 80, UNICODE, TAILS))


def test_a_thousand_tasks_fold_to_the_terminals_height():
    g = graph({f"t{i:03d}": [] for i in range(1000)})
    events = [ev("dag_start", 0, run="20261206-120000.000-abc123", dag="fan1000")]
    for i in range(600):
        events += [ev("task_start", i * 0.001, f"t{i:03d}"), ev("task_ok", i * 0.001, f"t{i:03d}", duration_s=0.001)]
    events += [ev("task_start", 0.6, "t600"), ev("task_fail", 0.6, "t600", duration_s=0.001, error="exit code 1")]
    events += [ev("task_start", 0.6, "t601"), ev("task_start", 0.6, "t602")]
    progress = RunProgress(g, parallelism=2).apply_all(events).view(at(1.2), max_rows=24 - 1 - 2)
    lines = live_lines(progress, 80, UNICODE)
    assert len(lines) == 23
    assert lines[:6] == [
        "fan1000  run 20261206-120000.000-abc123               1.2s elapsed · no history",
        "━━━━━━━━━━━━━━━━━━━━━───────────── 601/1000  ✗ 1 failed  ▶ 2 running  397 to go",
        " ✗ t600  0.0s        exit code 1",
        " ▶ t601  0.6s",
        " ▶ t602  0.6s",
        " ○ t603              queued",
    ]
    assert lines[-1] == " … 980 more not shown: 380 queued · 600 ok"
    assert max(len(line) for line in lines) <= 79


def test_a_narrow_terminal_keeps_the_times_and_drops_the_run_id():
    lines = live_lines(demo_model().view(at(12), max_rows=3), 44, UNICODE, TAILS)
    assert lines[0] == "diamond_pipeline      12s elapsed · ETA 24s"
    assert lines[-1] == " … 4 more not shown: 1 failed · 2 pending …"
    assert all(len(line) <= 43 for line in lines)


def test_long_lines_are_cut_to_the_width_wide_characters_counted():
    g = graph({"a_task_with_a_rather_long_name_indeed": [], "b": []})
    events = [ev("dag_start", 0), ev("task_start", 0, "b", log_path="/b.log")]
    progress = RunProgress(g).apply_all(events).view(at(1))
    lines = live_lines(progress, 40, UNICODE, {"b": "日本語の出力がとても長い行になっています"})
    from dagctl.cli.render import text_width

    assert all(text_width(line) <= 39 for line in lines)
    assert lines[2].startswith(" ○ a_task_with_… ") and lines[3].startswith(" ▶ b ") and lines[3].endswith("…")


# --------------------------------------------------------------------------------------------- redrawing


class Screen:
    """A terminal for the view to draw on: what it writes goes through a VT100 emulator."""

    def __init__(self, cols: int, rows: int) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.screen)
        self.encoding = "utf-8"
        self.written = ""

    def write(self, text: str) -> int:
        self.written += text
        self.stream.feed(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True

    def size(self) -> tuple[int, int]:
        return self.screen.columns, self.screen.lines

    def text(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]


class WaitLog(FakeClock):
    def __init__(self) -> None:
        super().__init__(at(12))
        self.waits: list[float | None] = []

    def wait(self, event, timeout):  # type: ignore[no-untyped-def]
        self.waits.append(timeout)
        return super().wait(event, timeout)


def test_frames_are_redrawn_in_place_and_afresh_when_the_terminal_is_resized():
    term = Screen(80, 24)
    clock = WaitLog()
    logs = {"/x/by_region.log": "\x1b[32msumming regions: 1200 of 5000\x1b[0m"}  # a task's own colours go
    view = LiveView(demo_model(), clock=clock, stream=term, size=term.size, style=UNICODE, last_line=logs.get)
    view.draw()
    assert "\n".join(term.text()[:8]) == FRAME_80x24
    view.emit(ev("task_ok", 13, "by_region", duration_s=10.9))
    clock.advance(1)
    view.draw()
    screen = term.text()
    assert screen[0].startswith("diamond_pipeline") and "13s elapsed" in screen[0]
    assert screen[3] == " ✓ by_region        11s"
    assert screen[8:] == [""] * 16  # redrawn over the old frame, nothing left below it
    term.screen.resize(20, 60)
    view.draw()
    assert term.written.count("\x1b[2J") == 1  # a resize starts a fresh frame on a cleared screen
    screen = term.text()
    assert screen[0].startswith("diamond_pipeline") and all(len(line) <= 59 for line in screen)
    assert screen[8:] == [""] * 12


def test_other_output_lands_above_the_frame_and_the_cursor_comes_back(monkeypatch):
    term = Screen(80, 24)
    monkeypatch.setattr(sys, "stderr", term)
    view = LiveView(demo_model(), clock=WaitLog(), stream=term, size=term.size, style=UNICODE)
    view.start()
    assert sys.stderr is not term
    sys.stderr.write("dagctl: SIGINT: stopping\npartial")
    view.stop()
    assert sys.stderr is term
    screen = term.text()
    assert screen[0] == "dagctl: SIGINT: stopping"
    assert screen[1].startswith("diamond_pipeline")
    assert "partial" in screen
    assert term.written.startswith("\x1b[?25l") and "\x1b[?25h" in term.written
    assert set(view.clock.waits) == {0.25}  # the first frame one interval in, then at most one per interval


def test_a_broken_terminal_stops_the_view_not_the_run():
    class Gone(Screen):
        def write(self, text: str) -> int:
            raise OSError(5, "Input/output error")

    term = Gone(80, 24)
    view = LiveView(demo_model(), clock=WaitLog(), stream=term, size=term.size, style=UNICODE)
    view.start()
    view.emit(ev("task_ok", 13, "by_region", duration_s=10.9))
    view.stop()  # no exception


def test_a_drawing_bug_gives_the_cursor_and_the_output_back(monkeypatch):
    term = Screen(80, 24)
    monkeypatch.setattr(sys, "stderr", term)
    model = demo_model()
    monkeypatch.setattr(model, "view", lambda *a, **k: 1 / 0)
    view = LiveView(model, clock=WaitLog(), stream=term, size=term.size, style=UNICODE)
    view.start()
    sys.stderr.write("dagctl: SIGTERM: stopping\n")
    view.stop()
    assert sys.stderr is term
    assert term.written.endswith("\x1b[?25h") and "dagctl: SIGTERM: stopping" in term.text()


def test_history_is_asked_once_and_a_successful_run_remembered():
    asked: list[int] = []
    ended: list[str] = []
    term = Screen(80, 24)

    def history() -> dict[str, float]:
        asked.append(1)
        return {"a": 3.0, "b": 1.0}

    model = RunProgress(graph({"b": [], "a": []}))
    view = LiveView(
        model, clock=WaitLog(), stream=term, size=term.size, history=history, on_end=lambda m: ended.append(m.status)
    )
    view.start()
    for e in [ev("dag_start", 0), ev("task_start", 0, "a"), ev("task_ok", 1, "a", duration_s=1.0)]:
        view.emit(e)
    view.emit(ev("task_start", 1, "b"))
    view.emit(ev("task_ok", 2, "b", duration_s=1.0))
    view.emit(ev("dag_done", 2, status="success", duration_s=2.0))
    view.stop()
    assert asked == [1] and ended == ["success"]
    assert term.text()[2].startswith(" ✓ a")  # the longest task first, from history


# --------------------------------------------------------------------------------------------- a real terminal

LAUNCHER = """
import functools, os, sys
from datetime import datetime, timedelta, timezone
from dagctl.clock import SystemClock
from dagctl.cli import main, run_main

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


class StepClock(SystemClock):
    '''Wall time stands at T0, and at T0 + 42 s once the file "advance" exists; waits and durations are real.'''

    def now(self):
        return T0 + timedelta(seconds=42) if os.path.exists("advance") else T0


run_main.execute = functools.partial(run_main.execute, clock=StepClock())
code = main(sys.argv[1:])
if os.environ.get("SHOW_MODULES"):
    wanted = ("typing", "dataclasses", "inspect", "subprocess", "shutil", "shlex", "difflib", "logging", "rich")
    sys.stdout.write("modules: " + " ".join(sorted(m for m in wanted if m in sys.modules)) + "\\n")
sys.exit(code)
"""

DEMO_DAG = """\
name: live_demo
options: {parallelism: 2}
tasks:
  - {id: extract, run: "echo reading rows; while [ ! -f go ]; do sleep 0.02; done; echo loaded"}
  - {id: report, run: "true", depends_on: extract}
  - {id: lint, run: "echo 'style: line too long' >&2; exit 2"}
  - {id: flaky, run: "test -f .second || { touch .second; exit 3; }", retries: 2, retry_delay: 1h}
  - {id: fetch, run: "echo fetching page 1 of 3; while [ ! -f go ]; do sleep 0.02; done"}
  - {id: later, run: "true"}
"""


class Terminal:
    """``dagctl`` (through the launcher) on a pseudo-terminal of ``cols`` x ``rows``, its screen kept by pyte."""

    def __init__(self, folder: Path, args: list[str], cols: int, rows: int, **env: str) -> None:
        (folder / "launcher.py").write_text(LAUNCHER)
        full_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "DAGCTL_LOGS_DIR": str(folder / "logs"),
            "TERM": "xterm-256color",
            **env,
        }
        for name in ("NO_COLOR", "ORCH_EVENTS_PATH", "STATE_STORE_PATH"):
            if name not in env:
                full_env.pop(name, None)
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        self.child = pexpect.spawn(
            sys.executable, ["launcher.py", *args], cwd=str(folder), env=full_env, dimensions=(rows, cols)
        )

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def until(self, predicate: Callable[[str], bool], timeout: float = 30.0, what: str = "") -> str:
        """Read what the program writes until ``predicate(screen text)`` holds (or it exits); fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"not on screen within {timeout:g}s: {what}\n{text}")
            wait = 0.1
            while True:  # read what is there, so a frame is never judged half drawn
                try:
                    data = self.child.read_nonblocking(65536, timeout=wait)
                except pexpect.TIMEOUT:
                    break
                except pexpect.EOF:
                    text = self.text()
                    assert predicate(text), f"the program ended first: {what}\n{text}"
                    return text
                self.raw += data
                self.stream.feed(data)
                wait = 0.02

    def finish(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.2)
            except pexpect.TIMEOUT:
                if time.monotonic() > deadline:
                    raise AssertionError(f"still running after {timeout:g}s:\n{self.text()}") from None
                continue
            except pexpect.EOF:
                break
            self.raw += data
            self.stream.feed(data)
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else 128 + (self.child.signalstatus or 0)

    def last_frame(self, header: str) -> str:
        """What was written from the last frame's header on, without escape sequences."""
        plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", self.raw.decode(errors="replace"))
        return plain[plain.rfind(header) :]

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)
        self.child.setwinsize(rows, cols)

    def kill(self) -> None:
        if self.child.isalive():
            self.child.kill(signal.SIGKILL)
        self.child.close(force=True)


@pytest.fixture
def terminal(tmp_path: Path):
    started: list[Terminal] = []

    def start(args: list[str], cols: int = 80, rows: int = 24, **env: str) -> Terminal:
        term = Terminal(tmp_path, args, cols, rows, **env)
        started.append(term)
        return term

    yield start
    for term in started:
        term.kill()


def normalized(screen: str) -> str:
    screen = re.sub(r"(run 20261206-120000\.000-)[0-9a-f]{6}", r"\g<1>xxxxxx", screen)
    return re.sub(r"retry in [0-9.hms]+:", "retry in ~5m:", screen)  # the retry delay has jitter


LIVE_80x24 = """\
live_demo  run 20261206-120000.000-xxxxxx              42s elapsed · no history
━━━━━────────────────────── 1/6  ✗ 1 failed  ▶ 2 running  ↻ 1 retrying  2 to go
 ▶ extract       42s        reading rows
 ✗ lint         0.0s        exit code 2
 ↻ flaky   1/3              retry in ~5m: exit code 3
 ▶ fetch         42s        fetching page 1 of 3
 ○ later                    queued
 · report                   waits on extract"""

LIVE_120x40 = """\
live_demo  run 20261206-120000.000-xxxxxx                                                      42s elapsed · no history
━━━━━━━━━━────────────────────────────────────────────────── 1/6  ✗ 1 failed  ▶ 2 running  ↻ 1 retrying  2 to go
 ▶ extract       42s        reading rows
 ✗ lint         0.0s        exit code 2
 ↻ flaky   1/3              retry in ~5m: exit code 3
 ▶ fetch         42s        fetching page 1 of 3
 ○ later                    queued
 · report                   waits on extract"""


@pytest.mark.parametrize(("cols", "rows", "expected"), [(80, 24, LIVE_80x24), (120, 40, LIVE_120x40)])
def test_dagctl_run_on_a_terminal(tmp_path: Path, terminal, cols: int, rows: int, expected: str):
    (tmp_path / "dag.yaml").write_text(DEMO_DAG)
    term = terminal(["run", "dag.yaml"], cols, rows)
    term.until(lambda s: "retry in" in s and "fetching page" in s and "queued" in s, what="the run under way")
    (tmp_path / "advance").touch()  # the injected clock moves 42 s on
    screen = term.until(
        lambda s: "42s elapsed" in s and len(re.findall(r"▶ \w+ +42s ", s)) == 2, what="elapsed times ticking"
    )
    assert normalized(screen).split("\n")[:8] == expected.split("\n")
    assert screen.split("\n")[8:] == [""] * (rows - 8)
    (tmp_path / "go").touch()
    term.until(lambda s: "5/6" in s, what="the blocked tasks done")
    term.child.kill(signal.SIGINT)  # flaky waits an hour to retry: stop the run
    code = term.finish()
    assert code == 130
    assert b"dagctl: SIGINT: stopping" in term.raw
    last_frame = term.last_frame("live_demo  run")
    assert "cancelled in" in last_frame and "6/6" in last_frame and "not started: interrupted by SIGINT" in last_frame
    assert "DAG EXECUTION CANCELLED" in term.text()
    assert term.raw.rfind(b"\x1b[?25h") > term.raw.rfind(b"\x1b[2K")  # the cursor is back after the last frame


def test_no_colour_and_a_locale_that_is_not_utf8(tmp_path: Path, terminal):
    (tmp_path / "dag.yaml").write_text(DEMO_DAG)
    term = terminal(["run", "dag.yaml"], NO_COLOR="1", LC_ALL="C", LANG="C")
    term.until(lambda s: "retry in" in s and "fetching page" in s, what="the run under way")
    (tmp_path / "go").touch()
    term.until(lambda s: "5/6" in s, what="the blocked tasks done")
    term.child.kill(signal.SIGINT)
    assert term.finish() == 130
    assert term.raw.isascii()  # no Unicode symbol, bar or ellipsis reached the terminal
    assert not re.search(rb"\x1b\[[0-9;]*m", term.raw)  # and no colour
    frame = term.last_frame("live_demo  run")
    assert " x lint " in frame and " + extract " in frame and "######" in frame


def test_a_resized_terminal_gets_a_fresh_frame(tmp_path: Path, terminal):
    (tmp_path / "dag.yaml").write_text(DEMO_DAG)
    term = terminal(["run", "dag.yaml"], 100, 30)
    term.until(lambda s: "fetching page" in s and "queued" in s, what="the run under way")
    term.resize(50, 12)
    screen = term.until(lambda s: s.split("\n")[0].startswith("live_demo") and "…" in s, what="a frame at 50 columns")
    lines = screen.split("\n")
    assert lines[1].startswith("━") and all(len(line) <= 49 for line in lines)
    assert sum(1 for line in lines if line.startswith("live_demo")) == 1
    (tmp_path / "go").touch()
    term.until(lambda s: "5/6" in s)
    term.child.kill(signal.SIGINT)
    assert term.finish() == 130


def test_a_thousand_tasks_on_an_80x24_terminal(tmp_path: Path, terminal):
    tasks = ["  - {id: gate, run: 'while [ ! -f go ]; do sleep 0.02; done'}"]
    tasks += [f"  - {{id: t{i:03d}, run: 'true'}}" for i in range(1000)]
    (tmp_path / "dag.yaml").write_text("name: fan\noptions: {parallelism: 2}\ntasks:\n" + "\n".join(tasks) + "\n")
    term = terminal(["run", "dag.yaml"], 80, 24, SHOW_MODULES="1")
    screen = term.until(lambda s: "1000/1001" in s and "ok" in s.split("\n")[22], timeout=60, what="all but the gate")
    lines = screen.split("\n")
    assert lines[0].startswith("fan  run ") and lines[1].startswith("━")
    assert lines[2].startswith(" ▶ gate")  # running: visible, first in the order
    assert lines[22] == " … 981 more not shown: 981 ok" and lines[23] == ""  # 2 + 20 rows + 1
    (tmp_path / "go").touch()
    assert term.finish(timeout=60) == 0
    assert "success in" in term.last_frame("fan  run") and "1001/1001" in term.last_frame("fan  run")


def test_the_live_view_adds_no_slow_import_to_the_run_path(tmp_path: Path, terminal):
    """No rich, typing, dataclasses ... for the view: a live run loads no more of them than ``-q`` does."""
    (tmp_path / "dag.yaml").write_text(
        "name: one\ntasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true', depends_on: [a]}\n"
    )
    assert terminal(["run", "dag.yaml", "-q"]).finish() == 0  # validates the file (pydantic, typing), caches the plan
    quiet = terminal(["run", "dag.yaml", "-q"], SHOW_MODULES="1")
    assert quiet.finish() == 0
    live = terminal(["run", "dag.yaml"], SHOW_MODULES="1")
    assert live.finish() == 0
    assert "2/2" in live.text() and "success in" in live.text()

    def modules(term: Terminal) -> bytes:
        found = re.search(rb"modules:([^\r\n]*)", term.raw)
        assert found, term.raw[-300:]
        return found.group(1)

    assert modules(live) == modules(quiet)
