"""Real services for tests: ``redis-server`` on a free loopback port and ``dagctl worker`` subprocesses.

Service tests are marked ``service``. Without ``redis-server`` or the celery extra they are skipped with a
reason on a developer machine, and fail under CI (``CI`` set): ``.ci/run`` installs redis-server, so a skip
there would hide a broken guarantee. Every wait here is bounded and polls an event, never a bare sleep.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support import wait_until


def require_services() -> None:
    """Skip (locally) or fail (CI) unless redis-server and the celery extra are available."""
    missing = []
    if shutil.which("redis-server") is None:
        missing.append("redis-server is not installed (apt-get install -y redis-server)")
    for module in ("celery", "redis"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"python package '{module}' is missing (pip install -e '.[celery]')")
    if missing:
        reason = "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"service test cannot run in CI: {reason}")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A throwaway redis-server: no persistence, loopback only, stopped on :meth:`stop`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--logfile",
                str(self.folder / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: _pong(self.port) or self.proc.poll() is not None, 10, "redis-server answering PING")
        if self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.folder / 'redis.log'}")
        return self

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def worker_env(broker: str, folder: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "REDIS_URL": broker,
        "DAGCTL_LOGS_DIR": str(folder / "logs"),
        "DAGCTL_WORKER_DIR": str(folder / "work"),
        "C_FORCE_ROOT": "1",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("ORCH_EVENTS_PATH", None)
    env.update(extra)
    return env


class Worker:
    """``python -m dagctl worker`` in its own session, output in ``<folder>/<name>.log``."""

    def __init__(
        self,
        broker: str,
        folder: Path,
        name: str,
        *,
        concurrency: int = 2,
        queues: str | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.broker = broker
        self.name = name
        self.nodename = f"{name}@{socket.gethostname()}"
        self.folder = folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / f"{name}.log"
        argv = [sys.executable, "-m", "dagctl", "worker", "--name", name, "--concurrency", str(concurrency), *args]
        if queues:
            argv += ["--queues", queues]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.folder,
                env=worker_env(broker, self.folder, **(env or {})),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, client, timeout: float = 20.0) -> Worker:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited {self.proc.returncode}:\n{self.output()[-3000:]}")
            return bool(client.exists(f"dagctl:worker:{self.nodename}"))

        wait_until(ready, timeout, f"worker {self.name} ready")
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes (a machine dying; tasks' own groups are not touched)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # the pool's children share the worker's process group; make sure none outlives the test
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return int(self.proc.returncode)


@contextlib.contextmanager
def workers(redis: RedisServer, folder: Path, *specs: dict) -> Iterator[list[Worker]]:
    """Start one worker per spec (kwargs of :class:`Worker`) in parallel, wait until all are ready, stop them."""
    started = [Worker(redis.url, folder, **spec) for spec in specs]
    try:
        client = redis.client()
        for w in started:
            w.wait_ready(client)
        yield started
    finally:
        for w in started:  # all at once: each warm shutdown takes a moment
            if w.proc.poll() is None:
                w.signal(signal.SIGTERM)
        for w in started:
            w.stop()
