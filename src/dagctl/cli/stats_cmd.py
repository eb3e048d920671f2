"""``dagctl stats``: task KPIs, recent runs, schedules and per-tenant load over a recent window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from .render import echo, echo_json, print_table

if TYPE_CHECKING:
    from dagctl.store.reports import RunSummary

DEFAULT_WINDOW = "24h"
SCHEDULE_LOOKBACK_S = 7 * 86400  # schedules' "last run" looks back at least a week, whatever the window
TOP_TASKS = 10


def register(app: typer.Typer) -> None:
    @app.command("stats")
    def stats(
        window: str | None = typer.Option(
            None,
            "--window",
            "-w",
            help="How far back to look, e.g. 24h, 90m, 7d [default: 24h, or ORCH_PANEL_WINDOW_H hours].",
        ),
        dag: str | None = typer.Option(None, "--dag", help="Only runs of this DAG (by name)."),
        tenant: str | None = typer.Option(None, "--tenant", help="Only runs of this tenant."),
        limit: int = typer.Option(15, "--limit", "-n", min=1, help="How many recent runs to list."),
        as_json: bool = typer.Option(
            False, "--json", help="Print one JSON object: window, tasks, runs, schedules, tenants (times in UTC)."
        ),
    ) -> None:
        """Show task KPIs, recent DAG runs, schedules and per-tenant load from the event and state logs.

        Reads ORCH_EVENTS_PATH and STATE_STORE_PATH backwards from the end, so a short window over a long
        history stays fast. Times on screen are local; JSON times are UTC.

        \b
        Examples:
          dagctl stats
          dagctl stats --window 7d --dag diamond_pipeline
          dagctl stats --tenant acme --json
        """
        from datetime import timedelta

        from dagctl.clock import SystemClock
        from dagctl.settings import Settings
        from dagctl.store.eventlog import load_events, load_state_events
        from dagctl.store.reports import schedules_of, stats_report

        label, seconds = _window(window)
        settings = Settings.from_env()
        settings.check_readable("events", "state")
        now = SystemClock().now()
        since = now - timedelta(seconds=seconds)
        events = load_events(settings.events_path, since=since, dag=dag, tenant=tenant)
        state_since = now - timedelta(seconds=max(seconds, SCHEDULE_LOOKBACK_S))
        state = load_state_events(settings.state_path, state_since)
        if dag is not None or tenant is not None:  # state records don't name the DAG: go by the runs' schedules
            wanted = schedules_of(events)
            state = [r for r in state if r.get("schedule_id") in wanted]
        report = stats_report(
            events, state, now=now, window_hours=seconds / 3600, limit=limit, owner_alive=_owner_alive
        )
        if as_json:
            echo_json(report)
            return
        print_report(report, label)


def _window(raw: str | None) -> tuple[str, float]:
    """``(label, seconds)`` from --window, else ORCH_PANEL_WINDOW_H (a bare number there means hours)."""
    import os

    from dagctl.dag.durations import parse_duration
    from dagctl.errors import UsageError

    source = "--window"
    if raw is None:
        env = os.environ.get("ORCH_PANEL_WINDOW_H", "").strip()
        if env:
            source, raw = "ORCH_PANEL_WINDOW_H", env + ("h" if env.replace(".", "", 1).isdigit() else "")
        else:
            raw = DEFAULT_WINDOW
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise UsageError(f"{source}: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"{source}: the window must be longer than 0", hint="e.g. --window 24h")
    return raw.strip(), seconds


def _owner_alive(run: RunSummary) -> bool | None:
    """Is the process that owns a running run alive? None when it cannot be told from here."""
    from dagctl.host import hostname, process_alive

    if not run.pid or (run.host and run.host != hostname()):
        return None
    return process_alive(run.pid, run.pid_start)


# --------------------------------------------------------------------------------------------- screen


def print_report(report: dict[str, Any], label: str) -> None:
    tasks, runs, schedules, tenants = report["tasks"], report["runs"], report["schedules"], report["tenants"]
    if not tasks["tasks"] and not runs and not schedules and not tenants:
        echo(f"no runs in the last {label}")
        return
    o = tasks["overall"]
    print_table(
        f"Task KPIs (last {label})",
        [
            ("ok", "right"),
            ("failed", "right"),
            ("retries", "right"),
            ("skipped", "right"),
            ("error rate", "right"),
            ("avg duration", "right"),
            ("p95 duration", "right"),
            ("cache hits", "right"),
        ],
        [
            [
                str(o["ok"]),
                str(o["failed"]),
                str(o["retries"]),
                str(o["skipped"]),
                _pct(o["error_rate"]),
                _dur(o["avg_duration_s"]),
                _dur(o["p95_duration_s"]),
                "-" if o.get("cache_hit_rate") is None else f"{o['cache_hits']} ({_pct(o['cache_hit_rate'])})",
            ]
        ],
        drop=(7, 3, 2),  # cache hits, skipped, retries
    )
    rows = tasks["tasks"]
    if rows:
        shown = rows[:TOP_TASKS]
        print_table(
            f"Tasks (most failures first, last {label})",
            [
                ("dag", "left"),
                ("task", "left"),
                ("ok", "right"),
                ("failed", "right"),
                ("retries", "right"),
                ("error rate", "right"),
                ("avg", "right"),
                ("p95", "right"),
                ("last", "left"),
            ],
            [
                [
                    r["dag_name"],
                    r["task_id"],
                    str(r["ok"]),
                    str(r["failed"]),
                    str(r["retries"]),
                    _pct(r["error_rate"]),
                    _dur(r["avg_duration_s"]),
                    _dur(r["p95_duration_s"]),
                    r["last_status"] or "",
                ]
                for r in shown
            ],
            status_column=8,
            caption=f"{len(rows) - len(shown)} more tasks (see --json)" if len(rows) > len(shown) else None,
            kinds=["text", "text", *["fixed"] * 7],
            drop=(4, 8, 6),  # retries, last, avg
        )
    if runs:
        print_table(
            "Recent DAG runs",
            [
                ("run", "left"),
                ("dag", "left"),
                ("tenant", "left"),
                ("status", "left"),
                ("started", "left"),
                ("duration", "right"),
                ("ok", "right"),
                ("failed", "right"),
                ("skipped", "right"),
                ("trigger", "left"),
            ],
            [
                [
                    r["run_id"],
                    r["dag_name"],
                    r["tenant"],
                    r["status"],
                    _local(r["start"]),
                    _dur(r["duration"]),
                    str(r["tasks_ok"]),
                    str(r["tasks_failed"]),
                    str(r["tasks_skipped"]),
                    _trigger(r),
                ]
                for r in runs
            ],
            status_column=3,
            kinds=["run", "text", "text", *["fixed"] * 6, "text"],
            drop=(2, 9, 8),  # tenant, trigger, skipped
        )
    if schedules:
        print_table(
            f"Schedules (counts: last {label})",
            [
                ("schedule", "left"),
                ("last run", "left"),
                ("last status", "left"),
                ("enqueued", "right"),
                ("success", "right"),
                ("failed", "right"),
                ("skipped", "right"),
            ],
            [
                [
                    s["schedule_id"],
                    _local(s["last_run"]),
                    s["last_status"] or "",
                    str(s["enqueued"]),
                    str(s["success"]),
                    str(s["failed"]),
                    str(s["skipped"]),
                ]
                for s in schedules
            ],
            status_column=2,
            kinds=["text", *["fixed"] * 6],
            drop=(6, 3),  # skipped, enqueued
        )
    if tenants:
        print_table(
            f"Per-tenant load (last {label})",
            [
                ("tenant", "left"),
                ("runs", "right"),
                ("tasks", "right"),
                ("failed", "right"),
                ("error rate", "right"),
                ("avg latency", "right"),
                ("p95 latency", "right"),
            ],
            [
                [
                    t["tenant"] or "-",
                    str(t["runs"]),
                    str(t["tasks"]),
                    str(t["failed"]),
                    _pct(t["error_rate"]),
                    _dur(t["avg_latency_s"]),
                    _dur(t["p95_latency_s"]),
                ]
                for t in tenants
            ],
            kinds=["text", *["fixed"] * 6],
            drop=(5, 2),  # avg latency, tasks
        )


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _dur(seconds: float | None) -> str:
    from dagctl.dag.durations import format_duration

    return "-" if seconds is None else format_duration(seconds)


def _local(ts: str | None) -> str:
    """A UTC timestamp from the logs, in this machine's local time."""
    from dagctl.store.events import parse_ts

    if not ts:
        return "-"
    return parse_ts(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _trigger(run: dict[str, Any]) -> str:
    trigger = run["trigger"] or "-"
    return f"{trigger}:{run['schedule_id']}" if run.get("schedule_id") else trigger
