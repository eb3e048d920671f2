"""Python tasks: finding module:function, binding params, outputs, errors, cancel, process isolation, context."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dagctl
from dagctl.clock import FakeClock, SystemClock
from dagctl.dag.workflows import resolve_workflow
from dagctl.errors import TaskError, UsageError
from dagctl.run.actions.python import (
    CallableCache,
    bind_arguments,
    resolve_callable,
    run_python_attempt,
    run_python_isolated,
)
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken
from dagctl.run.context import TaskContext
from tests.conftest import EXAMPLE_DAGS
from tests.support import process_alive, wait_until


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Write a task module into a folder under tmp_path; forget every module imported from there afterwards."""
    counter = iter(range(1000))

    def _write(name: str, source: str, folder: str | None = None) -> Path:
        base = tmp_path / (folder or f"dag{next(counter)}")
        path = base / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"))
        return base

    yield _write
    root = str(tmp_path)
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(root):
            del sys.modules[name]


def make_ctx(tmp_path: Path, *, inputs: dict[str, dict[str, Any]] | None = None, **kw: Any) -> TaskContext:
    kw.setdefault("clock", FakeClock())
    return TaskContext(
        run_id="r1",
        dag_name="d",
        task_id="t",
        attempt=1,
        params=kw.pop("params", {}),
        run_dir=tmp_path / "run",
        log_path=tmp_path / "run" / "t.log",
        inputs=inputs,
        **kw,
    )


def make_attempt(tmp_path: Path, target: str, folder: Path | None, **kw: Any) -> Attempt:
    kw.setdefault("params", {})
    return Attempt(
        attempt_id="r1/t/1",
        run_id="r1",
        dag_name="d",
        task_id="t",
        attempt=1,
        kind=kw.pop("kind", "python"),
        callable=target,
        search_path=[str(folder)] if folder else [],
        log_path=str(tmp_path / "run" / "t.log"),
        run_dir=str(tmp_path / "run"),
        **kw,
    )


def run_inline(attempt: Attempt, cancel: CancelToken | None = None, **kw: Any) -> AttemptResult:
    return run_python_attempt(
        attempt,
        cancel or CancelToken(),
        clock=kw.pop("clock", FakeClock()),
        cache=kw.pop("cache", CallableCache()),
        **kw,
    )


def log_text(tmp_path: Path) -> str:
    path = tmp_path / "run" / "t.log"
    return path.read_text() if path.exists() else ""


# -- binding rules -----------------------------------------------------------------------------------------------


def test_ctx_and_context_parameters_receive_the_task_context(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)

    def f(a, ctx): ...
    def g(a, *, context=None): ...

    assert bind_arguments(f, {"a": 1}, ctx) == ([], {"a": 1, "ctx": ctx})
    assert bind_arguments(g, {"a": 1}, ctx) == ([], {"a": 1, "context": ctx})


def test_var_kwargs_receives_every_param_and_every_upstream_key(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, inputs={"extract": {"path": "/x", "rows": 3}})

    def f(out_dir, **upstream): ...

    params = {"out_dir": "o", "extra": 1, "extract__path": "/x", "extract__rows": 3}
    assert bind_arguments(f, params, ctx) == ([], params)


def test_undeclared_upstream_keys_are_dropped_silently(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, inputs={"sweep": {"summary": "s", "urgent": 2}})

    def f(start, sweep__summary=""): ...

    args, kwargs = bind_arguments(f, {"start": 1, "sweep__summary": "s", "sweep__urgent": 2}, ctx)
    assert (args, kwargs) == ([], {"start": 1, "sweep__summary": "s"})


def test_an_explicit_param_the_function_cannot_take_is_an_error(tmp_path: Path) -> None:
    def f(a, b, ctx=None): ...

    with pytest.raises(UsageError) as exc:
        bind_arguments(f, {"a": 1, "b": 2, "x": 3}, make_ctx(tmp_path))
    assert exc.value.message == "function f() has no parameter 'x'; it accepts: a, b"
    with pytest.raises(UsageError) as exc:
        bind_arguments(f, {"a": 1, "b": 2, "bb": 3, "c": 4}, make_ctx(tmp_path))
    assert exc.value.message == "function f() has no parameters 'bb', 'c'; it accepts: a, b"
    assert "did you mean 'b'?" in str(exc.value)


