"""What tasks write (their errors, skip reasons, output, matrix values) reaches the terminal as text: no escape
sequence clears the screen or moves the cursor, no control character counts as a column, an ASCII terminal gets
ASCII, and an output encoding that cannot hold a character gets ``?`` instead of a crash."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dagctl.cli.plain import describe
from dagctl.cli.render import (
    TermStyle,
    ascii_text,
    clip,
    compose,
    echo,
    echo_err,
    echo_json,
    printable,
    text_width,
)
from dagctl.cli.view import LiveView, live_lines
from dagctl.report.progress import RunProgress
from dagctl.store.events import TaskFail, TaskRetry, TaskStart
from tests.conftest import ROOT
from tests.report.events import at, ev, graph

from .test_live_view import Screen, WaitLog

UNICODE = TermStyle(color=False, unicode=True)
ASCII = TermStyle(color=False, unicode=False)
NASTY = "X\tTAB\tTAB\x1b[2J\x1b[H CLEARED\rCR-OVERWRITE \x1b]0;WINDOW\x07\x01\x7f 数据数据 end"


# --------------------------------------------------------------------------------------------- text


def test_printable_drops_escape_sequences_and_turns_control_characters_into_spaces():
    assert printable(NASTY) == "X TAB TAB CLEARED CR-OVERWRITE    数据数据 end"
    assert printable("\x1b(B\x1bc\x9b31mred\x1b[0m") == "red"
    assert printable("lone \ud800 surrogate") == "lone ? surrogate"


def test_printable_keeps_emoji_sequences_whole():
    family = "👨\u200d👩\u200d👧"
    assert printable(f"family: {family}!") == f"family: {family}!"
    assert text_width(family) == 6  # the joiners take no column


def test_escape_sequences_take_no_column_and_are_never_cut_in_half():
    assert text_width("\x1b[31mred\x1b[0m") == 3 and text_width("a\tb") == 3
    assert clip("ab\x1b[31mcdef", 4) == "abc…"
    assert clip("\x1b[2Jshort", 10) == "short"
    line = compose([(NASTY, "")], 30, UNICODE)
    assert "\x1b" not in line and "\r" not in line and "\t" not in line and text_width(line) <= 30


def test_ascii_text_for_a_terminal_that_is_not_utf8():
    assert ascii_text("café ＡＢＣ 数据 👨\u200d👩 … ok") == "cafe ABC ?? ?? ... ok"


# --------------------------------------------------------------------------------------------- the live view


def nasty_model() -> RunProgress:
    g = graph({"nasty": [], "slow": [], "train": []}, retries={"nasty": 2})
    return RunProgress(g, parallelism=3).apply_all(
        [
            ev("dag_start", 0, run="20261206-120000.000-abc123", dag="nasty"),
            ev("task_start", 0, "nasty", attempt=1),
            ev("task_start", 0, "slow", attempt=1, log_path="/slow.log"),
            ev("task_retry", 0.3, "nasty", attempt=1, delay_s=1.0, error=f"RuntimeError: {NASTY}"),
            ev("task_start", 0, "train", cells=2),
            ev("task_start", 0, "train", attempt=1, cell="train:0", matrix={"v": "\x01ctl", "w": "数据"}),
        ]
    )


def test_a_retry_whose_error_clears_the_screen_is_drawn_as_text():
    term = Screen(120, 24)
    logs = {"/slow.log": "\x1b[2J\x1b[Hprogress\tbar\r50%"}
    view = LiveView(nasty_model(), clock=WaitLog(), stream=term, size=term.size, style=UNICODE, last_line=logs.get)
    view.draw()
    view.draw()
    assert "\x1b[2J" not in term.written and "\x1b[H" not in term.written and "\t" not in term.written
    screen = term.text()
    assert screen[0].startswith("nasty  run 20261206-120000.000-abc123")  # the frame stays where it is
    assert screen[2].startswith(" ↻ nasty") and "retry in 0.0s: RuntimeError: X TAB TAB CLEARED CR-OVER" in screen[2]
    assert "progress bar 50%" in "\n".join(screen)
    assert " ctl" in "\n".join(screen) and "\x01" not in term.written


def test_an_ascii_terminal_gets_ascii_notes_tails_and_matrix_values():
    lines = live_lines(nasty_model().view(at(1)), 60, ASCII, {"slow": "日本語の出力 · 🚀 done"})
    assert all(line.isascii() for line in lines), lines
    assert all(len(line) <= 59 for line in lines)
    text = "\n".join(lines)
    assert "?????? - ? done" in text  # one column each, as the terminal shows them
    assert " > train " in text and "0/2 cells" in text


def test_matrix_cells_show_their_values_cut_to_fit():
    lines = live_lines(nasty_model().view(at(1)), 100, UNICODE)
    cell = next(line for line in lines if "train:0" in line)
    assert cell.startswith(" ▶   train:0 [v= ctl, w=数据] ")
    narrow = next(line for line in live_lines(nasty_model().view(at(1)), 40, UNICODE) if "train:0" in line)
    assert "…" in narrow and text_width(narrow) <= 39


def test_a_long_dag_name_is_cut_not_the_times():
    name = "a_dag_with_a_rather_long_name_that_goes_on_and_on_for_64_chars"
    model = RunProgress(graph({"a": []}), dag_name=name, expected={"a": 30.0})
    model.apply_all([ev("dag_start", 0, run="20261206-120000.000-abc123", dag=name), ev("task_start", 0, "a")])
    first = live_lines(model.view(at(120)), 80, UNICODE)[0]
    assert first.endswith("2m00s elapsed · ETA 0.0s") and first.startswith("a_dag_with_a_rather_long")
    assert "…" in first and text_width(first) <= 79


def test_the_end_of_a_resumed_run_whose_past_is_unknown_says_so():
    model = RunProgress(graph({"a": []}))
    model.apply_all(
        [
            ev("dag_resume", 10, run="r1", reused=0),
            ev("task_start", 10, "a", attempt=1),
            ev("task_ok", 14, "a", attempt=1, duration_s=4.0),
            ev("dag_done", 14.9, status="success", duration_s=4.9),
        ]
    )
    assert live_lines(model.view(at(20)), 80, UNICODE)[0].endswith("success in 4.9s since resumed")


def test_the_live_view_of_a_resume_reads_what_the_run_did_before(tmp_path: Path):
    from dagctl.cli.view import events_before_resume
    from dagctl.store import layout
    from dagctl.store.events import DagResume

    records = [
        ev("dag_start", 0, run="r1"),
        ev("task_start", 0, "a", run="r1", attempt=1),
        ev("task_ok", 1, "a", run="r1", attempt=1, duration_s=1.0),
        ev("dag_done", 1, run="r1", status="paused", duration_s=1.0),
        ev("dag_resume", 5, run="r1", pid=7, reused=1),  # this resume, already written
        ev("task_start", 5, "b", run="r1", attempt=1),
    ]
    path = layout.events_file(layout.run_dir(tmp_path, "r1"))
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    resume = DagResume(ts=records[4]["ts"], run_id="r1", dag_name="etl", tenant_id="default", pid=7, reused=1)
    assert events_before_resume(tmp_path, resume) == records[:4]
    term = Screen(80, 24)
    view = LiveView(
        RunProgress(graph({"a": [], "b": ["a"]})),
        clock=WaitLog(),
        stream=term,
        size=term.size,
        style=UNICODE,
        before_resume=lambda r: events_before_resume(tmp_path, r),
    )
    view.emit(resume)
    view.emit(TaskStart(ts=records[5]["ts"], run_id="r1", dag_name="etl", tenant_id="default", task_id="b", attempt=1))
    view.draw()
    screen = term.text()
    assert screen[0].startswith("etl  run r1") and screen[0].endswith("12s elapsed · no history")  # since its start
    assert "1/2  ▶ 1 running" in screen[1]
    assert screen[2].startswith(" ✓ a") and screen[3].startswith(" ▶ b")


def test_plain_lines_carry_no_control_characters():
    start = TaskStart(
        ts="2026-12-06T12:00:00.000Z",
        run_id="r1",
        dag_name="x",
        tenant_id="default",
        task_id="cells",
        attempt=1,
        cell="cells:4",
        matrix={"v": "\x01ctl"},
    )
    fail = TaskFail(
        ts="2026-12-06T12:00:01.000Z", run_id="r1", dag_name="x", tenant_id="default", task_id="boom", attempt=1,
        error="ValueError: bad \x01\x02\x1b[31mred\x1b[0m\tend",
    )  # fmt: skip
    retry = TaskRetry(
        ts="2026-12-06T12:00:01.000Z", run_id="r1", dag_name="x", tenant_id="default", task_id="boom", attempt=1,
        error="\x1b[2Jcleared", delay_s=1.0,
    )  # fmt: skip
    assert describe(start) == "start  cells:4 [v= ctl]"
    assert describe(fail) == "FAILED boom after 1 attempt: ValueError: bad   red end"
    assert describe(retry) == "retry  boom: attempt 1 failed: cleared; next try in 1s"


# --------------------------------------------------------------------------------------------- the end of a run


def failed_result(tmp_path: Path):  # type: ignore[no-untyped-def]
    from dagctl.run.state import RunResult, TaskRun

    log = tmp_path / "nasty@3.log"
    log.write_text(f"started\n2026-12-07T16:13:30Z error: {NASTY}\n")
    nasty = TaskRun(id="nasty", status="failed", attempt=3, error=f"RuntimeError: {NASTY}", log_path=str(log))
    return RunResult(
        run_id="r1", dag_name="nasty", status="failed", tasks={"nasty": nasty}, duration_s=3.2, run_dir=tmp_path
    )


def test_the_summary_and_the_log_tail_are_cleaned(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from dagctl.cli.run_main import outcome_lines, print_summary

    print_summary(failed_result(tmp_path))
    out, err = capsys.readouterr()
    for text in (out, err):
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", text), text
    assert err.splitlines()[1:] == [  # a line per line, as the log has them (\r too ends one)
        "  started",
        "  2026-12-07T16:13:30Z error: X TAB TAB CLEARED",
        "  CR-OVERWRITE    数据数据 end",
    ]
    assert "Failed: nasty: RuntimeError: X TAB TAB CLEARED CR-OVERWRITE    数据数据 end (log: " in out
    lines = outcome_lines(failed_result(tmp_path))
    assert lines[0].startswith("dagctl: task nasty failed: RuntimeError: X TAB TAB CLEARED") and lines[0].isprintable()


# --------------------------------------------------------------------------------------------- encodings


def latin1() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="iso-8859-1", write_through=True)


def test_echo_never_fails_on_the_output_encoding(monkeypatch: pytest.MonkeyPatch):
    out, err = latin1(), latin1()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    echo("数据 café → done")
    echo_err("x \ud800 y")
    echo_json({"v": "数据 😀 café"})
    written = out.buffer.getvalue().decode("iso-8859-1")  # type: ignore[attr-defined]
    first, rest = written.split("\n", 1)
    assert first == "?? café ? done"
    assert json.loads(rest) == {"v": "数据 😀 café"}  # JSON's own escapes: nothing lost
    assert err.buffer.getvalue() == b"x ? y\n"  # type: ignore[attr-defined]


def test_the_live_view_draws_on_a_terminal_whose_encoding_lacks_its_symbols():
    stream = latin1()
    view = LiveView(nasty_model(), clock=WaitLog(), stream=stream, size=lambda: (80, 24), style=UNICODE)
    view.draw()
    view.draw()
    assert view.frames == 2 and not view._broken
    assert b"nasty  run 20261206-120000.000-abc123" in stream.buffer.getvalue()  # type: ignore[attr-defined]


XMLISH = """\
name: xmlish
tasks:
  - {id: boom, run: "printf 'bad \\\\033[31mred\\\\033[0m 数据\\\\n' >&2; exit 1"}
  - id: cells
    matrix: {v: ["<a>", "数据", "\\u0001ctl"]}
    run: "echo ${matrix.v}"
