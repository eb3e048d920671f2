"""Extended cron fields through croniter: L, W, # and hashed H, fired by dagctl's DST rules (schedule.cronext)."""

from __future__ import annotations

import calendar
import itertools
import json
import random
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dagctl.errors import UsageError
from dagctl.schedule.cron import cron_problems, fire_times, hashed_expression, next_fire_times, parse_cron
from tests.conftest import ROOT

UTC = timezone.utc
NY = "America/New_York"
LONDON = "Europe/London"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fires(expr: str, tz: str, start: datetime, end: datetime, key: str | None = None) -> list[datetime]:
    return fire_times(parse_cron(expr, tz, hash_key=key), start, end)


# ------------------------------------------------------------------------------------ L, W and # days


def test_last_day_of_the_month_fires_at_three_local_time_on_both_sides_of_new_yorks_dst() -> None:
    assert fires("0 3 L * *", NY, utc(2026, 1, 1), utc(2026, 12, 31, 12)) == [
        utc(2026, 1, 31, 8), utc(2026, 2, 28, 8), utc(2026, 3, 31, 7), utc(2026, 4, 30, 7),
        utc(2026, 5, 31, 7), utc(2026, 6, 30, 7), utc(2026, 7, 31, 7), utc(2026, 8, 31, 7),
        utc(2026, 9, 30, 7), utc(2026, 10, 31, 7), utc(2026, 11, 30, 8), utc(2026, 12, 31, 8),
    ]  # fmt: skip
    assert fires("0 3 L 2 *", NY, utc(2027, 1, 1), utc(2029, 1, 1)) == [utc(2027, 2, 28, 8), utc(2028, 2, 29, 8)]


def test_second_sunday_of_march_half_past_two_does_not_exist_in_new_york_and_fires_at_the_jump() -> None:
    # 2026-03-08 is the second Sunday: 02:00 EST -> 03:00 EDT, so 02:30 is shifted to 03:00 EDT (07:00Z)
    assert fires("30 2 * * 0#2", NY, utc(2026, 2, 1), utc(2026, 5, 1)) == [
        utc(2026, 2, 8, 7, 30),  # 02:30 EST
        utc(2026, 3, 8, 7, 0),  # the gap: once, right after the jump
        utc(2026, 4, 12, 6, 30),  # 02:30 EDT
    ]
    assert fires("*/30 2 * * 0#2", NY, utc(2026, 3, 7), utc(2026, 3, 9)) == []  # a wildcard job has no slots there


def test_first_sunday_of_november_fixed_time_fires_once_and_wildcard_twice_in_new_york() -> None:
    # 2026-11-01 is the first Sunday: 01:00-01:59 happens twice (EDT, then EST)
    assert fires("30 1 * * sun#1", NY, utc(2026, 10, 31), utc(2026, 11, 2)) == [utc(2026, 11, 1, 5, 30)]
    assert fires("*/30 1 * * 0#1", NY, utc(2026, 10, 31), utc(2026, 11, 2)) == [
        utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 30),  # 01:00, 01:30 EDT
        utc(2026, 11, 1, 6, 0), utc(2026, 11, 1, 6, 30),  # 01:00, 01:30 EST
    ]  # fmt: skip


def test_last_sunday_in_london_is_both_of_its_changes() -> None:
    # 2026-03-29 and 2026-10-25 are the last Sundays of March and October
    assert fires("30 1 * * 0L", LONDON, utc(2026, 3, 1), utc(2026, 4, 1)) == [utc(2026, 3, 29, 1, 0)]  # 02:00 BST
    assert fires("30 1 * 10 sunL", LONDON, utc(2026, 10, 1), utc(2026, 11, 1)) == [utc(2026, 10, 25, 0, 30)]
    assert fires("30 1 * 10 L0", LONDON, utc(2026, 10, 1), utc(2026, 11, 1)) == [utc(2026, 10, 25, 0, 30)]


