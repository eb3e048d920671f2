"""The task cache: a task whose inputs are those of a run that already did it is not run again.

**The key** is the SHA-256 of canonical JSON (sorted keys, no spaces) of:

* the task kind, and its fully resolved command (shell string or argv list), ``cwd`` and ``params``
  (templates rendered, upstream payload ``<up>__<key>`` included);
* its environment as given by the DAG (``env:`` of the DAG and the task, rendered, ``.env`` files and secrets),
  and what dagctl adds that names the task: ``DAGCTL_DAG_NAME``, ``DAGCTL_TASK_ID``, a matrix cell's
  ``DAGCTL_MATRIX*``, a loop's ``DAGCTL_ITERATION`` (of its first iteration); but not the run-specific
  ``DAGCTL_RUN_ID``, ``DAGCTL_RUN_DIR``, ``DAGCTL_OUTPUT``, ``DAGCTL_ATTEMPT``, ``DAGCTL_UNIT`` and
  ``DAGCTL_LOGICAL_DATE`` (reference ``${logical_date}`` in the command to make it part of the key), and not the
  environment dagctl itself was started with;
* for ``python:`` / ``workflow_ref`` tasks, the callable and the SHA-256 of its module's source file (not the
  modules that module imports: list them in ``inputs`` to include them);
* the outputs of the upstream tasks it receives;
* when it has ``inputs`` globs: the folder they are relative to (:func:`inputs_base`: the task's ``cwd:``; else the
  folder dagctl was started in for a ``run:`` task or one with ``isolation: process``, where its command runs, and
  the DAG's folder for a Python task in a thread, where its module and ``.env`` files are found), so that runs
  from different folders each have entries of their own, and the path and SHA-256 of every file they match,
  relative to it. A unit whose glob matches no file is never read from nor stored in the cache (:func:`cache_key`
  reports the glob): an entry keyed on "no files" would be served after the files meant changed;
* for a loop (``repeat:``), what decides its iterations (:func:`loop_material`): ``until``, ``max_iterations``,
  ``on_max``, and the values ``until`` reads besides the loop's own outputs (params, ``env.NAME``, upstream
  outputs, ``run_id``, ``logical_date``);
* the ``key`` salt, and a format version.

The DAG's name and the task's id are in the key (a command may read them: ``$DAGCTL_TASK_ID``, ``${task.id}``):
two tasks doing the same thing each have an entry, and renaming a DAG or a task starts its entries anew. Not in
the key: the time, ``timeout``/``retries``, a loop's ``delay``, the machine, anything the task reads that is not
listed above (a URL, a database, a file not in ``inputs``). Use ``key:`` or ``ttl:`` for those, or
``dagctl run --refresh``.

**The store** is ``$DAGCTL_CACHE_DIR`` (default ``<logs>/cache/tasks``): ``<key[:2]>/<key>.json`` holds the
outputs, where the entry came from and whether it has a log; ``<key>.log`` is the log of the attempt that made
it (when it wrote one). Entries are written to a temporary file and renamed, so two runs computing the same key
at once leave one whole entry; a file that does not parse is a miss, with a warning. A hit touches the entry, so
:func:`evict` can drop the least recently used entries beyond a size cap (``cache: {max_size: 2GiB}`` in
dagctl.yaml). Unreadable entries (a damaged file, one that is not a cache entry of its key) can never be hit: they
are dropped first by :func:`evict`, and ``dagctl cache clear`` removes them with the others
(:meth:`CacheStore.unreadable`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from dagctl.errors import DagctlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any

    from dagctl.dag.plan import Plan, PlannedTask

    from .attempts import Attempt
    from .environment import RunEnvironment

FORMAT = 1
TEMPORARY = ".tmp"
"""How the files an entry is written to before it is renamed into place end: ``<key>.json.<pid>.<n>.tmp``."""
STALE_AFTER_S = 3600.0
"""A temporary file this old is left over, whoever wrote it (``dagctl cache clear`` removes it)."""
_RUN_SPECIFIC = frozenset(
    {"DAGCTL_RUN_ID", "DAGCTL_RUN_DIR", "DAGCTL_OUTPUT", "DAGCTL_ATTEMPT", "DAGCTL_UNIT", "DAGCTL_LOGICAL_DATE"}
)


def canonical(value: Any) -> bytes:
    """JSON with sorted keys and no spaces: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _file_digest(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def module_source(target: str, search_path: list[str]) -> str | None:
    """SHA-256 of the source file of ``module:function``'s module, found without importing it."""
    module = target.partition(":")[0]
    for folder in search_path:
        base = Path(folder).joinpath(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return _file_digest(candidate)
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None) if spec is not None else None
    return _file_digest(Path(origin)) if origin and origin not in ("built-in", "frozen") else None


def inputs_base(attempt: Attempt, dag_dir: Path | None = None) -> Path:
    """The folder an attempt's ``inputs`` globs are relative to, absolute: its ``cwd:`` (relative to the folder
    dagctl runs in) when it has one; else the folder dagctl runs in for a ``run:`` task or one with ``isolation:
    process`` (where its command runs, so a glob names files as the command does), and ``dag_dir`` (the DAG's
    folder, :attr:`~dagctl.run.resolve.AttemptFactory.dag_dir`; the folder dagctl runs in for a DAG without a file)
    for a Python task in a thread, whose module and ``.env`` files are found there."""
    return _base(attempt.kind, attempt.isolation, attempt.cwd, dag_dir)


def _base(kind: str, isolation: str, cwd: str | None, dag_dir: Path | None) -> Path:
    here = Path.cwd()
    if cwd:
        return Path(os.path.abspath(here / cwd))
    if kind == "run" or isolation == "process" or dag_dir is None:
        return here
    return Path(os.path.abspath(dag_dir))


def in_a_thread(kind: str, isolation: str) -> bool:
    """Is this a Python task that runs in dagctl's process (its ``inputs`` are relative to the DAG's folder)?"""
    return kind != "run" and isolation != "process"


def input_files(globs: list[str], base: Path, unmatched: list[str] | None = None) -> dict[str, str | None]:
    """``{relative path: sha256}`` of every file the globs match, sorted. A pattern is relative to ``base``
    (:func:`inputs_base`) unless it is absolute (``/etc/app/*.conf``). Each pattern that matches no file is appended
    to ``unmatched`` when it is given."""
    found: dict[str, str | None] = {}
    for written in globs:
        root, pattern = base, written
        if Path(pattern).is_absolute():  # Path.glob refuses an absolute pattern: glob from its anchor
            root = Path(Path(pattern).anchor)
            pattern = str(Path(pattern).relative_to(root))
        matched = False
        for path in sorted(root.glob(pattern)):
            if path.is_file():
                matched = True
                found[path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)] = _file_digest(
                    path
                )
        if not matched and unmatched is not None:
            unmatched.append(written)
    return dict(sorted(found.items()))


