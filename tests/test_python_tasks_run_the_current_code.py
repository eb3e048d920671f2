"""A long-lived process (a worker's pool process, `schedule --serve`) runs the code a task's module files hold when
the attempt starts, as a new process would: it kept the modules it had imported, so after a deploy tasks ran the
old code (and a function added to a module was "not defined")."""

from __future__ import annotations

import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagctl.clock import SystemClock
from dagctl.run.actions.python import CallableCache, refresh_modules, resolve_callable, run_python_attempt
from dagctl.run.api import run_dag
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken
from dagctl.settings import Settings


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    base = tmp_path / "dags"
    base.mkdir()
    yield base
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def write(path: Path, source: str) -> None:
    path.write_text(textwrap.dedent(source).lstrip("\n"))


def test_a_changed_module_is_imported_again_even_at_the_same_size_in_the_same_second(folder: Path) -> None:
    write(folder / "ver.py", "def version():\n    return 1\n")
    cache = CallableCache()
    assert cache.resolve("ver:version", [str(folder)])() == 1
    write(folder / "ver.py", "def version():\n    return 2\n")  # what a deploy does; its bytecode looks current
    assert cache.resolve("ver:version", [str(folder)])() == 2
    assert resolve_callable("ver:version", [str(folder)])() == 2  # without a cache too
    other = CallableCache()  # another executor's cache in the same process
    assert other.resolve("ver:version", [str(folder)])() == 2


def test_a_change_to_a_module_the_task_module_imports_counts_too(folder: Path) -> None:
    write(folder / "helper.py", "WORD = 'old'\n")
    write(folder / "steps.py", "import helper\ndef word():\n    return helper.WORD\n")
    cache = CallableCache()
    assert cache.resolve("steps:word", [str(folder)])() == "old"
    write(folder / "helper.py", "WORD = 'new'\n")
    assert cache.resolve("steps:word", [str(folder)])() == "new"


def test_a_function_added_by_a_deploy_is_found(folder: Path) -> None:
    write(folder / "steps.py", "def first():\n    return 1\n")
    cache = CallableCache()
    assert cache.resolve("steps:first", [str(folder)])() == 1
    write(folder / "steps.py", "def first():\n    return 1\ndef added():\n    return 'here'\n")
    assert cache.resolve("steps:added", [str(folder)])() == "here"


def test_an_unchanged_module_is_not_imported_again(folder: Path) -> None:
    write(
        folder / "steady.py",
        "import itertools\nCOUNTER = itertools.count()\ndef next_one():\n    return next(COUNTER)\n",
    )
    cache = CallableCache()
    assert [cache.resolve("steady:next_one", [str(folder)])() for _ in range(3)] == [0, 1, 2]
    generation = refresh_modules()
    assert refresh_modules() == generation


def test_two_runs_in_one_process_each_run_the_code_of_their_time(folder: Path, tmp_path: Path) -> None:
    """`schedule --serve` with the thread executor runs every slot in the same process."""
    write(folder / "ver.py", "def version():\n    return {'version': 1}\n")
    (folder / "dag.yaml").write_text("name: ver\ntasks:\n  - {id: v, python: ver:version}\n")
    settings = Settings.from_env({"DAGCTL_LOGS_DIR": str(tmp_path / "logs")})
    first = run_dag(folder / "dag.yaml", settings=settings)
    write(folder / "ver.py", "def version():\n    return {'version': 2}\n")
    second = run_dag(folder / "dag.yaml", settings=settings)
    assert (first.tasks["v"].outputs, second.tasks["v"].outputs) == ({"version": 1}, {"version": 2})


def test_looking_at_the_module_files_costs_microseconds_per_attempt(folder: Path) -> None:
    for i in range(5):
        write(folder / f"m{i}.py", f"X = {i}\n")
        write(folder / f"t{i}.py", f"import m{i}\ndef f():\n    return m{i}.X\n")
    cache = CallableCache()
    for i in range(5):
        cache.resolve(f"t{i}:f", [str(folder)])
    start = time.perf_counter()
    for _ in range(1000):
        cache.resolve("t0:f", [str(folder)])
    per_attempt = (time.perf_counter() - start) / 1000
    assert per_attempt < 0.001, per_attempt  # 10 files: ~20-40 us on a laptop; a generous bound for a busy CI