def test_nearest_weekday_stays_in_its_month() -> None:
    # 2026-11-01 is a Sunday -> Monday the 2nd; 2026-08-01 is a Saturday -> Monday the 3rd (not July 31st)
    got = fires("0 9 1W * *", NY, utc(2026, 7, 15), utc(2026, 12, 15))
    assert [t.astimezone(ZoneInfo(NY)).date() for t in got] == [
        date(2026, 8, 3), date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 2), date(2026, 12, 1),
    ]  # fmt: skip
    assert got[3] == utc(2026, 11, 2, 14)  # 09:00 EST, the day after the change
    # 31W is the weekday nearest the month's last day: 2026-02-28 is a Saturday -> Friday the 27th
    assert [t.day for t in fires("0 0 31W 2,3 *", "UTC", utc(2026, 2, 1), utc(2026, 4, 1))] == [27, 31]


def test_items_combine_with_plain_values_and_the_vixie_day_rule_still_applies() -> None:
    assert [t.day for t in fires("0 0 1,15,L * *", "UTC", utc(2026, 1, 31, 1), utc(2026, 2, 28, 12))] == [1, 15, 28]
    # both day fields restricted (L is not a star): the last day OR any Monday
    either = fires("0 0 L * 1", "UTC", utc(2026, 2, 1), utc(2026, 3, 1))
    assert [t.day for t in either] == [2, 9, 16, 23, 28]
    # day-of-month starts with '*': ANDed, so the last Friday that is also an odd day
    assert [(t.month, t.day) for t in fires("0 0 */2 * 5L", "UTC", utc(2026, 1, 1), utc(2026, 8, 1))] == [
        (2, 27), (3, 27), (5, 29), (7, 31),
    ]  # fmt: skip
    assert [t.day for t in fires("0 0 * * 1#1,5L", "UTC", utc(2026, 2, 1), utc(2026, 3, 1))] == [2, 27]
    assert [t.day for t in fires("0 0 * * 1#2,3", "UTC", utc(2026, 2, 1), utc(2026, 3, 1))] == [4, 9, 11, 18, 25]


def test_a_fifth_weekday_only_fires_in_months_that_have_one() -> None:
    got = next_fire_times(parse_cron("0 12 * * mon#5"), utc(2026, 1, 1), 4)
    assert [t.date() for t in got] == [date(2026, 3, 30), date(2026, 6, 29), date(2026, 8, 31), date(2026, 11, 30)]


def test_extended_forms_are_fixed_time_or_wildcard_by_their_minute_and_hour_fields() -> None:
    assert parse_cron("30 2 L * *").fixed_time and not parse_cron("* 2 * * 0#2").fixed_time
    assert parse_cron("30 2 L * *").fields == "30 2 L * *"


# -------------------------------------------------------------------------------------------------- H


def test_hashed_fields_are_stable_per_schedule_id_and_spread_between_ids() -> None:
    first = parse_cron("H H * * *", hash_key="nightly")
    assert first.fields == parse_cron("H H * * *", hash_key="nightly").fields  # the same id: the same numbers
    minute, hour = (int(v) for v in first.fields.split()[:2])
    assert 0 <= minute <= 59 and 0 <= hour <= 23 and first.fixed_time
    spread = {parse_cron("H H * * *", hash_key=f"job-{i}").fields for i in range(40)}
    assert len(spread) > 20
    assert fires("H H * * *", "UTC", utc(2026, 1, 1), utc(2026, 1, 3), key="nightly") == [
        utc(2026, 1, 1, hour, minute),
        utc(2026, 1, 2, hour, minute),
    ]