def unmatched_note(task: str, globs: Sequence[str], base: Path) -> str:
    """The warning for ``inputs`` globs of ``task`` that match no file: what, relative to which folder, and what
    it costs (the cache is off for the task in this run: an entry keyed on no files would hide their changes)."""
    shown = ", ".join(f"'{g}'" for g in globs)
    verb = "matches" if len(globs) == 1 else "match"
    return (
        f"task {task}: cache inputs {shown} (relative to {base}) {verb} no file, so the cache is off for this task "
        "in this run (not read, not stored) — write globs relative to that folder (where a run: task's command "
        "runs, the DAG's folder for a Python task, or the task's cwd:), or absolute"
    )


def loop_material(repeat: Mapping[str, Any], task_id: str, scope: Mapping[str, Any]) -> dict[str, Any]:
    """What decides a loop's iterations besides its first attempt, for its key: ``until``, ``max_iterations`` and
    ``on_max``, and the values ``until`` reads in ``scope`` (the run's ``when:`` scope) other than the loop's own
    outputs, ``previous`` and ``iteration`` (which its attempts make): params, ``env.NAME``, upstream outputs,
    ``run_id`` (a loop that reads it is never served from the cache), ``logical_date``. ``delay`` only spaces the
    iterations: it is left out."""
    from dagctl.dag.conditions import compile_condition

    until = str(repeat.get("until"))
    reads: dict[str, Any] = {}
    try:
        names = compile_condition(until).names
    except DagctlError:  # the loop fails at its first verdict: what it reads does not matter
        names = frozenset()
    for root, key in names:
        if root in ("previous", "iteration") or (root == "outputs" and key == task_id):
            continue
        value = scope.get(root)
        if key is not None:
            value = value.get(key) if isinstance(value, dict) else None
        reads[root if key is None else f"{root}.{key}"] = value
    return {
        "until": until,
        "max_iterations": repeat.get("max_iterations"),
        "on_max": repeat.get("on_max") or "fail",
        "reads": reads,
    }