def test_a_key_that_looks_upstream_but_is_not_is_an_explicit_param(tmp_path: Path) -> None:
    def f(a): ...

    with pytest.raises(UsageError, match="has no parameter 'other__x'"):
        bind_arguments(f, {"a": 1, "other__x": 2}, make_ctx(tmp_path, inputs={"up": {"x": 1}}))


def test_missing_required_parameters_are_named(tmp_path: Path) -> None:
    def f(a, b, c, d=4): ...

    with pytest.raises(UsageError) as exc:
        bind_arguments(f, {"a": 1}, make_ctx(tmp_path))
    assert exc.value.message == "function f() is missing required parameters 'b', 'c'"
    assert "params given: a" in str(exc.value)


def test_a_lone_params_parameter_receives_the_whole_dict(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, inputs={"up": {"k": 1}})

    def f(params, ctx): ...

    values = {"x": 1, "y": 2, "up__k": 1}
    assert bind_arguments(f, values, ctx) == ([], {"ctx": ctx, "params": values})


def test_params_is_an_ordinary_parameter_when_another_one_matches(tmp_path: Path) -> None:
    def f(limit, params=None): ...

    assert bind_arguments(f, {"limit": 3}, make_ctx(tmp_path)) == ([], {"limit": 3})
    with pytest.raises(UsageError, match="has no parameter 'x'; it accepts: limit, params"):
        bind_arguments(f, {"limit": 3, "x": 1}, make_ctx(tmp_path))
    assert bind_arguments(f, {"limit": 3, "params": {"p": 1}}, make_ctx(tmp_path)) == (
        [],
        {"limit": 3, "params": {"p": 1}},
    )


def test_positional_only_parameters_are_passed_by_position(tmp_path: Path) -> None:
    def f(a, b=2, /, c=3): ...

    assert bind_arguments(f, {"a": 1, "b": 5, "c": 6}, make_ctx(tmp_path)) == ([1, 5], {"c": 6})
    with pytest.raises(UsageError, match="missing required parameter 'a'"):
        bind_arguments(f, {"b": 5}, make_ctx(tmp_path))
    assert bind_arguments(f, {"a": 1, "c": 6}, make_ctx(tmp_path)) == ([1], {"c": 6})


def test_a_task_param_named_like_the_context_parameter_is_refused(tmp_path: Path) -> None:
    def f(ctx): ...

    with pytest.raises(UsageError, match="task param 'ctx' cannot reach f"):
        bind_arguments(f, {"ctx": 1}, make_ctx(tmp_path))


# -- resolving module:function ----------------------------------------------------------------------------------


def test_resolve_imports_from_the_search_folder_and_restores_sys_path(modules, tmp_path: Path) -> None:
    folder = modules("steps_a", "def hello(name):\n    return {'hi': name}\n")
    before = list(sys.path)
    func = resolve_callable("steps_a:hello", [str(folder)])
    assert func("x") == {"hi": "x"}
    assert sys.path == before