"""


def dagctl(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DAGCTL_LOGS_DIR": str(cwd / "logs"), **env}
    for name in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH"):
        full_env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "dagctl", *args], cwd=cwd, env=full_env, capture_output=True, timeout=120
    )


def test_an_output_encoding_that_is_not_utf8_gets_the_runs_exit_code_not_a_crash(tmp_path: Path):
    (tmp_path / "xmlish.yaml").write_text(XMLISH)
    run = dagctl(tmp_path, "run", "xmlish.yaml", PYTHONIOENCODING="iso-8859-1")
    assert run.returncode == 1, run.stderr.decode("iso-8859-1")[-2000:]
    assert b"internal error" not in run.stderr
    assert b"DAG EXECUTION FAILED" in run.stdout and b"Failed: boom: exit code 1" in run.stdout
    assert b"\x1b" not in run.stdout + run.stderr and b"\x01" not in run.stdout + run.stderr
    assert b"\n  bad red " in run.stderr  # the log tail, without its escape sequences
    assert b"cells:2 [v= ctl]" in run.stderr  # the plain lines
    show = dagctl(tmp_path, "show", "latest", PYTHONIOENCODING="iso-8859-1")
    assert b"internal error" not in show.stderr and show.returncode in (0, 1), show.stderr
    assert b"boom" in show.stdout
    for fmt in ("svg", "html"):  # a character the output cannot hold becomes XML's reference to it
        gantt = dagctl(tmp_path, "show", "latest", "--gantt", "--format", fmt, PYTHONIOENCODING="ascii")
        assert gantt.returncode == 0, gantt.stderr
        ET.fromstring(gantt.stdout)
