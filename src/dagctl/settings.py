"""Paths and defaults, read once from the environment (and flags) and passed down. No globals."""

from __future__ import annotations

import os
from pathlib import Path

from .records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

VERSION = "0.1.0"
"""dagctl's version (``dagctl.__version__``, ``dagctl --version``); also keys the plan cache."""


class Settings(Record):
    logs_dir: Path = Path("logs")
    events_path: Path = Path("logs/orchestrator_events.jsonl")
    state_path: Path = Path("logs/orchestrator_state.jsonl")
    grace_s: float = 5.0
    sched_tick_ms: int = 1000
    sched_max_parallel: int = 3
    executor: str = "threads"
    queue_backend: str = "memory"
    redis_url: str = "redis://localhost:6379/0"
    plan_cache: bool = True

    @property
    def runs_dir(self) -> Path:
        return self.logs_dir / "runs"

    @property
    def plan_cache_dir(self) -> Path | None:
        """Where validated plans of DAG files are kept (:mod:`dagctl.dag.plancache`); None when turned off."""
        return self.logs_dir / "cache" / "plans" if self.plan_cache else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build from ``DAGCTL_LOGS_DIR``, ``ORCH_EVENTS_PATH``, ``STATE_STORE_PATH``, ``SCHED_*`` ..."""
        e = os.environ if env is None else env
        logs = Path(e.get("DAGCTL_LOGS_DIR") or "logs")
        settings = cls(
            logs_dir=logs,
            events_path=Path(e.get("ORCH_EVENTS_PATH") or logs / "orchestrator_events.jsonl"),
            state_path=Path(e.get("STATE_STORE_PATH") or logs / "orchestrator_state.jsonl"),
            grace_s=env_number(e, "DAGCTL_GRACE", 5.0),
            sched_tick_ms=int(env_number(e, "SCHED_TICK_MS", 1000)),
            sched_max_parallel=int(env_number(e, "SCHED_MAX_PARALLEL", 3)),
            executor=e.get("DAGCTL_EXECUTOR") or "threads",
            queue_backend=e.get("QUEUE_BACKEND") or "memory",
            redis_url=e.get("REDIS_URL") or "redis://localhost:6379/0",
            plan_cache=(e.get("DAGCTL_PLAN_CACHE") or "1").strip().lower() not in ("0", "false", "no", "off"),
        )
        return settings.replace(**overrides) if overrides else settings


def env_number(env: Mapping[str, str], name: str, default: float, *, positive: bool = False) -> float:
    """A number from the environment, ``default`` when unset or empty; UsageError naming the variable when
    it is not a number (or, with ``positive``, not above zero)."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or (positive and value <= 0):
        from .errors import UsageError

        kind = "a positive number" if positive else "a number"
        raise UsageError(
            f"environment variable {name}={raw!r} is not {kind}", hint=f"unset it or set e.g. {name}={default:g}"
        )
    return value