def test_the_search_folder_beats_sys_path(modules, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = modules("shadowed_mod", "def which():\n    return 'sys.path'\n")
    dag = modules("shadowed_mod", "def which():\n    return 'dag folder'\n")
    monkeypatch.syspath_prepend(str(on_path))
    assert resolve_callable("shadowed_mod:which", [str(dag)])() == "dag folder"


def test_two_dag_folders_with_the_same_module_name_each_get_their_own(modules) -> None:
    first = modules("steps_same", "def which():\n    return 'first'\n")
    second = modules("steps_same", "def which():\n    return 'second'\n")
    assert resolve_callable("steps_same:which", [str(first)])() == "first"
    assert resolve_callable("steps_same:which", [str(second)])() == "second"
    assert resolve_callable("steps_same:which", [str(first)])() == "first"


def test_packages_in_the_search_folder_work(modules) -> None:
    folder = modules("flows_pkg.sub.mod", "def run():\n    return {'ok': 1}\n")
    assert resolve_callable("flows_pkg.sub.mod:run", [str(folder)])() == {"ok": 1}


def test_a_module_already_imported_from_sys_path_is_never_replaced(modules) -> None:
    folder = modules("json", "def dumps():\n    return 'mine'\n")
    with pytest.raises(UsageError) as exc:
        resolve_callable("json:dumps", [str(folder)])
    assert "module 'json' for python: json:dumps is already imported from" in str(exc.value)
    assert f"which hides {folder.resolve() / 'json.py'}" in str(exc.value)
    import json

    assert json.dumps([]) == "[]"


def test_module_not_found_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as exc:
        resolve_callable("nosuch_mod_xyz:f", [str(tmp_path)])
    assert exc.value.message == (
        f"cannot import module 'nosuch_mod_xyz' for python: nosuch_mod_xyz:f (looked in {tmp_path} and sys.path)"
    )


def test_a_missing_function_suggests_a_close_public_callable(modules) -> None:
    folder = modules(
        "steps_b",
        """
        from pathlib import Path

        def extract(rows): ...
        def total_by(column): ...
        def _private(): ...
        LIMIT = 3
    """,
    )
    with pytest.raises(UsageError) as exc:
        resolve_callable("steps_b:extrct", [str(folder)])
    assert (
        exc.value.message == "module 'steps_b' has no function 'extrct' (python: steps_b:extrct); it defines: "
        "extract, total_by"
    )
    assert "did you mean 'extract'?" in str(exc.value)


def test_an_attribute_that_is_not_callable_is_refused(modules) -> None:
    folder = modules("steps_c", "LIMIT = 3\n")
    with pytest.raises(UsageError, match="'LIMIT' in module 'steps_c' is a int, not a function"):
        resolve_callable("steps_c:LIMIT", [str(folder)])


def test_an_exception_while_importing_is_reported_with_type_message_and_line(modules) -> None:
    folder = modules("steps_d", "import os\nraise RuntimeError('config missing')\n")
    with pytest.raises(UsageError) as exc:
        resolve_callable("steps_d:f", [str(folder)])
    assert exc.value.message == (
        "importing module 'steps_d' for python: steps_d:f raised RuntimeError: config missing "
        f"at {folder / 'steps_d.py'}:2"
    )


def test_a_missing_dependency_of_the_module_is_not_reported_as_the_module_missing(modules) -> None:
    folder = modules("steps_e", "import not_installed_dep_xyz\n")
    with pytest.raises(UsageError) as exc:
        resolve_callable("steps_e:f", [str(folder)])
    assert "raised ModuleNotFoundError: No module named 'not_installed_dep_xyz'" in exc.value.message


def test_a_syntax_error_names_file_and_line(modules) -> None:
    folder = modules("steps_f", "def f(:\n    pass\n")
    with pytest.raises(UsageError, match=r"raised SyntaxError: .*steps_f.py, line 1"):
        resolve_callable("steps_f:f", [str(folder)])


def test_a_target_without_colon_is_refused() -> None:
    with pytest.raises(UsageError, match=r"'steps\.extract' is not module:function"):
        resolve_callable("steps.extract", [])


def test_the_cache_resolves_each_target_and_search_path_once(modules) -> None:
    folder = modules("steps_g", "def f():\n    return {}\n")
    cache = CallableCache()
    first = cache.resolve("steps_g:f", [str(folder)])
    del sys.modules["steps_g"]  # a fresh import would build a new function object
    assert cache.resolve("steps_g:f", [str(folder)]) is first
    assert len(cache) == 1


# -- running in this thread -------------------------------------------------------------------------------------


STEPS = """
    import threading
    from dagctl.errors import TaskError

    def ok(n, ctx):
        ctx.log(f"doubling {n}")
        ctx.progress(50, "half way")
        return {"double": n * 2, "pair": (n, n), "task": ctx.task_id}

    def nothing():
        return None

    def listing():
        return [1, 2]

    def not_json():
        import datetime
        return {"when": datetime.date(2025, 1, 1)}

    def huge():
        return {"blob": "x" * (2 * 1024 * 1024)}

    def boom(message):
        raise ValueError(message)

    def clean_failure():
        raise TaskError("no rows for 2025-10-01 — check the source")

    def exits():
        raise SystemExit(3)

    def cooperative(started, ctx):
        started.set()
        pause = threading.Event()
        while not ctx.cancelled:
            pause.wait(0.005)
        return {"finished": True}

    def polite(started, ctx):
        started.set()
        while True:
            ctx.raise_if_cancelled()
            threading.Event().wait(0.005)
"""


@pytest.fixture
def steps(modules) -> Path:
    return modules("py_steps", STEPS)


def test_success_returns_the_outputs_as_json_data(steps: Path, tmp_path: Path) -> None:
    clock = FakeClock()
    progress: list[tuple[float, str]] = []
    result = run_inline(
        make_attempt(tmp_path, "py_steps:ok", steps, params={"n": 21}),
        clock=clock,
        on_progress=lambda pct, msg: progress.append((pct, msg)),
    )
    assert result == AttemptResult(
        status="success", duration_s=0.0, outputs={"double": 42, "pair": [21, 21], "task": "t"}
    )
    assert progress == [(50.0, "half way")]
    assert log_text(tmp_path) == ("2026-01-01T00:00:00Z doubling 21\n2026-01-01T00:00:00Z progress 50% half way\n")


def test_upstream_outputs_arrive_even_if_only_in_inputs(steps: Path, tmp_path: Path, modules) -> None:
    folder = modules("py_up", "def f(up__n, ctx):\n    return {'got': up__n, 'all': ctx.output_of('up')}\n")
    result = run_inline(make_attempt(tmp_path, "py_up:f", folder, inputs={"up": {"n": 7, "m": 1}}))
    assert result.outputs == {"got": 7, "all": {"n": 7, "m": 1}}


def test_none_means_no_outputs(steps: Path, tmp_path: Path) -> None:
    result = run_inline(make_attempt(tmp_path, "py_steps:nothing", steps))
    assert (result.status, result.outputs) == ("success", {})


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("listing", "function returned list; return a dict of outputs or None"),
        ("not_json", "outputs are not JSON-serialisable: key 'when': Object of type date is not JSON serializable"),
        ("huge", "outputs are 2.0 MiB, over the 1 MiB cap — write large data to a file and return its path"),
    ],
)
def test_unusable_return_values_fail_the_attempt(steps: Path, tmp_path: Path, target: str, error: str) -> None:
    result = run_inline(make_attempt(tmp_path, f"py_steps:{target}", steps))
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith(error)
    assert result.outputs is None


