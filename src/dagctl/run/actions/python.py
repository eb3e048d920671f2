"""Python tasks: import ``module:function``, call it with the task's params, turn its return value into outputs.

Finding the function (:func:`resolve_callable`)
    ``python: steps:extract`` imports ``steps`` with the search folders first (the DAG file's folder, or the
    folder of the ``dagctl.yaml`` that registered a workflow), then ``sys.path``. The folders are on
    ``sys.path`` only while the module is imported, under a lock, so import sibling modules at the top of
    your module, not lazily inside the function. Two DAG folders may each have their own ``steps.py``: a
    module imported earlier from *another search folder* is dropped and re-imported from this one. A module
    already imported from ``sys.path`` proper (the standard library, an installed package) is never
    replaced: a search-folder file with the same name is reported as hidden, rename it. A
    :class:`CallableCache`, owned by the executor, keeps resolved functions per ``(target, search_path)``.

Current code, in a long-lived process (:func:`refresh_modules`)
    A process that runs many attempts (a ``dagctl worker``'s pool processes, ``dagctl schedule --serve``) runs the
    code the files hold when each attempt starts, as a new process would: every module found through a search
    folder itself (``a.b`` as ``F/a.py`` or under ``F/a/``) is remembered with its file's modification time and
    size, and before an attempt's function is looked up (cached or not) those files are looked at (one ``stat``
    each: ~2 us, with no lock held). When one has changed (a deploy) and no other thread attempt of the process
    is running (:func:`running_attempt`), every module imported from search folders is dropped from
    ``sys.modules`` (with the changed file's cached bytecode) and imported again as the attempts need them, and
    every :class:`CallableCache` forgets what it resolved. While other attempts run, the drop waits for the
    next attempt that starts with none running: a function that is running keeps its modules (a lazy import,
    an unpickled object of a task class). Modules from any other ``sys.path`` entry (the standard library,
    installed packages even in a ``.venv`` inside the DAG folder, dagctl itself) are never re-imported: a
    process must be restarted for those.

Calling it (:func:`bind_arguments`) — the binding rules
    ``values`` is the task's ``params:`` plus the upstream payload: every output ``k`` of an upstream task
    ``u`` as ``u__k`` (task params win on a clash).

    1. A parameter named ``ctx`` or ``context`` receives the :class:`~dagctl.run.context.TaskContext`. A task
       param with that name is an error: it could never arrive.
    2. The whole-dict rule: if the function has a parameter named ``params``, no value is called
       ``params`` and no value matches any other parameter, then ``params`` receives all of ``values`` as
       one dict (and ``**kwargs``, if any, receives nothing).
    3. Otherwise each value whose name matches a parameter is passed to it (positional-only parameters
       positionally, all others by keyword).
    4. The remaining values go to ``**kwargs`` if the function has one. If it has not, the upstream
       payload keys it does not declare are dropped silently (a task need not read every upstream output),
       but a task param it cannot accept is an error naming the parameters it does accept.
    5. A required parameter (no default) that receives nothing is an error naming it. ``*args`` never
       receives anything.

What comes back (:func:`run_python_attempt`)
    ``None`` means no outputs (``{}``); a dict is the outputs, which must be JSON data under the 1 MiB cap
    of :mod:`dagctl.run.actions.outputs`; anything else fails the attempt. The outputs are returned as their
    JSON round trip, so a tuple arrives as a list, exactly as it would from another process.
    An exception fails the attempt with a one-line ``Type: message`` and appends the traceback to the task
    log. Raise :class:`~dagctl.errors.TaskError` to fail with just your message.

Isolation: thread (default) versus process
    ``isolation: thread`` (:func:`run_python_attempt`) calls the function in the executor's thread. It is
    cheap and shares imports, but a thread cannot be killed: at a timeout or a cancel the runner sets the
    :class:`~dagctl.run.attempts.CancelToken` (``ctx.cancelled`` becomes true) and stops waiting, while
    the function runs on until it notices. Long functions should poll ``ctx.cancelled`` or call
    ``ctx.raise_if_cancelled()``; if a function returns after the request, the attempt is still reported
    ``timeout``/``cancelled`` and its outputs are dropped. Process-wide state is shared too, so the task's
    environment (``env:``, ``secrets:``, ``DAGCTL_*``: ``ctx.env``) is seen through ``os.environ`` in its own
    thread only (:mod:`~dagctl.run.actions.taskenv`: a process it starts needs ``env=os.environ.copy()``),
    ``cwd:`` is ignored (use absolute paths or ``ctx.run_dir``) and ``print()`` goes to its log while a run
    routes the streams (:mod:`~dagctl.run.actions.taskstreams`).

    ``isolation: process`` (:func:`run_python_isolated`) runs the same code in a fresh
    ``python -m dagctl.run.actions.child`` started through :func:`~dagctl.run.actions.shell.run_shell`: its own
    process group, ``env:`` and ``cwd:`` applied, stdout and stderr in the task log, and a timeout or cancel
    that really stops it (SIGTERM, which raises inside the function so ``finally`` blocks run, then SIGKILL to
    the group after the grace period). It costs an interpreter start per attempt; ``on_progress`` is not
    relayed (progress lines still reach the log).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import json
import logging
import os
import sys
import sysconfig
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagctl.errors import DagctlError, ExecutorError, TaskError, UsageError
from dagctl.protocols import Clock
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken
from dagctl.run.context import ProgressCallback, TaskContext, append_to_log

from .outputs import encode_outputs
from .taskenv import task_environ
from .taskstreams import to_log

if TYPE_CHECKING:
    from dagctl.run.attempts import AttemptStatus
    from dagctl.run.keeper import Keeper

logger = logging.getLogger(__name__)

CONTEXT_PARAMETERS = ("ctx", "context")
ERROR_LIMIT = 300
"""Longest one-line error, in characters; the full traceback is in the task log."""

RESULT_VERSION = 1

_IMPORT_LOCK = threading.RLock()
"""Guards ``sys.path`` and ``sys.modules`` while a task module is imported. They are process-wide, so this
lock is too; it holds no state of its own."""

_STATUSES: frozenset[str] = frozenset({"success", "failed", "timeout", "cancelled"})


class _Imported:
    """The modules imported from search folders, with their file's ``(mtime_ns, size)`` when imported, a
    generation that grows each time they are dropped for a changed file, and how many thread attempts run their
    code now. It mirrors ``sys.modules``, which is process-wide, so there is one (:data:`_IMPORTED`), guarded by
    ``lock`` (held for dict copies and updates only, never during an import or a ``stat``); nothing to reset
    between uses: an entry whose module is gone or replaced only costs a ``stat``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: dict[str, tuple[str, tuple[int, int] | None]] = {}
        self.generation = 0
        self.running = 0
        """Thread attempts between :func:`running_attempt`'s entry and exit: modules are dropped only at 0."""


