"""A DAG file written with another tool's keys (Dagu's `command:`/`steps:`/`depends:`, Airflow's `bash_command`,
a `schedule:` in the DAG) gets dagctl's name for each, where a guess from the spelling pointed elsewhere (`cmd`
was told "did you mean 'cwd'?"); `depends_on: a, b` is told how a list is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagctl.dag.loader import load_dag
from dagctl.dag.specread import key_hint
from dagctl.errors import SpecError

TASK_KEYS = ["id", "run", "python", "depends_on", "cwd", "description", "retries", "timeout", "env", "when"]


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("cmd", "dagctl's key for this is 'run'"),
        ("command", "dagctl's key for this is 'run'"),
        ("script", "dagctl's key for this is 'run'"),
        ("bash_command", "dagctl's key for this is 'run'"),
        ("depends", "dagctl's key for this is 'depends_on'"),
        ("needs", "dagctl's key for this is 'depends_on'"),
        ("retires", "did you mean 'retries'?"),  # a typo still gets the close spelling
        ("zzz", "known keys: " + ", ".join(TASK_KEYS)),
    ],
)
def test_the_hint_for_an_unknown_task_key(key: str, hint: str) -> None:
    assert key_hint(key, TASK_KEYS) == hint


def test_a_schedule_in_a_dag_file_says_where_schedules_live() -> None:
    assert key_hint("schedule", TASK_KEYS).startswith("a schedule lives in a file of its own under configs/schedules/")


def test_a_dagu_style_file_is_told_dagctls_keys_at_their_lines(tmp_path: Path) -> None:
    dag = tmp_path / "dagu.yaml"
    dag.write_text(
        "name: dagu\n"
        "steps:\n"
        "  - {id: a, command: echo a}\n"
        "tasks:\n"
        "  - id: b\n"
        "    cmd: echo b\n"
        "  - id: c\n"
        "    run: echo c\n"
        "    depends_on: a, b\n"
    )
    with pytest.raises(SpecError) as raised:
        load_dag(dag)
    lines = [str(p) for p in raised.value.problems]
    assert f"{dag}:2:1: unknown key 'steps' in top level — dagctl's key for this is 'tasks'" in lines
    assert f"{dag}:6:5: unknown key 'cmd' in task 'b' — dagctl's key for this is 'run'" in lines
    assert any(line.endswith("a list is written in brackets: depends_on: [a, b]") for line in lines), lines