def cache_key(
    attempt: Attempt,
    spec: Mapping[str, Any],
    *,
    loop: Mapping[str, Any] | None = None,
    unmatched: list[str] | None = None,
    dag_dir: Path | None = None,
) -> str:
    """The key of an attempt about to run (see the module docstring for what is in it): ``loop`` is
    :func:`loop_material` of a loop's first attempt; ``unmatched`` gets the ``inputs`` globs that match no file in
    :func:`inputs_base` (``dag_dir`` is the DAG's folder): the caller must then neither read nor store the entry."""
    globs = list(spec.get("inputs") or [])
    base = inputs_base(attempt, dag_dir) if globs else None
    material = {
        "format": FORMAT,
        "kind": attempt.kind,
        "command": attempt.command,
        "cwd": attempt.cwd,
        "params": attempt.params,
        "env": {k: v for k, v in attempt.env.items() if k not in _RUN_SPECIFIC},
        "callable": attempt.callable,
        "source": module_source(attempt.callable, attempt.search_path) if attempt.callable else None,
        "inputs": attempt.inputs,
        "files": input_files(globs, base, unmatched) if base is not None else {},
        "salt": spec.get("key") or "",
    }
    if base is not None:  # only tasks with inputs: the keys of the others stay what they were
        material["base"] = str(base)
    if loop is not None:  # only loops: the keys of other tasks stay what they were
        material["loop"] = loop
    return hashlib.sha256(canonical(material)).hexdigest()


class Entry:
    """One cached result. Paths are kept as strings: a fully cached run makes a thousand of these."""

    __slots__ = ("_log", "_path", "created", "dag", "key", "outputs", "readable", "run_id", "size", "task", "used")

    def __init__(
        self, key: str, path: str | Path, data: Mapping[str, Any], size: int, used: float, *, readable: bool = True
    ) -> None:
        self.key, self._path, self.size, self.used = key, str(path), size, used
        self.readable = readable  # False: a file that cannot be read as an entry (CacheStore.unreadable), no data
        self.outputs: dict[str, Any] = dict(data.get("outputs") or {})
        self.created = float(data.get("created") or 0.0)
        self.dag, self.task = str(data.get("dag", "")), str(data.get("task", ""))
        self.run_id = str(data.get("run_id", ""))
        log = self._path[: -len(".json")] + ".log"
        has_log = data.get("has_log")  # said by entries stored since it was added: no stat on a hit
        self._log = log if (os.path.exists(log) if has_log is None else has_log is True) else None

    @property
    def path(self) -> Path:
        return Path(self._path)

    @property
    def log(self) -> Path | None:
        """The log of the attempt that made the entry, when it wrote one."""
        return None if self._log is None else Path(self._log)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "dag": self.dag,
            "task": self.task,
            "run_id": self.run_id,
            "created": self.created,
            "last_used": self.used,
            "size": self.size,
            "outputs": sorted(self.outputs),
            "log": str(self.log) if self.log else None,
        }


