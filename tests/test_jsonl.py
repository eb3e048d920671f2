"""The durable JSONL layer: round trips, tolerant readers, the writer lock, and atomic compaction."""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import select
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from filelock import FileLock

from dagctl.errors import StateError
from dagctl.store import jsonl
from dagctl.store.jsonl import (
    JsonlWriter,
    append_record,
    file_identity,
    iter_records,
    iter_records_reverse,
    iter_with_offsets,
    lock_path_for,
    rewrite_atomic,
    tail_records,
)
from tests.support import wait_until

WAIT = 60.0  # upper bound for waits on other processes; never reached when things work

# Writers in other processes are plain interpreters running these scripts. Each first says "ready" and
# waits for a line on stdin, so all start together; if the test dies, the closed stdin ends them too.
BURST = """
import sys
from dagctl.store.jsonl import JsonlWriter
path, writer_id, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with JsonlWriter(path) as writer:
    print("ready", flush=True)
    sys.stdin.readline()
    for seq in range(count):
        # long, variable lines: an interleaved write would break both the JSON and the padding check
        writer.append({"v": 1, "writer": writer_id, "seq": seq, "pad": str(writer_id) * (100 + seq * 7)})
"""

UNTIL_STOPPED = """
import select, sys
from dagctl.store.jsonl import JsonlWriter
seq = 0
with JsonlWriter(sys.argv[1]) as writer:
    print("ready", flush=True)
    sys.stdin.readline()
    while seq % 100 or not select.select([sys.stdin], [], [], 0)[0]:  # a line or EOF on stdin: stop
        writer.append({"v": 1, "kind": "child", "seq": seq})
        seq += 1
        if seq == 200:
            print("started", flush=True)
print(seq, flush=True)
"""


def _start(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _read_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], WAIT)
    assert ready, "the child process said nothing"
    return proc.stdout.readline().strip()