def test_an_exception_fails_with_one_line_and_the_traceback_goes_to_the_log(steps: Path, tmp_path: Path) -> None:
    result = run_inline(make_attempt(tmp_path, "py_steps:boom", steps, params={"message": "bad\nvalue"}))
    assert (result.status, result.error) == ("failed", "ValueError: bad value")
    log = log_text(tmp_path)
    assert log.startswith("2026-01-01T00:00:00Z error: ValueError: bad value\nTraceback (most recent call last):\n")
    assert 'py_steps.py", line ' in log and "in boom\n    raise ValueError(message)\n" in log
    assert "run_python_attempt" not in log
    assert log.endswith("ValueError: bad\nvalue\n")


def test_a_long_exception_message_is_cut_to_one_short_line(steps: Path, tmp_path: Path) -> None:
    result = run_inline(make_attempt(tmp_path, "py_steps:boom", steps, params={"message": "x" * 1000}))
    assert result.error is not None and len(result.error) == 300 and result.error.endswith("…")
    assert "x" * 1000 in log_text(tmp_path)


def test_task_error_fails_with_its_message_and_no_traceback(steps: Path, tmp_path: Path) -> None:
    result = run_inline(make_attempt(tmp_path, "py_steps:clean_failure", steps))
    assert (result.status, result.error) == ("failed", "no rows for 2025-10-01 — check the source")
    assert "Traceback" not in log_text(tmp_path)


def test_system_exit_in_a_task_fails_the_attempt_only(steps: Path, tmp_path: Path) -> None:
    result = run_inline(make_attempt(tmp_path, "py_steps:exits", steps))
    assert (result.status, result.error) == ("failed", "SystemExit: 3")


def test_resolution_and_binding_problems_fail_the_attempt_without_raising(steps: Path, tmp_path: Path) -> None:
    result = run_inline(make_attempt(tmp_path, "py_steps:ok", steps, params={"n": 1, "m": 2}))
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("function ok() has no parameter 'm'")
    result = run_inline(make_attempt(tmp_path, "py_steps:okk", steps))
    assert result.error is not None and "did you mean 'ok'?" in result.error
    assert "error: module 'py_steps' has no function 'okk'" in log_text(tmp_path)


def test_cancelled_before_start_runs_nothing(steps: Path, tmp_path: Path) -> None:
    cancel = CancelToken()
    cancel.cancel()
    result = run_inline(make_attempt(tmp_path, "py_steps:ok", steps, params={"n": 1}), cancel)
    assert (result.status, result.error) == ("cancelled", "cancelled before start")
    assert log_text(tmp_path) == ""


