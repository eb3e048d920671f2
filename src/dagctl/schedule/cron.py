"""Cron expressions: parse, validate, and list fire instants with cronie's daylight-saving rules.

Pure: no IO, no wall clock, no threads. Times go in and come out as aware UTC; a schedule's
timezone is used only to match the cron fields against local wall-clock time.

Syntax is Vixie cron's (as in cronie on RHEL/Fedora): five fields ``minute hour day-of-month month
day-of-week``; numbers, ``*``, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists ``a,b``; names
``jan``-``dec`` and ``sun``-``sat`` (case-insensitive); 0 and 7 are both Sunday; the macros
``@hourly @daily @midnight @weekly @monthly @yearly @annually``. When both day fields are restricted
(neither starts with ``*``) a day matches if EITHER matches; otherwise both must match.

Daylight saving time (see docs/scheduling.md): a job is *wildcard* when its minute or hour field starts
with ``*`` and *fixed-time* otherwise. In a spring-forward gap a fixed-time job whose wall time does not
exist fires once at the first instant after the jump; a wildcard job has no slots there. In a fall-back
repeat a fixed-time job fires once (first pass, ``fold=0``); a wildcard job fires in both passes.

We match fields ourselves rather than iterate with croniter: croniter fires fixed times twice in a
repeated hour, and owning the (small) matcher keeps the DST rule exact and the error messages ours.

Extended forms (:mod:`dagctl.schedule.cronext`): ``L`` and ``15W`` in day-of-month, ``5L`` and ``1#2`` in
day-of-week, and hashed ``H`` in any field (``parse_cron(..., hash_key=schedule_id)``). croniter reads them,
but only as calendar facts: an ``H`` field becomes plain numbers when the spec is compiled, and an L/W/#
item becomes the set of days it names in each month. The wall-time walk and the DST rules above stay
dagctl's, and expressions without these forms never import croniter (the 5-field fast path). A field using
them counts as restricted: ``L`` or ``1#2`` is never a star for the day rule, and a hashed minute and hour
make a fixed-time job.
"""

from __future__ import annotations

import difflib
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import MAXYEAR, date, datetime, timedelta, timezone
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

from dagctl.errors import UsageError

from . import cronext

__all__ = [
    "CronSpec",
    "cron_problems",
    "fire_times",
    "hashed_expression",
    "latest_fires",
    "next_fire_times",
    "parse_cron",
    "rare_fires",
    "timezone_problem",
]

UTC = timezone.utc
FIELDS_HINT = "use 5 fields: minute hour day-of-month month day-of-week"
MACROS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTH_TITLES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February 29 exists in leap years

_ONE_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
# UTC offsets in tzdata lie within -12h..+14h, so a wall time is never more than 26h from its instant's
# neighbours' wall times. Short windows sample the real offsets instead (transitions are >= 1h apart).
_OFFSET_SPREAD = timedelta(hours=26)
_SAMPLED_WINDOW = timedelta(days=2)
_FIRST_CHUNK = _HOUR
_MAX_CHUNK = timedelta(days=366)
_NEXT_HORIZON = timedelta(days=400 * 366)  # one Gregorian cycle and a bit: every valid spec fires within it
_MIN_UTC = datetime(1, 1, 3, tzinfo=UTC)
_MAX_UTC = datetime(MAXYEAR, 12, 28, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day-of-week", 0, 7, _DOW_NAMES),
)


class _Bad(Exception):
    """One problem in one field; its message is user-facing."""


