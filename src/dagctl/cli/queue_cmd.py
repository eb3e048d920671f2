"""``dagctl queue``: the persistent run queue (QUEUE_BACKEND=redis) at a glance; ``dagctl queue remove`` takes jobs
off it."""

from __future__ import annotations

from typing import Any

import typer

from .conventions import Group

QUEUE_HELP = """Show queued runs: counts by state, recent jobs, live workers and waiting messages.

Jobs are whole-DAG runs put on the queue by the scheduler (QUEUE_BACKEND=redis) or enqueue_run(), and run by
`dagctl worker`. States: pending, running, retry, success, failed, cancelled. Messages waiting are listed for
every queue that has some; a queue no live worker takes is marked so.

\b
Examples:
  dagctl queue
  dagctl queue --broker redis://queue-host:6379/0 --limit 50
  dagctl queue --json | jq .counts
  dagctl queue remove diamond_nightly@2026-03-08T07:00:00+00:00
"""

BROKER_HELP = "Redis URL of the broker (default: REDIS_URL)."


def _run_queue(broker: str | None) -> Any:
    from dagctl.errors import UsageError
    from dagctl.run.executors.celery import RunQueue
    from dagctl.run.executors.celery_config import CeleryConfig
    from dagctl.settings import Settings

    settings = Settings.from_env()
    if broker is None and settings.queue_backend != "redis":
        raise UsageError(
            f"QUEUE_BACKEND={settings.queue_backend}: runs are not queued, so there is no queue to show",
            hint="set QUEUE_BACKEND=redis and REDIS_URL, or pass --broker URL",
        )
    return RunQueue(CeleryConfig.from_env(broker=broker or settings.redis_url))


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        cls=Group,
        help=QUEUE_HELP,
        rich_markup_mode=None,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @group.callback(invoke_without_command=True)
    def queue(
        ctx: typer.Context,
        broker: str | None = typer.Option(None, "--broker", help=BROKER_HELP),
        limit: int = typer.Option(20, "--limit", "-n", min=0, help="How many recent jobs to list."),
        window: int = typer.Option(
            1000, "--window", min=1, metavar="N", help="Count job states over this many recent jobs."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print everything as JSON."),
    ) -> None:
        from .render import echo_json

        if ctx.invoked_subcommand is not None:
            return
        with _run_queue(broker) as run_queue:
            status = run_queue.status(limit=limit, window=window)
        if as_json:
            echo_json(status)
            return
        print_status(status)

    @group.command("remove")
    def remove(
        jobs: list[str] = typer.Argument(..., help="Job ids (dagctl queue lists them), or the run ids they run as."),
        broker: str | None = typer.Option(None, "--broker", help=BROKER_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print what happened to each job as JSON."),
    ) -> None:
        """Cancel queued jobs: one waiting (pending, or retry after a failed run) never runs and leaves the queue;
        one running is stopped by its worker within seconds and recorded cancelled. Exit 2 if a job is unknown.

        \b
        Examples:
          dagctl queue remove diamond_nightly@2026-03-08T07:00:00+00:00
          dagctl queue remove 20261207-214302.019-1cd744     # the job that runs as this run id
          dagctl queue remove JOB1 JOB2 --json
        """
        import getpass

        from dagctl.errors import UsageError
        from dagctl.host import hostname
        from dagctl.run.executors.celery_queue import cancel_queued_run

        from .render import echo, echo_json

        reason = f"removed from the queue by dagctl queue remove ({getpass.getuser()}@{hostname()})"
        done, unknown = [], []
        with _run_queue(broker) as run_queue:
            for job in jobs:
                outcome = cancel_queued_run(job, reason, run_queue=run_queue)
                if outcome is None:
                    unknown.append(job)
                    continue
                done.append(outcome)
                if not as_json:
                    echo(outcome.describe())
        if as_json:
            echo_json(
                {
                    "jobs": [
                        {"job_id": o.job_id, "verdict": o.verdict, "state": o.state, "run_id": o.run_id or None}
                        for o in done
                    ],
                    "unknown": unknown,
                }
            )
        if unknown:
            raise UsageError(
                f"no queue job {', '.join(repr(u) for u in unknown)} (neither a job id nor the run id of a job)",
                hint="dagctl queue lists the recent jobs with their ids and runs",
            )

    app.add_typer(group, name="queue")


def print_status(status: dict[str, Any]) -> None:
    from .render import echo, print_rows

    counts = status["counts"]
    unserved = set(status.get("unserved", []))
    echo(f"Queue at {status['broker']}")
    echo("Jobs (last {:,}): ".format(status["window"]) + "  ".join(f"{k} {v}" for k, v in counts.items()))
    waiting = [
        f"{q} {n}" + (" (no live worker takes it)" if q in unserved else "") for q, n in status["waiting"].items()
    ]
    echo("Messages waiting: " + ("  ".join(waiting) or "none"))
    workers = status["workers"]
    if workers:
        echo(
            "Workers: "
            + "; ".join(
                f"{w['name']} (queues {','.join(w.get('queues', []))}, concurrency {w.get('concurrency', '?')})"
                for w in workers
            )
        )
    else:
        echo("Workers: none alive (start one with: dagctl worker)")
    jobs = status["jobs"]
    if not jobs:
        if not any(counts.values()):  # (with --limit 0 the jobs are only counted)
            echo("No jobs yet.")
        return
    rows = [
        [
            j.get("id", ""),
            j.get("state", ""),
            _dag(j.get("dag_path", "")),
            j.get("schedule_id", ""),
            j.get("tenant", ""),
            j.get("enqueued_at", ""),
            str(j.get("attempts", "")),
            j.get("worker", ""),
            j.get("run_id", ""),
            j.get("error", ""),
        ]
        for j in jobs
    ]
    echo()
    print_rows(
        "Recent jobs",
        ["job", "state", "dag", "schedule", "tenant", "enqueued", "tries", "worker", "run", "error"],
        rows,
        kinds=["fixed", "fixed", "text", "text", "text", "fixed", "fixed", "text", "run", "text"],
    )


def _dag(path: str) -> str:
    return path.rsplit("/", 1)[-1]
