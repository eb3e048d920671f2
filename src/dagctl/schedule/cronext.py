"""Extended cron fields, read by croniter: ``L``, ``W`` and ``#`` days, and hashed ``H`` values. Pure.

dagctl's own matcher (:mod:`dagctl.schedule.cron`) stays the engine: it walks local wall-clock minutes and
applies cronie's daylight-saving rules. croniter is asked only two calendar questions, never about time zones
or instants, so the extended forms fire by exactly the same DST rules as plain fields:

* **which days of one month** an ``L``/``W``/``#`` item names (:func:`special_days`), by iterating a
  day-only expression over naive calendar dates of that month (cached per month);
* **which numbers** a hashed ``H`` field stands for (:func:`hash_field`), once, when a schedule is compiled:
  the field becomes plain numbers, so the 5-field fast path matches it.

Forms (``cron`` numbering: 0 and 7 are Sunday):

=====================  =========================================================================
day-of-month ``L``     the last day of the month
day-of-month ``15W``   the weekday (Mon-Fri) nearest the 15th, within the month
day-of-week ``5L``     the last Friday of the month (also ``friL``, and croniter's ``L5``)
day-of-week ``1#2``    the second Monday of the month (``mon#2``; 1-5)
any field ``H``        a value hashed from the schedule id: ``H``, ``H(0-29)``, ``H/15``, ``H(0-29)/10``
=====================  =========================================================================

Items combine in lists with plain values (``1,15,L``, ``1#1,5L``); each list item adds its days.
croniter is imported only when an expression uses one of these forms.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

__all__ = ["DOM", "DOW", "ExtendedProblem", "hash_field", "special_days", "special_item"]

MINUTE, HOUR, DOM, MONTH, DOW = range(5)
_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_H_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))  # croniter's ranges (Sunday is 0 only)
_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DAY = r"([0-7]|sun|mon|tue|wed|thu|fri|sat)"
_NTH = re.compile(_DAY + r"#(\d+)", re.IGNORECASE)
_LAST_DOW = re.compile(_DAY + r"L|L([0-7])", re.IGNORECASE)
_NEAREST = re.compile(r"(\d+)W", re.IGNORECASE)
_HASH = re.compile(r"H(?:\((\d+)-(\d+)\))?(?:/(\d+))?", re.IGNORECASE)
DOM_FORMS = "L (the last day), 15W (the weekday nearest the 15th), numbers, ranges, steps and lists"
DOW_FORMS = "5L (the last Friday), 1#2 (the second Monday), numbers, names, ranges, steps and lists"
HASH_FORMS = "H, H(0-29), H/15 or H(0-29)/10"


class ExtendedProblem(ValueError):
    """One problem with an extended item or field; its message is user-facing (``what; how to fix``)."""


def _croniter() -> Any:
    from croniter import croniter

    return croniter


def _day_number(token: str) -> int:
    lowered = token.lower()
    return _DOW_NAMES.index(lowered) if lowered in _DOW_NAMES else int(token) % 7


# -------------------------------------------------------------------------------------- L, W and #


def special_item(index: int, item: str) -> str | None:
    """The item in croniter's spelling when it is an ``L``/``W``/``#`` form of field ``index``, else None
    (a plain item for dagctl's parser). Raises :class:`ExtendedProblem` for a malformed one."""
    if index == DOM:
        return _dom_item(item)
    if index == DOW:
        return _dow_item(item)
    return None


def _dom_item(item: str) -> str | None:
    lowered = item.lower()
    if not any(c in lowered for c in "lw#"):
        return None
    if lowered == "l":
        return _checked(DOM, "L", item)
    nearest = _NEAREST.fullmatch(item)
    if nearest:
        day = int(nearest.group(1))
        if not 1 <= day <= 31:
            raise ExtendedProblem(
                f"day-of-month value {day} in {item!r} is out of range 1-31; write a day from 1 to 31"
            )
        return _checked(DOM, f"{day}W", item)
    if lowered == "lw":
        raise ExtendedProblem(
            f"day-of-month {item!r} is not supported; write 31W (the weekday nearest the month's last day)"
        )
    raise ExtendedProblem(f"day-of-month item {item!r} is not a form dagctl knows; use {DOM_FORMS}")


def _dow_item(item: str) -> str | None:
    lowered = item.lower()
    if "#" not in lowered and not lowered.startswith("l") and not lowered.endswith("l"):
        return None
    nth = _NTH.fullmatch(item)
    if nth:
        week = int(nth.group(2))
        if not 1 <= week <= 5:
            raise ExtendedProblem(
                f"day-of-week {item!r} asks for week {week}; the week after '#' must be 1-5 "
                "(1#2 is the second Monday of the month)"
            )
        return _checked(DOW, f"{_day_number(nth.group(1))}#{week}", item)
    last = _LAST_DOW.fullmatch(item)
    if last:
        return _checked(DOW, f"L{_day_number(last.group(1) or last.group(2))}", item)
    if lowered == "l":
        raise ExtendedProblem(f"day-of-week {item!r} needs a day; write 5L (the last Friday) or friL")
    number = re.fullmatch(r"(\d+)#\d+|(\d+)L|L(\d+)", item, re.IGNORECASE)
    if number:
        value = int(next(g for g in number.groups() if g is not None))
        raise ExtendedProblem(
            f"day-of-week value {value} in {item!r} is out of range 0-7 (0 and 7 are Sunday); "
            "write a day-of-week from 0 to 7"
        )
    raise ExtendedProblem(f"day-of-week item {item!r} is not a form dagctl knows; use {DOW_FORMS}")


def _checked(index: int, spelled: str, item: str) -> str:
    """``spelled``, once croniter has read it for one month (so that it can read every month)."""
    try:
        special_days(index, (spelled,), 2026, 1)
    except Exception as exc:
        raise ExtendedProblem(f"{_NAMES[index]} item {item!r} is not valid: {_one_line(exc)}") from None
    return spelled


@lru_cache(maxsize=8192)
def special_days(index: int, items: tuple[str, ...], year: int, month: int) -> frozenset[int]:
    """The days of ``year``-``month`` that any of ``items`` (croniter spellings, field ``index``) names.

    croniter iterates a day-only expression (``0 0 <items> * *`` or ``0 0 * * <items>``) over naive dates
    from the month's first day: calendar arithmetic only; which instants fire is decided by dagctl."""
    croniter = _croniter()
    days: set[int] = set()
    first = datetime(year, month, 1)
    for item in items:
        expr = f"0 0 {item} * *" if index == DOM else f"0 0 * * {item}"
        start = first - timedelta(minutes=1) if (year, month) != (1, 1) else first
        it = croniter(expr, start)
        while True:
            try:
                found = it.get_next(datetime)
            except (ValueError, OverflowError):  # past year 9999 (or croniter's own limit)
                break
            if (found.year, found.month) != (year, month):
                break
            days.add(found.day)
    return frozenset(days)


# ---------------------------------------------------------------------------------------------------- H


def hash_field(index: int, text: str, key: str | None) -> str | None:
    """A hashed field (``H`` ...) as the plain numbers it stands for with ``key`` (the schedule id), e.g.
    ``H/15`` -> ``7,22,37,52``; None when ``text`` is not hashed. Raises :class:`ExtendedProblem`.

    The same ``key`` always gives the same numbers (croniter hashes it with CRC-32), so every process and
    every dagctl version agrees on a schedule's slots; different schedules spread over the range.
    A bare ``H`` in day-of-month picks from 1-28, so that it fires every month."""
    name = _NAMES[index]
    if text[:1] in "rR" and text[1:2] in ("", "(", "/"):
        raise ExtendedProblem(
            f"{name} field {text!r}: R (random) is not supported, since every scheduler process must agree "
            f"on the fire times; use H, which picks a stable value per schedule id"
        )
    if text[:1] not in "hH":
        return None
    match = _HASH.fullmatch(text)
    if not match:
        raise ExtendedProblem(f"{name} field {text!r} is not valid: H must be the whole field; write {HASH_FORMS}")
    low, high = _H_BOUNDS[index]
    if match.group(1) is not None:
        first, last = int(match.group(1)), int(match.group(2))
        if not low <= first < last <= high:
            raise ExtendedProblem(
                f"{name} field {text!r} has a range outside {low}-{high}; write the range of H within "
                f"{low}-{high}, going upwards, e.g. 'H({low}-{low + (high - low) // 2})'"
            )
    if match.group(3) is not None and int(match.group(3)) == 0:
        raise ExtendedProblem(f"step in {name} field {text!r} must be a whole number of 1 or more; write e.g. 'H/15'")
    if key is None:
        raise ExtendedProblem(
            f"{name} field {text!r} is hashed from a schedule id, and none was given; use H in a schedule "
            "file (its id is hashed), or give the id to hash (schedule next --hash-id ID)"
        )
    if index == DOM and match.group(1) is None and match.group(3) is None:
        text = "H(1-28)"
    fields = ["*"] * 5
    fields[index] = text.lower()
    try:
        expanded = _croniter().expand(" ".join(fields), hash_id=key.encode("utf-8"))[0][index]
    except Exception as exc:
        raise ExtendedProblem(f"{name} field {text!r} is not valid: {_one_line(exc)}") from None
    return ",".join(str(v) for v in expanded)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