def _value(token: str, fd: _Field, text: str) -> int:
    if token.isascii() and token.isdigit():
        number = int(token)
        if not fd.low <= number <= fd.high:
            extra = " (0 and 7 are Sunday)" if fd.name == "day-of-week" else ""
            raise _Bad(
                f"{fd.name} value {number} is out of range {fd.low}-{fd.high}{extra}; "
                f"write {'an' if fd.name == 'hour' else 'a'} {fd.name} from {fd.low} to {fd.high}"
            )
        return number
    lowered = token.lower()
    if fd.names and lowered in fd.names:
        return fd.names.index(lowered) + fd.low
    if fd.names and lowered[:3] in fd.names and lowered.isalpha():
        raise _Bad(f"{fd.name} name {token!r} is not recognised; use the three-letter name {lowered[:3]!r}")
    names = f" or a name ({fd.names[0]}-{fd.names[-1]})" if fd.names else ""
    raise _Bad(
        f"{fd.name} field {text!r} is not valid: {token!r} is not a number ({fd.low}-{fd.high}){names}; "
        "use numbers, names, ranges (1-5), steps (*/15, 1-30/5) and lists (1,15)"
    )


def _parse_field(text: str, fd: _Field, index: int) -> tuple[frozenset[int], tuple[str, ...]]:
    """(plain values, extended L/W/# items in croniter's spelling) of one field."""
    values: set[int] = set()
    specials: list[str] = []
    for item in text.split(","):
        if not item:
            raise _Bad(f"{fd.name} field {text!r} has an empty list item; separate values with single commas")
        try:
            special = cronext.special_item(index, item)
        except cronext.ExtendedProblem as exc:
            raise _Bad(str(exc)) from None
        if special is not None:
            specials.append(special)
            continue
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
                raise _Bad(
                    f"step {step_text!r} in {fd.name} field {text!r} must be a whole number of 1 or more; "
                    "write e.g. '*/2' (every second value)"
                )
            step = int(step_text)
        if base == "*":
            first, last = fd.low, fd.high
        else:
            start, dash, end = base.partition("-")
            first = _value(start, fd, text)
            last = _value(end, fd, text) if dash else first
            lowest, highest = (fd.names[0], fd.names[-1]) if fd.names and start.isalpha() else (fd.low, fd.high)
            if first > last:
                raise _Bad(
                    f"range {base!r} in {fd.name} field goes backwards; "
                    f"split it into a list, e.g. '{start}-{highest},{lowest}-{end}'"
                )
            if slash and not dash:
                raise _Bad(
                    f"step {item!r} in {fd.name} field needs a range; write '{start}-{highest}/{step}' or '*/{step}'"
                )
        values.update(range(first, last + 1, step))
    if fd.name == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values), tuple(dict.fromkeys(specials))


def _impossible_date(
    fields: list[str], doms: frozenset[int], months: frozenset[int], dom_specials: tuple[str, ...]
) -> str | None:
    """The day-of-month never exists in any listed month (only checked when the AND rule applies)."""
    if fields[2].startswith("*") or not fields[4].startswith("*") or dom_specials:
        return None  # unrestricted, OR'ed with a restricted day-of-week, or L/W (every month has one): fires
    if any(day <= _MAX_DAYS[month - 1] for month in months for day in doms):
        return None
    names = [_MONTH_TITLES[m - 1] for m in sorted(months)]
    where = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return (
        f"day-of-month {fields[2]!r} never occurs in {where}, so the schedule would never fire; "
        "pick a day that exists (February has at most 29 days; April, June, September and November 30)"
    )


def _split(expr: str, hash_key: str | None = None) -> tuple[list[str], list[str]]:
    """(fields, problems) for an expression, macros expanded and hashed ``H`` fields resolved."""
    fields, problems = _split_text(expr)
    if problems:
        return fields, problems
    for index, text in enumerate(fields):
        try:
            hashed = cronext.hash_field(index, text, hash_key)
        except cronext.ExtendedProblem as exc:
            problems.append(str(exc))
            continue
        if hashed is not None:
            fields[index] = hashed
    return (fields, []) if not problems else ([], problems)


