"""Commands that only read (`runs`, `show`, `logs`) keep working when the logs folder cannot be written (read-only,
full): a run whose process died reads as abandoned, and is recorded so by the first reader that can write. The
end of a run recorded in its folder but not in the global event log (the disk filled in between) is added there
by the next reader. Commands that must write (`resume`, `retry`) say so before anything else: exit 3, one line
naming the folder and its variable, no "retrying" announced, no half-made run folder left."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dagctl.errors import cannot
from dagctl.host import hostname
from dagctl.settings import Settings
from dagctl.store.history import History
from dagctl.store.jsonl import JsonlWriter, append_record, iter_records
from dagctl.store.layout import event_log_pending_file, events_file
from dagctl.store.prune import prune
from tests.conftest import ROOT
from tests.support import process_alive, small_tmpfs, wait_until

RUN = "20261207-030000.000-a1b2c3"
DEAD = {"host": hostname(), "pid": os.getpid(), "pid_start": 1.0}  # this pid, another start time: a dead process


def rec(event: str, **fields: Any) -> dict[str, Any]:
    base = {"v": 1, "ts": "2026-12-07T03:00:00.000Z", "run_id": RUN, "dag_name": "d", "tenant_id": "default"}
    return {**base, "event": event, **fields}


def dead_run(settings: Settings) -> History:
    folder = settings.runs_dir / RUN
    folder.mkdir(parents=True)
    (folder / "dag.yaml").write_text("name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    for record in (rec("dag_start", tasks=1, **DEAD), rec("task_start", task_id="a", attempt=1)):
        append_record(events_file(folder), record)
        append_record(settings.events_path, record)
    return History(settings)


def ends(path: Path) -> list[str]:
    return [r["status"] for r in iter_records(path) if r["event"] == "dag_done"]


def test_a_dead_run_reads_as_abandoned_when_its_folder_cannot_be_written(project, monkeypatch) -> None:
    settings = Settings.from_env()
    history = dead_run(settings)
    own = events_file(history.run_dir(RUN))
    before = own.read_bytes()

    def read_only(self: JsonlWriter) -> Any:
        raise cannot("write", f"{self.path}.lock", OSError(errno.EROFS, "Read-only file system"))

    monkeypatch.setattr(JsonlWriter, "locked", read_only)
    run = history.summary(RUN)
    assert run.status == "abandoned" and run.tasks["a"].status == "cancelled"
    assert [s.status for s in history.summaries()] == ["abandoned"]
    assert own.read_bytes() == before  # nothing written, nothing raised
    monkeypatch.undo()
    assert history.summary(RUN).status == "abandoned"  # a reader that can write records it
    assert ends(own) == ends(settings.events_path) == ["abandoned"]


def test_an_end_the_event_log_missed_is_added_by_the_next_reader(project, monkeypatch) -> None:
    settings = Settings.from_env()
    history = dead_run(settings)
    own = events_file(history.run_dir(RUN))
    write = JsonlWriter._write

    def full_disk(self: JsonlWriter, data: bytes) -> None:
        if self.path == settings.events_path:
            raise cannot("append to", self.path, OSError(errno.ENOSPC, "No space left on device"))
        write(self, data)

    monkeypatch.setattr(JsonlWriter, "_write", full_disk)
    assert history.summary(RUN).status == "abandoned"
    assert ends(own) == ["abandoned"] and ends(settings.events_path) == []  # the disk filled in between
    assert event_log_pending_file(own.parent).exists()
    assert history.summary(RUN).status == "abandoned"  # still full: no harm, still pending
    monkeypatch.undo()
    history.summary(RUN)  # room again: the next reader adds it
    assert ends(settings.events_path) == ["abandoned"]
    assert [r for r in iter_records(settings.events_path) if r["event"] == "task_cancel"] == [
        r for r in iter_records(own) if r["event"] == "task_cancel"
    ]
    assert not event_log_pending_file(own.parent).exists()
    history.summary(RUN)
    assert ends(settings.events_path) == ["abandoned"]  # once


def test_prune_adds_the_missed_end_of_a_run_it_keeps(project, monkeypatch) -> None:
    """`runs` shows the newest runs only: an older run's missed end reaches the event log with the next prune."""
    settings = Settings.from_env()
    history = dead_run(settings)
    write = JsonlWriter._write

    def full_disk(self: JsonlWriter, data: bytes) -> None:
        if self.path == settings.events_path:
            raise cannot("append to", self.path, OSError(errno.ENOSPC, "No space left on device"))
        write(self, data)

    monkeypatch.setattr(JsonlWriter, "_write", full_disk)
    history.summary(RUN)
    monkeypatch.undo()
    report = prune(History(settings), older_than=timedelta(days=36500))
    assert report.removed == [] and ends(settings.events_path) == ["abandoned"]