def test_hash_forms_ranges_and_steps() -> None:
    stepped = [int(v) for v in parse_cron("H/15 * * * *", hash_key="a").fields.split()[0].split(",")]
    assert len(stepped) == 4 and stepped[0] < 15 and all(b - a == 15 for a, b in itertools.pairwise(stepped))
    ranged = [int(parse_cron("H(0-29) * * * *", hash_key=f"k{i}").fields.split()[0]) for i in range(30)]
    assert all(0 <= v <= 29 for v in ranged)
    ten = [int(v) for v in parse_cron("H(30-59)/10 * * * *", hash_key="b").fields.split()[0].split(",")]
    assert ten[0] in range(30, 40) and ten == list(range(ten[0], 60, 10))
    days = {int(parse_cron("0 0 H * *", hash_key=f"d{i}").fields.split()[2]) for i in range(200)}
    assert days <= set(range(1, 29))  # a bare H in day-of-month fires every month


def test_a_hashed_time_in_the_spring_gap_follows_the_dst_rule_of_the_numbers_it_stands_for() -> None:
    key = next(k for k in (f"s{i}" for i in range(5000)) if parse_cron("H 2 * * *", hash_key=k).fields.startswith("3"))
    minute = int(parse_cron("H 2 * * *", hash_key=key).fields.split()[0])
    assert fires("H 2 * * *", NY, utc(2026, 3, 7), utc(2026, 3, 10), key=key) == [
        utc(2026, 3, 7, 7, minute),
        utc(2026, 3, 8, 7, 0),  # 02:3x does not exist: 03:00 EDT
        utc(2026, 3, 9, 6, minute),
    ]


def test_hashed_expression_leaves_expressions_without_h_as_written() -> None:
    assert hashed_expression("@hourly", "x") == "@hourly"
    assert hashed_expression("0  0 * jul thu", "x") == "0 0 * jul thu"  # names with an h are not hashed
    assert hashed_expression("H 3 * * *", "x") == parse_cron("H 3 * * *", hash_key="x").fields


# ------------------------------------------------------------------------------------------- rejects


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 0 LW * *", "day-of-month 'LW' is not supported; write 31W (the weekday nearest the month's last day)"),
        ("0 0 32W * *", "day-of-month value 32 in '32W' is out of range 1-31; write a day from 1 to 31"),
        (
            "0 0 L-3 * *",
            "day-of-month item 'L-3' is not a form dagctl knows; use L (the last day), 15W (the weekday nearest "
            "the 15th), numbers, ranges, steps and lists",
        ),
        (
            "0 0 * * 1#6",
            "day-of-week '1#6' asks for week 6; the week after '#' must be 1-5 (1#2 is the second Monday of the month)",
        ),
        (
            "0 0 * * 8#1",
            "day-of-week value 8 in '8#1' is out of range 0-7 (0 and 7 are Sunday); write a day-of-week from 0 to 7",
        ),
        ("0 0 * * L", "day-of-week 'L' needs a day; write 5L (the last Friday) or friL"),
        (
            "H,5 0 * * *",
            "minute field 'H,5' is not valid: H must be the whole field; write H, H(0-29), H/15 or H(0-29)/10",
        ),
        (
            "H(0-99) * * * *",
            "minute field 'H(0-99)' has a range outside 0-59; write the range of H within 0-59, going upwards, "
            "e.g. 'H(0-29)'",
        ),
        ("H/0 * * * *", "step in minute field 'H/0' must be a whole number of 1 or more; write e.g. 'H/15'"),
        (
            "R 0 * * *",
            "minute field 'R': R (random) is not supported, since every scheduler process must agree on the fire "
            "times; use H, which picks a stable value per schedule id",
        ),
    ],
)
def test_invalid_extended_forms_get_one_clear_problem(expr: str, message: str) -> None:
    assert cron_problems(expr, "some-id") == [message]
    with pytest.raises(UsageError) as caught:
        parse_cron(expr, hash_key="some-id")
    assert str(caught.value) == f"invalid cron expression {expr!r}: {message}"


def test_h_without_a_schedule_id_says_where_the_id_comes_from() -> None:
    (problem,) = cron_problems("H 3 * * *")
    assert problem.startswith("minute field 'H' is hashed from a schedule id, and none was given; ")
    assert cron_problems("H 3 * * *", "nightly") == []


