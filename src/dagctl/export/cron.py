"""A schedule (:class:`~dagctl.schedule.files.ScheduleSpec`) as the settings of an Argo CronWorkflow. Pure.

==============  ========================================================================================
schedule key    CronWorkflow
==============  ========================================================================================
cron            ``schedules: [cron]``: Argo's parser (robfig/cron) reads the same five fields, names
                and macros; around daylight-saving jumps it follows its own rules, not dagctl's.
                Hashed ``H`` fields go as the numbers they stand for; ``L``, ``W`` and ``#`` days are
                refused (robfig/cron does not read them): :func:`unsupported_fields`; a day of week 7
                (Sunday, as 0 is) goes as 0, which is all robfig/cron reads: :func:`argo_cron`
timezone        ``timezone``
overlap         ``concurrencyPolicy``: skip -> Forbid, allow -> Allow, queue -> Forbid (approximation:
                Argo has no queue, so a slot that comes while a run is going is skipped, not delayed)
catchup         ``startingDeadlineSeconds`` (approximation: after downtime Argo starts only the latest
                missed slot, dagctl every missed slot in the window); without catchup it is left
                out (Argo then runs no missed slot)
enabled: false  ``suspend: true``
params          the workflow's argument values (checked against the DAG's params)
tenant          the ``dagctl.io/tenant`` annotation of the runs
jitter          not applied (approximation: Argo starts runs on the minute)
description     the ``workflows.argoproj.io/description`` annotation
==============  ========================================================================================
"""

from __future__ import annotations

from dagctl.records import Record, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dagctl.schedule.files import ScheduleSpec

CONCURRENCY = {"skip": "Forbid", "allow": "Allow", "queue": "Forbid"}
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
"""Day-of-week names in cron's order: Sunday is 0 (and 7 for dagctl's parser, not for Argo's)."""


class CronSettings(Record):
    """What a CronWorkflow takes from a schedule, plus notes on what Argo does differently."""

    name: str
    """The schedule's id: the CronWorkflow's name."""
    spec: dict[str, Any]
    """The CronWorkflow spec's own keys (everything but ``workflowSpec``)."""
    params: dict[str, Any]
    tenant: str | None = None
    description: str | None = None
    notes: list[str] = field(default_factory=list)


def unsupported_fields(cron: str) -> list[str]:
    """The ``L``/``W``/``#`` items of a cron expression, which Argo's cron parser does not accept."""
    from dagctl.schedule.cronext import special_item

    fields = cron.split()
    if len(fields) != 5:  # a macro (@daily): Argo reads those
        return []
    return [item for index, field in enumerate(fields) for item in field.split(",") if special_item(index, item)]


def argo_cron(cron: str) -> str:
    """``cron`` as Argo's parser (robfig/cron) reads it: days of week from 0 to 6 only. dagctl reads 7 as Sunday,
    as 0; an item of the day-of-week field that uses 7 is written as the days it stands for (``7`` -> ``0``,
    ``6-7`` -> ``0,6``, ``5-7`` -> ``0,5-6``, ``1-7/2`` -> ``0-1,3,5``), every other item and field as it is, so
    the schedule fires on the same days (the field starts with ``*`` exactly when it did, which decides how the
    two day fields combine). Call it on a valid expression without ``L``/``W``/``#`` days."""
    fields = cron.split()
    if len(fields) != 5:  # a macro (@weekly): Argo reads those
        return cron
    items = fields[4].split(",")
    written = [_argo_days(item) for item in items]
    if written == items:
        return cron
    return " ".join([*fields[:4], ",".join(written)])


def _argo_days(item: str) -> str:
    """One item of a day-of-week field (``5-7``, ``sun``, ``1-7/2``, ``*/2``) as Argo reads it."""
    base, _, step = item.partition("/")
    first, dash, last = base.partition("-")
    low, high = _day(first), (_day(last) if dash else _day(first))
    if low is None or high is None or 7 not in (low, high):
        return item
    days = sorted({day % 7 for day in range(low, high + 1, int(step) if step else 1)})
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def _day(token: str) -> int | None:
    if token.isascii() and token.isdigit():
        return int(token)
    lowered = token.lower()
    return DAY_NAMES.index(lowered) if lowered in DAY_NAMES else None


def cron_settings(schedule: ScheduleSpec) -> CronSettings:
    """Raises :class:`~dagctl.errors.UsageError` for a cron expression Argo cannot read."""
    who = f"schedule '{schedule.id}'"
    refused = unsupported_fields(schedule.cron)
    if refused:
        from dagctl.errors import UsageError

        raise UsageError(
            f"{who}: cron {schedule.cron!r} uses {', '.join(refused)}, which Argo's cron parser does not read",
            hint="keep this schedule on dagctl's scheduler, or give it a cron of plain fields for Argo",
        )
    overlap = schedule.overlap.value
    spec: dict[str, Any] = {
        "schedules": [argo_cron(schedule.cron)],
        "timezone": schedule.timezone,
        "concurrencyPolicy": CONCURRENCY[overlap],
    }
    if schedule.catchup is not None:
        spec["startingDeadlineSeconds"] = int(schedule.catchup.total_seconds())
    if not schedule.enabled:
        spec["suspend"] = True
    notes = []
    if overlap == "queue":
        notes.append(f"{who} overlap: queue: Argo has no queue; a slot that comes while a run is going is skipped")
    if schedule.catchup is not None:
        notes.append(f"{who} catchup: Argo starts only the latest slot missed within the window, not all of them")
    if schedule.jitter.total_seconds() > 0:
        notes.append(f"{who} jitter: not applied; Argo starts runs on the minute")
    return CronSettings(
        name=schedule.id,
        spec=spec,
        params=dict(schedule.params),
        tenant=schedule.tenant,
        description=schedule.description,
        notes=notes,
    )