_IMPORTED = _Imported()
_HOLDING = threading.local()
"""``count``: how many :func:`running_attempt` blocks this thread is inside (a sub-DAG's task inside a task)."""


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


@contextlib.contextmanager
def running_attempt() -> Iterator[None]:
    """Mark a thread attempt as running task code: while any other one runs, :func:`refresh_modules` drops
    nothing (a function still running must keep finding its modules), so a change is taken up at the next idle
    point instead."""
    with _IMPORTED.lock:
        _IMPORTED.running += 1
    _HOLDING.count = getattr(_HOLDING, "count", 0) + 1
    try:
        yield
    finally:
        _HOLDING.count -= 1
        with _IMPORTED.lock:
            _IMPORTED.running -= 1


def refresh_modules() -> int:
    """Drop every module imported from a search folder if one of their files changed since and no other thread
    attempt is running (see the module docstring); the generation of what is imported, which grows with each drop.

    The files are looked at without any lock held, so a slow import elsewhere never delays an attempt whose
    modules are unchanged."""
    imported = _IMPORTED
    with imported.lock:
        files = list(imported.files.values())
        generation = imported.generation
    changed = [file for file, stamp in files if _stamp(file) != stamp]
    if not changed:
        return generation
    with _IMPORT_LOCK, imported.lock:
        if imported.running > getattr(_HOLDING, "count", 0):  # another attempt runs their code: later
            logger.debug("task module %s changed; re-importing once no other attempt runs", changed[0])
            return imported.generation
        if imported.generation != generation:  # dropped meanwhile by another thread
            return imported.generation
        import importlib.util

        for name in imported.files:
            sys.modules.pop(name, None)
        for file in changed:  # its bytecode may look current (same size, same second): never reuse it
            with contextlib.suppress(OSError, ValueError, NotImplementedError):
                os.unlink(importlib.util.cache_from_source(file))
        logger.info("re-importing task modules: %s changed", ", ".join(changed[:3]))
        imported.files.clear()
        imported.generation += 1
        return imported.generation