def test_plain_expressions_never_import_croniter() -> None:
    code = (
        "import sys; from dagctl.schedule.cron import parse_cron, next_fire_times; from datetime import datetime, "
        "timezone; s = parse_cron('*/5 1-3 * jul thu', 'Europe/London'); "
        "next_fire_times(s, datetime(2026, 1, 1, tzinfo=timezone.utc), 50); print('croniter' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------- property test (seeded)
# An independent calendar model of L, W, # and nL, and a minute-by-minute model of cronie's DST rules:
# fire_times must agree with it exactly around daylight-saving changes.


def _nearest_weekday(day: date, n: int) -> int:
    last = calendar.monthrange(day.year, day.month)[1]
    target = min(n, last)
    weekday = date(day.year, day.month, target).weekday()
    if weekday == 5:
        return target - 1 if target > 1 else target + 2
    if weekday == 6:
        return target + 1 if target < last else target - 2
    return target


def _day_item(field: str, item: str) -> Callable[[date], bool]:
    if field == "dom":
        if item == "L":
            return lambda d: d.day == calendar.monthrange(d.year, d.month)[1]
        if item.endswith("W"):
            return lambda d: d.day == _nearest_weekday(d, int(item[:-1]))
        return lambda d: d.day == int(item)
    cron_day = lambda d: d.isoweekday() % 7  # noqa: E731
    if "#" in item:
        dow, week = (int(x) for x in item.split("#"))
        return lambda d: cron_day(d) == dow % 7 and (d.day - 1) // 7 + 1 == week
    if item.endswith("L"):
        dow = int(item[:-1]) % 7
        return lambda d: cron_day(d) == dow and d.day + 7 > calendar.monthrange(d.year, d.month)[1]
    return lambda d: cron_day(d) == int(item) % 7


def _model(expr: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    minute, hour, dom, _month, dow = expr.split()
    minutes = set(range(60)) if minute == "*" else {int(m) for m in minute.split(",")}
    hours = set(range(24)) if hour == "*" else {int(h) for h in hour.split(",")}
    dom_items = [_day_item("dom", i) for i in dom.split(",")] if dom != "*" else []
    dow_items = [_day_item("dow", i) for i in dow.split(",")] if dow != "*" else []
    fixed = minute != "*" and hour != "*"

    def matches(wall: datetime) -> bool:
        d = wall.date()
        d_ok = not dom_items or any(f(d) for f in dom_items)
        w_ok = not dow_items or any(f(d) for f in dow_items)
        day_ok = (d_ok or w_ok) if dom_items and dow_items else (d_ok and w_ok)
        return wall.minute in minutes and wall.hour in hours and day_ok

    zone = ZoneInfo(tz)
    out: list[datetime] = []
    instant = start.replace(second=0, microsecond=0)
    previous = instant.astimezone(zone).replace(tzinfo=None)
    while instant < end:
        instant += timedelta(minutes=1)
        local = instant.astimezone(zone)
        wall = local.replace(tzinfo=None)
        skipped, probe = [], previous + timedelta(minutes=1)
        while probe < wall:
            skipped.append(probe)
            probe += timedelta(minutes=1)
        previous = wall
        due = matches(wall) and not (local.fold == 1 and fixed)
        if (due or (fixed and any(matches(w) for w in skipped))) and start < instant <= end:
            out.append(instant)
    return out


def test_extended_fire_times_match_a_calendar_and_minute_model_around_transitions() -> None:
    rng = random.Random(20261101)
    transitions = {
        NY: [utc(2026, 3, 8, 7), utc(2026, 11, 1, 6), utc(2027, 3, 14, 7), utc(2027, 11, 7, 6)],
        LONDON: [utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)],
        "Australia/Lord_Howe": [utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30)],
    }
    dom_choices = ["*", "L", "1W", "15W", "31W", "1,L", "8,L", "25"]
    dow_choices = ["*", "0#1", "0#2", "0L", "6L", "1#5", "0#1,3", "5L,0#2", "0"]
    checked = 0
    for _ in range(40):
        minute = rng.choice(["*", "0", "30", "0,15,45"])
        hour = rng.choice(["*", "1", "2", "1,2", "0,2,3"])
        expr = f"{minute} {hour} {rng.choice(dom_choices)} * {rng.choice(dow_choices)}"
        tz = rng.choice(list(transitions))
        around = rng.choice(transitions[tz])
        start = around - timedelta(days=rng.randint(0, 8), hours=rng.randint(1, 30))
        end = around + timedelta(hours=rng.randint(1, 30))
        got = fires(expr, tz, start, end)
        assert got == _model(expr, tz, start, end), (expr, tz, start, end)
        checked += len(got)
    assert checked > 300  # the property saw real data