class CacheStore:
    """The entries under one folder. Safe to share between processes (writes are atomic renames)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = str(root)
        self.stored = 0
        """Entries this store object has written: a run that stored none has not grown the cache."""

    def _path(self, key: str) -> str:
        return f"{self._root}{os.sep}{key[:2]}{os.sep}{key}.json"

    def get(self, key: str, *, now: float, ttl: float | None, touch: bool = True) -> Entry | None:
        """The entry, if there is a whole one younger than ``ttl``; touched as used (unless ``touch`` is false: a
        dry run only looks). Corrupt: a miss."""
        path = self._path(key)
        try:
            raw = _read(path)
        except OSError:
            return None
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
                raise ValueError("not a cache entry of this dagctl")
        except ValueError as exc:
            import logging

            logging.getLogger(__name__).warning("cache entry %s is unreadable (%s): treated as a miss", path, exc)
            return None
        if ttl is not None and now - float(data.get("created") or 0.0) > ttl:
            return None
        if touch:
            with contextlib.suppress(OSError):
                os.utime(path)
        return Entry(key, path, data, len(raw), now)

    def put(
        self, key: str, *, outputs: Mapping[str, Any], log: str | None, about: Mapping[str, Any], now: float
    ) -> None:
        """Store outputs (and a copy of the log, when it has one) under ``key``, atomically. A write that fails (a
        full disk) leaves no temporary file behind and raises EnvironmentProblem naming the folder."""
        path = Path(self._path(key))
        data = {"format": FORMAT, "key": key, "created": now, **about, "outputs": dict(outputs), "has_log": False}
        suffix = f".{os.getpid()}.{id(data)}{TEMPORARY}"
        tmp_log, tmp = path.with_suffix(".log" + suffix), path.with_suffix(".json" + suffix)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if log:
                try:
                    if os.path.getsize(log) > 0:
                        _copy(Path(log), tmp_log)
                        os.replace(tmp_log, path.with_suffix(".log"))
                        data["has_log"] = True
                except OSError:  # an entry without its log is still an entry
                    with contextlib.suppress(OSError):
                        tmp_log.unlink()
            body = json.dumps(data, sort_keys=True, allow_nan=False, default=str).encode()
            tmp.write_bytes(body)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise self._cannot_store(exc) from None
        self.stored += 1

    def _cannot_store(self, exc: OSError) -> DagctlError:
        from dagctl.errors import cannot

        problem = cannot("store a task cache entry in", f"{self.root} (DAGCTL_CACHE_DIR)", exc)
        fix = "point DAGCTL_CACHE_DIR at another folder (the task's result stands; only its reuse is lost)"
        problem.hint = f"{problem.hint}, or {fix}" if problem.hint else fix
        return problem

    def stale_temporary(self, *, now: float) -> list[Path]:
        """Temporary files of writes that never finished: their process is gone (a write that fails removes its
        own), or they are over :data:`STALE_AFTER_S` old (a process of another machine sharing the folder)."""
        if not self.root.is_dir():
            return []
        from dagctl.host import process_alive

        found = []
        for path in sorted(self.root.glob(f"*/*{TEMPORARY}")):
            try:
                age = now - path.stat().st_mtime
            except OSError:
                continue  # renamed into place meanwhile
            parts = path.name.split(".")
            pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else 0
            if age > STALE_AFTER_S or not pid or not process_alive(pid, None):
                found.append(path)
        return found

    def entries(self) -> Iterator[Entry]:
        """Every readable entry (unreadable files are skipped: :meth:`unreadable`)."""
        for entry in self.scan():
            if entry.readable:
                yield entry

    def unreadable(self) -> Iterator[Entry]:
        """Entry files that cannot be read as an entry (damaged, not JSON, not the entry of their key): a miss
        every time, so only taking room. Their ``readable`` is False and they hold no data."""
        for entry in self.scan():
            if not entry.readable:
                yield entry

    def scan(self) -> Iterator[Entry]:
        """Every entry file, readable or not (``Entry.readable``), in one pass over the folder."""
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if not sub.is_dir():
                continue
            for path in sorted(sub.glob("*.json")):
                try:
                    raw = path.read_bytes()
                    used = path.stat().st_mtime
                except OSError:
                    continue  # gone meanwhile (another process cleared it), or not ours to read
                log = path.with_suffix(".log")
                try:
                    size = len(raw) + (log.stat().st_size if log.exists() else 0)
                except OSError:
                    size = len(raw)
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = None
                if isinstance(data, dict) and data.get("key") == path.stem:
                    yield Entry(path.stem, path, data, size, used)
                else:
                    yield Entry(path.stem, path, {}, size, used, readable=False)

    def remove(self, entry: Entry) -> None:
        for path in (entry.path, entry.path.with_suffix(".log")):
            with contextlib.suppress(OSError):
                path.unlink()

    def find(self, prefix: str) -> list[Entry]:
        return [e for e in self.entries() if e.key.startswith(prefix)]

    def evict(self, max_size: int) -> list[Entry]:
        """Drop entries until the store is at most ``max_size`` bytes: unreadable ones first (they can never be
        hit), then the least recently used."""
        entries = sorted(self.scan(), key=lambda e: (e.readable, e.used))
        total = sum(e.size for e in entries)
        dropped = []
        while entries and total > max_size:
            entry = entries.pop(0)
            self.remove(entry)
            total -= entry.size
            dropped.append(entry)
        return dropped


def _read(path: str) -> bytes:
    """A small file's bytes, with three system calls and no file object."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)  # no data copied: the run folder and the cache usually share a disk
    except OSError:
        import shutil

        shutil.copyfile(src, dst)


