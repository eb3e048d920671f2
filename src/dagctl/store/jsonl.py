"""Durable append-only JSONL files: the one module that writes and reads them (ARCHITECTURE rule 8).

The contract every function here keeps:

* A record is one JSON object on one line. It is *committed* once its terminating ``\\n`` is in the
  file. Every reader ignores the bytes after the last ``\\n`` (a line still being written, or one torn by
  a killed writer), so a reader never sees half a record.
* Writers exclude each other with an exclusive ``flock`` on ``<path>.lock`` — the very lock
  :class:`filelock.FileLock` takes on Unix, so any component can hold ``FileLock(lock_path_for(path))``
  to keep writers out. An uncontended append takes the flock directly on a kept-open descriptor
  (about 1 µs instead of about 60 µs through ``FileLock``); when the lock is busy it waits through
  ``FileLock``, which owns polling and timeouts.
* Under the lock a writer (1) reopens its file if the path now names another inode, because
  :func:`rewrite_atomic` replaced it, so nothing is written into an unlinked file; (2) writes a
  ``\\n`` first if the file does not end with one, so a torn line becomes a bad line of its own and
  never swallows the next record; (3) writes the whole batch with a single ``os.write``. A writer that
  appends after a crash (going on with a run, recording that its process died) first cuts such a torn
  line off instead (:meth:`JsonlWriter.cut_torn_tail`), so it never becomes a bad line.
* Readers skip blank lines, invalid JSON and non-objects. A bad line that is not the last one
  means damage in the middle of the file: each read logs one warning for all it met (how many, and
  the offset of the first).
* Only :func:`rewrite_atomic` rewrites a file: it writes a temporary file in the same directory, copies
  the bytes appended since the caller's snapshot, then fsyncs and calls ``os.replace``, under the lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from itertools import islice
from pathlib import Path

from dagctl.errors import StateError, cannot

__all__ = [
    "FileIdentity",
    "JsonlWriter",
    "append_record",
    "encode_record",
    "file_identity",
    "iter_records",
    "iter_records_reverse",
    "iter_with_offsets",
    "lock_path_for",
    "rewrite_atomic",
    "scan_records",
    "tail_records",
]
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import Any


def _log() -> logging.Logger:
    """This module's logger; logging is imported on first use (it costs ~2 ms of every start-up)."""
    import logging

    return logging.getLogger(__name__)


FileIdentity = tuple[int, int]
"""``(st_dev, st_ino)``: which file a path names. It changes when :func:`rewrite_atomic` replaces it."""

_FILE_MODE = 0o644
_READ_SIZE = 1 << 20
_SPIN_TRIES = 64  # non-blocking retries (with sched_yield) before waiting through FileLock
_POLL_INTERVAL = 0.001  # FileLock's retry interval when the lock stays busy
_CONTENTION = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES})
_NO_FLOCK = frozenset({errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK, errno.EINVAL})
_fdatasync = getattr(os, "fdatasync", os.fsync)  # enough for appends: flushes the data and the new size


def lock_path_for(path: Path | str) -> Path:
    """The lock file that guards ``path``: ``<path>.lock`` next to it."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def file_identity(path: Path | str) -> FileIdentity | None:
    """``(st_dev, st_ino)`` of ``path``, or None if it does not exist (nor can: a file is where a folder of the
    path should be). Other errors (no permission) are raised: the file may well be there."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st.st_dev, st.st_ino


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False)
"""Made once: ``json.dumps`` with these options builds a new encoder for every record."""
_C_ENCODE = getattr(json.encoder, "c_make_encoder", None)
_ITERENCODE = (
    _C_ENCODE(None, str, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    if _C_ENCODE is not None
    else None
)
"""What ``_ENCODER.encode`` makes afresh for every call (the C encoder), made once: ~1 µs less per record, and
every event of a run is a record. No circular-reference check: records are plain data."""


def encode_record(record: Mapping[str, Any]) -> bytes:
    """One record as one line of strict UTF-8 JSON ending in ``\\n``; non-JSON values go through ``str()``.

    A NaN or infinite number raises ValueError rather than write ``NaN``/``Infinity``, which JSON has not:
    dagctl refuses such values where they come in (params, outputs), so meeting one here is a bug.
    """
    if type(record) is not dict:
        if not isinstance(record, Mapping):
            raise TypeError(f"a JSONL record must be a mapping, not {type(record).__name__}")
        record = dict(record)
    text = "".join(_ITERENCODE(record, 0)) if _ITERENCODE is not None else _ENCODER.encode(record)
    # Lone surrogates (undecodable file names) can only sit inside JSON strings, where the \uXXXX
    # escape that backslashreplace writes is valid JSON and decodes back to the same character.
    return (text + "\n").encode("utf-8", "backslashreplace")


# --------------------------------------------------------------------------------------------- locking


def _regular(fd: int, path: Path | str, action: str) -> int:
    """``fd`` if it is a regular file; closed, and EnvironmentProblem (exit 3) otherwise."""
    import stat

    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise cannot(action, path, OSError(errno.EISDIR, "it is a directory"))
        raise cannot(action, path, OSError(errno.EINVAL, "not a regular file (a FIFO, socket or device)"))
    return fd


def _open_creating(path: Path, flags: int) -> int:
    """``os.open`` with O_CREAT, creating missing parent directories on the way.

    O_NONBLOCK: a FIFO put where a log should be is refused at once instead of blocking the open."""
    flags |= os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        try:
            return _regular(os.open(path, flags, _FILE_MODE), path, "write")
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            return _regular(os.open(path, flags, _FILE_MODE), path, "write")
    except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        raise cannot("write", path, exc) from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENXIO):
            raise cannot("write", path, exc) from None
        raise


