"""``dagctl schedule --once|--serve``, ``schedule list``, ``schedule next`` and ``dagctl backfill``."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dagctl.run import childsignal

from .conventions import Group
from .render import echo, echo_json
from .schedule_common import DEFAULT_DIR, DIR_HELP, default_timezone, find_schedule, parse_when, released, state_errors
from .signals import handle_signals

if TYPE_CHECKING:
    from dagctl.schedule.loop import Scheduler
    from dagctl.store.state import StateStore

SCHEDULE_HELP = """Run DAGs on cron schedules: one tick (--once, for crontab and CI) or a service (--serve).

Each slot (schedule id + fire instant) runs exactly once, however many schedulers run: claims are made
under a lock in the state store (STATE_STORE_PATH). Exit codes for --once: 0 every run it started
succeeded, 1 a run failed, 2 invalid schedules. --serve exits 0 after SIGTERM/SIGINT once running DAGs
finished (or were cancelled after --grace); SIGHUP reloads the schedules. --serve exits 3 when the state
store is unusable at start, or when ticks have kept failing for --fail-after (default 60s). With retention:
in dagctl.yaml, old runs are pruned and the task cache trimmed at most once a day (docs/operating.md).

\b
Examples:
  dagctl schedule --once                        one tick now (crontab: * * * * *)
  dagctl schedule --once --now 2026-03-08T07:00:00Z
  dagctl schedule --serve --dir configs/schedules
  dagctl schedule list
  dagctl schedule next diamond_nightly --count 3
  dagctl schedule next --cron "30 2 * * *" --tz America/New_York --after 2026-03-07
  dagctl schedule release diamond_nightly@2026-03-08T07:00:00Z
"""


# ------------------------------------------------------------------------------------------- helpers


def _directory(ctx: typer.Context, given: Path | None) -> Path:
    if given is not None:
        return given
    parent = ctx.parent.params.get("directory") if ctx.parent is not None else None
    return parent or DEFAULT_DIR


@contextmanager
def _logging(quiet: bool) -> Iterator[None]:
    """Scheduler log lines on stderr, local time (journald or cron mail capture them)."""
    logger = logging.getLogger("dagctl")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S%z"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _local(ts: str | None) -> str:
    if not ts:
        return "-"
    from dagctl.store.events import parse_ts

    return parse_ts(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = (
        [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)] if rows else [len(h) for h in headers]
    )
    for line in [headers, *rows]:
        echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _metrics_textfile(directory: Path, store: StateStore, scheduler: Scheduler) -> None:
    """``metrics_textfile:`` of the project's ``dagctl.yaml`` (docs/ci.md): written now and after the runs the
    scheduler finishes. At start a bad setting or an unwritable path is exit 2 / 3 before anything is claimed;
    on a reload (SIGHUP, a changed schedule file) the setting is read again, and a bad one is logged and the
    file in use kept."""
    from dagctl.errors import DagctlError

    from .ci_outputs import check_output, project_metrics_textfile, scheduler_metrics_writer

    current: list[Path | None] = [None]

    def use(path: Path | None) -> None:
        if path == current[0]:
            return
        write = None
        if path is not None:
            check_output(path, "metrics_textfile")
            write = scheduler_metrics_writer(path, store, lambda: scheduler.schedules)
            write()
        scheduler.after_runs = write
        if current[0] is not None or path is not None:
            logging.getLogger("dagctl.scheduler").info("metrics_textfile: %s", path or "off")
        current[0] = path

    def reload() -> None:
        try:
            use(project_metrics_textfile(directory))
        except DagctlError as exc:
            kept = current[0] or "off"
            raise DagctlError(f"{str(exc).splitlines()[0]}; metrics_textfile kept: {kept}") from None

    use(project_metrics_textfile(directory))
    scheduler.on_reload = reload


def _retention(settings: Any, directory: Path) -> Any:
    """The daily retention pass of ``retention:`` in the project's dagctl.yaml (docs/operating.md)."""
    from dagctl.schedule.retention import Retention

    return Retention(settings, directory)


# ---------------------------------------------------------------------------------------------- modes