def restore_log(entry: Entry, log_path: str) -> str | None:
    """Put the log of the attempt that made ``entry`` where this attempt's log goes; None when it had none."""
    if entry.log is None:
        return None
    try:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        _copy(entry.log, Path(log_path))
    except OSError:
        return str(entry.log)
    return log_path


def trim(plan: Plan, root: Path) -> list[Entry]:
    """After a run of ``plan``: evict beyond the ``cache: {max_size}`` of the project's dagctl.yaml, if set."""
    from dagctl.dag.projectfile import find_project_config

    source = plan.dag.source_path
    found = find_project_config(Path(source)) if source else None
    if found is None:
        return []  # no project file: no cap, and no need to import what reads one
    from dagctl.dag.workflows import load_project_config

    try:
        max_size = load_project_config(found).cache_max_size
    except DagctlError:
        return []
    return CacheStore(root).evict(max_size) if max_size is not None else []


def predict(
    plan: Plan,
    params: dict[str, Any],
    root: Path,
    now: float,
    *,
    selected: Sequence[str] | None = None,
    reused: Mapping[str, Mapping[str, Any]] | None = None,
    environment: RunEnvironment | None = None,
    refresh: bool = False,
) -> dict[str, str]:
    """For a dry run: which cached tasks (or cells) would be served from the cache, as far as it can be known
    before running. Each key is :func:`cache_key` of the attempt the run would start
    (:meth:`~dagctl.run.resolve.AttemptFactory.build_unit`), with the run's ``environment`` (``.env`` files,
    secrets: :func:`~dagctl.run.environment.run_environment`) and the outputs the run would have by then: those
    ``reused`` from earlier runs by ``run --only`` / ``--from`` (only the ``selected`` tasks run), and those of
    upstream tasks that would be cache hits. A task whose upstream would really run has unknown inputs. With
    ``refresh`` (``run --refresh``) nothing is read: every cached task runs and stores its result."""
    from .resolve import AttemptFactory

    store = CacheStore(root)
    factory = AttemptFactory(plan, "dry-run", root / "dry-run", params, environment=environment)
    known: dict[str, dict[str, Any]] = {tid: dict(out) for tid, out in (reused or {}).items()}  # as the run has them
    chosen = set(plan.tasks if selected is None else selected)
    notes: dict[str, str] = {}
    for tid, task in plan.tasks.items():
        if task.cache is None or tid in known or tid not in chosen:
            continue
        if any(up not in known for up in task.depends_on):
            notes[tid] = "cache: decided when its upstream tasks are done" + _unmatched_suffix(task, factory.dag_dir)
            continue
        scope = {"params": params, "outputs": known, "env": dict(os.environ), "run_id": "dry-run"}
        loop = loop_material(task.repeat, tid, scope) if task.repeat is not None else None
        unmatched: list[str] = []
        try:
            attempts = [
                factory.build_unit(task, 1, known, unit=unit, matrix=values)
                for unit, values in _units(task, params, known)
            ]
            keys = [cache_key(a, task.cache, loop=loop, unmatched=unmatched, dag_dir=factory.dag_dir) for a in attempts]
        except (DagctlError, OSError, TypeError, ValueError) as exc:
            notes[tid] = f"cache: cannot tell ({exc})"
            continue
        if unmatched:  # the run neither reads nor stores it
            shown = ", ".join(f"'{g}'" for g in dict.fromkeys(unmatched))
            base = inputs_base(attempts[0], factory.dag_dir)
            notes[tid] = f"cache: off in this run (inputs {shown} match no file in {base}; not read, not stored)"
            continue
        if refresh:
            what = f"{len(keys)} cells run" if task.matrix is not None else f"runs, key {keys[0][:12]}"
            notes[tid] = f"cache: refresh ({what}; not read, stored anew)"
            continue
        entries = [store.get(key, now=now, ttl=task.cache.get("ttl"), touch=False) for key in keys]
        if task.matrix is not None:
            hits = sum(1 for entry in entries if entry is not None)
            notes[tid] = f"cache: {hits} of {len(entries)} cell{'s' if len(entries) != 1 else ''} would hit"
            continue  # the fan-in is gathered by the run: what reads it is decided then
        entry = entries[0]
        if entry is None:
            notes[tid] = f"cache: miss (key {keys[0][:12]})"
        else:
            notes[tid] = f"cache: hit (key {keys[0][:12]}, from run {entry.run_id})"
            known[tid] = entry.outputs
    return notes


