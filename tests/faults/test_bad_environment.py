"""Every environment variable is checked when a command starts, and every unusable path is named within a
second, before any task runs: exit 2 for a bad value, 3 for a path the machine will not let dagctl use."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from .helpers import dagctl

DAG = "name: touch\ntasks:\n  - {id: t, run: 'touch ran'}\n"


@pytest.fixture(autouse=True)
def _dags(project: Path) -> None:
    (project / "dag.yaml").write_text(DAG)
    (project / "schedules").mkdir()
    (project / "schedules" / "s.yaml").write_text('- {id: s, cron: "* * * * *", dag: ../dag.yaml}\n')


BAD_VALUES = [
    ("SCHED_TICK_MS", "0", "from 10 to 60000"),
    ("SCHED_TICK_MS", "1e400", "a whole number"),
    ("SCHED_TICK_MS", "120000", "from 10 to 60000"),  # a tick over a minute misses every-minute slots
    ("DAGCTL_GRACE", "1_000", "a number from 0 to 3600"),  # Python's float() takes it: not a setting
    ("DAGCTL_GRACE", "\u0661\u0662", "a number from 0 to 3600"),  # Arabic-Indic 12: float() takes it too
    ("ORCH_PANEL_WINDOW_H", "-1", "hours above 0 (a bare number such as 24) or a duration"),
    ("SCHED_MAX_PARALLEL", "-1", "from 1 to 1024"),
    ("DAGCTL_GRACE", "nan", "a number from 0 to 3600"),
    ("DAGCTL_GRACE", "inf", "a number from 0 to 3600"),
    ("QUEUE_BACKEND", "bogus", "one of memory, redis"),
    ("DAGCTL_EXECUTOR", "bogus", "one of threads, celery"),
    ("DAGCTL_PLAN_CACHE", "maybe", "1/0, true/false"),
    ("DAGCTL_BROKER_TIMEOUT", "0", "from 0.1 to 600"),
]


@pytest.mark.parametrize(("name", "value", "allowed"), BAD_VALUES)
@pytest.mark.parametrize("command", [("run", "dag.yaml"), ("schedule", "--once", "--dir", "schedules"), ("runs",)])
def test_a_bad_value_stops_every_command_naming_the_variable(project, name, value, allowed, command) -> None:
    proc = dagctl(project, *command, env={name: value})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err
    assert err.startswith(f"dagctl: error: environment variable {name}={value!r}") and allowed in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (project / "ran").exists() and not (project / "logs").exists()


def _fifo(project: Path) -> Path:
    path = project / "fifo"
    os.mkfifo(path)
    return path


def _loop(project: Path) -> Path:
    (project / "loop-a").symlink_to(project / "loop-b")
    (project / "loop-b").symlink_to(project / "loop-a")
    return project / "loop-a"


def _directory(project: Path) -> Path:
    (project / "a-folder").mkdir()
    return project / "a-folder"


def _not_a_folder(project: Path) -> Path:
    (project / "a-file").write_text("")
    return project / "a-file" / "events.jsonl"


PATHS = {"fifo": (_fifo, "not a regular file"), "symlink loop": (_loop, "symbolic links"),
         "directory": (_directory, "directory"), "file as folder": (_not_a_folder, "Not a directory")}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(PATHS))
@pytest.mark.parametrize(
    ("variable", "command"),
    [
        ("ORCH_EVENTS_PATH", ("run", "dag.yaml")),
        ("STATE_STORE_PATH", ("schedule", "--once", "--dir", "schedules")),
        ("ORCH_EVENTS_PATH", ("schedule", "--once", "--dir", "schedules")),
    ],
)
def test_an_unusable_path_is_named_within_a_second(project, kind, variable, command) -> None:
    make, reason = PATHS[kind]
    path = make(project)
    start = time.monotonic()
    proc = dagctl(project, *command, env={variable: str(path)})
    _, err = proc.communicate(timeout=10)
    assert time.monotonic() - start < 5  # (the second is dagctl's; Python's start-up comes on top)
    assert proc.returncode == 3, err
    assert err.startswith(f"dagctl: error: cannot write {path} ({variable}): ") and reason in err, err
    assert not (project / "ran").exists()


def test_a_logs_folder_that_is_a_file_is_an_environment_problem(project: Path) -> None:
    (project / "logs-file").write_text("")
    proc = dagctl(project, "run", "dag.yaml", env={"DAGCTL_LOGS_DIR": str(project / "logs-file")})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3 and "(DAGCTL_LOGS_DIR)" in err and not (project / "ran").exists()


def test_a_cache_folder_that_is_a_file_stops_a_run_with_cached_tasks_naming_the_variable(project: Path) -> None:
    (project / "cache-file").write_text("")
    (project / "cached.yaml").write_text(
        f"name: c\ntasks:\n  - {{id: a, run: 'touch {project / 'ran'}', cache: true}}\n"
    )
    env = {"DAGCTL_CACHE_DIR": str(project / "cache-file")}
    proc = dagctl(project, "run", "cached.yaml", env=env)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err  # it ran, and warned per task that nothing could be cached
    assert err == (
        f"dagctl: error: cannot write {project / 'cache-file'} (DAGCTL_CACHE_DIR): it exists and is not a directory "
        "— fix the path or the disk, or point DAGCTL_CACHE_DIR elsewhere\n"
    )
    assert not (project / "ran").exists()
    proc = dagctl(project, "run", "cached.yaml", "--no-cache", env=env)  # a run that does not use the cache
    assert proc.wait(timeout=30) == 0 and (project / "ran").exists()


def test_readers_never_block_on_a_fifo(project: Path) -> None:
    fifo = _fifo(project)
    proc = dagctl(project, "stats", env={"ORCH_EVENTS_PATH": str(fifo)})
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 3 and f"cannot read {fifo} (ORCH_EVENTS_PATH): it is not a regular file" in err


@pytest.mark.parametrize("kind", sorted(PATHS))
@pytest.mark.parametrize(
    ("variable", "command"),
    [
        ("ORCH_EVENTS_PATH", ("stats",)),
        ("STATE_STORE_PATH", ("stats",)),
        ("STATE_STORE_PATH", ("schedule", "list", "--dir", "schedules")),
    ],
)
def test_an_unreadable_path_is_named_by_the_commands_that_read_it(project, kind, variable, command) -> None:
    """Readers name the variable as writers do: "cannot read /tmp" alone left the user to find the setting."""
    make, reason = PATHS[kind]
    path = make(project)
    proc = dagctl(project, *command, env={variable: str(path)})
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 3, err
    assert err.startswith(f"dagctl: error: cannot read {path} ({variable}): ") and reason in err, err
    assert f"point {variable} at " in err and err.count("\n") == 1, err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a read-only bind mount")
def test_a_read_only_file_system_is_named(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    import subprocess

    ro = tmp_path_factory.mktemp("ro")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        proc = dagctl(project, "run", "dag.yaml", env={"ORCH_EVENTS_PATH": str(ro / "events.jsonl")})
        _, err = proc.communicate(timeout=30)
        assert (proc.returncode == 3 and "Read-only file system" in err) or "read-only" in err, err
    finally:
        subprocess.run(["umount", str(ro)], check=False)


def test_a_state_store_under_a_file_is_an_environment_problem_for_schedule_list(project: Path) -> None:
    """`schedule list` reads the state store as `schedule --once` writes it: the same path problem is exit 3."""
    path = _not_a_folder(project)
    for command in (("schedule", "--once", "--dir", "schedules"), ("schedule", "list", "--dir", "schedules")):
        proc = dagctl(project, *command, env={"STATE_STORE_PATH": str(path)})
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 3, (command, err)
        assert str(path) in err and "STATE_STORE_PATH" in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    "command", [("runs",), ("show", "latest"), ("logs", "latest"), ("prune", "--older-than", "1d")]
)
def test_a_logs_folder_that_is_a_file_is_named_by_the_commands_that_read_runs(project: Path, command) -> None:
    (project / "logs-file").write_text("")
    proc = dagctl(project, *command, env={"DAGCTL_LOGS_DIR": str(project / "logs-file")})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert err.startswith(
        f"dagctl: error: cannot read the runs folder {project / 'logs-file' / 'runs'} (DAGCTL_LOGS_DIR)"
    )
    assert "Not a directory — point DAGCTL_LOGS_DIR at " in err and err.count("\n") == 1, err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_pseudo_file_system_is_not_called_a_full_disk(project: Path) -> None:
    """/proc has no blocks to count: it was refused as `no space left on device`, which sent users to df."""
    proc = dagctl(project, "run", "dag.yaml", "--junit", "/proc/report.xml")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert err.startswith(
        "dagctl: error: cannot write /proc/report.xml (--junit): /proc is a kernel file system (proc)"
    )
    assert "no space" not in err and not (project / "ran").exists()


@pytest.mark.skipif(not Path("/proc/version").is_file(), reason="needs Linux's /proc")
def test_a_file_on_a_kernel_file_system_is_named_with_what_that_file_system_is(project: Path) -> None:
    """/proc/version exists and, to root, looks writable: the message named /proc and `No such file or directory`."""
    proc = dagctl(project, "run", "dag.yaml", env={"ORCH_EVENTS_PATH": "/proc/version"})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert err.startswith(
        "dagctl: error: cannot write /proc/version (ORCH_EVENTS_PATH): /proc is a kernel file system (proc), "
        "where files cannot be written — "
    ), err
    assert "No such file" not in err and err.count("\n") == 1 and not (project / "ran").exists()


def test_a_long_bad_timezone_is_cut_like_every_other_value(project: Path) -> None:
    zone = "Europe/" + "x" * 300
    proc = dagctl(project, "schedule", "--once", "--dir", "schedules", env={"SCHED_TIMEZONE": zone})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err
    assert err.startswith("dagctl: error: SCHED_TIMEZONE: unknown timezone 'Europe/xxx") and "...'" in err
    assert len(err) < 250 and err.count("\n") == 1, err
