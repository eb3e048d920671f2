"""Small helpers shared by tests that drive real processes: bounded waits, no bare sleeps."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll ``predicate`` every 20 ms until it returns something truthy; fail after ``timeout`` seconds."""
    tick = threading.Event()
    for _ in range(max(1, int(timeout / 0.02))):
        value = predicate()
        if value:
            return value
        tick.wait(0.02)
    raise AssertionError(f"{what} not met within {timeout:g}s")


def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """Like :func:`wait_until`, but answers whether it happened instead of failing the test."""
    try:
        wait_until(predicate, timeout)
    except AssertionError:
        return False
    return True


def process_alive(pid: int) -> bool:
    """Is ``pid`` a live process (zombies waiting to be reaped, and the dead, count as gone)?"""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][0] not in "ZX"
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or reaped between open and read
        return False


DOOMED = """
name: doomed
tasks:
  - id: work
    run: echo $$ > {pidfile}; sleep 300
  - id: after
    run: "true"
    depends_on: work
"""
"""A DAG whose task ``work`` runs until it is stopped (its pid in ``{pidfile}``) and ``after`` waits on it: what the
tests of killed, abandoned and never-started runs start, from the CLI and through the web API."""


def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``1m``) mounted on ``where`` while the generator runs: a disk to fill, or to make
    read-only. Skips the test unless root can mount one here. For ``yield from`` in a fixture."""
    import os
    import subprocess

    import pytest

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


class Hooks:
    """Webhooks on a free loopback port, for apprise's ``json://`` (:meth:`url`): ``/ok...`` answers 200,
    ``/bad...`` 500, ``/hang...`` never (until the test ends); any other path 200. Every POST is kept, by path."""

    def __init__(self) -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        release = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((self.path, json.loads(body or b"{}")))
                if self.path.startswith("/hang"):
                    release.wait(60)
                    return
                self.send_response(500 if self.path.startswith("/bad") else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.release = release
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/{path}"

    def titles(self, path: str) -> list[str]:
        return [m.get("title", "") for p, m in self.received if p == f"/{path}"]
