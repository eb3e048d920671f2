"""Schedule files: the ScheduleSpec model, FILE:LINE:COL problems, DAG path lookup, reload keeping last good."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from dagctl.errors import SpecError
from dagctl.schedule.files import (
    Overlap,
    ScheduleSource,
    ScheduleSpec,
    load_schedule_dir,
    load_schedule_file,
    resolve_dag_path,
)
from dagctl.schedule.slots import ScheduleLike
from tests.conftest import ROOT

DAG = "name: tiny\nparams: {rows: 1}\ntasks:\n  - {id: a, run: 'true'}\n"

SEED_ENTRY = """\
- id: weekly_ops_chain
  cron: "*/5 * * * *"  # Every 5 minutes
  dag: configs/dags/weekly_ops_chain.min.yaml
  tenant: local-dev
  enabled: true
"""


@pytest.fixture
def schedule_dir(project: Path) -> Path:
    """The project's configs/schedules/, with configs/dags/tiny.yaml for its entries to point at."""
    (project / "configs" / "dags" / "tiny.yaml").write_text(DAG)
    return project / "configs" / "schedules"


def problems_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_schedule_file(path)
    return [str(p) for p in info.value.problems]


def test_the_source_notes_entry_loads_unchanged(project: Path) -> None:
    (project / "configs" / "dags" / "weekly_ops_chain.min.yaml").write_text(DAG)
    path = project / "configs" / "schedules" / "seed.yaml"
    path.write_text(SEED_ENTRY)
    (spec,) = load_schedule_file(path)
    assert (spec.id, spec.cron, spec.dag, spec.tenant, spec.enabled) == (
        "weekly_ops_chain",
        "*/5 * * * *",
        "configs/dags/weekly_ops_chain.min.yaml",
        "local-dev",
        True,
    )
    assert (spec.timezone, spec.overlap, spec.catchup, spec.jitter, spec.params) == (
        "UTC",
        Overlap.SKIP,
        None,
        timedelta(0),
        {},
    )
    assert spec.dag_path == project / "configs" / "dags" / "weekly_ops_chain.min.yaml"
    assert spec.position == (1, 7)
    schedule: ScheduleLike = spec  # fits the pure scheduling module's protocol
    assert schedule.id == "weekly_ops_chain"


def test_the_repositorys_example_schedules_load() -> None:
    specs = {s.id: s for s in load_schedule_dir(ROOT / "configs" / "schedules")}
    seed = specs["weekly_ops_chain"]
    assert (seed.cron, seed.tenant, seed.enabled) == ("*/5 * * * *", "local-dev", True)
    assert seed.dag_path == ROOT / "configs" / "dags" / "weekly_ops_chain.yaml"
    nightly = specs["diamond_nightly"]
    assert (nightly.timezone, nightly.overlap, nightly.catchup, nightly.jitter) == (
        "America/New_York",
        Overlap.QUEUE,
        timedelta(hours=6),
        timedelta(seconds=30),
    )


def test_all_optional_keys(schedule_dir: Path) -> None:
    path = schedule_dir / "all.yaml"
    path.write_text("""\
- id: full
  description: every key
  cron: "  0   9 * * mon-fri "
  dag: ../dags/tiny.yaml
  tenant: acme
  enabled: false
  params: {rows: 5}
  timezone: Europe/Paris
  overlap: allow
  catchup: 1h30m
  jitter: 45
  x-note: ignored like in DAG files
""")
    (spec,) = load_schedule_file(path)
    assert spec.cron == "0 9 * * mon-fri"
    assert (spec.overlap, spec.catchup, spec.jitter) == (Overlap.ALLOW, timedelta(minutes=90), timedelta(seconds=45))
    assert spec.params == {"rows": 5} and spec.enabled is False
    assert spec.position_of("dag") == (4, 8)


