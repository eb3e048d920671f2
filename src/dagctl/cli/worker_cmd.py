"""``dagctl worker``: a Celery worker that runs task attempts and queued whole-DAG runs."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from . import queue_cmd

    queue_cmd.register(app)

    @app.command("worker")
    def worker(
        broker: str | None = typer.Option(
            None, "--broker", help="Redis URL of the broker (default: REDIS_URL, else redis://localhost:6379/0)."
        ),
        concurrency: int = typer.Option(2, "--concurrency", "-c", min=1, help="Tasks run at once (one process each)."),
        queues: str | None = typer.Option(
            None, "--queues", "-Q", help="Comma-separated queues to take work from (default: dagctl)."
        ),
        name: str | None = typer.Option(
            None,
            "--name",
            "--worker-id",
            help="Worker name, NAME or NAME@HOST (default: dagctl-<pid>@<host>); --worker-id is the design "
            "notes' spelling.",
        ),
        name_n: str | None = typer.Option(None, "-n", hidden=True),  # the old short form: -n is --limit elsewhere
        shutdown_timeout: float | None = typer.Option(
            None,
            "--shutdown-timeout",
            min=0.0,
            help="On SIGTERM, give running tasks this many seconds to "
            "finish, then hand them back to the queue (default: "
            "wait for them).",
        ),
        loglevel: str = typer.Option(
            "warning", "--loglevel", "-l", help="Celery's log level: debug, info, warning, error."
        ),
    ) -> None:
        """Run tasks for other machines: attempts of `dagctl run --executor celery` and queued runs.

        Needs the celery extra (pip install 'dagctl[celery]'), a reachable Redis, and the DAGs' files and
        Python modules at the same paths as on the coordinator. SIGTERM is a warm shutdown: no new work,
        running tasks finish (or, after --shutdown-timeout, go back to the queue). Exit 3 when the broker
        is unreachable.

        \b
        Examples:
          dagctl worker --broker redis://queue-host:6379/0 --concurrency 4
          dagctl worker --queues gpu --name gpu1          # takes tasks with `queue: gpu`
          dagctl worker --queues dagctl,gpu --shutdown-timeout 60
          dagctl worker --worker-id worker-1
        """
        from dagctl.errors import UsageError
        from dagctl.run.executors.celery_config import CeleryConfig, redact, require

        require("celery")  # the extra is missing: say so (exit 3) before anything is announced
        require("redis")
        from dagctl.run.workerstart import start_worker, worker_nodename
        from dagctl.settings import Settings

        from .render import echo_err

        name = name if name is not None else name_n
        level = loglevel.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise UsageError(f"--loglevel {loglevel!r} is not a log level", hint="use debug, info, warning or error")
        names = [q.strip() for q in (queues or "").split(",") if q.strip()]
        config = CeleryConfig.from_env(broker=broker or Settings.from_env().redis_url)
        nodename = worker_nodename(name)
        echo_err(
            f"dagctl worker {nodename}: queues {', '.join(names or [config.queue])}, concurrency {concurrency}, "
            f"broker {redact(config.broker)}"
        )
        code = start_worker(
            config,
            name=nodename,
            concurrency=concurrency,
            queues=names or None,
            loglevel=level,
            shutdown_timeout=shutdown_timeout,
        )
        raise typer.Exit(code)
