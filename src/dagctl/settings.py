"""Paths and defaults, read once from the environment (and flags) and passed down. No globals.

Every environment variable dagctl reads is declared in :data:`ENV_VARS`, with its type and allowed range,
and parsed by :meth:`Settings.from_env` when a command starts: a bad value stops the command before any
task runs, with a message naming the variable and what it accepts (exit 2). Paths dagctl writes are
checked by :func:`check_writable` (a directory, FIFO, symlink loop, read-only folder or full disk where a
file should be: exit 3, naming the variable and the path), without ever opening a non-regular file in a
way that could block. docs/operating.md lists the variables.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import EnvironmentProblem, UsageError
from .records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

VERSION = "0.1.0"
"""dagctl's version (``dagctl.__version__``, ``dagctl --version``); also keys the plan cache."""


class EnvVar(Record):
    """One environment variable dagctl reads: its name, kind, default and allowed range."""

    name: str
    kind: str
    """``path``, ``int``, ``float``, ``bool``, ``choice``, ``window`` (hours, or a duration: checked for its sign and
    size here, for its units where it is used) or ``str``."""
    default: object
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def allowed(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "1/0, true/false, yes/no or on/off"
        if self.kind in ("int", "float"):
            what = "a whole number" if self.kind == "int" else "a number"
            return f"{what} from {_number(self.minimum)} to {_number(self.maximum)}"
        if self.kind == "window":
            return "hours above 0 (a bare number such as 24) or a duration such as 90m or 7d"
        return "a path" if self.kind == "path" else "text"


def _number(value: float | None) -> str:
    return f"{value:g}" if value is None or value != int(value) else str(int(value))


ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("DAGCTL_LOGS_DIR", "path", "logs", "folder for event logs, run folders and caches"),
    EnvVar("ORCH_EVENTS_PATH", "path", None, "the event log (default: $DAGCTL_LOGS_DIR/orchestrator_events.jsonl)"),
    EnvVar("STATE_STORE_PATH", "path", None, "the scheduler's state log (default: logs/orchestrator_state.jsonl)"),
    EnvVar("DAGCTL_GRACE", "float", 5.0, "seconds a stopped task gets between SIGTERM and SIGKILL", 0, 3600),
    # at most a minute: a longer tick would sleep past whole slots of an every-minute schedule without catchup
    EnvVar("SCHED_TICK_MS", "int", 1000, "milliseconds between scheduler ticks (--serve)", 10, 60_000),
    EnvVar("SCHED_MAX_PARALLEL", "int", 3, "scheduled runs at once", 1, 1024),
    EnvVar(
        "SCHED_MAX_JOBS_PER_DRAIN",
        "int",
        100,
        "queue jobs of lost workers a worker's housekeeping drain requeues per pass (QUEUE_BACKEND=redis)",
        1,
        100_000,
    ),
    EnvVar("SCHED_TIMEZONE", "str", "UTC", "timezone of schedules that name none"),
    EnvVar("DAGCTL_EXECUTOR", "choice", "threads", "where tasks run", choices=("threads", "celery")),
    EnvVar("QUEUE_BACKEND", "choice", "memory", "where scheduled runs go", choices=("memory", "redis")),
    EnvVar("REDIS_URL", "str", "redis://localhost:6379/0", "the Redis broker (celery executor, redis queue)"),
    EnvVar("DAGCTL_PLAN_CACHE", "bool", True, "keep validated plans of DAG files"),
    EnvVar("DAGCTL_CACHE_DIR", "path", None, "the task cache (default: $DAGCTL_LOGS_DIR/cache/tasks)"),
    EnvVar("DAGCTL_DEBUG", "bool", False, "print tracebacks with errors"),
    EnvVar(
        "ORCH_PANEL_WINDOW_H", "window", "24", "window of dagctl stats and the web panel: hours, or a duration like 2d"
    ),
    EnvVar("DAGCTL_BROKER_TIMEOUT", "float", 3.0, "seconds to wait for the broker", 0.1, 600),
    EnvVar("DAGCTL_WORKER_LEASE", "float", 10.0, "seconds a worker's claim on an attempt lasts", 1, 3600),
    EnvVar(
        "DAGCTL_COORDINATOR_LEASE",
        "float",
        30.0,
        "seconds of silence after which workers stop the attempts of a coordinator (dagctl run) that died",
        1,
        86400,
    ),
    EnvVar("DAGCTL_BROKER_LOST", "float", 10.0, "seconds without the broker before in-flight work fails", 1, 3600),
    EnvVar("DAGCTL_VISIBILITY_TIMEOUT", "float", 3600.0, "seconds before Redis redelivers a message", 10, 86400 * 7),
)
BY_NAME = {v.name: v for v in ENV_VARS}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
"""Numbers as written in ASCII decimal: Python's int() and float() also take ``1_000`` and other scripts' digits."""
_SHOWN = 60  # longer values are cut in messages