class Background:
    """An attempt on a worker thread, so the test can cancel it meanwhile."""

    def __init__(self, run: Callable[[], AttemptResult]) -> None:
        self.result: AttemptResult | None = None
        self.thread = threading.Thread(target=self._target, args=(run,), daemon=True)
        self.thread.start()

    def _target(self, run: Callable[[], AttemptResult]) -> None:
        self.result = run()

    def join(self, timeout: float = 10.0) -> AttemptResult:
        self.thread.join(timeout)
        assert self.result is not None, "attempt did not finish"
        return self.result


@pytest.mark.parametrize(
    ("reason", "status", "error"),
    [("timeout", "timeout", "timed out after 5s"), ("cancelled", "cancelled", "cancelled")],
)
def test_a_function_polling_ctx_cancelled_stops_and_is_reported_as_stopped(
    steps: Path, tmp_path: Path, reason: str, status: str, error: str
) -> None:
    started = threading.Event()
    cancel = CancelToken()
    attempt = make_attempt(tmp_path, "py_steps:cooperative", steps, params={"started": started}, timeout=5.0)
    task = Background(lambda: run_inline(attempt, cancel))
    assert started.wait(10)
    cancel.cancel(reason=reason)
    result = task.join()
    assert (result.status, result.error, result.outputs) == (status, error, None)
    assert f"stopped: {error}" in log_text(tmp_path)


def test_raise_if_cancelled_ends_the_function_as_cancelled_not_failed(steps: Path, tmp_path: Path) -> None:
    started = threading.Event()
    cancel = CancelToken()
    task = Background(
        lambda: run_inline(make_attempt(tmp_path, "py_steps:polite", steps, params={"started": started}), cancel)
    )
    assert started.wait(10)
    cancel.cancel()
    assert (task.join().status, task.join().error) == ("cancelled", "cancelled")


# -- running in a child process ---------------------------------------------------------------------------------