def _run_once(
    directory: Path,
    now: str | None,
    grace: float,
    quiet: bool,
    *,
    executor: str | None = None,
    broker: str | None = None,
) -> int:
    from dagctl.errors import exit_code_of_signal
    from dagctl.schedule.files import ScheduleSource
    from dagctl.schedule.loop import Scheduler, make_launcher
    from dagctl.settings import Settings
    from dagctl.store.state import StateStore

    settings = Settings.from_env()
    when = parse_when(now, None, "--now") if now is not None else None
    if when is not None:
        _warn_if_ahead(when, settings.state_path)
    schedules = ScheduleSource(directory, default_timezone=default_timezone()).load()  # a bad file: exit 2 here,
    settings.check_writable("logs", "events", "state")  # before any folder is made
    stopped: list[int] = []
    launcher, release = make_launcher(settings, executor=executor, broker=broker, once=True)
    with _logging(quiet), StateStore(settings.state_path) as store, released(release):
        retention = _retention(settings, directory)
        scheduler = Scheduler(schedules, store, launcher, max_parallel=settings.sched_max_parallel, retention=retention)
        _metrics_textfile(directory, store, scheduler)

        def on_stop(signum: int, again: bool) -> None:
            stopped.append(signum)
            scheduler.request_stop(now=again)

        with childsignal.blocked(), handle_signals(on_stop):  # runs start their processes from threads of their own
            code = scheduler.run_once(when, grace_s=grace)
    if stopped:
        return exit_code_of_signal(stopped[0])
    return code


def _warn_if_ahead(when: Any, state_path: Path) -> None:
    """``--now`` ahead of the clock claims the slots up to then in the real state log: when their time comes, no
    tick runs them. Said once, on stderr (a replay or a test usually wants a state log of its own)."""
    from dagctl.clock import SystemClock
    from dagctl.dag.durations import format_duration

    from .render import echo_err

    ahead = (when - SystemClock().now()).total_seconds()
    if ahead > 60:
        echo_err(
            f"dagctl: warning: --now is {format_duration(ahead)} ahead of the clock: the slots it claims are recorded "
            f"in {state_path}, and no tick runs them when their time comes (point STATE_STORE_PATH at a scratch "
            "file for a rehearsal)"
        )


def _serve(
    directory: Path,
    grace: float,
    quiet: bool,
    *,
    executor: str | None = None,
    broker: str | None = None,
    fail_after: float = 60.0,
) -> int:
    from dagctl.schedule.files import ScheduleSource
    from dagctl.schedule.loop import Scheduler, ServeLock, make_launcher
    from dagctl.schedule.sdnotify import Notifier
    from dagctl.settings import Settings
    from dagctl.store.state import StateStore

    settings = Settings.from_env()
    source = ScheduleSource(directory, default_timezone=default_timezone())
    schedules = source.load()  # a bad file: exit 2 here, before any folder is made
    settings.check_writable("logs", "events", "state")
    notifier = Notifier.from_env(unset=True)  # the DAGs' tasks must not inherit NOTIFY_SOCKET
    with _logging(quiet), ServeLock(settings.state_path.parent) as lock, StateStore(settings.state_path) as store:
        lock.acquire(dir=str(directory), state=str(settings.state_path))
        launcher, release = make_launcher(settings, executor=executor, broker=broker)
        retention = _retention(settings, directory)
        scheduler = Scheduler(schedules, store, launcher, max_parallel=settings.sched_max_parallel, retention=retention)
        _metrics_textfile(directory, store, scheduler)

        def on_stop(signum: int, again: bool) -> None:
            name = signal.Signals(signum).name
            logging.getLogger("dagctl.scheduler").info(
                "%s: %s", name, "cancelling running DAGs now" if again else "stopping (no new claims)"
            )
            scheduler.request_stop(now=again)

        with childsignal.blocked(), handle_signals(on_stop, scheduler.request_reload):
            try:
                return scheduler.serve(
                    tick_s=settings.sched_tick_ms / 1000,
                    grace_s=grace,
                    source=source,
                    notifier=notifier,
                    fail_after_s=fail_after,
                )
            finally:
                notifier.close()
                release()