def _remember_imports(before: set[str], folders: list[str]) -> None:
    """Note the modules imported since ``before`` that were found through one of ``folders`` itself, with their
    file's stamp: ``a.b.c`` counts only as ``F/a.py`` or a file under ``F/a/``, so a package from another
    ``sys.path`` entry that lies inside a search folder (a project's ``.venv``, a vendored ``lib/``) is never
    remembered, stat'ed or re-imported. Only Python source files count (an extension module cannot be reloaded)."""
    roots = [os.path.realpath(f) for f in folders]
    found: dict[str, tuple[str, tuple[int, int] | None]] = {}
    for name in set(sys.modules) - before:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file and file.endswith(".py") and _found_through(os.path.realpath(file), name, roots):
            found[name] = (file, _stamp(file))
    with _IMPORTED.lock:
        _IMPORTED.files.update(found)


def _found_through(real: str, name: str, roots: list[str]) -> bool:
    """Whether ``real``, the file of module ``name``, is the one a search folder in ``roots`` provides for it."""
    top = name.partition(".")[0]
    for root in roots:
        if real == os.path.join(root, top + ".py") or real.startswith(os.path.join(root, top, "")):
            return True
    return False


# -- finding the function ---------------------------------------------------------------------------------------


class CallableCache:
    """Resolved task functions by ``(target, search_path)``. Owned and shared by one executor; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, tuple[str, ...]], Callable[..., Any]] = {}
        self._generation = -1

    def resolve(self, target: str, search_path: Sequence[str], *, kind: str = "python") -> Callable[..., Any]:
        key = (target, tuple(search_path))
        generation = refresh_modules()  # a module file changed: what was resolved before is old code
        with self._lock:
            if generation != self._generation:
                self._items.clear()
                self._generation = generation
            found = self._items.get(key)
        if found is None:
            found = resolve_callable(target, search_path, kind=kind)
            with self._lock:
                if self._generation == generation:  # not if the modules were dropped meanwhile: old code
                    found = self._items.setdefault(key, found)
        return found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def resolve_callable(target: str, search_path: Sequence[str], *, kind: str = "python") -> Callable[..., Any]:
    """Import ``module:function`` with ``search_path`` before ``sys.path``; raise UsageError saying what failed.

    ``kind`` only labels messages (``python: steps:extract``). The part after ``:`` may be dotted
    (``module:Class.method``) as in entry points.
    """
    label = f"{kind}: {target}"
    module_name, sep, attr_path = target.partition(":")
    if not sep or not module_name or not attr_path:
        raise UsageError(f"'{target}' is not module:function", hint="write it as package.module:function")
    folders = [os.path.abspath(folder) for folder in search_path]
    module = _import(module_name, folders, label)
    obj: Any = module
    for depth, part in enumerate(attr_path.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise _missing_attribute(module, module_name, attr_path, part, depth, label) from None
    if not callable(obj):
        raise UsageError(
            f"'{attr_path}' in module '{module_name}' is a {type(obj).__name__}, not a function ({label})",
            hint="point python: at a function, as module:function",
        )
    return obj  # type: ignore[no-any-return]


def call_aggregate(target: str, cells: list[dict[str, Any]], search_path: Sequence[str]) -> Any:
    """An ``aggregate: {strategy: python}`` function of a matrix task, called with its cells; what it raises
    becomes a DagctlError naming it (the task fails with that message). For a run and an exported step alike."""
    function = resolve_callable(target, search_path)
    try:
        return function(cells)
    except DagctlError:
        raise
    except Exception as exc:
        raise DagctlError(f"aggregate python: {target} raised {type(exc).__name__}: {exc}") from exc


def _import(module_name: str, folders: list[str], label: str) -> Any:
    with _IMPORT_LOCK:
        refresh_modules()
        _forget_modules_of_other_folders(module_name, folders, list(sys.path), label)
        before = set(sys.modules) if module_name not in sys.modules else None
        sys.path[:0] = folders
        importlib.invalidate_caches()
        try:
            module = importlib.import_module(module_name)
            if before is not None:
                _remember_imports(before, folders)
            return module
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                where = ", ".join(folders) if folders else "no search folders"
                example = os.path.join(folders[0] if folders else ".", module_name.replace(".", os.sep) + ".py")
                raise UsageError(
                    f"cannot import module '{module_name}' for {label} (looked in {where} and sys.path)",
                    hint=f"check the spelling, or create {example}",
                ) from None
            raise _import_failed(module_name, label, exc) from exc
        except Exception as exc:
            raise _import_failed(module_name, label, exc) from exc
        finally:
            for folder in folders:
                with contextlib.suppress(ValueError):  # the module may have removed it itself
                    sys.path.remove(folder)


def _import_failed(module_name: str, label: str, exc: BaseException) -> UsageError:
    where = ""
    if not isinstance(exc, SyntaxError):  # a SyntaxError names its file and line in its message
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
        if frames:
            where = f" at {frames[-1].filename}:{frames[-1].lineno}"
    return UsageError(
        f"importing module '{module_name}' for {label} raised {one_line(exc)}{where}",
        hint=f"fix the module; python -c 'import {module_name}' in its folder shows the traceback",
    )


def _missing_attribute(module: Any, module_name: str, attr_path: str, part: str, depth: int, label: str) -> UsageError:
    if depth == 0:
        names = _public_callables(module)
        close = difflib.get_close_matches(part, names, n=1)
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") if names else "none"
        hint = f"did you mean '{close[0]}'? " if close else ""
        return UsageError(
            f"module '{module_name}' has no function '{part}' ({label}); it defines: {shown}",
            hint=f"{hint}module file: {getattr(module, '__file__', None) or 'built-in'}",
        )
    return UsageError(
        f"'{attr_path}' not found in module '{module_name}' ({label}): no attribute '{part}'",
        hint="check the name after ':'",
    )


def _public_callables(module: Any) -> list[str]:
    """Public callables defined in ``module`` itself (not imported into it); all public ones if none are."""
    items = [(n, v) for n, v in vars(module).items() if not n.startswith("_") and callable(v)]
    own = [n for n, v in items if getattr(v, "__module__", None) == module.__name__]
    return sorted(own or [n for n, _ in items])


def _forget_modules_of_other_folders(module_name: str, folders: list[str], sys_path: list[str], label: str) -> None:
    """Make ``import module_name`` see the file in ``folders`` even if a same-named module came from elsewhere.

    For ``a.b.c`` each of ``a``, ``a.b``, ``a.b.c`` already in ``sys.modules`` is compared with the file the
    folders provide for it. A mismatch loaded from another search folder (not on ``sys.path``) is dropped
    with its whole top-level package; one loaded from ``sys.path`` proper is an error, never replaced.
    """
    if not folders:
        return
    parts = module_name.split(".")
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        loaded = sys.modules.get(name)
        expected = _file_in(folders, name)
        if loaded is None or expected is None:
            continue
        current = getattr(loaded, "__file__", None)
        if current and os.path.realpath(current) == expected:
            continue
        root = _import_root(current, name)
        proper = {os.path.realpath(p or os.curdir) for p in sys_path}
        if root is None or root in proper:
            raise UsageError(
                f"module '{name}' for {label} is already imported from {current or 'the interpreter (built-in)'}, "
                f"which hides {expected}",
                hint="rename your module so it does not clash with a standard or installed one",
            )
        top = parts[0]
        for stale in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[stale]
        logger.debug("re-importing %s from %s (was %s)", name, expected, current)
        return


def _file_in(folders: list[str], name: str) -> str | None:
    """The file the import system would load for ``name`` from ``folders`` (package before module)."""
    rel = name.replace(".", os.sep)
    for folder in folders:
        for candidate in (os.path.join(folder, rel, "__init__.py"), os.path.join(folder, rel + ".py")):
            if os.path.isfile(candidate):
                return os.path.realpath(candidate)
    return None


def _import_root(file: str | None, name: str) -> str | None:
    """The ``sys.path`` entry ``file`` was imported from as ``name``; None when that cannot be told."""
    if not file:
        return None
    real = os.path.realpath(file)
    rel = name.replace(".", os.sep)
    for tail in (os.path.join(rel, "__init__.py"), rel + ".py"):
        if real.endswith(os.sep + tail):
            return real[: -len(tail) - 1]
    return None


# -- calling it -------------------------------------------------------------------------------------------------


def upstream_payload(inputs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Upstream outputs flattened to ``<upstream>__<key>``."""
    return {f"{task}__{key}": value for task, outputs in inputs.items() for key, value in outputs.items()}


