"""Noticing that files grew: one poller per watched file, shared by every stream waiting on it.

A hundred browsers on one run page cost one ``os.stat`` of the run's events file per poll, not a hundred.
A poller runs while someone waits on its file and stops with the last one. Polling (every ``poll_s``, 0.1 s by
default) instead of inotify keeps this portable and needs nothing installed; an appended event reaches the
streams within one poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

Signature = tuple[int, int, int] | None


def signature(path: Path) -> Signature:
    """``(inode, size, mtime_ns)`` of ``path``, None when it does not exist: changes when it is written."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class _Watched:
    __slots__ = ("last", "path", "subscribers", "task")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.subscribers: set[Subscription] = set()
        self.last = signature(path)
        self.task: asyncio.Task[None] | None = None


class Subscription:
    """A stream's interest in some files: :meth:`wait` returns when one of them changed (or on timeout)."""

    def __init__(self, watcher: FileWatcher) -> None:
        self._watcher = watcher
        self._changed = asyncio.Event()
        self.paths: tuple[Path, ...] = ()

    def watch(self, *paths: Path) -> None:
        """Watch exactly these files from now on."""
        self._watcher._move(self, self.paths, paths)
        self.paths = tuple(paths)

    def notify(self) -> None:
        self._changed.set()

    async def wait(self, timeout: float) -> bool:
        """True when a watched file changed since the last wait; False after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            self._changed.clear()
        return True

    def close(self) -> None:
        self.watch()


class FileWatcher:
    """Polls each watched file every ``poll_s`` seconds and wakes its subscribers when it changed."""

    def __init__(self, poll_s: float) -> None:
        self.poll_s = poll_s
        self._files: dict[Path, _Watched] = {}

    @property
    def watched(self) -> int:
        return len(self._files)

    def subscribe(self, *paths: Path) -> Subscription:
        sub = Subscription(self)
        sub.watch(*paths)
        return sub

    def _move(self, sub: Subscription, old: tuple[Path, ...], new: tuple[Path, ...]) -> None:
        for path in set(old) - set(new):
            watched = self._files.get(path)
            if watched is None:
                continue
            watched.subscribers.discard(sub)
            if not watched.subscribers:
                del self._files[path]
                if watched.task is not None:
                    watched.task.cancel()
        for path in set(new) - set(old):
            watched = self._files.get(path)
            if watched is None:
                watched = self._files[path] = _Watched(path)
                watched.task = asyncio.get_running_loop().create_task(self._poll(watched), name=f"watch {path}")
            watched.subscribers.add(sub)

    async def _poll(self, watched: _Watched) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            now = signature(watched.path)
            if now != watched.last:
                watched.last = now
                for sub in tuple(watched.subscribers):
                    sub.notify()

    def wake_all(self) -> None:
        """Wake every waiting stream (the server is stopping, or the token changed: they look at why and end)."""
        for watched in self._files.values():
            for sub in watched.subscribers:
                sub.notify()

    async def close(self) -> None:
        tasks = [w.task for w in self._files.values() if w.task is not None]
        self._files.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