def _split_text(expr: str) -> tuple[list[str], list[str]]:
    if not isinstance(expr, str):
        return [], [f"cron expression must be a string, got {type(expr).__name__}; {FIELDS_HINT}"]
    text = " ".join(expr.split())
    if not text:
        return [], [f"cron expression is empty; {FIELDS_HINT}, e.g. '0 9 * * 1-5'"]
    if text.startswith("@"):
        macro = text.lower()
        if macro == "@reboot":
            return [], [
                "'@reboot' is not supported: dagctl has no boot event; "
                "start the job from a systemd unit (or your init system) instead"
            ]
        if macro not in MACROS:
            return [], [
                f"unknown cron macro {text!r}; use one of {', '.join(MACROS)}, or 5 fields: "
                "minute hour day-of-month month day-of-week"
            ]
        return MACROS[macro].split(), []
    fields = text.split()
    if len(fields) == 6:
        return [], [f"cron expression {text!r} has 6 fields, which is ambiguous (seconds or year?); {FIELDS_HINT}"]
    if len(fields) != 5:
        plural = "s" if len(fields) != 1 else ""
        return [], [f"cron expression {text!r} has {len(fields)} field{plural}; {FIELDS_HINT}"]
    return fields, []


@dataclass(frozen=True)
class _Compiled:
    fields: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    doms: frozenset[int]
    months: frozenset[int]
    dows: frozenset[int]
    day_or: bool  # Vixie: both day fields restricted (neither starts with '*') -> OR, else AND
    fixed_time: bool  # neither minute nor hour starts with '*'
    dom_specials: tuple[str, ...] = ()  # L / 15W items (croniter spelling), matched per month
    dow_specials: tuple[str, ...] = ()  # 1#2 / L5 items

    def day_matches(self, day: date) -> bool:
        dom = day.day in self.doms
        if not dom and self.dom_specials:
            dom = day.day in cronext.special_days(cronext.DOM, self.dom_specials, day.year, day.month)
        dow = (day.weekday() + 1) % 7 in self.dows  # Python Monday=0 -> cron Monday=1, Sunday=0
        if not dow and self.dow_specials:
            dow = day.day in cronext.special_days(cronext.DOW, self.dow_specials, day.year, day.month)
        return (dom or dow) if self.day_or else (dom and dow)


def _compile_fields(expr: str, hash_key: str | None = None) -> tuple[_Compiled | None, list[str]]:
    fields, problems = _split(expr, hash_key)
    if problems:
        return None, problems
    sets: list[frozenset[int]] = []
    specials: list[tuple[str, ...]] = []
    for index, (fd, text) in enumerate(zip(_FIELDS, fields, strict=True)):
        try:
            values, extended = _parse_field(text, fd, index)
        except _Bad as exc:
            problems.append(str(exc))
            continue
        sets.append(values)
        specials.append(extended)
    if problems:
        return None, problems
    minutes, hours, doms, months, dows = sets
    impossible = _impossible_date(fields, doms, months, specials[2])
    if impossible:
        return None, [impossible]
    compiled = _Compiled(
        fields=" ".join(fields),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        doms=doms,
        months=months,
        dows=dows,
        day_or=not fields[2].startswith("*") and not fields[4].startswith("*"),
        fixed_time=not fields[0].startswith("*") and not fields[1].startswith("*"),
        dom_specials=specials[2],
        dow_specials=specials[4],
    )
    return compiled, []


@lru_cache(maxsize=4096)
def _compile(expr: str, hash_key: str | None = None) -> _Compiled:
    compiled, problems = _compile_fields(expr, hash_key)
    if compiled is None:
        raise UsageError(f"invalid cron expression {expr!r}: " + "; ".join(problems))
    return compiled


def cron_problems(expr: str, hash_key: str | None = None) -> list[str]:
    """One-line, user-facing problems with a cron expression; ``[]`` when it is valid.

    ``hash_key`` is what hashed ``H`` fields are hashed from (a schedule's id); without it they are a problem."""
    return _compile_fields(expr, hash_key)[1]


def hashed_expression(expr: str, hash_key: str) -> str:
    """``expr`` with whitespace collapsed and every hashed ``H`` field replaced by the numbers it stands for
    with ``hash_key`` (``H H * * *`` -> ``37 4 * * *``); an expression without ``H`` comes back as written
    (a macro stays a macro). Call it on a valid expression (see :func:`cron_problems`)."""
    text = " ".join(expr.split())
    if "h" not in text.lower() or text.startswith("@"):
        return text
    fields, problems = _split(text, hash_key)
    if problems or fields == text.split():
        return text
    return " ".join(fields)