def _unmatched_suffix(task: PlannedTask, dag_dir: Path) -> str:
    """For a task whose key is not known before the run: its ``inputs`` globs that match no file now."""
    found = unmatched_inputs(task, dag_dir)
    return "" if found is None else _dry_run_warning(*found)


def _dry_run_warning(globs: Sequence[str], base: Path) -> str:
    shown = ", ".join(f"'{g}'" for g in globs)
    verb = "matches" if len(globs) == 1 else "match"
    return f"; warning: inputs {shown} {verb} no file in {base}, so the cache is off for it in the run"


def unmatched_inputs(task: PlannedTask, dag_dir: Path | None = None) -> tuple[list[str], Path] | None:
    """A task's ``inputs`` globs that match no file now, and the folder they are relative to (:func:`inputs_base`;
    ``dag_dir`` is the DAG's folder), when it is known before the run (its ``cwd:`` holds no ``${...}``, and
    ``dag_dir`` is given for a Python task in a thread); None when all match (or it cannot tell). For ``dagctl
    validate`` and dry runs."""
    globs = list((task.cache or {}).get("inputs") or [])
    if not globs or (task.cwd and "${" in task.cwd):
        return None
    if dag_dir is None and not task.cwd and in_a_thread(task.kind, task.isolation):
        return None  # relative to the DAG's folder, which the caller did not say
    base = _base(task.kind, task.isolation, task.cwd, dag_dir)
    unmatched: list[str] = []
    try:
        input_files(globs, base, unmatched)
    except (OSError, ValueError):
        return None
    return (unmatched, base) if unmatched else None


def _units(
    task: PlannedTask, params: Mapping[str, Any], outputs: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str | None, dict[str, Any] | None]]:
    """The units a run starts for ``task`` first: the task itself, or each matrix cell with its values, expanded
    as the runner expands them (from params, or the upstream ``outputs``). TemplateError when it cannot."""
    if task.matrix is None:
        return [(None, None)]
    from dagctl.dag import matrix
    from dagctl.dag.templating import TemplateContext, render_value

    ctx = TemplateContext(params=params, env=os.environ, outputs=outputs, run_id="dry-run")
    cells = matrix.expand(matrix.resolve(task.matrix, lambda text: render_value(text, ctx)))
    return [(matrix.cell_id(task.id, index), values) for index, values in enumerate(cells)]
