"""Times typed without an offset on a daylight-saving night, and cron fields out of range, as a user meets them.

`backfill --start/--end` and `schedule next --after` read a time without an offset in the schedule's timezone.
On the spring-forward night 02:30 does not exist in New York; on the fall-back night 01:00-01:59 happens twice.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

SCHEDULES = "configs/schedules"


def write(project: Path, text: str) -> str:
    (project / "configs" / "dags" / "note.yaml").write_text("name: note\ntasks:\n  - {id: note, run: 'true'}\n")
    (project / SCHEDULES / "s.yaml").write_text(textwrap.dedent(text).lstrip())
    return str(project / SCHEDULES)


def dry_run(cli, folder: str, schedule: str, start: str, end: str):
    return cli("backfill", schedule, "--dir", folder, "--start", start, "--end", end, "--dry-run")


def test_a_backfill_over_the_repeated_hour_in_local_time_covers_both_passes(cli, project: Path) -> None:
    folder = write(project, '- {id: q, cron: "*/15 1 * * *", timezone: America/New_York, dag: ../dags/note.yaml}\n')
    result = dry_run(cli, folder, "q", "2026-11-01T01:00", "2026-11-01T01:59")
    assert result.code == 0, result
    assert result.out.splitlines() == [
        f"2026-11-01T01:{m}:00-0{h}:00  would run" for h in "45" for m in ("00", "15", "30", "45")
    ]
    assert "8 slots, 8 to run" in result.err


def test_a_backfill_starting_in_the_skipped_hour_is_not_refused_as_backwards(cli, project: Path) -> None:
    folder = write(project, '- {id: n, cron: "30 2 * * *", timezone: America/New_York, dag: ../dags/note.yaml}\n')
    result = dry_run(cli, folder, "n", "2026-03-08T02:30", "2026-03-08T03:00")
    assert result.code == 0, result
    assert result.out.splitlines() == ["2026-03-08T03:00:00-04:00  would run"]  # 02:30 ran at the jump
    assert dry_run(cli, folder, "n", "2026-03-08T02:30", "2026-03-08T02:30").out.splitlines() == [
        "2026-03-08T03:00:00-04:00  would run"
    ]


def test_lord_howe_half_hour_shifts_read_local_times_the_same_way(cli, project: Path) -> None:
    folder = write(
        project, '- {id: l, cron: "*/15 1,2 * * *", timezone: Australia/Lord_Howe, dag: ../dags/note.yaml}\n'
    )
    back = dry_run(cli, folder, "l", "2026-04-05T01:30", "2026-04-05T01:45")  # 01:30-01:59 happens twice
    assert [line.split()[0] for line in back.out.splitlines()] == [
        "2026-04-05T01:30:00+11:00",
        "2026-04-05T01:45:00+11:00",
        "2026-04-05T01:30:00+10:30",
        "2026-04-05T01:45:00+10:30",
    ]
    forward = dry_run(cli, folder, "l", "2026-10-04T02:15", "2026-10-04T02:45")  # 02:00-02:29 does not exist
    assert forward.code == 0, forward
    assert [line.split()[0] for line in forward.out.splitlines()] == [
        "2026-10-04T02:30:00+11:00",
        "2026-10-04T02:45:00+11:00",
    ]


def test_schedule_next_after_a_skipped_time_includes_the_run_at_the_jump(cli) -> None:
    """02:30 does not exist on 8 March in New York: the clock goes from 01:59:59 to 03:00, so 03:00 comes after it."""
    result = cli(
        "schedule",
        "next",
        "--cron",
        "*/15 * * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2026-03-08T02:30",
        "-n",
        "2",
    )
    assert result.code == 0, result
    assert result.out.splitlines() == ["2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"]
    nightly = cli(
        "schedule",
        "next",
        "--cron",
        "30 2 * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2026-03-08T02:15",
        "-n",
        "2",
    )
    assert nightly.code == 0, nightly
    assert nightly.out.splitlines() == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]  # that night's run
    at_the_jump = cli(
        "schedule", "next", "--cron", "30 2 * * *", "--tz", "America/New_York", "--after", "2026-03-08T03:00"
    )
    assert at_the_jump.out.splitlines()[0] == "2026-03-09T02:30:00-04:00"  # 03:00 itself exists: strictly after it


def test_a_time_outside_the_calendar_is_bad_input_not_an_internal_error(cli, project: Path) -> None:
    folder = write(project, '- {id: l, cron: "0 2 * * *", timezone: Australia/Lord_Howe, dag: ../dags/note.yaml}\n')
    result = dry_run(cli, folder, "l", "0001-01-01", "0001-01-02")
    assert result.code == 2, result
    assert result.err.strip() == (
        "dagctl: error: --start '0001-01-01' is out of range: its UTC time falls outside years 1-9999 — "
        "give a time between 0002 and 9998"
    )
    once = cli("schedule", "--dir", folder, "--once", "--now", "0001-01-01T00:00:00+05:00")
    assert once.code == 2 and "--now '0001-01-01T00:00:00+05:00' is out of range" in once.err
    assert "internal error" not in result.err + once.err


def test_an_out_of_range_cron_field_says_which_values_fit_not_to_use_five_fields(cli, project: Path) -> None:
    folder = write(
        project,
        """
        - id: m61
          cron: "61 * * * *"
          dag: ../dags/note.yaml
        - id: step0
          cron: "*/0 * * * *"
          dag: ../dags/note.yaml
        - id: last8
          cron: "0 0 * * 8L"
          dag: ../dags/note.yaml
        """,
    )
    result = cli("validate", folder)
    assert result.code == 2, result
    lines = [line for line in (result.out + result.err).splitlines() if line.startswith(folder)]
    assert [line.removeprefix(folder + "/") for line in lines] == [
        "s.yaml:2:9: schedule 'm61': cron: minute value 61 is out of range 0-59 — write a minute from 0 to 59",
        "s.yaml:5:9: schedule 'step0': cron: step '0' in minute field '*/0' must be a whole number of 1 or more "
        "— write e.g. '*/2' (every second value)",
        "s.yaml:8:9: schedule 'last8': cron: day-of-week value 8 in '8L' is out of range 0-7 (0 and 7 are Sunday) "
        "— write a day-of-week from 0 to 7",
    ]
    once = cli("schedule", "--dir", folder, "--once", "--now", "2026-06-01T00:00:05Z")
    assert once.code == 2
    assert "use 5 fields" not in once.err and "write a minute from 0 to 59" in once.err
