"""Choosing an executor by name (``--executor`` / ``DAGCTL_EXECUTOR``), for the CLI and the scheduler."""

from __future__ import annotations

from dagctl.errors import UsageError
from dagctl.settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXECUTORS = ("threads", "celery")


def make_executor(name: str | None, broker: str | None = None, settings: Settings | None = None) -> Any:
    """The executor to run tasks on; None means :func:`dagctl.run.api.run_dag`'s own thread pool per run.

    ``celery`` connects to the broker now, so a dead or wrong broker fails within seconds (exit 3).
    """
    settings = settings or Settings.from_env()
    chosen = (name or settings.executor or "threads").strip().lower()
    check_broker_use(chosen, broker)
    if chosen == "threads":
        return None
    if chosen == "celery":
        from .celery import CeleryExecutor
        from .celery_config import CeleryConfig

        return CeleryExecutor(CeleryConfig.from_env(broker=broker or settings.redis_url))
    raise UsageError(f"unknown executor '{chosen}'", hint="use --executor threads or --executor celery")


def check_broker_use(executor: str, broker: str | None) -> None:
    """``--broker`` with the thread executor was silently ignored: the run ran here while the user meant it for
    the workers."""
    if broker and executor.strip().lower() == "threads":
        raise UsageError(
            "--broker is for the Celery executor, and this run would use local threads",
            hint="add --executor celery (or set DAGCTL_EXECUTOR=celery), or leave out --broker",
        )
