"""Cron parsing, validation and fire instants, DST rules included (dagctl.schedule.cron)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dagctl.errors import DagctlError, UsageError
from dagctl.schedule.cron import (
    CronSpec,
    cron_problems,
    fire_times,
    next_fire_times,
    parse_cron,
    rare_fires,
    timezone_problem,
    wall_to_utc,
)

UTC = timezone.utc
NY = "America/New_York"
LONDON = "Europe/London"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fires(expr: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    return fire_times(parse_cron(expr, tz), start, end)


# ------------------------------------------------------------------------------------------- syntax


def test_vixie_or_rule_fires_on_the_first_and_on_mondays_when_both_day_fields_are_restricted() -> None:
    got = fires("0 0 1 * 1", "UTC", utc(2026, 1, 1), utc(2026, 3, 3))
    assert got == [
        utc(2026, 1, 5), utc(2026, 1, 12), utc(2026, 1, 19), utc(2026, 1, 26),
        utc(2026, 2, 1), utc(2026, 2, 2), utc(2026, 2, 9), utc(2026, 2, 16), utc(2026, 2, 23),
        utc(2026, 3, 1), utc(2026, 3, 2),
    ]  # fmt: skip


def test_day_fields_are_anded_when_one_starts_with_a_star_even_with_a_step() -> None:
    # Vixie quirk: '*/2' counts as a star, so odd days AND Mondays; '1-31/2' is restricted, so OR.
    assert fires("0 0 */2 * 1", "UTC", utc(2026, 2, 1), utc(2026, 3, 1)) == [
        utc(2026, 2, 9),
        utc(2026, 2, 23),
    ]
    either = fires("0 0 1-31/2 * 1", "UTC", utc(2026, 2, 1), utc(2026, 3, 1))
    assert utc(2026, 2, 2) in either and utc(2026, 2, 3) in either and utc(2026, 2, 4) not in either


def test_month_and_weekday_names_are_case_insensitive_and_seven_is_sunday() -> None:
    named = fires("0 9 * JAN-feb Mon-FRI", "UTC", utc(2026, 1, 30), utc(2026, 2, 4))
    numeric = fires("0 9 * 1-2 1-5", "UTC", utc(2026, 1, 30), utc(2026, 2, 4))
    assert named == numeric == [utc(2026, 1, 30, 9), utc(2026, 2, 2, 9), utc(2026, 2, 3, 9)]
    sundays = [utc(2026, 2, 1), utc(2026, 2, 8)]
    assert fires("0 0 * * 7", "UTC", utc(2026, 1, 31), utc(2026, 2, 9)) == sundays
    assert fires("0 0 * * sun", "UTC", utc(2026, 1, 31), utc(2026, 2, 9)) == sundays
    assert fires("0 0 * * 5-7", "UTC", utc(2026, 2, 5), utc(2026, 2, 9)) == [
        utc(2026, 2, 6),
        utc(2026, 2, 7),
        utc(2026, 2, 8),
    ]


def test_ranges_steps_and_lists_expand_like_vixie_cron() -> None:
    got = fires("5-20/5,59 10 * * *", "UTC", utc(2026, 1, 1), utc(2026, 1, 2))
    assert [t.minute for t in got] == [5, 10, 15, 20, 59]
    assert fires("0 2,21-21 * * *", "UTC", utc(2026, 1, 1), utc(2026, 1, 2)) == [
        utc(2026, 1, 1, 2),
        utc(2026, 1, 1, 21),
    ]  # croniter 7.0 expands '2,21-21' to '*'; we do not


@pytest.mark.parametrize(
    ("macro", "fields", "fixed"),
    [
        ("@hourly", "0 * * * *", False),
        ("@daily", "0 0 * * *", True),
        ("@midnight", "0 0 * * *", True),
        ("@weekly", "0 0 * * 0", True),
        ("@monthly", "0 0 1 * *", True),
        ("@yearly", "0 0 1 1 *", True),
        ("@annually", "0 0 1 1 *", True),
        ("@DAILY", "0 0 * * *", True),
    ],
)
def test_macros_expand_to_their_five_fields(macro: str, fields: str, fixed: bool) -> None:
    spec = parse_cron(macro)
    assert spec.fields == fields
    assert spec.fixed_time is fixed
    assert fires(macro, "UTC", utc(2025, 12, 1), utc(2027, 1, 2)) == fires(
        fields, "UTC", utc(2025, 12, 1), utc(2027, 1, 2)
    )


@pytest.mark.parametrize(
    ("expr", "fixed"),
    [
        ("30 2 * * *", True),
        ("0,30 1-3 * * *", True),
        ("*/15 * * * *", False),
        ("0 * * * *", False),
        ("* 1 * * *", False),
        ("0 */2 * * *", False),
    ],
)
def test_fixed_time_means_neither_minute_nor_hour_starts_with_a_star(expr: str, fixed: bool) -> None:
    assert parse_cron(expr).fixed_time is fixed


def test_parse_cron_normalises_whitespace_and_specs_compare_by_value() -> None:
    spec = parse_cron("  0   9 * *  1-5 ", NY)
    assert spec == CronSpec("0 9 * * 1-5", NY)
    assert spec.expr == "0 9 * * 1-5" and spec.timezone == NY and spec.zone == ZoneInfo(NY)


# ------------------------------------------------------------------------------------------ rejects


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            "0 0 * * * *",
            "cron expression '0 0 * * * *' has 6 fields, which is ambiguous (seconds or year?); "
            "use 5 fields: minute hour day-of-month month day-of-week",
        ),
        (
            "* * *",
            "cron expression '* * *' has 3 fields; use 5 fields: minute hour day-of-month month day-of-week",
        ),
        (
            "",
            "cron expression is empty; use 5 fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * 1-5'",
        ),
        (
            "@reboot",
            "'@reboot' is not supported: dagctl has no boot event; start the job from a systemd unit "
            "(or your init system) instead",
        ),
        (
            "@fortnightly",
            "unknown cron macro '@fortnightly'; use one of @hourly, @daily, @midnight, @weekly, "
            "@monthly, @yearly, @annually, or 5 fields: minute hour day-of-month month day-of-week",
        ),
        (
            "0 0 30 2 *",
            "day-of-month '30' never occurs in February, so the schedule would never fire; pick a day "
            "that exists (February has at most 29 days; April, June, September and November 30)",
        ),
        (
            "0 0 31 4 *",
            "day-of-month '31' never occurs in April, so the schedule would never fire; pick a day "
            "that exists (February has at most 29 days; April, June, September and November 30)",
        ),
        (
            "0 0 31 apr,jun *",
            "day-of-month '31' never occurs in April or June, so the schedule would never fire; "
            "pick a day that exists (February has at most 29 days; April, June, September and November 30)",
        ),
        ("60 * * * *", "minute value 60 is out of range 0-59; write a minute from 0 to 59"),
        ("0 24 * * *", "hour value 24 is out of range 0-23; write an hour from 0 to 23"),
        ("0 0 0 * *", "day-of-month value 0 is out of range 1-31; write a day-of-month from 1 to 31"),
        ("0 0 1 13 *", "month value 13 is out of range 1-12; write a month from 1 to 12"),
        (
            "0 0 * * 8",
            "day-of-week value 8 is out of range 0-7 (0 and 7 are Sunday); write a day-of-week from 0 to 7",
        ),
        (
            "x * * * *",
            "minute field 'x' is not valid: 'x' is not a number (0-59); use numbers, names, "
            "ranges (1-5), steps (*/15, 1-30/5) and lists (1,15)",
        ),
        (
            "0 0 * * 1W",
            "day-of-week field '1W' is not valid: '1W' is not a number (0-7) or a name (sun-sat); "
            "use numbers, names, ranges (1-5), steps (*/15, 1-30/5) and lists (1,15)",
        ),
        ("0 0 * * monday", "day-of-week name 'monday' is not recognised; use the three-letter name 'mon'"),
        (
            "*/0 * * * *",
            "step '0' in minute field '*/0' must be a whole number of 1 or more; write e.g. '*/2' (every second value)",
        ),
        ("5/15 * * * *", "step '5/15' in minute field needs a range; write '5-59/15' or '*/15'"),
        ("0 22-2 * * *", "range '22-2' in hour field goes backwards; split it into a list, e.g. '22-23,0-2'"),
        (
            "0 0 * * fri-mon",
            "range 'fri-mon' in day-of-week field goes backwards; split it into a list, e.g. 'fri-sat,sun-mon'",
        ),
        ("0 0 * * mon/2", "step 'mon/2' in day-of-week field needs a range; write 'mon-sat/2' or '*/2'"),
        ("1,,2 * * * *", "minute field '1,,2' has an empty list item; separate values with single commas"),
    ],
)
def test_invalid_cron_expressions_get_one_clear_problem(expr: str, message: str) -> None:
    assert cron_problems(expr) == [message]
    with pytest.raises(UsageError) as caught:
        parse_cron(expr)
    assert str(caught.value) == f"invalid cron expression {' '.join(expr.split())!r}: {message}"
    assert "\n" not in str(caught.value)


def test_every_bad_field_is_reported() -> None:
    assert cron_problems("60 24 * * *") == [
        "minute value 60 is out of range 0-59; write a minute from 0 to 59",
        "hour value 24 is out of range 0-23; write an hour from 0 to 23",
    ]


@pytest.mark.parametrize("expr", ["0 0 29 2 *", "0 0 30 2 1", "0 0 31 * *", "0 0 31 1-4 *", "*/5 * * * *", "@daily"])
def test_days_that_exist_in_some_listed_month_are_valid(expr: str) -> None:
    assert cron_problems(expr) == []


def test_unknown_timezone_gets_a_did_you_mean() -> None:
    assert (
        timezone_problem("America/New_Yrok") == "unknown timezone 'America/New_Yrok'; did you mean 'America/New_York'?"
    )
    assert timezone_problem("europe/london") == (
        "unknown timezone 'europe/london'; did you mean 'Europe/London'? (names are case-sensitive)"
    )
    assert timezone_problem("Mars/Olympus_Mons") == (
        "unknown timezone 'Mars/Olympus_Mons'; use an IANA name such as 'UTC', 'Europe/London' or 'America/New_York'"
    )
    assert timezone_problem(NY) is None and timezone_problem("UTC") is None
    with pytest.raises(UsageError, match="did you mean 'America/New_York'"):
        parse_cron("0 9 * * *", "America/New_Yrok")


def test_usage_errors_belong_to_the_one_error_root() -> None:
    with pytest.raises(DagctlError):
        CronSpec("61 * * * *")


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(UsageError, match="start_utc must be a timezone-aware datetime"):
        fire_times(parse_cron("* * * * *"), datetime(2026, 1, 1), utc(2026, 1, 2))


# ------------------------------------------------------------------------------ daylight saving time
# America/New_York 2026: 02:00 EST -> 03:00 EDT on Mar 8 (07:00Z); 02:00 EDT -> 01:00 EST on Nov 1 (06:00Z).
# Europe/London 2026: 01:00 GMT -> 02:00 BST on Mar 29 (01:00Z); 02:00 BST -> 01:00 GMT on Oct 25 (01:00Z).


def test_new_york_fixed_time_job_in_the_spring_gap_fires_once_right_after_the_jump() -> None:
    assert fires("30 2 * * *", NY, utc(2026, 3, 7), utc(2026, 3, 10)) == [
        utc(2026, 3, 7, 7, 30),  # 02:30 EST
        utc(2026, 3, 8, 7, 0),  # 02:30 does not exist: 03:00 EDT
        utc(2026, 3, 9, 6, 30),  # 02:30 EDT
    ]


def test_new_york_several_gap_minutes_and_the_real_three_oclock_coalesce_into_one_fire() -> None:
    assert fires("0,15,30 2,3 * * *", NY, utc(2026, 3, 8, 5), utc(2026, 3, 8, 8)) == [
        utc(2026, 3, 8, 7, 0),
        utc(2026, 3, 8, 7, 15),
        utc(2026, 3, 8, 7, 30),
    ]


def test_new_york_wildcard_jobs_have_no_slots_in_the_missing_hour() -> None:
    assert fires("*/15 * * * *", NY, utc(2026, 3, 8, 6), utc(2026, 3, 8, 7, 30)) == [
        utc(2026, 3, 8, 6, 15), utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 6, 45),  # 01:15-01:45 EST
        utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 15), utc(2026, 3, 8, 7, 30),  # 03:00-03:30 EDT
    ]  # fmt: skip
    assert fires("*/30 2 * * *", NY, utc(2026, 3, 8), utc(2026, 3, 9)) == []  # minute '*': a wildcard job


def test_new_york_fixed_time_job_in_the_repeated_hour_fires_once_on_the_first_pass() -> None:
    assert fires("30 1 * * *", NY, utc(2026, 10, 31), utc(2026, 11, 3)) == [
        utc(2026, 10, 31, 5, 30),  # 01:30 EDT
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT, first pass; not again at 01:30 EST (06:30Z)
        utc(2026, 11, 2, 6, 30),  # 01:30 EST
    ]


def test_new_york_wildcard_job_fires_in_both_passes_of_the_repeated_hour() -> None:
    got = fires("*/15 * * * *", NY, utc(2026, 11, 1, 4, 59), utc(2026, 11, 1, 7))
    assert got == [
        utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 15), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 5, 45),
        utc(2026, 11, 1, 6, 0), utc(2026, 11, 1, 6, 15), utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 6, 45),
        utc(2026, 11, 1, 7, 0),  # 02:00 EST
    ]  # fmt: skip
    hourly = fires("@hourly", NY, utc(2026, 11, 1, 3, 30), utc(2026, 11, 1, 7))
    assert hourly == [utc(2026, 11, 1, 4), utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 7)]


def test_london_fixed_time_job_in_the_spring_gap_fires_at_two_bst() -> None:
    assert fires("30 1 * * *", LONDON, utc(2026, 3, 28), utc(2026, 3, 31)) == [
        utc(2026, 3, 28, 1, 30),  # 01:30 GMT
        utc(2026, 3, 29, 1, 0),  # 01:30 does not exist: 02:00 BST
        utc(2026, 3, 30, 0, 30),  # 01:30 BST
    ]


def test_london_wildcard_job_skips_the_missing_hour() -> None:
    assert fires("*/20 * * * *", LONDON, utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30)) == [
        utc(2026, 3, 29, 0, 40),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 29, 1, 20),  # 00:40 GMT, 02:00, 02:20 BST
    ]


def test_london_repeated_hour_fixed_once_wildcard_twice() -> None:
    assert fires("30 1 * * *", LONDON, utc(2026, 10, 24), utc(2026, 10, 27)) == [
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]
    assert fires("*/30 * * * *", LONDON, utc(2026, 10, 24, 23, 45), utc(2026, 10, 25, 2)) == [
        utc(2026, 10, 25, 0), utc(2026, 10, 25, 0, 30),  # 01:00, 01:30 BST
        utc(2026, 10, 25, 1), utc(2026, 10, 25, 1, 30),  # 01:00, 01:30 GMT
        utc(2026, 10, 25, 2),  # 02:00 GMT
    ]  # fmt: skip


def test_utc_has_no_daylight_saving_surprises() -> None:
    assert fires("30 2 * * *", "UTC", utc(2026, 3, 7, 12), utc(2026, 3, 9)) == [utc(2026, 3, 8, 2, 30)]
    assert len(fires("*/15 * * * *", "UTC", utc(2026, 11, 1), utc(2026, 11, 1, 3))) == 12


# ------------------------------------------------------------------------------- ranges and horizons


def test_window_is_open_at_the_start_and_closed_at_the_end() -> None:
    spec = parse_cron("0 * * * *")
    assert fire_times(spec, utc(2026, 1, 1, 1), utc(2026, 1, 1, 3)) == [
        utc(2026, 1, 1, 2),
        utc(2026, 1, 1, 3),
    ]
    assert fire_times(spec, utc(2026, 1, 1, 3), utc(2026, 1, 1, 1)) == []


def test_limit_keeps_the_earliest_fires() -> None:
    spec = parse_cron("* * * * *", NY)
    got = fire_times(spec, utc(2026, 1, 1), utc(2030, 1, 1), limit=3)
    assert got == [utc(2026, 1, 1, 0, 1), utc(2026, 1, 1, 0, 2), utc(2026, 1, 1, 0, 3)]
    assert fire_times(spec, utc(2026, 1, 1), utc(2030, 1, 1), limit=0) == []
    with pytest.raises(UsageError, match="limit must be a whole number"):
        fire_times(spec, utc(2026, 1, 1), utc(2030, 1, 1), limit=-1)


def test_next_fire_times_reaches_far_into_the_future_for_leap_days() -> None:
    got = next_fire_times(parse_cron("0 0 29 2 *", LONDON), utc(2026, 6, 1), 3)
    assert got == [utc(2028, 2, 29), utc(2032, 2, 29), utc(2036, 2, 29)]
    # Feb 29 AND Sunday ('*/7' is a star field, so the day fields are ANDed): years apart
    assert next_fire_times(parse_cron("0 12 29 2 */7"), utc(2026, 1, 1), 2) == [
        utc(2032, 2, 29, 12),
        utc(2060, 2, 29, 12),
    ]


def test_a_long_range_is_the_concatenation_of_its_pieces() -> None:
    spec = parse_cron("17 */5 * * 1,3,5", NY)
    whole = fire_times(spec, utc(2025, 1, 1), utc(2027, 1, 1))
    pieces = fire_times(spec, utc(2025, 1, 1), utc(2026, 3, 8, 7)) + fire_times(
        spec, utc(2026, 3, 8, 7), utc(2027, 1, 1)
    )
    assert whole == pieces
    assert len(whole) == 2 * 52 * 3 * 5 + 5  # 2025 and 2026 have 157 and 156 Mon/Wed/Fri days


def test_results_are_aware_utc_even_for_non_utc_inputs() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    got = next_fire_times(parse_cron("0 9 * * *", "Asia/Tokyo"), datetime(2026, 1, 1, 10, tzinfo=tokyo), 1)
    assert got == [utc(2026, 1, 2, 0)] and got[0].tzinfo is UTC


# ---------------------------------------------------------------------------- property test (seeded)
# A brute-force model of cronie walks every UTC minute; fire_times must agree with it exactly.


def _model(expr: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    spec, zone = parse_cron(expr, tz), ZoneInfo(tz)
    matches = _matcher(spec.fields)
    out: list[datetime] = []
    instant = start - timedelta(seconds=start.second, microseconds=start.microsecond)
    previous = instant.astimezone(zone).replace(tzinfo=None)
    while instant < end:
        instant += timedelta(minutes=1)
        local = instant.astimezone(zone)
        wall = local.replace(tzinfo=None)
        skipped = []
        probe = previous + timedelta(minutes=1)
        while probe < wall:  # wall minutes jumped over by a spring-forward transition
            skipped.append(probe)
            probe += timedelta(minutes=1)
        previous = wall
        due = matches(wall) and not (local.fold == 1 and spec.fixed_time)
        shifted = spec.fixed_time and any(matches(w) for w in skipped)
        if (due or shifted) and start < instant <= end:
            out.append(instant)
    return out


def _matcher(fields: str) -> Callable[[datetime], bool]:
    minute, hour, dom, month, dow = fields.split()

    def expand(text: str, low: int, high: int) -> set[int]:
        values: set[int] = set()
        for item in text.split(","):
            base, _, step = item.partition("/")
            a, _, b = base.partition("-")
            first, last = (low, high) if base == "*" else (int(a), int(b or a))
            values |= set(range(first, last + 1, int(step or 1)))
        return {0 if v == 7 else v for v in values} if high == 7 else values

    sets = [
        expand(minute, 0, 59),
        expand(hour, 0, 23),
        expand(dom, 1, 31),
        expand(month, 1, 12),
        expand(dow, 0, 7),
    ]
    either = not dom.startswith("*") and not dow.startswith("*")

    def matches(wall: datetime) -> bool:
        d_ok, w_ok = wall.day in sets[2], (wall.isoweekday() % 7) in sets[4]
        day_ok = (d_ok or w_ok) if either else (d_ok and w_ok)
        return wall.minute in sets[0] and wall.hour in sets[1] and wall.month in sets[3] and day_ok

    return matches


def _random_field(rng: random.Random, low: int, high: int) -> str:
    roll = rng.random()
    if roll < 0.35:
        return "*"
    if roll < 0.5:
        return f"*/{rng.randint(1, 12)}"
    items = []
    for _ in range(rng.randint(1, 2)):
        a, b = sorted((rng.randint(low, high), rng.randint(low, high)))
        items.append(rng.choice([str(a), f"{a}-{b}", f"{a}-{b}/{rng.randint(1, 4)}"]))
    return ",".join(items)


def test_fire_times_match_a_minute_by_minute_model_of_cronie_around_transitions() -> None:
    rng = random.Random(20260308)
    transitions = {
        NY: [utc(2026, 3, 8, 7), utc(2026, 11, 1, 6)],
        LONDON: [utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)],
        "Australia/Lord_Howe": [utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30)],  # 30-minute shifts
        "UTC": [utc(2026, 6, 1)],
    }
    checked = 0
    for _ in range(60):
        expr = " ".join(
            [
                _random_field(rng, 0, 59),
                rng.choice(["*", "0-3", "1", "2", "1,2", "*/2", "0,2-4"]),
                _random_field(rng, 1, 28),
                "*",
                _random_field(rng, 0, 7),
            ]
        )
        tz = rng.choice(list(transitions))
        around = rng.choice(transitions[tz])
        start = around - timedelta(hours=rng.randint(1, 30), seconds=rng.randint(0, 59))
        end = around + timedelta(hours=rng.randint(1, 30), seconds=rng.randint(0, 59))
        got = fires(expr, tz, start, end)
        assert got == _model(expr, tz, start, end), (expr, tz, start, end)
        assert all(a < b for a, b in itertools.pairwise(got))  # strictly ascending, no duplicates
        zone, matches, spec = ZoneInfo(tz), _matcher(parse_cron(expr).fields), parse_cron(expr, tz)
        for instant in got:
            wall = instant.astimezone(zone).replace(tzinfo=None)
            just_after_jump = (instant - timedelta(minutes=1)).astimezone(zone).utcoffset() != (
                instant.astimezone(zone).utcoffset()
            )
            assert matches(wall) or (spec.fixed_time and just_after_jump), (expr, tz, instant)
        checked += len(got)
    assert checked > 1000  # the property saw real data


# ------------------------------------------------------------------------------------- rarely firing


@pytest.mark.parametrize(
    ("expr", "zone", "warning"),
    [
        ("0 0 29 2 *", "UTC", "next on 2028-02-29 00:00 and 2032-02-29 00:00 (UTC)"),
        # a fifth Friday of February: only in a leap year whose 1 February is a Friday
        ("0 0 * 2 5#5", "UTC", "next on 2036-02-29 00:00 and 2064-02-29 00:00 (UTC)"),
        ("30 9 29 2 *", "Europe/Berlin", "next on 2028-02-29 09:30 and 2032-02-29 09:30 (Europe/Berlin)"),
    ],
)
def test_a_schedule_that_fires_less_than_once_a_year_gets_a_warning(expr, zone, warning):
    note = rare_fires(parse_cron(expr, zone), utc(2026, 12, 7))
    assert note == f"cron {expr!r} fires less than once a year: {warning}"


@pytest.mark.parametrize(
    "expr",
    ["0 0 31 12 *", "0 0 1 1 *", "@yearly", "0 0 29 2 1", "0 0 * 2 5#4", "0 0 L 2 *", "*/5 * * * *", "0 0 30 2 1"],
)
def test_a_schedule_that_fires_every_year_gets_no_warning(expr):
    for zone in ("UTC", "America/New_York", "Pacific/Apia"):
        for now in (utc(2026, 1, 1), utc(2026, 12, 31, 23, 59), utc(2027, 3, 1)):
            assert rare_fires(parse_cron(expr, zone), now) is None, (expr, zone, now)


def test_a_first_fire_more_than_a_year_away_is_rare_even_when_the_next_gap_is_not():
    # 29 February 2028 then 2032 ... but from 1 March 2028 the wait alone is four years
    assert "next on 2032-02-29 00:00" in (rare_fires(parse_cron("0 0 29 2 *"), utc(2028, 3, 1)) or "")


@pytest.mark.parametrize(
    ("zone", "wall", "first", "last"),
    [
        (NY, datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 7), utc(2026, 3, 8, 7)),  # skipped: the jump, 03:00 EDT
        (NY, datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)),  # EDT, then EST
        (NY, datetime(2026, 7, 1, 9, 0), utc(2026, 7, 1, 13), utc(2026, 7, 1, 13)),
        ("Australia/Lord_Howe", datetime(2026, 10, 4, 2, 15), utc(2026, 10, 3, 15, 30), utc(2026, 10, 3, 15, 30)),
        ("Australia/Lord_Howe", datetime(2026, 4, 5, 1, 45), utc(2026, 4, 4, 14, 45), utc(2026, 4, 4, 15, 15)),
        ("UTC", datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 2, 30), utc(2026, 3, 8, 2, 30)),
    ],
)
def test_a_local_wall_time_maps_to_the_jump_when_skipped_and_to_either_pass_when_repeated(zone, wall, first, last):
    assert wall_to_utc(wall, ZoneInfo(zone)) == first
    assert wall_to_utc(wall, ZoneInfo(zone), latest=True) == last