def env_value(env: Mapping[str, str], name: str) -> object:
    """The parsed value of the declared variable ``name`` (its default when unset or empty).

    Raises :class:`UsageError` (exit 2) naming the variable and what it accepts."""
    var = BY_NAME[name]
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return var.default
    text = raw.strip()

    def bad(why: str = "is not valid") -> UsageError:
        shown = raw if len(raw) <= _SHOWN else raw[: _SHOWN - 3] + "..."
        return UsageError(
            f"environment variable {name}={shown!r} {why}: expected {var.allowed()}",
            hint=f"fix it, or unset it to get the default ({var.default})",
        )

    if var.kind == "path":
        if "\x00" in raw:
            raise bad("contains a NUL byte")
        return raw
    if var.kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise bad()
    if var.kind == "choice":
        if text.lower() not in var.choices:
            raise bad()
        return text.lower()
    if var.kind == "window":  # a bare number is hours; a duration's units are checked where it is used
        if _FLOAT.fullmatch(text):
            hours = float(text)
            if not 0 < hours <= 365 * 24:  # (365 days: the longest duration dagctl takes)
                raise bad("is out of range")
        elif text.startswith("-"):
            raise bad("is negative")
        return raw.strip()
    if var.kind in ("int", "float"):
        if not (_INT if var.kind == "int" else _FLOAT).fullmatch(text):
            raise bad()
        try:
            number = float(text) if var.kind == "float" else int(text)
        except ValueError:
            raise bad() from None
        # float() accepts nan and inf, and 1e400 overflows to inf: none of them is a setting
        if number != number or number in (float("inf"), float("-inf")):
            raise bad()
        assert var.minimum is not None and var.maximum is not None
        if not var.minimum <= number <= var.maximum:
            raise bad("is out of range")
        return number
    return raw


def env_float(env: Mapping[str, str], name: str) -> float:
    value = env_value(env, name)
    assert isinstance(value, (int, float))
    return float(value)


def env_int(env: Mapping[str, str], name: str) -> int:
    return int(env_float(env, name))


def env_text(env: Mapping[str, str], name: str) -> str:
    return str(env_value(env, name)).strip()


