"""An empty value in a schedule file is reported as empty, with what to write, at its FILE:LINE:COL; a `dag:` that is a
folder says so. `dag: " "` used to drop its schedule without a word (and `validate` passed); `overlap:` said
"None is not an overlap policy", `timezone:` "YAML reads unquoted  as null"."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagctl.errors import SpecError
from dagctl.schedule.files import load_schedule_file

DAG = "name: tiny\ntasks:\n  - {id: a, run: 'true'}\n"


@pytest.fixture
def folder(project: Path) -> Path:
    (project / "configs" / "dags" / "tiny.yaml").write_text(DAG)
    return project / "configs" / "schedules"


def problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_schedule_file(path)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('dag: " "', "3:8: schedule 'x': dag: is empty — write the path of the DAG file it runs"),
        ("dag:", "3:7: schedule 'x': dag: is empty — write the path of the DAG file it runs"),
        ("timezone:", "3:12: schedule 'x': timezone: is empty — write an IANA name such as UTC or America/New_York"),
        ('timezone: ""', "3:13: schedule 'x': timezone: is empty — write an IANA name"),
        ("overlap:", "3:11: schedule 'x': overlap: is empty — write skip, queue or allow, or remove the line"),
        ("jitter:", "3:10: schedule 'x': jitter: is empty — write a duration such as \"30s\", or remove the line"),
        ("params:", "3:10: schedule 'x': params: is empty — write name: value lines indented under params:"),
        ("enabled:", "3:11: schedule 'x': enabled: is empty — write true or false"),
    ],
)
def test_an_empty_value_is_called_empty_with_what_to_write(folder: Path, line: str, expected: str) -> None:
    path = folder / "s.yaml"
    dag = "" if line.startswith("dag:") else "  dag: ../dags/tiny.yaml\n"
    path.write_text(f"- id: x\n  cron: '@daily'\n  {line}\n{dag}")
    found = problems(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:{expected}"), found
    assert "None" not in found[0] and "null" not in found[0]


def test_an_empty_id_is_named_by_its_place(folder: Path) -> None:
    path = folder / "s.yaml"
    path.write_text("- id: ' '\n  cron: '@daily'\n  dag: ../dags/tiny.yaml\n")
    assert problems(path) == [f"{path}:1:7: schedule #1: id: is empty — write the schedule's name, e.g. id: nightly"]


def test_a_blank_dag_fails_validate_with_exit_2(cli, folder: Path) -> None:
    (folder / "s.yaml").write_text('- id: blankdag\n  cron: "0 9 * * *"\n  dag: " "\n')
    result = cli("validate", str(folder))
    assert result.code == 2
    assert f"{folder / 's.yaml'}:3:8: schedule 'blankdag': dag: is empty — " in result.out + result.err
    once = cli("schedule", "--dir", str(folder), "--once", "--now", "2026-01-01T09:00:05Z")
    assert once.code == 2 and "dag: is empty" in once.err


def test_a_dag_that_is_a_directory_says_so(folder: Path, tmp_path: Path) -> None:
    path = folder / "s.yaml"
    path.write_text(f"- id: x\n  cron: '@daily'\n  dag: {tmp_path}\n- id: y\n  cron: '@daily'\n  dag: ../dags\n")
    assert problems(path) == [
        f"{path}:3:8: schedule 'x': dag: '{tmp_path}' is a directory, not a DAG file — write the path of the DAG's "
        ".yaml file in it",
        f"{path}:6:8: schedule 'y': dag: '../dags' ({folder.parent / 'dags'}) is a directory, not a DAG file — write "
        "the path of the DAG's .yaml file in it",
    ]


def test_null_still_means_the_default_where_it_did(folder: Path) -> None:
    path = folder / "s.yaml"
    path.write_text("- id: x\n  cron: '@daily'\n  dag: ../dags/tiny.yaml\n  tenant:\n  catchup:\n  description:\n")
    (spec,) = load_schedule_file(path)
    assert (spec.tenant, spec.catchup, spec.description) == (None, None, None)