def test_default_timezone_is_a_setting(schedule_dir: Path) -> None:
    path = schedule_dir / "a.yaml"
    path.write_text(
        "- {id: a, cron: '@daily', dag: ../dags/tiny.yaml}\n- {id: b, cron: '@daily', "
        "dag: ../dags/tiny.yaml, timezone: UTC}\n"
    )
    a, b = load_schedule_file(path, default_timezone="Asia/Tokyo")
    assert (a.timezone, b.timezone) == ("Asia/Tokyo", "UTC")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            'cron: "0 0 * * * *"',
            "4:9: schedule 'x': cron: '0 0 * * * *' has 6 fields, which is ambiguous (seconds or "
            "year?) — use 5 fields: minute hour day-of-month month day-of-week",
        ),
        (
            'cron: "@reboot"',
            "4:9: schedule 'x': cron: '@reboot' is not supported: dagctl has no boot event — start the "
            "job from a systemd unit",
        ),
        (
            'cron: "0 0 30 2 *"',
            "4:9: schedule 'x': cron: day-of-month '30' never occurs in February, so the schedule "
            "would never fire — pick a day that exists",
        ),
        (
            'cron: "0 9 * * *"\n  timezone: America/New_Yrok',
            "5:13: schedule 'x': timezone: unknown timezone 'America/New_Yrok' — did you mean 'America/New_York'?",
        ),
        (
            'cron: "0 9 * * *"\n  overlap: sometimes',
            "5:12: schedule 'x': overlap: 'sometimes' is not an overlap policy",
        ),
        ('cron: "0 9 * * *"\n  catchup: soon', "5:12: schedule 'x': catchup: 'soon' is not a duration"),
        ('cron: "0 9 * * *"\n  enabled: "yes"', "5:12: schedule 'x': enabled: "),
        ('cron: "0 9 * * *"\n  jiter: 5', "5:3: schedule 'x': unknown key 'jiter' — did you mean 'jitter'?"),
        (
            "cron: */5 * * * *",
            "4:10: invalid YAML: did not find expected alphabetic or numeric character (in the cron "
            "expression) — quote the cron expression",
        ),
        (
            "cron: @daily",
            "4:9: invalid YAML: found character that cannot start any token (in the cron expression) — "
            "quote the cron expression",
        ),
    ],
)
def test_each_bad_input_is_reported_at_its_position(schedule_dir: Path, entry: str, expected: str) -> None:
    path = schedule_dir / "bad.yaml"
    path.write_text(f"# schedules\n- id: x\n  dag: ../dags/tiny.yaml\n  {entry}\n")
    problems = problems_of(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{expected}")


def test_missing_dag_file_and_missing_keys(schedule_dir: Path) -> None:
    path = schedule_dir / "bad.yaml"
    path.write_text("- id: x\n  cron: '@hourly'\n  dag: configs/dags/nope.yaml\n- cron: '@hourly'\n")
    problems = problems_of(path)
    assert problems[0].startswith(f"{path}:3:8: schedule 'x': DAG file 'configs/dags/nope.yaml' not found (looked in ")
    assert f"{path}:4:3: schedule #2: missing required key 'dag' — add dag:" in problems
    assert f"{path}:4:3: schedule #2: missing required key 'id' — add id:" in problems


def test_duplicate_ids_in_one_file_and_across_files(schedule_dir: Path) -> None:
    folder = schedule_dir
    (folder / "a.yaml").write_text(
        "- {id: x, cron: '@daily', dag: ../dags/tiny.yaml}\n- {id: x, cron: '@hourly', dag: ../dags/tiny.yaml}\n"
    )
    (folder / "b.yaml").write_text("- {id: y, cron: '@daily', dag: ../dags/tiny.yaml}\n")
    (folder / "c.yaml").write_text("- {id: y, cron: '@daily', dag: ../dags/tiny.yaml}\n")
    with pytest.raises(SpecError) as info:
        load_schedule_dir(folder)
    lines = [str(p) for p in info.value.problems]
    assert lines == [
        f"{folder}/a.yaml:2:8: duplicate schedule id 'x' (first defined at {folder}/a.yaml:1:8) — schedule ids "
        "must be unique; rename one",
        f"{folder}/c.yaml:1:8: duplicate schedule id 'y' (first defined at {folder}/b.yaml:1:8) — schedule ids "
        "must be unique across files; rename one",
    ]


def test_top_level_must_be_a_list(schedule_dir: Path) -> None:
    path = schedule_dir / "map.yaml"
    path.write_text("id: x\ncron: '@daily'\n")
    assert problems_of(path) == [
        f"{path}:1:1: top level is a mapping, not a list of schedules — a schedule file is "
        "a list: start each entry with '- id: ...'"
    ]


def test_dag_paths_are_found_from_the_schedule_folder_upwards(project: Path, schedule_dir: Path, monkeypatch) -> None:
    schedule_file = schedule_dir / "s.yaml"
    monkeypatch.chdir("/")  # the working directory does not matter (cron and systemd start in $HOME or /)
    dag = project / "configs" / "dags" / "tiny.yaml"
    assert resolve_dag_path("configs/dags/tiny.yaml", schedule_file) == dag
    assert resolve_dag_path("../dags/tiny.yaml", schedule_file).resolve() == dag
    assert resolve_dag_path(str(dag), schedule_file) == dag
    assert resolve_dag_path("dags/nope.yaml", schedule_file) is None


def test_model_is_frozen_and_strict() -> None:
    spec = ScheduleSpec(id="a", cron="@daily", dag="x.yaml")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type varies by version
        spec.cron = "@hourly"  # type: ignore[misc]
    with pytest.raises(Exception):  # noqa: B017
        ScheduleSpec(id="a", cron="@daily", dag="x.yaml", enabled="yes")  # type: ignore[arg-type]


def test_reload_keeps_the_last_good_version_of_a_broken_file(schedule_dir: Path) -> None:
    a, b = schedule_dir / "a.yaml", schedule_dir / "b.yaml"
    a.write_text("- {id: a, cron: '@daily', dag: ../dags/tiny.yaml}\n")
    b.write_text("- {id: b, cron: '@daily', dag: ../dags/tiny.yaml}\n")
    source = ScheduleSource(schedule_dir)
    assert [s.id for s in source.load()] == ["a", "b"]
    assert not source.changed()

    a.write_text("- {id: a, cron: '0 0 * * * *', dag: ../dags/tiny.yaml}\n")  # broken
    b.write_text("- {id: b2, cron: '@hourly', dag: ../dags/tiny.yaml}\n")  # fine
    assert source.changed()
    schedules, problems = source.reload()
    assert [(s.id, s.cron) for s in schedules] == [("a", "@daily"), ("b2", "@hourly")]
    assert len(problems) == 1 and "has 6 fields" in str(problems[0])
    assert not source.changed()  # reported once, not on every tick

    b.unlink()
    (schedule_dir / "c.yaml").write_text("- {id: a, cron: '@daily', dag: ../dags/tiny.yaml}\n")  # clashes with a.yaml
    schedules, problems = source.reload()
    assert [s.id for s in schedules] == ["a", "b2"]  # nothing applied
    assert any("duplicate schedule id 'a'" in str(p) for p in problems)


def test_strict_load_refuses_any_problem(schedule_dir: Path) -> None:
    (schedule_dir / "a.yaml").write_text("- {id: a, cron: '@daily', dag: ../dags/tiny.yaml}\n")
    (schedule_dir / "b.yaml").write_text("")
    with pytest.raises(SpecError, match="schedule file is empty"):
        ScheduleSource(schedule_dir).load()


def test_a_vanished_folder_is_reported_once_and_the_schedules_stay(schedule_dir: Path) -> None:
    import shutil

    (schedule_dir / "a.yaml").write_text("- {id: a, cron: '@daily', dag: ../dags/tiny.yaml}\n")
    source = ScheduleSource(schedule_dir)
    source.load()
    shutil.rmtree(schedule_dir)
    assert source.changed()
    schedules, problems = source.reload()
    assert [s.id for s in schedules] == ["a"] and "does not exist" in str(problems[0])
    assert not source.changed()


TYPED_DAG = "name: typed\nparams:\n  rows: {type: int, max: 1000, default: 10}\ntasks:\n  - {id: a, run: 'true'}\n"


def test_strict_load_refuses_params_the_dag_would_refuse_with_the_runs_words(schedule_dir: Path) -> None:
    (schedule_dir.parent / "dags" / "typed.yaml").write_text(TYPED_DAG)
    (schedule_dir / "a.yaml").write_text(
        "- {id: a, cron: '@daily', dag: ../dags/typed.yaml, params: {nope: 1}}\n"
        "- {id: b, cron: '@daily', dag: ../dags/typed.yaml, params: {rows: 5000}}\n"
    )
    with pytest.raises(SpecError) as caught:
        ScheduleSource(schedule_dir).load()
    assert [(p.line, p.column, p.message) for p in caught.value.problems] == [
        (1, 60, "schedule 'a' params: unknown param 'nope' for DAG 'typed'"),
        (2, 67, "schedule 'b' params: param 'rows' must be at most 1000, got 5000 for DAG 'typed'"),
    ]
    with pytest.raises(SpecError, match="param 'rows' must be at most 1000"):
        load_schedule_dir(schedule_dir)


def test_reload_keeps_the_last_good_version_of_a_file_whose_params_the_dag_refuses(schedule_dir: Path) -> None:
    (schedule_dir.parent / "dags" / "typed.yaml").write_text(TYPED_DAG)
    a = schedule_dir / "a.yaml"
    a.write_text("- {id: a, cron: '@daily', dag: ../dags/typed.yaml, params: {rows: 500}}\n")
    source = ScheduleSource(schedule_dir)
    assert [s.params for s in source.load()] == [{"rows": 500}]

    a.write_text("- {id: a, cron: '@daily', dag: ../dags/typed.yaml, params: {rows: 5000}}\n")
    schedules, problems = source.reload()  # what --serve does on SIGHUP or a changed file: it goes on
    assert [s.params for s in schedules] == [{"rows": 500}]
    assert [str(p) for p in problems] == [
        f"{a}:1:67: schedule 'a' params: param 'rows' must be at most 1000, got 5000 for DAG 'typed' — "
        "write rows: 1000 or less under params:"
    ]


def test_a_dag_that_does_not_load_is_left_to_the_run(schedule_dir: Path) -> None:
    (schedule_dir.parent / "dags" / "broken.yaml").write_text("name: broken\ntasks: []\n")
    (schedule_dir / "a.yaml").write_text("- {id: a, cron: '@daily', dag: ../dags/broken.yaml, params: {x: 1}}\n")
    assert [s.id for s in ScheduleSource(schedule_dir).load()] == ["a"]  # its run records why it failed


def test_an_edited_dag_is_a_change_too_and_its_params_are_checked_again(schedule_dir: Path) -> None:
    dag = schedule_dir.parent / "dags" / "typed.yaml"
    dag.write_text(TYPED_DAG)
    (schedule_dir / "a.yaml").write_text("- {id: a, cron: '@daily', dag: ../dags/typed.yaml, params: {rows: 500}}\n")
    source = ScheduleSource(schedule_dir)
    assert [s.id for s in source.load()] == ["a"]
    assert not source.changed()
    dag.write_text(TYPED_DAG.replace("max: 1000", "max: 100"))  # what --serve polls for: the DAG, not only a.yaml
    assert source.changed()
    schedules, problems = source.reload()
    assert [s.params for s in schedules] == [{"rows": 500}]  # the last good version goes on; the problem is logged
    assert [p.message for p in problems] == [
        "schedule 'a' params: param 'rows' must be at most 100, got 500 for DAG 'typed'"
    ]
    assert not source.changed()  # reported once, not on every tick
