"""Celery settings dagctl shares between the coordinator, the ledger and workers: where the broker is, how
patient to be, and a Redis client with short timeouts. Imports nothing of Celery until asked
(:func:`require`): the ``celery`` extra is optional.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dagctl.errors import ExecutorError, UsageError
from dagctl.settings import env_float, env_int

from .remote_logs import LOG_CAP_BYTES

INSTALL_HINT = "install the extra: pip install 'dagctl[celery]'"
DEFAULT_QUEUE = "dagctl"


@dataclass(frozen=True)
class CeleryConfig:
    """Where the broker is and how patient to be. Built once (flags, then env) and passed down."""

    broker: str = "redis://localhost:6379/0"
    queue: str = DEFAULT_QUEUE
    connect_timeout: float = 3.0
    """Seconds to wait for the broker before saying it is unreachable."""
    lease_s: float = 10.0
    """A worker renews its claim on a running attempt or job this often x3; silence for this long = lost."""
    coordinator_lease_s: float = 30.0
    """A coordinator (``dagctl run``) renews its own lease in the broker; once it has lapsed for ``lease_s``, the
    workers stop its attempts (it died: SIGKILL, OOM, a lost machine) and do not start those still queued."""
    broker_lost_s: float = 10.0
    """The coordinator gives up on in-flight attempts after the broker has been unreachable this long."""
    visibility_timeout: float = 3600.0
    """Redis transport: an unacknowledged message is redelivered after this many seconds."""
    log_cap: int = LOG_CAP_BYTES
    keep_s: int = 7 * 86400
    """How long the ledger remembers finished attempts and jobs."""
    worker_dir: str = ""
    """Worker-local run folders (default: <tmp>/dagctl-worker/<worker name>)."""
    max_jobs_per_drain: int = 100
    """``SCHED_MAX_JOBS_PER_DRAIN``: running jobs a worker's housekeeping drain looks at (and may requeue) per
    pass; the next pass goes on where it stopped (:meth:`~.celery_ledger.Ledger.recover_jobs`)."""

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, broker: str | None = None, **overrides: Any
    ) -> CeleryConfig:
        """``--broker``, else ``REDIS_URL``; ``DAGCTL_BROKER_TIMEOUT``, ``DAGCTL_WORKER_LEASE``,
        ``DAGCTL_COORDINATOR_LEASE``, ``DAGCTL_BROKER_LOST``, ``DAGCTL_WORKER_DIR``, ``DAGCTL_VISIBILITY_TIMEOUT``,
        ``SCHED_MAX_JOBS_PER_DRAIN``."""
        e = os.environ if env is None else env
        config = cls(
            broker=check_broker_url(broker or e.get("REDIS_URL") or cls.broker),
            connect_timeout=env_float(e, "DAGCTL_BROKER_TIMEOUT"),
            lease_s=env_float(e, "DAGCTL_WORKER_LEASE"),
            coordinator_lease_s=env_float(e, "DAGCTL_COORDINATOR_LEASE"),
            broker_lost_s=env_float(e, "DAGCTL_BROKER_LOST"),
            visibility_timeout=env_float(e, "DAGCTL_VISIBILITY_TIMEOUT"),
            worker_dir=e.get("DAGCTL_WORKER_DIR") or "",
            max_jobs_per_drain=env_int(e, "SCHED_MAX_JOBS_PER_DRAIN"),
        )
        return replace(config, **overrides) if overrides else config


def check_broker_url(url: str) -> str:
    """The URL, if it is a Redis URL; UsageError otherwise (the ledger needs Redis, whatever Celery supports)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise UsageError(
            f"broker URL {redact(url)!r} is not a Redis URL",
            hint="use redis://HOST:PORT/DB (or rediss:// for TLS); dagctl's Celery executor needs Redis",
        )
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise UsageError(f"broker URL {redact(url)!r} has a bad port", hint="use redis://HOST:PORT/DB") from None
    database = parts.path.strip("/")
    if database and not (database.isascii() and database.isdigit()):  # redis-py's error came at the first send
        raise UsageError(
            f"broker URL {redact(url)!r} has a bad database {database!r}",
            hint="use redis://HOST:PORT/DB with DB a number, such as redis://localhost:6379/0",
        )
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages and events."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def describe_redis_error(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:300]


def require(module: str) -> Any:
    """Import an optional dependency of the ``celery`` extra, or fail with the install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ExecutorError(
            f"the Celery executor needs the '{module.split('.')[0]}' package ({exc})", hint=INSTALL_HINT
        ) from None


def connect(config: CeleryConfig) -> Any:
    """A redis-py client for the broker's Redis with short timeouts and no silent retry loops."""
    redis = require("redis")
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    return redis.Redis.from_url(
        config.broker,
        socket_connect_timeout=config.connect_timeout,
        # a broker that accepts connections but does not answer (SIGSTOP, a hung host) is noticed this fast, so
        # DAGCTL_BROKER_LOST holds within one timeout; every command dagctl sends is quick (no blocking reads)
        socket_timeout=config.connect_timeout,
        health_check_interval=30,
        # one retry on a dropped connection (the broker restarted: the pooled socket is dead), none after a
        # timeout: a broker that does not answer costs one socket_timeout per call, not two
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