_SHAPES: dict[Any, tuple[dict[str, inspect.Parameter], bool]] = {}


def _parameters(func: Callable[..., Any]) -> tuple[dict[str, inspect.Parameter], bool]:
    """``func``'s named parameters and whether it takes ``**kwargs``; read once per function (reading a
    signature costs ~20 us, as much as the rest of a no-op task's attempt)."""
    try:
        return _SHAPES[func]
    except (KeyError, TypeError):  # not seen yet, or not hashable
        pass
    signature = inspect.signature(func)
    kinds = inspect.Parameter
    named = {
        p.name: p for p in signature.parameters.values() if p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
    }
    shape = named, any(p.kind is kinds.VAR_KEYWORD for p in signature.parameters.values())
    with contextlib.suppress(TypeError):
        if len(_SHAPES) < 4096:
            _SHAPES[func] = shape
    return shape


def bind_arguments(
    func: Callable[..., Any], params: Mapping[str, Any], ctx: TaskContext
) -> tuple[list[Any], dict[str, Any]]:
    """``(args, kwargs)`` to call ``func`` with, by the binding rules of the module docstring; UsageError if
    they cannot be met. Upstream payload keys are recognised from ``ctx``'s upstream outputs."""
    name = _describe(func)
    try:
        named, has_var_kw = _parameters(func)
    except (TypeError, ValueError):
        raise UsageError(f"cannot read the parameters of {name}", hint="point at a plain def function") from None
    ctx_names = [n for n in named if n in CONTEXT_PARAMETERS]
    clash = [n for n in ctx_names if n in params]
    if clash:
        raise UsageError(
            f"task param '{clash[0]}' cannot reach {name}(): its '{clash[0]}' parameter receives the TaskContext",
            hint=f"rename the param '{clash[0]}'",
        )
    accepted = [n for n in named if n not in CONTEXT_PARAMETERS]
    chosen: dict[str, Any] = {n: ctx for n in ctx_names}
    extras: dict[str, Any] = {}
    matches = [k for k in params if k in accepted]
    if "params" in accepted and not matches:
        chosen["params"] = dict(params)
    else:
        chosen.update((k, params[k]) for k in matches)
        rest = {k: v for k, v in params.items() if k not in chosen}
        if has_var_kw:
            extras = rest
        else:
            upstream_keys = {f"{u}__{k}" for u in ctx.upstream for k in ctx.output_of(u)}
            unknown = [k for k in rest if k not in upstream_keys]
            if unknown:
                raise _unknown_params(name, unknown, accepted)
    missing = [n for n, p in named.items() if p.default is p.empty and n not in chosen]
    if missing:
        given = ", ".join(params) or "none"
        plural = "s" if len(missing) > 1 else ""
        raise UsageError(
            f"function {name}() is missing required parameter{plural} {', '.join(repr(m) for m in missing)}",
            hint=f"set {'them' if plural else 'it'} in the task's params: or give a default (params given: {given})",
        )
    kinds = inspect.Parameter
    positional = [p for p in named.values() if p.kind is kinds.POSITIONAL_ONLY]  # in signature order
    last = max((i for i, p in enumerate(positional) if p.name in chosen), default=-1)
    args = [chosen.get(p.name, p.default) for p in positional[: last + 1]]
    kwargs = {n: v for n, v in chosen.items() if named[n].kind is not kinds.POSITIONAL_ONLY}
    kwargs.update(extras)
    return args, kwargs


