"""GitHub Actions output: escaped workflow commands, annotations at the task's line, the step summary."""

from __future__ import annotations

import textwrap

from dagctl.report.cases import RunTree, cases
from dagctl.report.github import command, error_annotations, group, step_summary, task_lines
from dagctl.store.runsummary import fold_run

from .ci_runs import tree
from .events import ev

DAG = textwrap.dedent(
    """\
    name: etl
    tasks:
      - {id: extract, run: "true"}

      - id: flaky
        run: ./flaky.sh
      - id: train
        matrix: {lr: [0.1, 1]}
        run: ./train.sh
      - run: ./slow.sh
        id: slow
      - {id: sleepy, run: "sleep 9"}
    handlers:
      failure: {run: ./page.sh}
    """
)


def test_commands_escape_their_message_and_properties():
    assert command("error", "50% done\r\nnext", file="a,b.yaml", line=3, title="t: x") == (
        "::error file=a%2Cb.yaml,line=3,title=t%3A x::50%25 done%0D%0Anext"
    )
    assert command("error", "m", file=None) == "::error::m"
    assert group("ok x\nin 1s") == "::group::ok x%0Ain 1s"


def test_task_lines_are_the_lines_of_the_task_ids_and_handlers():
    assert task_lines(DAG, "etl.yaml") == {
        "extract": 3,
        "flaky": 5,
        "train": 7,
        "slow": 11,
        "sleepy": 12,
        "handler:failure": 14,
    }
    assert task_lines("tasks: [\n", "broken.yaml") == {}


def test_an_annotation_per_failed_task_at_its_line():
    lines = {"dags/etl.yaml": task_lines(DAG, "dags/etl.yaml"), "dags/prep.yaml": {"fetch": 2}}
    found = error_annotations(cases(tree()), lines, {"dags/etl.yaml": "dags/etl.yaml", "dags/prep.yaml": "p.yaml"})
    assert [a.split("::")[1] for a in found] == [
        "error file=dags/etl.yaml,line=5,title=dagctl%3A task flaky failed",
        "error file=dags/etl.yaml,line=11,title=dagctl%3A task slow timed out",
        "error file=dags/etl.yaml,line=7,title=dagctl%3A task train%3A1 [lr=1] failed",
        "error file=p.yaml,line=2,title=dagctl%3A task prep/fetch failed",
        "error file=dags/etl.yaml,line=12,title=dagctl%3A task sleepy cancelled",
    ]
    # the message: the error with the attempts, then the last lines of the log without terminal colours
    assert found[0].split("::", 2)[2] == "exit code 3 (after 2 attempts)%0Atry 2%0Aboom <&> bell"


def test_an_annotation_without_a_known_file_names_no_line():
    run = RunTree(fold_run([ev("dag_start", 0), ev("task_fail", 1, "a", attempt=1, error="bad", exit_code=2)]))
    assert error_annotations(cases(run), {}) == [
        "::error title=dagctl%3A task a failed::bad (after 1 attempt, exit code 2)"
    ]


def test_the_step_summary_is_a_table_of_every_task_with_the_failed_logs():
    text = step_summary(tree())
    lines = text.splitlines()
    assert lines[0] == "### ❌ etl: failed in 6s"
    assert lines[2] == "Run `r1` · 10 tasks: 2 passed, 5 failed, 3 skipped"
    assert "**Reason:** run timed out after 6s" in text
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| |")]
    assert len(rows) == 10
    assert rows[0] == "| ✅ | `extract` | success | 1 | 1.25s |  |"
    assert rows[1] == "| ❌ | `flaky` | failed | 2 | 500ms | exit code 3 |"
    assert rows[3] == "| ⏭️ | `report` | skipped |  |  | upstream 'flaky' failed |"
    assert "<details><summary>❌ flaky: last 2 lines of the log</summary>" in text
    assert "```\ntry 2\nboom <&> bell\n```" in text


def test_table_cells_cannot_break_the_table_and_fences_outlast_backticks():
    records = [
        ev("dag_start", 0),
        ev("task_start", 0, "a", attempt=1),
        ev("task_fail", 1, "a", attempt=1, error="x | y <b>\nz", exit_code=1),
    ]
    text = step_summary(RunTree(fold_run(records), {"a": ("```", "code")}))
    assert "| x \\| y &lt;b&gt; z (exit code 1) |" in text
    assert "````\n```\ncode\n````" in text


def test_control_characters_of_an_error_reach_neither_annotations_nor_the_summary():
    """A Python task's exception text with a raw control character (and terminal colours) went into the
    `::error` line and the summary table as is."""
    error = "bad \x02 thing \x1b[31mred\x1b[0m"
    run = RunTree(fold_run([ev("dag_start", 0), ev("task_fail", 1, "a", attempt=1, error=error, exit_code=2)]))
    (found,) = error_annotations(cases(run), {})
    assert found == "::error title=dagctl%3A task a failed::bad  thing red (after 1 attempt, exit code 2)"
    assert "| bad thing red (exit code 2) |" in step_summary(run)