def test_a_retry_whose_start_fails_leaves_no_half_made_run_folder(project, cli, monkeypatch) -> None:
    (project / "dag.yaml").write_text("name: d\ntasks:\n  - {id: a, run: 'exit 1'}\n")
    assert cli("run", "dag.yaml", "-q").code == 1
    settings = Settings.from_env()
    [first] = History(settings).run_ids()
    from dagctl.run.runner import Runner

    def disk_fills(self: Runner, params: Any) -> None:
        (self.run_dir / "outputs").mkdir(parents=True)
        (self.run_dir / "dag.yaml").write_bytes(b"")
        raise OSError(errno.ENOSPC, "No space left on device", str(self.run_dir / "dag.yaml"))

    monkeypatch.setattr(Runner, "_write_snapshot_files", disk_fills)
    done = cli("retry", first)
    assert done.code == 3 and "No space left on device" in done.err
    assert History(settings).run_ids() == [first]


# ------------------------------------------------------------------ a real read-only or full disk (root only)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from small_tmpfs(tmp_path_factory.mktemp("small-disk"), "1m")


def dagctl(project: Path, logs: Path, *args: str, wait: bool = True) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGCTL_", "ORCH_", "STATE_STORE"))}
    env.update({"DAGCTL_LOGS_DIR": str(logs), "PYTHONPATH": str(ROOT / "src")})
    argv = [sys.executable, "-m", "dagctl", *args]
    if not wait:
        return subprocess.Popen(argv, cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    return subprocess.run(argv, cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def killed_run(project: Path, logs: Path) -> Path:
    """A run of silent tasks, SIGKILLed once they run; its folder, once the keeper has stopped its tasks."""
    pids = project / "pids"
    (project / "slow.yaml").write_text(
        "name: slow\ntasks:\n"
        f"  - {{id: s1, run: 'echo $$ >> {pids}; sleep 300'}}\n"
        f"  - {{id: s2, run: 'echo $$ >> {pids}; sleep 300'}}\n"
        "  - {id: after, run: echo after, depends_on: [s1, s2]}\n"
    )
    run = dagctl(project, logs, "run", "slow.yaml", "-q", wait=False)
    try:
        wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2, what="both tasks started")
        folder = next((logs / "runs").iterdir())
        wait_until(lambda: sum(r["event"] == "task_start" for r in iter_records(folder / "events.jsonl")) == 2)
    finally:
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
    tasks = [int(p) for p in pids.read_text().split()]
    wait_until(lambda: not any(process_alive(p) for p in tasks), what="the keeper stopped the tasks")
    return folder


@needs_root
def test_on_a_read_only_logs_folder_readers_show_the_dead_run_and_writers_exit_3(project, small_disk) -> None:
    logs = small_disk / "logs"
    folder = killed_run(project, logs)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    listed = dagctl(project, logs, "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["status"] for r in json.loads(listed.stdout)] == ["abandoned"]
    shown = dagctl(project, logs, "show", "latest", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "abandoned", shown.stderr
    logged = dagctl(project, logs, "logs", "latest")
    assert logged.returncode == 0, logged.stderr
    for command in ("resume", "retry"):
        refused = dagctl(project, logs, command, "latest")
        assert refused.returncode == 3, refused.stderr
        [line] = refused.stderr.splitlines()
        assert "(DAGCTL_LOGS_DIR)" in line and "read-only" in line.lower() and "retrying" not in line
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert dagctl(project, logs, "runs").returncode == 0
    assert ends(folder / "events.jsonl") == ends(logs / "orchestrator_events.jsonl") == ["abandoned"]


def fill(path: Path) -> None:
    """Write zeros to ``path`` until the disk is full."""
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=4k"], capture_output=True, timeout=60)
    free = os.statvfs(path.parent)
    assert free.f_bavail * free.f_frsize < 64 * 1024


@needs_root
def test_on_a_full_logs_disk_runs_lists_and_retry_refuses_before_making_anything(project, small_disk) -> None:
    logs = small_disk / "logs"
    killed_run(project, logs)
    fill(small_disk / "filler")
    listed = dagctl(project, logs, "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["status"] for r in json.loads(listed.stdout)] == ["abandoned"]
    fill(small_disk / "filler2")  # what recording it freed (the room the dead run had set aside)
    retried = dagctl(project, logs, "retry", "latest")
    assert retried.returncode == 3, retried.stderr
    assert "retrying" not in retried.stderr and "(DAGCTL_LOGS_DIR)" in retried.stderr
    assert len(list((logs / "runs").iterdir())) == 1  # no half-made folder
    for filler in small_disk.glob("filler*"):
        filler.unlink()
    assert dagctl(project, logs, "runs").returncode == 0  # room again: recorded, in both files
    [folder] = (logs / "runs").iterdir()
    assert ends(folder / "events.jsonl") == ends(logs / "orchestrator_events.jsonl") == ["abandoned"]
