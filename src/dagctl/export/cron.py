"""A schedule (:class:`~dagctl.schedule.files.ScheduleSpec`) as the settings of an Argo CronWorkflow. Pure.

==============  ========================================================================================
schedule key    CronWorkflow
==============  ========================================================================================
cron            ``schedules: [cron]``: Argo's parser (robfig/cron) reads the same five fields, names
                and macros; around daylight-saving jumps it follows its own rules, not dagctl's.
                Hashed ``H`` fields go as the numbers they stand for; ``L``, ``W`` and ``#`` days are
                refused (robfig/cron does not read them): :func:`unsupported_fields`
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
        "schedules": [schedule.cron],
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
