"""The task cache on a disk that fills up: a write that fails leaves no temporary file behind and says which folder
(and variable) to fix; ``dagctl cache clear`` removes the temporary files of writes that never finished."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
from pathlib import Path

import pytest

from dagctl.errors import EnvironmentProblem
from dagctl.run import cache
from dagctl.run.cache import CacheStore


def _full_disk_copy(src: Path, dst: Path) -> None:
    """A copy that runs out of room half-way, as shutil.copyfile does on a full disk (the link is refused)."""
    dst.write_bytes(src.read_bytes()[:10])
    raise OSError(errno.ENOSPC, "No space left on device")


_write_bytes = Path.write_bytes


def _full_disk_write(self: Path, data: bytes) -> int:
    """Path.write_bytes on a disk where the task cache's entries do not fit (other files still do)."""
    if ".json." not in self.name:
        return _write_bytes(self, data)
    _write_bytes(self, data[:1])  # torn: the disk filled while the entry was written
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_cache_write_that_meets_a_full_disk_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "a.log"
    log.write_text("what the task printed\n" * 100)
    root = tmp_path / "cache"
    store = CacheStore(root)
    monkeypatch.setattr(cache, "_copy", _full_disk_copy)
    monkeypatch.setattr(Path, "write_bytes", _full_disk_write)
    with pytest.raises(EnvironmentProblem) as raised:
        store.put("ab" * 32, outputs={"n": 1}, log=str(log), about={"task": "a"}, now=1.0)
    assert str(raised.value) == (
        f"cannot store a task cache entry in {root} (DAGCTL_CACHE_DIR): No space left on device — free some space "
        "on that disk, or point DAGCTL_CACHE_DIR at another folder (the task's result stands; only its reuse is lost)"
    )
    assert [p.name for p in root.rglob("*") if p.is_file()] == []  # neither the log's copy nor the entry's
    assert store.stored == 0


def test_a_run_whose_cache_disk_is_full_warns_with_the_folder_and_the_fix(
    proj, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(Path, "write_bytes", _full_disk_write)
    with caplog.at_level(logging.WARNING):
        result, _ = proj.run("c.yaml", "name: c\ntasks:\n  - {id: a, cache: true, run: 'echo x'}\n")
    assert result.status == "success"  # only its reuse is lost
    [warning] = [r.getMessage() for r in caplog.records if "could not cache" in r.getMessage()]
    root = Path(proj.settings.task_cache_dir)
    assert warning.startswith(f"could not cache task a: cannot store a task cache entry in {root} (DAGCTL_CACHE_DIR)")
    assert warning.endswith(
        "free some space on that disk, or point DAGCTL_CACHE_DIR at another folder "
        "(the task's result stands; only its reuse is lost)"
    )
    assert not [p for p in root.rglob("*.tmp")]


def test_cache_clear_removes_the_temporary_files_of_writes_that_never_finished(proj, cli) -> None:
    proj.run("c.yaml", "name: c\ntasks:\n  - {id: t, cache: true, run: 'echo x'}\n")
    root = Path(proj.settings.task_cache_dir)
    [entry] = root.glob("*/*.json")
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process that died while it wrote
    leftover = entry.with_name(f"{'cd' * 32}.log.{gone.pid}.140001.tmp")
    leftover.write_bytes(b"x" * 100)
    writing = entry.with_name(f"{'ef' * 32}.json.{os.getpid()}.140002.tmp")  # a write of a live process: kept
    writing.write_bytes(b"{")
    cleared = cli("cache", "clear", "--dag", "other", "--json")
    assert json.loads(cleared.out)["temporary"] == 0 and leftover.exists()  # --dag: only that DAG's entries
    cleared = cli("cache", "clear", "--json")
    assert cleared.code == 0, cleared
    assert json.loads(cleared.out)["removed"] == 1 and json.loads(cleared.out)["temporary"] == 1
    assert not leftover.exists() and writing.exists()
    leftover.write_bytes(b"x" * 100)
    text = cli("cache", "clear")
    assert text.err == "removed 0 cache entries and 1 temporary file of unfinished writes (100 bytes)\n"