class Settings(Record):
    logs_dir: Path = Path("logs")
    events_path: Path = Path("logs/orchestrator_events.jsonl")
    state_path: Path = Path("logs/orchestrator_state.jsonl")
    grace_s: float = 5.0
    sched_tick_ms: int = 1000
    sched_max_parallel: int = 3
    sched_timezone: str = "UTC"
    executor: str = "threads"
    queue_backend: str = "memory"
    redis_url: str = "redis://localhost:6379/0"
    plan_cache: bool = True
    cache_dir: Path | None = None
    """The task cache's folder (``DAGCTL_CACHE_DIR``); None: ``<logs>/cache/tasks``."""

    @property
    def runs_dir(self) -> Path:
        return self.logs_dir / "runs"

    @property
    def task_cache_dir(self) -> Path:
        return self.cache_dir or self.logs_dir / "cache" / "tasks"

    @property
    def run_catalog_path(self) -> Path:
        """Each run's DAG, tenant and status, for filtered listings (:mod:`dagctl.store.runcatalog`)."""
        return self.logs_dir / "cache" / "runs.json"

    @property
    def plan_cache_dir(self) -> Path | None:
        """Where validated plans of DAG files are kept (:mod:`dagctl.dag.plancache`); None when turned off."""
        return self.logs_dir / "cache" / "plans" if self.plan_cache else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Every declared variable parsed and range-checked (:data:`ENV_VARS`); flags win (``overrides``)."""
        e = os.environ if env is None else env
        logs = Path(env_text(e, "DAGCTL_LOGS_DIR"))
        events = env_value(e, "ORCH_EVENTS_PATH")
        state = env_value(e, "STATE_STORE_PATH")
        for var in ENV_VARS:  # the ones read elsewhere too: a bad value stops every command at its start
            env_value(e, var.name)
        settings = cls(
            logs_dir=logs,
            events_path=Path(str(events)) if events else logs / "orchestrator_events.jsonl",
            state_path=Path(str(state)) if state else logs / "orchestrator_state.jsonl",
            grace_s=env_float(e, "DAGCTL_GRACE"),
            sched_tick_ms=env_int(e, "SCHED_TICK_MS"),
            sched_max_parallel=env_int(e, "SCHED_MAX_PARALLEL"),
            sched_timezone=env_text(e, "SCHED_TIMEZONE"),
            executor=env_text(e, "DAGCTL_EXECUTOR"),
            queue_backend=env_text(e, "QUEUE_BACKEND"),
            redis_url=env_text(e, "REDIS_URL"),
            plan_cache=bool(env_value(e, "DAGCTL_PLAN_CACHE")),
            cache_dir=Path(str(env_value(e, "DAGCTL_CACHE_DIR"))) if env_value(e, "DAGCTL_CACHE_DIR") else None,
        )
        return settings.replace(**overrides) if overrides else settings

    def check_writable(self, *which: str) -> None:
        """Check that the named paths (``events``, ``state``, ``logs``, ``cache``) can be written, before work starts.

        Raises :class:`EnvironmentProblem` (exit 3) naming the variable and the path. Never blocks: a FIFO
        or a device where a file should be is refused before anything is opened for writing.
        """
        for what in which:
            if what == "logs":
                check_folder(self.logs_dir, "DAGCTL_LOGS_DIR")
                check_folder(self.runs_dir, "DAGCTL_LOGS_DIR")
            elif what == "events":
                check_file(self.events_path, "ORCH_EVENTS_PATH")
            elif what == "state":
                check_file(self.state_path, "STATE_STORE_PATH")
            elif what == "cache":  # a cache on a full disk only costs its entries (warned per task): not refused
                check_folder(self.task_cache_dir, "DAGCTL_CACHE_DIR", need_space=False)
            else:
                raise ValueError(f"unknown path {what!r}")

    def check_readable(self, *which: str) -> None:
        """Check that the named files (``events``, ``state``) can be read where they exist (a missing one holds
        nothing yet). Raises :class:`EnvironmentProblem` (exit 3) naming the variable, as :meth:`check_writable`
        does for writes, instead of a bare "cannot read /tmp" that leaves the user to find which setting it is."""
        for what in which:
            if what == "events":
                check_readable_file(self.events_path, "ORCH_EVENTS_PATH", "the event log")
            elif what == "state":
                check_readable_file(self.state_path, "STATE_STORE_PATH", "the scheduler's state log")
            else:
                raise ValueError(f"unknown path {what!r}")


MIN_FREE_BYTES = 64 * 1024
"""Less free space than this where dagctl writes counts as a full disk."""


def _problem(var: str, path: Path, reason: str) -> EnvironmentProblem:
    return EnvironmentProblem(
        f"cannot write {path} ({var}): {reason}",
        hint=f"fix the path or the disk, or point {var} elsewhere",
    )


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_folder(folder: Path, var: str, *, need_space: bool = True, target: Path | None = None) -> None:
    """``folder`` exists (made if missing) as a writable directory on a disk that is not full (unless not
    ``need_space``). Problems name ``target`` (the file to be written in it) when given, else the folder."""
    named = target or folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise _problem(
            var, named, "it exists and is not a directory" if named == folder else f"{folder} is not a directory"
        ) from None
    except OSError as exc:
        raise _problem(var, named, _reason(exc)) from None
    if not folder.is_dir():
        raise _problem(var, named, "it is not a directory" if named == folder else f"{folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _problem(var, named, "permission denied (or a read-only file system)")
    try:
        stats = os.statvfs(folder)
    except OSError:
        return
    if stats.f_flag & os.ST_RDONLY:
        raise _problem(var, named, "read-only file system")
    if stats.f_blocks == 0:  # no blocks at all: a pseudo file system (/proc, /sys), not a full disk
        _probe(folder, var, named)
    elif need_space and stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES:
        raise _problem(var, named, "no space left on device")


def check_readable_file(path: Path, var: str, what: str) -> None:
    """``path`` is a readable regular file, or missing."""
    reason = _file_problem(path, os.R_OK)
    if reason is not None:
        raise EnvironmentProblem(
            f"cannot read {path} ({var}): {reason}", hint=f"point {var} at {what}, a file, or unset it"
        )


def _file_problem(path: Path, access: int) -> str | None:
    """Why ``path`` is not a regular file this process may use with ``access`` (``os.R_OK``, ``os.W_OK``); None when
    it is one, or is missing (it can still be created)."""
    import stat

    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ENOTDIR (a file where a folder should be), ELOOP, EACCES ...
        return _reason(exc)
    if stat.S_ISDIR(info.st_mode):
        return "it is a directory"
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file (a FIFO, socket or device)"
    if not os.access(path, access):
        return "permission denied"
    return None


KERNEL_FILE_SYSTEMS = frozenset(
    {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "debugfs", "tracefs", "securityfs", "configfs", "pstore", "bpf",
     "efivarfs", "fusectl", "mqueue", "binfmt_misc", "autofs", "nsfs", "selinuxfs"}
)  # fmt: skip
"""File systems the kernel makes up (they report no blocks): nothing dagctl writes can live there."""


def _mount_of(folder: Path) -> tuple[str, str] | None:
    """(mount point, file system type) of the mount ``folder`` is on, from ``/proc/self/mounts``; None if unknown."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
        where = str(folder.resolve())
    except (OSError, RuntimeError):
        return None
    best: tuple[str, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, fields[2])
    return best


def _probe(folder: Path, var: str, named: Path | None = None) -> None:
    """Make and remove a file in ``folder``: the only way to know whether one can be made there."""
    import contextlib
    import tempfile

    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".dagctl-probe-")
    except OSError as exc:
        mount = _mount_of(folder)
        if mount is not None and mount[1] in KERNEL_FILE_SYSTEMS:
            reason = f"{mount[0]} is a kernel file system ({mount[1]}), where files cannot be written"
        else:
            reason = f"files cannot be created in {folder} ({_reason(exc)})"
        raise _problem(var, named or folder, reason) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def check_file(path: Path, var: str) -> None:
    """``path`` is (or can be created as) a regular, writable file in a usable folder."""
    reason = _file_problem(path, os.W_OK)
    if reason is not None:
        raise _problem(var, path, reason)
    check_folder(path.parent, var, target=path)