# ------------------------------------------------------------------------------------------- commands


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        cls=Group,
        help=SCHEDULE_HELP,
        rich_markup_mode=None,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @group.callback(invoke_without_command=True)
    def schedule(
        ctx: typer.Context,
        directory: Path = typer.Option(DEFAULT_DIR, "--dir", "-d", help=DIR_HELP),
        once: bool = typer.Option(False, "--once", help="One tick: claim due slots, run them, wait, exit."),
        serve: bool = typer.Option(False, "--serve", help="Tick every SCHED_TICK_MS until SIGTERM/SIGINT."),
        now: str | None = typer.Option(None, "--now", help="With --once: tick at this ISO-8601 time (Z or offset)."),
        grace: str = typer.Option(
            "30s", "--grace", help="On stop, how long running DAGs may finish before they are cancelled."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Log only warnings and errors."),
        fail_after: str = typer.Option(
            "60s",
            "--fail-after",
            help="With --serve: exit 3 once ticks have failed for this long (state store unusable), so that "
            "systemd restarts the service; 0 stops at the first failure.",
        ),
        executor: str | None = typer.Option(
            None,
            "--executor",
            "-x",
            help="Where tasks run: threads (default) or "
            "celery (dagctl worker processes); env DAGCTL_EXECUTOR. With "
            "QUEUE_BACKEND=redis whole runs go to workers instead.",
        ),
        broker: str | None = typer.Option(
            None, "--broker", help="Redis URL for celery / the run queue (default: REDIS_URL)."
        ),
    ) -> None:
        from dagctl.dag.durations import parse_duration
        from dagctl.errors import UsageError

        if ctx.invoked_subcommand is not None:
            if once or serve:
                raise UsageError(f"--once/--serve cannot be combined with 'schedule {ctx.invoked_subcommand}'")
            return
        if once == serve:
            raise UsageError(
                "choose one of --once or --serve" if once else "nothing to do",
                hint="dagctl schedule --once | --serve | list | next (see dagctl schedule --help)",
            )
        if serve and now is not None:
            raise UsageError("--now works with --once only", hint="--serve always uses the real clock")
        try:
            grace_s = parse_duration(grace)
        except ValueError as exc:
            raise UsageError(f"--grace: {exc}") from None
        try:
            fail_after_s = parse_duration(fail_after)
        except ValueError as exc:
            raise UsageError(f"--fail-after: {exc}") from None
        with state_errors():
            if once:
                code = _run_once(directory, now, grace_s, quiet, executor=executor, broker=broker)
            else:
                code = _serve(directory, grace_s, quiet, executor=executor, broker=broker, fail_after=fail_after_s)
        raise typer.Exit(code)

    @group.command("list")
    def list_(
        ctx: typer.Context,
        directory: Path | None = typer.Option(None, "--dir", "-d", help=DIR_HELP),
        now: str | None = typer.Option(
            None, "--now", help="Next fire times after this ISO-8601 time (Z or offset) instead of the clock."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List schedules with their next fire time and last run.

        Next fire times are shown in each schedule's timezone with the UTC offset; last runs in local time.
        --now shows what a tick at that time would see next (as schedule --once --now ticks).

        \b
        Examples:
          dagctl schedule list
          dagctl schedule list --dir configs/schedules --json
          dagctl schedule list --now 2026-03-29T00:30:00Z
        """
        from dagctl.clock import SystemClock
        from dagctl.schedule.files import ScheduleSource
        from dagctl.schedule.listing import schedule_entries
        from dagctl.settings import Settings
        from dagctl.store.state import StateStore

        when = parse_when(now, None, "--now") if now is not None else SystemClock().now()
        schedules = ScheduleSource(_directory(ctx, directory), default_timezone=default_timezone()).load()
        settings = Settings.from_env()
        settings.check_readable("state")
        with state_errors(), StateStore(settings.state_path) as store:
            fold = store.refresh()
        data = schedule_entries(schedules, fold, when)
        if as_json:
            echo_json(data)
            return
        rows = []
        for d in data:
            last = d["last_run"] or {}
            status = "running" if d["running"] else (last.get("status") or "-")
            fire = (d["next_fire"] or "-").replace("T", " ")
            rows.append(
                [
                    d["id"],
                    d["cron"],
                    d["timezone"],
                    "yes" if d["enabled"] else "no",
                    fire,
                    _local(last.get("ts")),
                    status,
                ]
            )
        _table(["ID", "CRON", "TIMEZONE", "ENABLED", "NEXT FIRE", "LAST RUN", "STATUS"], rows)

    @group.command("next")
    def next_(
        ctx: typer.Context,
        schedule_id: str | None = typer.Argument(None, help="A schedule id from --dir."),
        cron: str | None = typer.Option(None, "--cron", help="A cron expression instead of a schedule id."),
        tz: str | None = typer.Option(None, "--tz", help="Timezone for --cron (default UTC or SCHED_TIMEZONE)."),
        hash_id: str | None = typer.Option(
            None, "--hash-id", help="With --cron: the schedule id that H fields are hashed from."
        ),
        after: str | None = typer.Option(
            None,
            "--after",
            help="Start after this ISO-8601 time (default now); without an offset it is read in the timezone.",
        ),
        count: int = typer.Option(5, "--count", "--limit", "-n", min=1, max=100_000, help="How many fire times."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        directory: Path | None = typer.Option(None, "--dir", "-d", help=DIR_HELP),
    ) -> None:
        """Print the next fire times as ISO-8601 with the UTC offset, in the schedule's timezone.

        Daylight saving time is applied as cron does it (docs/scheduling.md). Extended fields work too:
        L (last day), 15W (nearest weekday), 5L (last Friday), 1#2 (second Monday), H (hashed).

        \b
        Examples:
          dagctl schedule next weekly_ops_chain
          dagctl schedule next --cron "30 2 * * *" --tz America/New_York --after 2026-03-07 --count 3
          dagctl schedule next --cron "30 2 * * 0#2" --tz America/New_York --after 2026-03-01
          dagctl schedule next --cron "H H * * *" --hash-id nightly
        """
        from dagctl.clock import SystemClock
        from dagctl.errors import UsageError
        from dagctl.schedule.cron import next_fire_times, parse_cron
        from dagctl.schedule.files import ScheduleSource
        from dagctl.store.events import format_ts

        if (schedule_id is None) == (cron is None):
            raise UsageError(
                "give a schedule ID or --cron EXPR (not both)",
                hint='e.g. dagctl schedule next diamond_nightly, or --cron "0 9 * * 1-5" --tz Europe/Paris',
            )
        if cron is not None:
            spec = parse_cron(cron, tz or default_timezone(), hash_key=hash_id)
        else:
            if tz is not None or hash_id is not None:
                which = "--tz" if tz is not None else "--hash-id"
                raise UsageError(f"{which} goes with --cron; a schedule has its own timezone and id")
            assert schedule_id is not None
            schedules = ScheduleSource(_directory(ctx, directory), default_timezone=default_timezone()).load()
            found = find_schedule(schedules, schedule_id)
            spec = parse_cron(found.cron, found.timezone)
        start = parse_when(after, spec.zone, "--after", exclusive=True) if after else SystemClock().now()
        times = next_fire_times(spec, start, count)
        if as_json:
            echo_json(
                {
                    "schedule": schedule_id,
                    "cron": spec.fields,
                    "timezone": spec.timezone,
                    "after": format_ts(start),
                    "next": [t.astimezone(spec.zone).isoformat() for t in times],
                    "next_utc": [format_ts(t) for t in times],
                }
            )
            return
        for t in times:
            echo(t.astimezone(spec.zone).isoformat())

    @group.command("release")
    def release(
        claim: str = typer.Argument(..., help="The claimed slot (ID@UTC-TIME) or its run id."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Release a claim whose owner is gone, so that its schedule runs again.

        A claimed slot blocks its schedule until its run ends. An owner that died on this host is noticed
        by the next tick; one on another host (a container restarted with a new hostname on the same
        state volume) cannot be checked, and its claim stays until released here. The slot is recorded
        as finished with status lost, and is not run again (dagctl backfill runs it). Refused while the
        owner is a live process on this host.

        \b
        Examples:
          dagctl schedule release diamond_nightly@2026-03-08T07:00:00Z
          dagctl schedule release 20260308-070000.015-3f9a2c --json
        """
        from dagctl.schedule.release import release_claim
        from dagctl.settings import Settings
        from dagctl.store.state import StateStore

        settings = Settings.from_env()
        settings.check_writable("state")
        with state_errors(), StateStore(settings.state_path) as store:
            released = release_claim(store, claim.strip())
        if as_json:
            echo_json(
                {
                    "schedule": released.schedule_id,
                    "slot": released.slot.key,
                    "run_id": released.slot.run_id,
                    "owner": released.slot.owner.to_record(),
                    "status": released.record.status,
                    "error": released.record.error,
                }
            )
            return
        echo(released.describe())

    app.add_typer(group, name="schedule")