# -------------------------------------------------------------------------------------------- timezones


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_problem(name: str) -> str | None:
    """A one-line problem when ``name`` is not an IANA timezone (with a did-you-mean), else ``None``."""
    example = "use an IANA name such as 'UTC', 'Europe/London' or 'America/New_York'"
    if not isinstance(name, str):
        return f"timezone must be a string, got {type(name).__name__}; {example}"
    if not name.strip():
        return f"timezone is empty; {example}"
    names = _zone_names()
    if name in names:
        return None
    shown = repr(name) if len(name) <= 60 else repr(name[:57] + "...")  # a pasted blob is not echoed in full
    by_lower = {n.lower(): n for n in names}
    if name.lower() in by_lower:
        suggestion = by_lower[name.lower()]
        return f"unknown timezone {shown}; did you mean {suggestion!r}? (names are case-sensitive)"
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6) if len(name) <= 60 else []
    if close:
        return f"unknown timezone {shown}; did you mean {by_lower[close[0]]!r}?"
    return f"unknown timezone {shown}; {example}"


# ------------------------------------------------------------------------------------------------ spec


@dataclass(frozen=True)
class CronSpec:
    """A validated cron expression in a timezone. Construction raises :class:`UsageError` if invalid."""

    expr: str
    timezone: str = "UTC"
    hash_key: str | None = None
    """What hashed ``H`` fields are hashed from: the schedule's id."""
    _compiled: _Compiled = field(init=False, repr=False, compare=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.expr, str):
            raise UsageError(cron_problems(self.expr)[0])
        problem = timezone_problem(self.timezone)
        if problem:
            raise UsageError(problem)
        object.__setattr__(self, "_compiled", _compile(self.expr, self.hash_key))
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))

    @property
    def fixed_time(self) -> bool:
        """True when neither the minute nor the hour field starts with ``*`` (cronie's rule)."""
        return self._compiled.fixed_time

    @property
    def fields(self) -> str:
        """The five fields, macros expanded (``@daily`` -> ``0 0 * * *``) and ``H`` fields hashed."""
        return self._compiled.fields

    @property
    def zone(self) -> ZoneInfo:
        return self._zone


def parse_cron(expr: str, timezone: str = "UTC", *, hash_key: str | None = None) -> CronSpec:
    """Validate and normalise (collapse whitespace); raise :class:`UsageError` with a one-line fix.

    ``hash_key`` (a schedule's id) is what hashed ``H`` fields are hashed from; they need one."""
    if not isinstance(expr, str):
        raise UsageError(cron_problems(expr)[0])
    return CronSpec(" ".join(expr.split()), timezone, hash_key)


# ------------------------------------------------------------------------------------------ fire times


def _as_utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise UsageError(
            f"{what} must be a timezone-aware datetime, got {value!r}",
            hint="pass an aware UTC time, e.g. datetime(2026, 1, 1, tzinfo=timezone.utc)",
        )
    return value.astimezone(UTC)


def _clamp(value: datetime) -> datetime:
    return min(max(value, _MIN_UTC), _MAX_UTC)