ISOLATED = """
    import os, signal, time
    from pathlib import Path

    def env_and_cwd(ctx, n):
        print("hello from the child", flush=True)
        ctx.log("logged from the child")
        return {"greeting": os.environ["GREETING"], "cwd": os.getcwd(), "pid": os.getpid(), "n": n,
                "run_id": os.environ["DAGCTL_RUN_ID"]}

    def where(ctx):
        ctx.log("logged from elsewhere")
        return {"run_dir": ctx.run_dir, "cwd": os.getcwd()}

    def boom():
        raise ValueError("child failure")

    def stuck(marker):
        Path(marker).write_text(str(os.getpid()))
        time.sleep(60)

    def vanish():
        os._exit(3)

    def killed():
        os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def isolated(modules) -> Path:
    return modules("iso_steps", ISOLATED)


def run_isolated(attempt: Attempt, cancel: CancelToken | None = None, clock: Any = None) -> AttemptResult:
    return run_python_isolated(attempt, cancel or CancelToken(), clock=clock or SystemClock())


def test_isolated_success_applies_env_and_cwd_and_returns_outputs(isolated: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    attempt = make_attempt(
        tmp_path,
        "iso_steps:env_and_cwd",
        isolated,
        params={"n": 4},
        env={"GREETING": "hi"},
        cwd=str(work),
        isolation="process",
        timeout=30.0,
    )
    result = run_isolated(attempt)
    assert (result.status, result.exit_code, result.error) == ("success", 0, None)
    assert result.outputs is not None
    assert {k: result.outputs[k] for k in ("greeting", "cwd", "n", "run_id")} == {
        "greeting": "hi",
        "cwd": str(work),
        "n": 4,
        "run_id": "r1",
    }
    assert result.outputs["pid"] != os.getpid()
    log = log_text(tmp_path)
    assert "hello from the child" in log and "logged from the child" in log
    # its request and result files (the attempt's environment, secrets included) are gone once it ended
    assert not list((tmp_path / "run" / "attempts").glob("t@1*.json"))


def test_isolated_relative_paths_mean_the_parent_cwd_not_the_task_cwd(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    attempt = Attempt(
        attempt_id="r1/t/1",
        run_id="r1",
        dag_name="d",
        task_id="t",
        attempt=1,
        kind="python",
        callable="iso_steps:where",
        search_path=[isolated.name],
        log_path="run/t.log",
        run_dir="run",
        cwd=str(work),
        isolation="process",
        timeout=30.0,
    )
    result = run_isolated(attempt)
    assert result.outputs == {"run_dir": str(tmp_path / "run"), "cwd": str(work)}
    assert "logged from elsewhere" in log_text(tmp_path)
    assert not (work / "run").exists()


def test_isolated_exception_fails_with_one_line_and_a_logged_traceback(isolated: Path, tmp_path: Path) -> None:
    result = run_isolated(make_attempt(tmp_path, "iso_steps:boom", isolated, isolation="process", timeout=30.0))
    assert (result.status, result.error, result.exit_code) == ("failed", "ValueError: child failure", 1)
    assert "Traceback (most recent call last)" in log_text(tmp_path)


def test_isolated_resolution_errors_come_back_from_the_child(isolated: Path, tmp_path: Path) -> None:
    result = run_isolated(make_attempt(tmp_path, "iso_steps:bom", isolated, isolation="process", timeout=30.0))
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("module 'iso_steps' has no function 'bom'")


def test_isolated_timeout_really_kills_a_function_stuck_in_sleep(isolated: Path, tmp_path: Path) -> None:
    marker = tmp_path / "stuck.pid"
    clock = SystemClock()
    attempt = make_attempt(
        tmp_path,
        "iso_steps:stuck",
        isolated,
        params={"marker": str(marker)},
        isolation="process",
        timeout=0.5,
        grace=0.2,
    )
    began = clock.monotonic()
    result = run_isolated(attempt, clock=clock)
    assert clock.monotonic() - began < 5.0
    assert result.status == "timeout"
    assert result.error is not None and result.error.startswith("timed out after 0.5s")
    if marker.exists():  # the child got as far as the function (it does unless the machine is crawling)
        assert not process_alive(int(marker.read_text()))


def test_isolated_cancel_stops_the_child_process(isolated: Path, tmp_path: Path) -> None:
    marker = tmp_path / "stuck.pid"
    cancel = CancelToken()
    attempt = make_attempt(
        tmp_path,
        "iso_steps:stuck",
        isolated,
        params={"marker": str(marker)},
        isolation="process",
        timeout=60.0,
        grace=2.0,
    )
    task = Background(lambda: run_isolated(attempt, cancel))
    assert wait_until(lambda: marker.exists() and marker.read_text() != "")
    cancel.cancel()
    result = task.join()
    assert (result.status, result.error) == ("cancelled", "cancelled")  # SIGTERM was enough: no SIGKILL needed
    assert not process_alive(int(marker.read_text()))
    assert "dagctl: stopped by SIGTERM" in log_text(tmp_path)


def test_an_isolated_runner_deadline_is_reported_as_timeout(isolated: Path, tmp_path: Path) -> None:
    marker = tmp_path / "stuck.pid"
    cancel = CancelToken()
    attempt = make_attempt(
        tmp_path,
        "iso_steps:stuck",
        isolated,
        params={"marker": str(marker)},
        isolation="process",
        timeout=3.0,
        grace=2.0,
    )
    task = Background(lambda: run_isolated(attempt, cancel))
    assert wait_until(lambda: marker.exists() and marker.read_text() != "")
    cancel.cancel(reason="timeout")
    result = task.join()
    assert (result.status, result.error) == ("timeout", "timed out after 3s")


@pytest.mark.parametrize(("target", "why"), [("vanish", "exit code 3"), ("killed", "killed by signal SIGKILL")])
def test_a_child_that_dies_without_a_result_fails_with_how_it_ended(
    isolated: Path, tmp_path: Path, target: str, why: str
) -> None:
    result = run_isolated(make_attempt(tmp_path, f"iso_steps:{target}", isolated, isolation="process", timeout=30.0))
    assert result.status == "failed"
    assert result.error == f"python process ended without reporting a result ({why}) — see the log"


# -- the task context -------------------------------------------------------------------------------------------


def test_context_log_is_created_lazily_and_stamped_by_the_injected_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    ctx = make_ctx(tmp_path, clock=clock)
    log = tmp_path / "run" / "t.log"
    assert not log.exists()
    ctx.log("first")
    clock.advance(61.5)
    ctx.log("two\nlines")
    assert log.read_text() == ("2026-01-01T00:00:00Z first\n2026-01-01T00:01:01Z two\n2026-01-01T00:01:01Z lines\n")


def test_context_log_lines_stay_whole_across_threads(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)

    def write(n: int) -> None:
        for i in range(50):
            ctx.log(f"thread {n} line {i} " + "x" * 200)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "run" / "t.log").read_text().splitlines()
    assert len(lines) == 400 and all(line.endswith("x" * 200) for line in lines)


def test_progress_is_clamped_logged_and_reported(tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    ctx = make_ctx(tmp_path, on_progress=lambda pct, msg: seen.append((pct, msg)))
    ctx.progress(12.5, "reading")
    ctx.progress(150)
    assert seen == [(12.5, "reading"), (100.0, "")]
    assert (tmp_path / "run" / "t.log").read_text().splitlines() == [
        "2026-01-01T00:00:00Z progress 12.5% reading",
        "2026-01-01T00:00:00Z progress 100%",
    ]
    with pytest.raises(ValueError, match="from 0 to 100"):
        ctx.progress(float("nan"))


def test_output_of_returns_upstream_outputs_or_explains(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, inputs={"extract": {"rows": 3}, "load": {}})
    assert ctx.output_of("extract") == {"rows": 3}
    assert ctx.output_of("load") == {}
    with pytest.raises(KeyError) as exc:
        ctx.output_of("report")
    assert "task 'report' is not an upstream of 't' (upstream tasks: extract, load)" in str(exc.value)


def test_cancelled_and_raise_if_cancelled_follow_the_token(tmp_path: Path) -> None:
    cancel = CancelToken()
    ctx = make_ctx(tmp_path, cancel=cancel)
    assert not ctx.cancelled and ctx.cancel_reason is None
    ctx.raise_if_cancelled()
    cancel.cancel(reason="timeout")
    assert ctx.cancelled and ctx.cancel_reason == "timeout"
    with pytest.raises(TaskError, match=r"^cancelled$"):
        ctx.raise_if_cancelled()
    assert ctx.logger.name == "dagctl.task.t"


# -- the example workflows --------------------------------------------------------------------------------------


def test_the_weekly_ops_example_workflows_chain_over_the_sample_data(tmp_path: Path) -> None:
    dag = dagctl.load_dag(EXAMPLE_DAGS / "weekly_ops_chain.yaml")
    cache, outputs = CallableCache(), {}
    for task in dag.tasks:
        target = resolve_workflow(str(task.workflow_ref), dag_workflows=dag.workflows, dag_dir=EXAMPLE_DAGS)
        inputs = {u: outputs[u] for u in task.depends_on}
        params = {**task.params, **{f"{u}__{k}": v for u, out in inputs.items() for k, v in out.items()}}
        attempt = Attempt(
            attempt_id=f"r1/{task.id}/1",
            run_id="r1",
            dag_name=dag.name,
            task_id=task.id,
            attempt=1,
            kind="workflow_ref",
            callable=target.callable,
            search_path=list(target.search_path),
            params=params,
            inputs=inputs,
            log_path=str(tmp_path / f"{task.id}.log"),
            run_dir=str(tmp_path),
        )
        result = run_python_attempt(attempt, CancelToken(), clock=FakeClock(), cache=cache)
        assert result.status == "success", result.error
        outputs[task.id] = result.outputs

    # six sample messages plus the one inbox_items note; outage, overdue invoice and ASAP budget are urgent
    assert outputs["sweep"] == {"summary": "Prioritized 7 items", "urgent": 3, "path": str(tmp_path / "sweep.md")}
    sweep = (tmp_path / "sweep.md").read_text()
    assert sweep.count("**URGENT**") == 3 and "Email list..." in sweep
    # 10 work log rows fall in 2025-10-01..07: billing 16.5 h, platform 11.5 h, analytics 11.0 h
    assert outputs["report"] == {
        "rows": 10,
        "projects": 3,
        "hours": 39.0,
        "top_project": "billing",
        "path": str(tmp_path / "weekly_report.md"),
    }
    report = (tmp_path / "weekly_report.md").read_text()
    assert "| billing | 16.5 |" in report and "Inbox: Prioritized 7 items" in report
    assert outputs["brief"] == {"actions": 3, "decisions": 2, "path": str(tmp_path / "brief.md")}
    brief = (tmp_path / "brief.md").read_text()
    assert brief.startswith("# Sprint Review — brief")
    assert "- [ ] Ana to publish the billing outage postmortem by Friday." in brief
    assert f"Weekly report: {tmp_path / 'weekly_report.md'}" in brief
    assert "progress 40% read 7 items" in (tmp_path / "sweep.log").read_text()