def open_for_reading(path: Path | str) -> int:
    """A read-only descriptor of the regular file ``path`` (FileNotFoundError when missing); never blocks on a
    FIFO, and a directory, device or symlink loop is an EnvironmentProblem (exit 3) naming the path."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise cannot("read", path, exc) from None
    return _regular(fd, path, "read")


class _LockFile:
    """An exclusive cross-process lock on one lock file; not thread-safe (callers hold a mutex).

    The fast path flocks a descriptor kept open across calls. When another holder has it, a short
    spin retries; after that :class:`filelock.FileLock` waits (polling) until ``timeout``. Both paths
    flock the same file, so they exclude each other and any other FileLock user.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._filelock: Any = None  # a filelock.FileLock, imported only when the lock is contended
        self._flock_works = True
        self._held_by_filelock = False

    def acquire(self) -> None:
        if self._flock_works:
            try:
                for _ in range(_SPIN_TRIES):
                    if self._try_flock():
                        return
                    os.sched_yield()
            except OSError as exc:
                if exc.errno not in _NO_FLOCK:
                    raise StateError(f"cannot lock {self.path}: {exc.strerror}") from exc
                self._flock_works = False  # e.g. a filesystem without flock: FileLock falls back itself
                self.forget()
        from filelock import FileLock, Timeout

        if self._filelock is None:
            self._filelock = FileLock(
                str(self.path), timeout=self.timeout, thread_local=False, poll_interval=_POLL_INTERVAL
            )
        try:
            self._filelock.acquire()
        except Timeout as exc:
            raise StateError(
                f"timed out after {self.timeout:g}s waiting for the lock {self.path}",
                hint="another dagctl process holds it; wait for it to finish or stop it",
            ) from exc
        self._held_by_filelock = True

    def _try_flock(self) -> bool:
        if self._fd is None:
            self._fd = _open_creating(self.path, os.O_RDWR)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in _CONTENTION:
                return False
            raise
        if os.fstat(self._fd).st_nlink == 0:  # someone deleted the lock file: this flock guards nothing
            os.close(self._fd)
            self._fd = None
            return False
        return True

    def release(self) -> None:
        if self._held_by_filelock:
            self._held_by_filelock = False
            assert self._filelock is not None
            self._filelock.release()
        elif self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def forget(self) -> None:
        """Close the descriptor without unlocking (after a fork the parent may still hold the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._filelock = None
        self._held_by_filelock = False

    def close(self) -> None:
        self.forget()


# --------------------------------------------------------------------------------------------- writing


class JsonlWriter:
    """Appends records to one JSONL file, safely across threads and processes.

    The data file is opened lazily (parents created on the first write) with
    ``O_APPEND|O_CREAT|O_RDWR`` and kept open; read access lets the writer check the last byte.
    With ``fsync=True`` every append is flushed to disk before it returns.
    """

    def __init__(self, path: Path | str, *, fsync: bool = False, lock_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.lock_timeout = lock_timeout
        self._mutex = threading.RLock()
        self._lock = _LockFile(lock_path_for(self.path), lock_timeout)
        self._depth = 0  # how many nested holds of the file lock this writer has (see locked())
        self._fd: int | None = None
        self._closed = False
        self._pid = os.getpid()

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one record; it is committed (and, with fsync, durable) when this returns."""
        self._write(encode_record(record))

    def append_many(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append several records with one lock acquisition and one write."""
        self.append_encoded(b"".join(encode_record(r) for r in records))

    def append_encoded(self, data: bytes) -> None:
        """Append lines already made by :func:`encode_record` (to write the same records to several files
        while encoding them once)."""
        if data:
            self._write(data)

    @contextmanager
    def locked(self) -> Iterator[JsonlWriter]:
        """Hold the file lock across a read-then-append (e.g. claim a slot only if nobody has).

        Appends made through this writer inside the block do not re-take the lock.
        """
        self._check_fork()
        with self._mutex:
            self._check_open()
            self._enter()
            try:
                yield self
            finally:
                self._exit()

    def cut_torn_tail(self) -> int:
        """Cut off the bytes after the file's last newline; how many were cut.

        Under the lock those bytes are a line whose writer died while writing it (every append is one write made
        under the lock): no reader ever read it, and the next :meth:`append` would keep it for good as a bad line
        of its own, warned about by every later read. Call it before appending to a file whose writer may have
        crashed (going on with a run, recording that its process died); inside :meth:`locked`, so that nothing
        comes between the cut and the append."""
        self._check_fork()
        with self._mutex:
            self._check_open()
            self._enter()
            try:
                fd, size = self._current_fd()
                keep = _committed_size(fd, size)
                if keep < size:
                    os.ftruncate(fd, keep)
                    _log().info("%s: cut off a torn last line of %d bytes", self.path, size - keep)
                return size - keep
            except OSError as exc:
                raise cannot("cut the torn last line of", self.path, exc) from exc
            finally:
                self._exit()

    def close(self) -> None:
        with self._mutex:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._lock.close()
            self._closed = True

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JsonlWriter({str(self.path)!r}, fsync={self.fsync})"

    # -- internals

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # a forked child: never unlock or reuse the parent's descriptors
            self._pid = os.getpid()
            self._mutex = threading.RLock()
            self._depth = 0
            self._lock.forget()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self!r} is closed")

    def _enter(self) -> None:
        if self._depth == 0:
            self._lock.acquire()
        self._depth += 1

    def _exit(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._lock.release()

    def _write(self, data: bytes) -> None:
        self._check_fork()
        with self._mutex:
            self._check_open()
            self._enter()
            size = -1
            try:
                fd, size = self._current_fd()
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # finish a torn line so it cannot swallow this record
                _write_all(fd, data)
                if self.fsync:
                    _fdatasync(fd)
            except OSError as exc:
                if size >= 0 and self._fd is not None:  # a partial write (disk full): take it back, whole lines only
                    with suppress(OSError):
                        os.ftruncate(self._fd, size)
                raise cannot("append to", self.path, exc) from exc
            finally:
                self._exit()

    def _current_fd(self) -> tuple[int, int]:
        """The open data file and its size, reopened if the path now names another file. Lock held."""
        if self._fd is not None:
            st = os.fstat(self._fd)
            if file_identity(self.path) == (st.st_dev, st.st_ino):
                return self._fd, st.st_size
            os.close(self._fd)  # replaced by rewrite_atomic, or deleted: follow the path
            self._fd = None
        fd = _open_creating(self.path, os.O_RDWR | os.O_APPEND)
        self._fd = fd
        if self.fsync:
            _fsync_dir(self.path.parent)  # make the directory entry of a new file durable too
        return fd, os.fstat(fd).st_size


def _committed_size(fd: int, size: int, block: int = 65536) -> int:
    """The size of the file's committed part: up to and including its last newline (0 when it has none)."""
    end = size
    while end > 0:
        start = max(0, end - block)
        chunk = os.pread(fd, end - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        end = start
    return 0


def append_record(path: Path | str, record: Mapping[str, Any], *, fsync: bool = False) -> None:
    """Append one record to ``path`` with a short-lived writer."""
    with JsonlWriter(path, fsync=fsync) as writer:
        writer.append(record)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------- reading


class _BadLines:
    """The invalid lines one read of a file met, reported as ONE warning when the read ends: a damaged file of
    thousands of bad lines says so once per read (how many, and where the first is), not once per line."""

    __slots__ = ("count", "first", "path", "preview")

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.count = 0
        self.first = -1
        self.preview = ""

    def add(self, raw: bytes, offset: int) -> None:
        if not self.count or offset < self.first:  # a reverse read meets them last first
            self.first, self.preview = offset, raw[:60].decode("utf-8", "replace")
        self.count += 1

    def report(self) -> None:
        if self.count == 1:
            _log().warning("%s: skipping invalid line at byte %d: %r", self.path, self.first, self.preview)
        elif self.count:
            _log().warning(
                "%s: skipping %d invalid lines, the first at byte %d: %r",
                self.path,
                self.count,
                self.first,
                self.preview,
            )


def _parse(raw: bytes, bad: _BadLines, offset: int) -> dict[str, Any] | None:
    """The record on one complete line, or None for a blank or bad line (bad ones are counted in ``bad``)."""
    try:
        obj = json.loads(raw.decode("utf-8"))  # decoding first is faster than letting json sniff bytes
    except (ValueError, RecursionError):
        if not raw.strip():
            return None
        obj = None
    if isinstance(obj, dict):
        return obj
    bad.add(raw, offset)
    return None


def _scan_lines(path: Path | str, start_offset: int) -> Iterator[tuple[int, int, bytes]]:
    """``(offset, end_offset, line)`` for each complete line from ``start_offset``, newline stripped."""
    if start_offset < 0:
        raise ValueError(f"start_offset must be >= 0, got {start_offset}")
    try:
        f = open(open_for_reading(path), "rb", buffering=0)  # noqa: SIM115 - closed below (a generator)
    except FileNotFoundError:
        return
    with f:
        f.seek(start_offset)
        pos = start_offset
        partial: list[bytes] = []  # bytes of a line longer than one read
        while chunk := f.read(_READ_SIZE):
            if b"\n" not in chunk:
                partial.append(chunk)
                continue
            if partial:
                partial.append(chunk)
                chunk = b"".join(partial)
                partial.clear()
            lines = chunk.split(b"\n")
            rest = lines.pop()
            for raw in lines:
                end = pos + len(raw) + 1
                yield pos, end, raw
                pos = end
            if rest:
                partial.append(rest)
        if partial:
            _log().debug("%s: ignoring %d bytes after the last newline", path, sum(map(len, partial)))


def iter_with_offsets(path: Path | str, start_offset: int = 0) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """``(offset, end_offset, record)`` for each committed record from ``start_offset`` on.

    ``start_offset`` must be 0 or an ``end_offset`` seen before. Resume ("follow") by passing the last
    ``end_offset``; a line still being written is not yielded until its newline is there. Offsets
    belong to one file: if :func:`file_identity` changed, the file was compacted — start again at 0.
    """
    bad = _BadLines(path)
    try:
        for offset, end, raw in _scan_lines(path, start_offset):
            record = _parse(raw, bad, offset)
            if record is not None:
                yield offset, end, record
    finally:  # also when the caller stops early: the bad lines it met are reported
        bad.report()


def scan_records(path: Path | str, start_offset: int = 0) -> Iterator[tuple[int, int, dict[str, Any] | None]]:
    """Like :func:`iter_with_offsets`, but also yields ``(offset, end_offset, None)`` for every complete line
    that is not blank and not a JSON object: what a compaction needs to say how many lines it drops."""
    bad = _BadLines(path)
    try:
        for offset, end, raw in _scan_lines(path, start_offset):
            if raw.strip():
                yield offset, end, _parse(raw, bad, offset)
    finally:
        bad.report()


def iter_records(path: Path | str, *, start_offset: int = 0) -> Iterator[dict[str, Any]]:
    """Committed records, oldest first; a missing file has none."""
    for _offset, _end, record in iter_with_offsets(path, start_offset):
        yield record


def _pread_exact(fd: int, size: int, offset: int, path: Path | str) -> bytes:
    parts = []
    while size:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            raise StateError(f"{path} shrank while it was being read", hint="was it truncated in place?")
        parts.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(parts)


def _scan_lines_reverse(path: Path | str, block_size: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` for each complete line, newest first, reading ``block_size`` blocks from the end."""
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    try:
        fd = open_for_reading(path)
    except FileNotFoundError:
        return
    try:
        pos = os.fstat(fd).st_size  # a snapshot: lines appended from now on are not read
        pending = b""  # bytes [pos, pos + len(pending)): the start of the file up to the next line to yield
        carried: list[bytes] = []  # blocks without a newline, newest first
        end_found = False
        while pos > 0:
            size = min(block_size, pos)
            pos -= size
            block = _pread_exact(fd, size, pos, path)
            if pos > 0 and b"\n" not in block:
                carried.append(block)
                continue
            buf = block + b"".join(reversed(carried)) + pending
            carried.clear()
            if not end_found:
                cut = buf.rfind(b"\n")
                if cut < 0:
                    return  # no newline at all: not even one committed line
                buf = buf[:cut]  # drop the last newline and whatever uncommitted bytes follow it
                end_found = True
            lines = buf.split(b"\n")
            end = pos + len(buf)
            for raw in reversed(lines[1:]):
                start = end - len(raw)
                yield start, raw
                end = start - 1
            pending = lines[0]
        if end_found:
            yield 0, pending
    finally:
        os.close(fd)


def iter_records_reverse(path: Path | str, *, block_size: int = 65536) -> Iterator[dict[str, Any]]:
    """Committed records, newest first; reads only as much of the end of the file as it needs."""
    bad = _BadLines(path)
    try:
        for offset, raw in _scan_lines_reverse(path, block_size):
            record = _parse(raw, bad, offset)
            if record is not None:
                yield record
    finally:
        bad.report()


def tail_records(path: Path | str, n: int) -> list[dict[str, Any]]:
    """The last ``n`` committed records, oldest first."""
    if n <= 0:
        return []
    records = list(islice(iter_records_reverse(path), n))
    records.reverse()
    return records


# --------------------------------------------------------------------------------------------- compaction


def rewrite_atomic(
    path: Path | str,
    records: Iterable[Mapping[str, Any]],
    *,
    keep_tail_from: int | None = None,
    expected_identity: FileIdentity | None = None,
    lock_timeout: float = 30.0,
) -> None:
    """Replace ``path`` with ``records`` plus whatever was appended after the caller's snapshot.

    Typical compaction: read with :func:`iter_with_offsets` (remember the last ``end_offset`` and,
    before reading, :func:`file_identity`), fold, then call this with ``keep_tail_from=end_offset`` and
    ``expected_identity=identity``. The records go to a temporary file in the same directory first;
    then, under the writer lock, the bytes appended since ``keep_tail_from`` are copied after them,
    the file is fsynced and ``os.replace``-d over ``path``. Writers notice the new inode and follow it,
    so no append is lost. ``keep_tail_from=None`` replaces the content outright.

    Raises StateError if the file was replaced or shrank since the snapshot (compact again).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
    lock = _LockFile(lock_path_for(path), lock_timeout)
    try:
        try:
            _write_records(fd, records)
            lock.acquire()
            try:
                _copy_tail(path, fd, keep_tail_from, expected_identity)
                os.fsync(fd)
                os.replace(tmp, path)
            finally:
                lock.release()
        finally:
            os.close(fd)
            lock.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _write_records(fd: int, records: Iterable[Mapping[str, Any]]) -> None:
    batch: list[bytes] = []
    batched = 0
    for record in records:
        line = encode_record(record)
        batch.append(line)
        batched += len(line)
        if batched >= _READ_SIZE:
            _write_all(fd, b"".join(batch))
            batch.clear()
            batched = 0
    _write_all(fd, b"".join(batch))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _copy_tail(path: Path, out_fd: int, keep_tail_from: int | None, expected: FileIdentity | None) -> None:
    """Append ``path[keep_tail_from:]`` to ``out_fd``, checking the snapshot is still valid. Lock held."""
    try:
        src = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        if expected is not None or keep_tail_from:
            raise StateError(f"{path} vanished during compaction", hint="read it again and retry") from None
        return
    try:
        st = os.fstat(src)
        if expected is not None and (st.st_dev, st.st_ino) != tuple(expected):
            raise StateError(f"{path} was replaced since it was read", hint="read it again and compact again")
        if keep_tail_from is None:
            return
        if keep_tail_from > st.st_size:
            raise StateError(f"{path} is shorter than the snapshot offset {keep_tail_from}")
        if keep_tail_from and os.pread(src, 1, keep_tail_from - 1) != b"\n":
            raise StateError(f"offset {keep_tail_from} is not at a line boundary of {path}")
        offset = keep_tail_from
        while offset < st.st_size:
            chunk = _pread_exact(src, min(_READ_SIZE, st.st_size - offset), offset, path)
            _write_all(out_fd, chunk)
            offset += len(chunk)
    finally:
        os.close(src)