def _say(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


# -- round trips


def test_round_trip_preserves_records_and_order(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    records = [{"v": 1, "seq": i, "nested": {"list": [1, 2.5, None, True]}} for i in range(50)]
    with JsonlWriter(path) as writer:
        for record in records[:10]:
            writer.append(record)
        writer.append_many(records[10:])
    assert list(iter_records(path)) == records
    assert path.read_bytes().count(b"\n") == 50


def test_records_are_compact_json_and_non_json_values_become_strings(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    append_record(path, MappingProxyType({"v": 1, "at": when, "file": Path("/x/y")}))
    assert path.read_bytes() == b'{"v":1,"at":"2026-01-02 03:04:05+00:00","file":"/x/y"}\n'


def test_a_record_that_is_not_a_mapping_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    with JsonlWriter(path) as writer, pytest.raises(TypeError, match="mapping"):
        writer.append([1, 2])  # type: ignore[arg-type]
    assert not path.exists()


def test_unicode_and_line_separators_round_trip_one_record_per_line(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    texts = ["héllo wörld", "日本語", "emoji 🚀", "a\nb\r\nc", "\u2028\u2029\x85\x1c\x1d\x1e\x0b\x0c", "\udc80\udcff"]
    records = [{"v": 1, "text": text, "ключ": text} for text in texts]
    with JsonlWriter(path) as writer:
        writer.append_many(records)
    assert list(iter_records(path)) == records
    assert list(iter_records_reverse(path, block_size=7)) == records[::-1]
    assert len(_lines(path)) == len(records) + 1  # only real newlines split lines
    assert "日本語".encode() in path.read_bytes()  # ensure_ascii=False: readable UTF-8 on disk


# -- tolerant readers


def test_torn_last_line_is_not_read_and_the_next_append_starts_a_fresh_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "e.jsonl"
    append_record(path, {"v": 1, "n": 1})
    with open(path, "ab") as f:
        f.write(b'{"v":1,"n":2,"tru')  # a writer killed mid-line
    assert list(iter_records(path)) == [{"v": 1, "n": 1}]
    assert list(iter_records_reverse(path)) == [{"v": 1, "n": 1}]
    assert tail_records(path, 5) == [{"v": 1, "n": 1}]
    assert [r for _, _, r in iter_with_offsets(path)] == [{"v": 1, "n": 1}]
    assert not caplog.records  # an unfinished last line is normal, not worth a warning

    append_record(path, {"v": 1, "n": 3})
    assert list(iter_records(path)) == [{"v": 1, "n": 1}, {"v": 1, "n": 3}]
    assert _lines(path) == [b'{"v":1,"n":1}', b'{"v":1,"n":2,"tru', b'{"v":1,"n":3}', b""]
    assert any("invalid line at byte 14" in r.getMessage() for r in caplog.records)  # now it is damage


def test_a_complete_record_missing_only_its_newline_is_committed_by_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"n":1}\n{"n":2}')
    assert list(iter_records(path)) == [{"n": 1}]  # no newline, not committed: readers agree
    append_record(path, {"n": 3})
    assert list(iter_records(path)) == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_garbage_in_the_middle_is_skipped_with_a_warning_and_blank_lines_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"n":1}\nnot json\n[1,2]\n42\n\n   \n\xff\xfe{}\n{"n":2}\n')
    with caplog.at_level(logging.WARNING, logger="dagctl.store.jsonl"):
        assert list(iter_records(path)) == [{"n": 1}, {"n": 2}]
    # "not json", a list, a number, invalid UTF-8; not the blanks: one warning for the read, from the first
    one_warning = [f"{path}: skipping 4 invalid lines, the first at byte 8: 'not json'"]
    assert [r.getMessage() for r in caplog.records] == one_warning
    caplog.clear()
    assert list(iter_records_reverse(path, block_size=4)) == [{"n": 2}, {"n": 1}]
    assert [r.getMessage() for r in caplog.records] == one_warning


@pytest.mark.parametrize("content", [None, b"", b"\n\n", b'{"n":1}', b"garbage"])
def test_missing_empty_or_uncommitted_files_have_no_records(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "e.jsonl"
    if content is not None:
        path.write_bytes(content)
    assert list(iter_records(path)) == []
    assert list(iter_records_reverse(path)) == []
    assert list(iter_with_offsets(path)) == []
    assert tail_records(path, 20) == []


def test_tail_returns_the_last_n_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    with JsonlWriter(path) as writer:
        writer.append_many({"n": i} for i in range(100))
    assert tail_records(path, 3) == [{"n": 97}, {"n": 98}, {"n": 99}]
    assert tail_records(path, 500) == [{"n": i} for i in range(100)]
    assert tail_records(path, 0) == []


def test_tail_reads_only_the_end_of_a_large_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"".join(b'{"v":1,"n":%d}\n' % i for i in range(300_000)))
    read = []
    real_pread = os.pread

    def counting_pread(fd: int, size: int, offset: int) -> bytes:
        read.append(size)
        return real_pread(fd, size, offset)

    monkeypatch.setattr(os, "pread", counting_pread)
    assert [r["n"] for r in tail_records(path, 20)] == list(range(299_980, 300_000))
    assert sum(read) <= 65536 < path.stat().st_size // 50


def test_reverse_iteration_equals_reversed_forward_iteration_for_random_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="dagctl.store.jsonl")  # the garbage lines are intended
    rng = random.Random(20260101)
    pieces = [
        lambda: json.dumps({"n": rng.randrange(10**6)}),
        lambda: json.dumps({"s": "é" * rng.randrange(0, 40), "t": "🚀\u2028"}, ensure_ascii=False),
        lambda: json.dumps({"long": "x" * rng.randrange(100, 3000)}),
        lambda: "",
        lambda: "  ",
        lambda: "{broken",
        lambda: "[1]",
    ]
    path = tmp_path / "r.jsonl"
    for case in range(300):
        lines = [rng.choice(pieces)() for _ in range(rng.randrange(0, 30))]
        data = "\n".join(lines) + ("\n" if lines and rng.random() < 0.7 else "")
        if rng.random() < 0.3:
            data += '{"torn": tr'
        path.write_bytes(data.encode("utf-8"))
        forward = list(iter_records(path))
        block_size = rng.choice([1, 2, 3, 7, 16, 64, 100, 4096, 65536])
        assert list(iter_records_reverse(path, block_size=block_size)) == forward[::-1], (case, block_size)
        k = rng.randrange(0, 10)
        assert tail_records(path, k) == (forward[-k:] if k else []), case


def test_offsets_address_the_lines_and_reading_resumes_from_an_end_offset(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    with JsonlWriter(path) as writer:
        writer.append_many([{"n": 1}, {"n": 2}, {"n": 3}])
    data = path.read_bytes()
    seen = list(iter_with_offsets(path))
    for offset, end, record in seen:
        assert json.loads(data[offset:end]) == record and data[end - 1 : end] == b"\n"
    _, resume_at, _ = seen[1]
    assert [r for _, _, r in iter_with_offsets(path, resume_at)] == [{"n": 3}]
    assert list(iter_records(path, start_offset=resume_at)) == [{"n": 3}]

    follow_from = seen[-1][1]
    with open(path, "ab") as f:
        f.write(b'{"n":')  # a line half written: a follower must not see it yet
    assert list(iter_with_offsets(path, follow_from)) == []
    with open(path, "ab") as f:
        f.write(b"4}\n")
    assert list(iter_with_offsets(path, follow_from)) == [(follow_from, follow_from + 8, {"n": 4})]
    assert list(iter_with_offsets(path, path.stat().st_size + 10)) == []
    with pytest.raises(ValueError):
        list(iter_with_offsets(path, -1))


# -- the writer


def test_writer_creates_parent_directories_lazily_and_locks_next_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "events.jsonl"
    writer = JsonlWriter(path)
    assert not (tmp_path / "a").exists()
    writer.append({"n": 1})
    writer.close()
    assert list(iter_records(path)) == [{"n": 1}]
    assert lock_path_for(path) == tmp_path / "a" / "b" / "events.jsonl.lock"
    assert lock_path_for(path).exists()
    assert path.stat().st_mode & 0o777 == 0o644 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_append_many_is_one_write_and_one_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "e.jsonl"
    writer = JsonlWriter(path, fsync=True)
    writer.append({"n": 0})  # opens the file
    writes: list[int] = []
    syncs: list[int] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        if fd == writer._fd:
            writes.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting_write)
    monkeypatch.setattr(jsonl, "_fdatasync", syncs.append)
    writer.append_many({"n": i} for i in range(1, 100))
    writer.append_many([])
    writer.close()
    assert len(writes) == 1 and len(syncs) == 1
    assert [r["n"] for r in iter_records(path)] == list(range(100))


def test_closed_writer_refuses_appends(tmp_path: Path) -> None:
    writer = JsonlWriter(tmp_path / "e.jsonl")
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.append({"n": 1})


def test_writer_follows_the_path_when_the_file_is_deleted(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    with JsonlWriter(path) as writer:
        writer.append({"n": 1})
        path.unlink()
        writer.append({"n": 2})
    assert list(iter_records(path)) == [{"n": 2}]


def test_writer_waits_for_a_filelock_holder_and_times_out_with_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    append_record(path, {"n": 1})
    with JsonlWriter(path, lock_timeout=0.05) as writer:
        with FileLock(str(lock_path_for(path))), pytest.raises(StateError, match=r"e\.jsonl\.lock"):
            writer.append({"n": 2})
        writer.append({"n": 3})
    assert list(iter_records(path)) == [{"n": 1}, {"n": 3}]


def test_locked_holds_the_lock_across_read_then_append(tmp_path: Path) -> None:
    path = tmp_path / "claims.jsonl"
    with JsonlWriter(path, fsync=True) as claimer, JsonlWriter(path, lock_timeout=0.05) as other:
        with claimer.locked() as held:
            if not any(r.get("slot") == "s1" for r in iter_records(path)):
                held.append({"slot": "s1"})  # re-entrant: does not wait on its own lock
            with pytest.raises(StateError):
                other.append({"slot": "s1"})
        other.append({"slot": "s2"})
    assert list(iter_records(path)) == [{"slot": "s1"}, {"slot": "s2"}]


def test_threads_sharing_one_writer_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    threads_n, per_thread = 8, 400
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    with JsonlWriter(path) as writer:

        def work(tid: int) -> None:
            try:
                barrier.wait(WAIT)
                for seq in range(per_thread):
                    if seq % 50 == 0:
                        writer.append_many({"t": tid, "seq": s, "pad": "p" * s} for s in (seq, seq + 1))
                    elif seq % 50 != 1:
                        writer.append({"t": tid, "seq": seq, "pad": "p" * seq})
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
    assert not errors
    lines = _lines(path)
    assert lines[-1] == b"" and len(lines) == threads_n * per_thread + 1
    records = [json.loads(line) for line in lines[:-1]]
    for tid in range(threads_n):
        assert [r["seq"] for r in records if r["t"] == tid] == list(range(per_thread))
    assert all(r["pad"] == "p" * r["seq"] for r in records)


def test_concurrent_processes_append_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "orchestrator_events.jsonl"
    writers, per_writer = 4, 500
    procs = [_start(BURST, path, w, per_writer) for w in range(writers)]
    try:
        assert [_read_line(p) for p in procs] == ["ready"] * writers
        for p in procs:
            _say(p, "go")
        assert [p.wait(WAIT) for p in procs] == [0] * writers
    finally:
        for p in procs:
            p.kill()
            p.communicate()
    lines = _lines(path)
    assert lines[-1] == b"" and len(lines) == writers * per_writer + 1
    records = [json.loads(line) for line in lines[:-1]]  # every line parses: nothing interleaved
    for w in range(writers):
        mine = [r for r in records if r["writer"] == w]
        assert [r["seq"] for r in mine] == list(range(per_writer))
        assert all(r["pad"] == str(w) * (100 + r["seq"] * 7) for r in mine)


def test_ten_thousand_appends_through_one_writer_are_fast(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    with JsonlWriter(path) as writer:
        started = time.perf_counter()
        for i in range(10_000):
            writer.append({"v": 1, "kind": "task_state", "run": "r1", "task": "t", "seq": i})
        elapsed = time.perf_counter() - started
    assert sum(1 for _ in iter_records(path)) == 10_000
    assert elapsed < 2.0, f"10k appends took {elapsed:.2f}s"  # about 0.1 s when idle; generous for CI


# -- compaction


def test_rewrite_replaces_content_and_keeps_what_was_appended_after_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    with JsonlWriter(path) as writer:
        writer.append_many({"kind": "noise", "n": i} for i in range(10))
        writer.append({"kind": "keep", "n": 10})
        identity = file_identity(path)
        snapshot = list(iter_with_offsets(path))
        writer.append({"kind": "late", "n": 11})  # lands after the snapshot, before the rewrite
        kept = [r for _, _, r in snapshot if r["kind"] != "noise"]
        rewrite_atomic(path, kept, keep_tail_from=snapshot[-1][1], expected_identity=identity)
        assert file_identity(path) != identity
        writer.append({"kind": "after", "n": 12})  # the writer follows the new file
    assert [r["n"] for r in iter_records(path)] == [10, 11, 12]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.jsonl", "state.jsonl.lock"]


def test_rewrite_refuses_a_stale_snapshot_and_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    with JsonlWriter(path) as writer:
        writer.append_many([{"n": 1}, {"n": 2}])
    before = path.read_bytes()
    stale = file_identity(path)
    rewrite_atomic(path, [{"n": 1}, {"n": 2}])  # someone else compacted: new inode
    with pytest.raises(StateError, match="replaced"):
        rewrite_atomic(path, [], keep_tail_from=0, expected_identity=stale)
    with pytest.raises(StateError, match="shorter"):
        rewrite_atomic(path, [], keep_tail_from=len(before) + 1)
    with pytest.raises(StateError, match="line boundary"):
        rewrite_atomic(path, [], keep_tail_from=3)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.jsonl", "state.jsonl.lock"]


def test_rewrite_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "state.jsonl"
    rewrite_atomic(path, [{"n": 1}], keep_tail_from=0)
    assert list(iter_records(path)) == [{"n": 1}]


def _fold_checkpoint(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Compaction under test: checkpoint + child records -> one checkpoint; a lost record is a gap."""
    next_seq = 0
    for record in records:
        if record["kind"] == "checkpoint":
            next_seq = record["next"]
        elif record["kind"] == "child":
            assert record["seq"] == next_seq, "a record was lost or duplicated"
            next_seq += 1
    return {"v": 1, "kind": "checkpoint", "next": next_seq}


def test_rewrite_while_another_process_appends_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    append_record(path, {"v": 1, "kind": "checkpoint", "next": 0})
    child = _start(UNTIL_STOPPED, path)

    def snapshot_beyond(folded: int) -> tuple[Any, list[tuple[int, int, dict[str, Any]]], dict[str, Any]] | None:
        """(identity, snapshot, its checkpoint) once the file holds records past ``folded``; None before."""
        identity = file_identity(path)
        snapshot = list(iter_with_offsets(path))
        checkpoint = _fold_checkpoint([r for _, _, r in snapshot])
        return (identity, snapshot, checkpoint) if checkpoint["next"] > folded else None

    try:
        assert _read_line(child) == "ready"
        _say(child, "go")
        assert _read_line(child) == "started"
        folded = 0
        for _ in range(20):
            # Nothing paces the child against us: its first wait for our lock alone can outlast all 20 rewrites.
            # So each rewrite waits until the child has appended since the last one, and folds new records.
            identity, snapshot, checkpoint = wait_until(
                functools.partial(snapshot_beyond, folded), WAIT, "an append by the child since the last rewrite"
            )
            rewrite_atomic(path, [checkpoint], keep_tail_from=snapshot[-1][1], expected_identity=identity)
            assert file_identity(path) != identity  # replaced (inode numbers may recur later on)
            folded = checkpoint["next"]
        assert child.poll() is None  # still appending: the rewrites ran alongside live appends
        _say(child, "stop")
        appended = int(_read_line(child))
        assert child.wait(WAIT) == 0
    finally:
        child.kill()
        child.communicate()
    records = list(iter_records(path))
    assert records[0]["kind"] == "checkpoint" and records[0]["next"] > 200  # compaction folded appends
    assert _fold_checkpoint(records) == {"v": 1, "kind": "checkpoint", "next": appended}
