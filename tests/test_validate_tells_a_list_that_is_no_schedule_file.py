"""A YAML list that is not a list of ``- id: ... cron: ...`` entries is neither a schedule file nor a DAG:
``dagctl validate`` says so as ``dagctl run`` does, naming what each would look like."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagctl.dag.loader import load_dag
from dagctl.errors import SpecError
from dagctl.schedule.validation import validate_paths


def test_a_list_of_words_is_reported_as_run_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "l.yaml"
    path.write_text("- a\n- b\n")
    found = validate_paths([path])
    with pytest.raises(SpecError) as run:
        load_dag(path)
    assert found.problems == run.value.problems
    (problem,) = found.problems
    assert str(problem) == (
        f"{path}:1:1: top level is a list, not a mapping — a DAG file is a mapping with name: and tasks:;"
        " a schedule file is a list of '- id: ... cron: ...'"
    )


def test_a_schedule_file_with_a_bad_entry_is_still_a_schedule_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("- id: nightly\n  cron: '0 3 * * *'\n  dag: nope.yaml\n- oops\n")
    messages = [p.message for p in validate_paths([path]).problems]
    assert any("schedule #2 is not a mapping" in m for m in messages), messages