def _local_bounds(zone: ZoneInfo, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Naive wall-time range holding every wall time whose fire instant lies in (start, end]."""
    if end - start <= _SAMPLED_WINDOW:
        hours = int((end - start) / _HOUR)
        samples = [start + k * _HOUR for k in range(hours + 1)] + [end]
        offsets = [s.astimezone(zone).utcoffset() or timedelta(0) for s in samples]
        low, high = start + min(offsets), end + max(offsets)
    else:
        low = start + (start.astimezone(zone).utcoffset() or timedelta(0)) - _OFFSET_SPREAD
        high = end + (end.astimezone(zone).utcoffset() or timedelta(0)) + _OFFSET_SPREAD
    return low.replace(tzinfo=None), high.replace(tzinfo=None)


def _wall_times(c: _Compiled, low: datetime, high: datetime) -> Iterator[datetime]:
    """Naive wall times matching the fields, ascending, from ``low``'s minute to ``high`` inclusive."""
    first, last = low.date(), high.date()
    day = first
    while day <= last:
        if day.month not in c.months:
            if day.month == 12:
                if day.year == MAXYEAR:
                    return
                day = date(day.year + 1, 1, 1)
            else:
                day = date(day.year, day.month + 1, 1)
            continue
        if c.day_matches(day):
            h_from = low.hour if day == first else 0
            h_to = high.hour if day == last else 23
            for hour in c.hours[bisect_left(c.hours, h_from) : bisect_right(c.hours, h_to)]:
                m_from = low.minute if day == first and hour == low.hour else 0
                m_to = high.minute if day == last and hour == high.hour else 59
                for minute in c.minutes[bisect_left(c.minutes, m_from) : bisect_right(c.minutes, m_to)]:
                    yield datetime(day.year, day.month, day.day, hour, minute)
        if day == last:
            return
        day += _ONE_DAY


def _transition(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The first instant in (before, after] whose UTC offset is ``after``'s (binary search on seconds)."""
    target = after.astimezone(zone).utcoffset()
    lo, hi = 0, int((after - before).total_seconds())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (before + timedelta(seconds=mid)).astimezone(zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return before + timedelta(seconds=hi)


def wall_to_utc(wall: datetime, zone: ZoneInfo, *, latest: bool = False) -> datetime:
    """The aware UTC instant at which the clock in ``zone`` shows the naive ``wall`` time.

    A wall time the clock skips (spring forward) maps to the instant of the jump, where a fixed-time job
    in the gap fires. A wall time the clock shows twice (fall back) maps to its first pass, or with
    ``latest`` to its second, so that an inclusive range ``[start, end]`` typed in local time covers both
    passes of a repeated hour."""
    naive = wall.replace(tzinfo=None)
    offset0 = naive.replace(tzinfo=zone).utcoffset() or timedelta(0)
    offset1 = naive.replace(tzinfo=zone, fold=1).utcoffset() or timedelta(0)
    u0, u1 = (naive - offset0).replace(tzinfo=UTC), (naive - offset1).replace(tzinfo=UTC)
    if u0 <= u1:  # one instant, or a repeated wall time: u0 on the first pass
        return u1 if latest else u0
    return _transition(zone, u1, u0)  # a skipped wall time: u1 lies before the jump, u0 after it


def _instants(c: _Compiled, zone: ZoneInfo, wall: datetime) -> list[tuple[datetime, bool]]:
    """Fire instants (aware UTC, shifted?) for one matching wall time, with cronie's DST rules."""
    offset0 = wall.replace(tzinfo=zone).utcoffset() or timedelta(0)  # fold=0: the offset before a change
    offset1 = wall.replace(tzinfo=zone, fold=1).utcoffset() or timedelta(0)  # fold=1: the offset after it
    u0, u1 = (wall - offset0).replace(tzinfo=UTC), (wall - offset1).replace(tzinfo=UTC)
    if u0 == u1:
        return [(u0, False)]
    if u0 < u1:  # fall back: the wall time happens twice, u0 on the first pass
        return [(u0, False)] if c.fixed_time else [(u0, False), (u1, False)]
    # spring forward: the wall time does not exist; u1 lies before the jump and u0 after it
    return [(_transition(zone, u1, u0), True)] if c.fixed_time else []


def _fire_window(spec: CronSpec, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """(instant, matched wall time) for every fire instant in (start, end], ascending, unique."""
    c, zone = spec._compiled, spec._zone
    low, high = _local_bounds(zone, start, end)
    found: dict[datetime, tuple[datetime, bool]] = {}
    for wall in _wall_times(c, low, high):
        for instant, shifted in _instants(c, zone, wall):
            if start < instant <= end:
                seen = found.get(instant)
                if seen is None or (seen[1] and not shifted):  # prefer the wall time that really exists
                    found[instant] = (wall, shifted)
    return [(instant, found[instant][0]) for instant in sorted(found)]


def _chunks(start: datetime, end: datetime, *, backwards: bool) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive windows (a, b] covering (start, end], growing so that early stops are cheap."""
    size = _FIRST_CHUNK
    while start < end:
        if end - start <= size:  # compared, not added, so windows near datetime's limits never overflow
            yield start, end
            return
        if backwards:
            yield end - size, end
            end -= size
        else:
            yield start, start + size
            start += size
        size = min(size * 2, _MAX_CHUNK)


def _check_count(value: int | None, what: str) -> None:
    if value is not None and (not isinstance(value, int) or value < 0):
        raise UsageError(f"{what} must be a whole number of 0 or more, got {value!r}")


def fire_times(spec: CronSpec, start_utc: datetime, end_utc: datetime, *, limit: int | None = None) -> list[datetime]:
    """Every fire instant ``t`` (aware UTC) with ``start_utc < t <= end_utc``: DST rules applied,
    ascending, no duplicates; the first ``limit`` of them when ``limit`` is given."""
    _check_count(limit, "limit")
    start, end = _clamp(_as_utc(start_utc, "start_utc")), _clamp(_as_utc(end_utc, "end_utc"))
    out: list[datetime] = []
    if limit == 0:
        return out
    for a, b in _chunks(start, end, backwards=False):
        for instant, _wall in _fire_window(spec, a, b):
            out.append(instant)
            if limit is not None and len(out) >= limit:
                return out
    return out


def next_fire_times(spec: CronSpec, after_utc: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire instants strictly after ``after_utc`` (aware UTC, ascending)."""
    _check_count(count, "count")
    after = _as_utc(after_utc, "after_utc")
    horizon = _MAX_UTC if after >= _MAX_UTC - _NEXT_HORIZON else after + _NEXT_HORIZON
    return fire_times(spec, after, horizon, limit=count)


RARE_GAP = timedelta(days=367)
"""A schedule waits longer than this for its next fire (or between its next two): it fires less than once a year."""


def rare_fires(spec: CronSpec, now_utc: datetime) -> str | None:
    """A warning for a valid expression that fires less than once a year, e.g. on 29 February or on a fifth Friday
    of February (which exists in some leap years only), usually a day field written by mistake; None otherwise.

    It names the next two fires in the expression's timezone, so the user sees what they asked for."""
    now = _as_utc(now_utc, "now_utc")
    fires = next_fire_times(spec, now, 2)
    if not fires:  # pragma: no cover - a valid expression fires within one Gregorian cycle
        return None
    if max(later - earlier for earlier, later in pairwise([now, *fires])) <= RARE_GAP:
        return None
    when = " and ".join(f.astimezone(spec.zone).strftime("%Y-%m-%d %H:%M") for f in fires)
    return f"cron {spec.expr!r} fires less than once a year: next on {when} ({spec.timezone})"


def latest_fires(spec: CronSpec, start_utc: datetime, end_utc: datetime, count: int) -> list[tuple[datetime, str]]:
    """The newest ``count`` fires with ``start_utc < instant <= end_utc``, oldest first, as pairs of
    (instant in aware UTC, matched local wall-clock minute like ``"2026-11-01T01:30"``).

    It walks backwards from ``end_utc``, so a wide window with a small ``count`` stays cheap. For a job
    shifted out of a spring-forward gap the minute is the nominal one that does not exist (``02:30``);
    a wildcard job's two fall-back passes share a minute but not an instant."""
    _check_count(count, "count")
    start, end = _clamp(_as_utc(start_utc, "start_utc")), _clamp(_as_utc(end_utc, "end_utc"))
    newest_first: list[tuple[datetime, datetime]] = []
    for a, b in _chunks(start, end, backwards=True):
        if len(newest_first) >= count:
            break
        newest_first.extend(reversed(_fire_window(spec, a, b)))
    return [(instant, wall.isoformat(timespec="minutes")) for instant, wall in sorted(newest_first[:count])]
