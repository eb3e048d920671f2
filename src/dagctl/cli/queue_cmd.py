"""``dagctl queue``: the persistent run queue (QUEUE_BACKEND=redis) at a glance."""

from __future__ import annotations

from typing import Any

import typer


def register(app: typer.Typer) -> None:
    @app.command("queue")
    def queue(
        broker: str | None = typer.Option(None, "--broker", help="Redis URL of the broker (default: REDIS_URL)."),
        limit: int = typer.Option(20, "--limit", "-n", min=0, help="How many recent jobs to list."),
        window: int = typer.Option(1000, "--window", min=1, help="Count job states over this many recent jobs."),
        as_json: bool = typer.Option(False, "--json", help="Print everything as JSON."),
    ) -> None:
        """Show queued runs: counts by state, recent jobs, live workers and waiting messages.

        Jobs are whole-DAG runs put on the queue by the scheduler (QUEUE_BACKEND=redis) and run by
        `dagctl worker`. States: pending, running, retry, success, failed.

        \b
        Examples:
          dagctl queue
          dagctl queue --broker redis://queue-host:6379/0 --limit 50
          dagctl queue --json | jq .counts
        """
        from dagctl.errors import UsageError
        from dagctl.run.executors.celery import RunQueue
        from dagctl.run.executors.celery_config import CeleryConfig
        from dagctl.settings import Settings

        from .render import echo_json

        settings = Settings.from_env()
        if broker is None and settings.queue_backend != "redis":
            raise UsageError(
                f"QUEUE_BACKEND={settings.queue_backend}: runs are not queued, so there is no queue to show",
                hint="set QUEUE_BACKEND=redis and REDIS_URL, or pass --broker URL",
            )
        with RunQueue(CeleryConfig.from_env(broker=broker or settings.redis_url)) as run_queue:
            status = run_queue.status(limit=limit, window=window)
        if as_json:
            echo_json(status)
            return
        print_status(status)


def print_status(status: dict[str, Any]) -> None:
    from .render import echo, print_rows

    counts = status["counts"]
    echo(f"Queue at {status['broker']}")
    echo("Jobs (last {:,}): ".format(status["window"]) + "  ".join(f"{k} {v}" for k, v in counts.items()))
    echo("Messages waiting: " + ("  ".join(f"{q} {n}" for q, n in status["waiting"].items()) or "none"))
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
