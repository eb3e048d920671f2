"""A long-lived process (a worker's pool process, `schedule --serve`) runs the code a task's module files hold when
the attempt starts, as a new process would: it kept the modules it had imported, so after a deploy tasks ran the
old code (and a function added to a module was "not defined")."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagctl.run.actions.python import CallableCache, refresh_modules, resolve_callable
from dagctl.run.api import run_dag
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