def _unknown_params(name: str, unknown: list[str], accepted: list[str]) -> UsageError:
    quoted = ", ".join(repr(k) for k in unknown)
    what = f"parameters {quoted}" if len(unknown) > 1 else f"parameter {quoted}"
    close = difflib.get_close_matches(unknown[0], accepted, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return UsageError(
        f"function {name}() has no {what}; it accepts: {', '.join(accepted) or 'no parameters'}",
        hint=f"{hint}remove it from the task's params:, or add it (or **kwargs) to the function",
    )


def _describe(func: Callable[..., Any]) -> str:
    """``extract`` or ``Steps.extract``; a function defined inside another shows its own name only."""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    return str(name).rsplit("<locals>.", 1)[-1]


def one_line(exc: BaseException, limit: int = ERROR_LIMIT) -> str:
    """``ValueError: message`` on one line, at most ``limit`` characters."""
    text = str(exc)
    message = " ".join(f"{type(exc).__name__}: {text}".split()) if text else type(exc).__name__
    return message if len(message) <= limit else message[: limit - 1] + "…"


# -- running it in this process ---------------------------------------------------------------------------------


def run_python_attempt(
    attempt: Attempt,
    cancel: CancelToken,
    *,
    clock: Clock,
    cache: CallableCache,
    on_progress: ProgressCallback | None = None,
) -> AttemptResult:
    """Call the attempt's function in this thread and report how it went; never raises for a task problem.

    Timeouts are cooperative here (see the module docstring): the runner sets ``cancel`` at the deadline.
    """
    if attempt.kind == "run" or not attempt.callable:
        raise ExecutorError(f"attempt {attempt.attempt_id} has no callable to run (kind {attempt.kind})")
    start = clock.monotonic()

    def finish(status: AttemptStatus, error: str | None = None, outputs: dict[str, Any] | None = None) -> AttemptResult:
        return AttemptResult(status=status, duration_s=clock.monotonic() - start, error=error, outputs=outputs)

    if cancel.is_cancelled:
        return finish(*_stopped(attempt, cancel, " before start"))
    ctx = TaskContext.from_attempt(attempt, clock=clock, cancel=cancel, on_progress=on_progress)
    with running_attempt():  # no other attempt drops the modules its function runs with
        try:
            func = cache.resolve(attempt.callable, attempt.search_path, kind=attempt.kind)
            args, kwargs = bind_arguments(func, {**upstream_payload(attempt.inputs), **attempt.params}, ctx)
        except DagctlError as exc:
            ctx.log(f"error: {exc}")
            return finish("failed", str(exc))
        error: str | None = None
        returned: Any = None
        try:
            # its print() to its log, not dagctl's stdout (when the run routes it); its env: and secrets in os.environ
            with to_log(attempt.log_path), task_environ(attempt.env):
                returned = func(*args, **kwargs)
        except TaskError as exc:
            error = str(exc)
            ctx.log(f"error: {error}")
        except (Exception, SystemExit) as exc:
            error = one_line(exc)
            _log_traceback(ctx, exc)
    if cancel.is_cancelled:
        status, reason = _stopped(attempt, cancel, "")
        ctx.log(f"stopped: {reason}")
        return finish(status, reason)
    if error is not None:
        return finish("failed", error)
    try:
        outputs = _outputs_of(returned)
    except TaskError as exc:
        ctx.log(f"error: {exc}")
        return finish("failed", str(exc))
    return finish("success", outputs=outputs)


def _stopped(attempt: Attempt, cancel: CancelToken, when: str) -> tuple[AttemptStatus, str]:
    if cancel.reason == "timeout":
        limit = f" after {attempt.timeout:g}s" if attempt.timeout else ""
        return "timeout", f"timed out{limit}{when}"
    return "cancelled", f"cancelled{when}"


def _outputs_of(returned: Any) -> dict[str, Any]:
    if returned is None:
        return {}
    if not isinstance(returned, Mapping):
        raise TaskError(f"function returned {type(returned).__name__}; return a dict of outputs or None")
    return json.loads(encode_outputs(dict(returned)))  # type: ignore[no-any-return]


def _log_traceback(ctx: TaskContext, exc: BaseException) -> None:
    """One timestamped error line, then the traceback without dagctl's own calling frame."""
    ctx.log(f"error: {one_line(exc)}")
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if ctx.log_path:
        append_to_log(ctx.log_path, text)
    else:
        logger.error("task %s failed:\n%s", ctx.task_id, text)


# -- running it in a child process ------------------------------------------------------------------------------


def attempt_files(attempt: Attempt) -> tuple[Path, Path]:
    """Where the attempt is written for the child and where the child writes its result."""
    from dagctl.store import layout

    base = Path(attempt.run_dir) if attempt.run_dir else Path(attempt.log_path or ".").parent
    return layout.attempt_files(base, attempt.task_id, attempt.attempt)


def child_env(attempt: Attempt, base_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: ``base_env`` (default ``os.environ``), the task's env, ``DAGCTL_*``."""
    env = dict(os.environ if base_env is None else base_env)
    env.update(attempt.env)
    for key, value in (
        ("DAGCTL_RUN_ID", attempt.run_id),
        ("DAGCTL_DAG_NAME", attempt.dag_name),
        ("DAGCTL_TASK_ID", attempt.task_id),
        ("DAGCTL_ATTEMPT", str(attempt.attempt)),
        ("DAGCTL_RUN_DIR", attempt.run_dir),
    ):
        env.setdefault(key, value)
    env["PYTHONUNBUFFERED"] = "1"  # print() reaches the log as it happens
    package_root = os.path.realpath(Path(__file__).resolve().parents[2])
    installed = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    if package_root not in installed:  # running from a checkout: let the child import this same dagctl
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if package_root not in paths:
            env["PYTHONPATH"] = os.pathsep.join([*paths, package_root])
    return env


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and a rename; readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # attempts may carry secrets in env
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
    os.replace(tmp, path)


def run_python_isolated(
    attempt: Attempt,
    cancel: CancelToken,
    *,
    clock: Clock,
    base_env: Mapping[str, str] | None = None,
    keeper: Keeper | None = None,
) -> AttemptResult:
    """Run the attempt in ``python -m dagctl.run.actions.child`` under :func:`run_shell` (really stoppable)."""

    if attempt.kind == "run" or not attempt.callable:
        raise ExecutorError(f"attempt {attempt.attempt_id} has no callable to run (kind {attempt.kind})")
    if cancel.is_cancelled:
        stopped, reason = _stopped(attempt, cancel, " before start")
        return AttemptResult(status=stopped, duration_s=0.0, error=reason)
    request, result_path = attempt_files(attempt)
    log_path = Path(attempt.log_path) if attempt.log_path else request.with_suffix(".log")
    payload = attempt.to_dict()  # the child may run in another cwd: every path it uses must be absolute
    payload.update(
        log_path=os.path.abspath(log_path),
        search_path=[os.path.abspath(p) for p in attempt.search_path],
        run_dir=os.path.abspath(attempt.run_dir) if attempt.run_dir else "",
        output_path=os.path.abspath(attempt.output_path) if attempt.output_path else "",
    )
    try:
        result_path.unlink(missing_ok=True)
        write_json_atomic(
            request, {"version": RESULT_VERSION, "attempt": payload, "result_path": os.path.abspath(result_path)}
        )
    except OSError as exc:
        raise ExecutorError(
            f"cannot write {request}: {exc.strerror or exc}",
            hint="check that the run folder is writable and the disk is not full",
        ) from exc
    except (TypeError, ValueError) as exc:
        raise ExecutorError(f"attempt {attempt.attempt_id} is not JSON-serialisable: {exc}") from exc
    try:
        return _run_child(attempt, request, result_path, log_path, base_env, cancel, clock, keeper)
    finally:  # scratch files, holding the attempt's environment (secrets) and its unmasked result: not kept
        for path in (request, result_path):
            with contextlib.suppress(OSError):
                path.unlink()


def _run_child(
    attempt: Attempt,
    request: Path,
    result_path: Path,
    log_path: Path,
    base_env: Mapping[str, str] | None,
    cancel: CancelToken,
    clock: Clock,
    keeper: Keeper | None,
) -> AttemptResult:
    from .shell import run_shell

    outcome = run_shell(
        [sys.executable, "-m", "dagctl.run.actions.child", str(request.resolve())],
        env=child_env(attempt, base_env),
        cwd=attempt.cwd,
        log_path=log_path,
        timeout=attempt.timeout,
        cancel=cancel.requested,
        kill_now=cancel.now,
        grace=attempt.grace,
        clock=clock,
        keeper=keeper,
    )
    if outcome.status in ("timeout", "cancelled"):
        status: AttemptStatus = outcome.status
        error = outcome.error or status
        if status == "cancelled" and cancel.reason == "timeout":  # the runner's deadline, not ours
            status, reason = _stopped(attempt, cancel, "")
            error = reason + error.removeprefix("cancelled") if error.startswith("cancelled") else reason
        return AttemptResult(status=status, duration_s=outcome.duration_s, exit_code=outcome.exit_code, error=error)
    reported = _read_result(result_path)
    if reported is None:
        why = outcome.error or f"exit code {outcome.exit_code}"
        return AttemptResult(
            status="failed",
            duration_s=outcome.duration_s,
            exit_code=outcome.exit_code,
            error=f"python process ended without reporting a result ({why}) — see the log",
        )
    ok = reported["status"] == "success"
    return AttemptResult(
        status=reported["status"],
        duration_s=outcome.duration_s,
        exit_code=outcome.exit_code,
        error=reported.get("error"),
        outputs=(reported.get("outputs") or {}) if ok else None,
    )


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("status") not in _STATUSES:
        return None
    return data