def test_a_package_inside_the_dag_folder_found_through_another_sys_path_entry_is_never_imported_again(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project's `.venv` inside the DAG folder: its packages were dropped and re-imported with the task module,
    so objects made before failed `isinstance` against the new classes."""
    site = folder / ".venv" / "lib" / "python3.11" / "site-packages"
    (site / "fakepkg").mkdir(parents=True)
    write(site / "fakepkg" / "__init__.py", "class Err(Exception):\n    pass\n")
    monkeypatch.syspath_prepend(str(site))
    write(folder / "tasks.py", "import fakepkg\ndef version():\n    return 1\n")
    cache = CallableCache()
    assert cache.resolve("tasks:version", [str(folder)])() == 1
    installed = sys.modules["fakepkg"]
    write(folder / "tasks.py", "import fakepkg\ndef version():\n    return 2\n")
    assert cache.resolve("tasks:version", [str(folder)])() == 2  # the task module is current
    assert sys.modules["fakepkg"] is installed  # the installed package is not imported again


def attempt_of(target: str, folder: Path, **params: object) -> Attempt:
    task = target.replace(":", "_")
    return Attempt(
        attempt_id=f"r/{task}/1", run_id="r", dag_name="d", task_id=task, attempt=1, kind="python",
        callable=target, search_path=[str(folder)], params=dict(params),
    )  # fmt: skip


def test_a_deploy_while_an_attempt_runs_does_not_pull_its_modules_from_under_it(folder: Path) -> None:
    """A function that imports lazily got ModuleNotFoundError when another attempt started after a change."""
    write(folder / "helpers.py", "WORD = 'old'\n")
    write(
        folder / "slow.py",
        """
        import helpers

        def slow(started, go):
            started.set()
            assert go.wait(10)
            import helpers as lazily
            return {"word": lazily.WORD, "same": lazily is helpers}
        """,
    )
    write(folder / "quick.py", "import helpers\ndef quick():\n    return {'word': helpers.WORD}\n")
    cache, clock = CallableCache(), SystemClock()
    started, go = threading.Event(), threading.Event()
    result: list[AttemptResult] = []
    slow_attempt = attempt_of("slow:slow", folder, started=started, go=go)
    runner = threading.Thread(
        target=lambda: result.append(run_python_attempt(slow_attempt, CancelToken(), clock=clock, cache=cache))
    )
    runner.start()
    try:
        assert started.wait(10)
        write(folder / "helpers.py", "WORD = 'new'\n")  # a deploy while `slow` runs
        quick = run_python_attempt(attempt_of("quick:quick", folder), CancelToken(), clock=clock, cache=cache)
        assert quick.status == "success", quick.error
    finally:
        go.set()
        runner.join(10)
    assert result[0].status == "success", result[0].error
    assert result[0].outputs == {"word": "old", "same": True}
    # the process is idle again: the next attempt takes up the change
    after = run_python_attempt(attempt_of("quick:quick", folder), CancelToken(), clock=clock, cache=cache)
    assert after.outputs == {"word": "new"}


def test_a_function_resolved_before_a_refresh_is_not_cached_as_current(folder: Path, monkeypatch) -> None:
    """A resolve that started before a drop stored the old function under the new generation: old code for good."""
    import dagctl.run.actions.python as python

    write(folder / "ver.py", "def version():\n    return 1\n")
    write(folder / "other.py", "def name():\n    return 'other'\n")
    cache = CallableCache()
    real = python.resolve_callable

    def resolve_then_deploy(target: str, search_path: list[str], *, kind: str = "python") -> object:
        found = real(target, search_path, kind=kind)  # the old function, resolved ...
        if target == "ver:version" and found() == 1:  # ... then a deploy and another attempt's refresh
            write(folder / "ver.py", "def version():\n    return 2\n")
            assert cache.resolve("other:name", search_path)() == "other"  # the same executor's cache
        return found

    monkeypatch.setattr(python, "resolve_callable", resolve_then_deploy)
    assert cache.resolve("ver:version", [str(folder)])() == 1  # this attempt began with the old code
    assert cache.resolve("ver:version", [str(folder)])() == 2  # the next one runs the new code


def test_a_cache_hit_does_not_wait_behind_an_import(folder: Path) -> None:
    """Every resolve took the global import lock: a slow top-level import stalled every other attempt."""
    import dagctl.run.actions.python as python

    write(folder / "ver.py", "def version():\n    return 1\n")
    cache = CallableCache()
    cache.resolve("ver:version", [str(folder)])
    hit: list[object] = []
    with python._IMPORT_LOCK:  # what another thread's slow import holds
        looker = threading.Thread(target=lambda: hit.append(cache.resolve("ver:version", [str(folder)])))
        looker.start()
        looker.join(10)
        assert hit and not looker.is_alive()