# ------------------------------------------------------------------------------- dagctl schedule next


def _dagctl(*args: str, cwd: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dagctl", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        timeout=60,
    )


def test_schedule_next_shows_extended_forms_and_exits_2_on_invalid_ones(tmp_path) -> None:
    out = _dagctl(
        "schedule", "next", "--cron", "30 2 * * 0#2", "--tz", NY, "--after", "2026-02-01", "-n", "3", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "2026-02-08T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-04-12T02:30:00-04:00",
    ]
    last = _dagctl(
        "schedule", "next", "--cron", "0 3 L * *", "--tz", NY, "--after", "2026-02-01", "-n", "2", cwd=tmp_path
    )
    assert last.stdout.splitlines() == ["2026-02-28T03:00:00-05:00", "2026-03-31T03:00:00-04:00"]
    hashed = _dagctl("schedule", "next", "--cron", "H H * * *", "--hash-id", "nightly", "--json", cwd=tmp_path)
    assert hashed.returncode == 0 and f'"cron": "{parse_cron("H H * * *", hash_key="nightly").fields}"' in hashed.stdout
    for bad in (["--cron", "0 0 * * 1#6"], ["--cron", "0 0 LW * *"], ["--cron", "H H * * *"]):
        result = _dagctl("schedule", "next", *bad, cwd=tmp_path)
        assert result.returncode == 2, result
        assert result.stderr.startswith("dagctl: error: invalid cron expression"), result.stderr


def test_a_schedule_file_hashes_h_with_its_id_and_lists_what_was_written(tmp_path) -> None:
    (tmp_path / "dag.yaml").write_text("name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "s.yaml").write_text(
        '- {id: nightly, cron: "H H * * *", dag: ../dag.yaml}\n'
        '- {id: month_end, cron: "0 3 L * *", timezone: America/New_York, dag: ../dag.yaml}\n'
        '- {id: bad, cron: "0 0 * * 1#9", dag: ../dag.yaml}\n'
    )
    listed = _dagctl("schedule", "list", "--dir", str(folder), cwd=tmp_path)
    assert listed.returncode == 2 and "schedule 'bad': cron: day-of-week '1#9' asks for week 9" in listed.stderr
    (folder / "s.yaml").write_text("\n".join((folder / "s.yaml").read_text().splitlines()[:2]) + "\n")
    data = _dagctl("schedule", "list", "--dir", str(folder), "--json", cwd=tmp_path)
    assert data.returncode == 0, data.stderr
    nightly, month_end = json.loads(data.stdout)
    assert nightly["cron"] == "H H * * *" and nightly["fields"] == parse_cron("H H * * *", hash_key="nightly").fields
    assert month_end["fields"] == "0 3 L * *" and month_end["next_fire"][11:19] == "03:00:00"
    nxt = _dagctl("schedule", "next", "nightly", "--dir", str(folder), "--after", "2026-01-01T00:00:00Z", cwd=tmp_path)
    minute, hour = (int(v) for v in nightly["fields"].split()[:2])
    assert nxt.stdout.splitlines()[0] == f"2026-01-01T{hour:02d}:{minute:02d}:00+00:00"
