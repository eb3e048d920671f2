"""Fixtures for ``dagctl serve``: a project with DAGs, and the real app served by uvicorn on a free loopback port.

Everything a test starts is stopped in a finally: the server thread (asked to stop, then joined) and every run it
launched (SIGTERM by process group, then SIGKILL, by pid).
"""

from __future__ import annotations

import contextlib
import os
import signal
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="dagctl serve needs the web extra: pip install -e '.[web]'")
pytest.importorskip("uvicorn", reason="dagctl serve needs the web extra: pip install -e '.[web]'")
httpx = pytest.importorskip("httpx", reason="the API tests talk HTTP through httpx")

from dagctl.settings import Settings  # noqa: E402
from dagctl.web.app import context_of, create_app  # noqa: E402
from dagctl.web.config import ServeSettings  # noqa: E402
from dagctl.web.context import WebContext  # noqa: E402
from dagctl.web.server import Server  # noqa: E402
from tests.support import DOOMED, process_alive, wait_until  # noqa: E402

QUICK = """
name: quick
params: {who: world, n: 2}
tasks:
  - id: hello
    run: echo "hello ${params.who}"
  - id: count
    run: for i in $(seq ${params.n}); do echo "line $i"; done
    depends_on: hello
"""

SLOW = """
name: slow
params: {seconds: 30}
tasks:
  - id: first
    run: echo first
  - id: wait
    run: echo waiting; sleep ${params.seconds}; echo done
    depends_on: first
"""

FLAKY = """
name: flaky
tasks:
  - id: ok
    run: echo ok
  - id: bad
    run: echo "try $DAGCTL_ATTEMPT"; exit 1
    depends_on: ok
    retries: 1
    retry_delay: 0.1s
"""


def dag_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture
def web_project(project: Path) -> Path:
    """The shared ``project`` fixture with three DAGs in ``configs/dags``: quick, slow and flaky."""
    for name, text in (("quick", QUICK), ("slow", SLOW), ("flaky", FLAKY)):
        (project / "configs" / "dags" / f"{name}.yaml").write_text(dag_text(text))
    return project


def serve_settings(project: Path, **overrides: Any) -> ServeSettings:
    base = ServeSettings(
        settings=Settings.from_env(),
        dags_dir=project / "configs" / "dags",
        schedules_dir=project / "configs" / "schedules",
        templates_dir=project / "configs" / "templates",
        port=0,
    )
    return base.__class__(**{**base.__dict__, **overrides})


class Live:
    """A running server: its base ``url``, its app context, and an httpx client for it."""

    def __init__(self, server: Server, ctx: WebContext, url: str) -> None:
        self.server = server
        self.ctx = ctx
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=20)

    def wait_for_run(self, run_id: str, status: str | None = None, timeout: float = 30) -> dict[str, Any]:
        """The run's JSON once it has finished (or has ``status``)."""

        def done() -> dict[str, Any] | None:
            data = self.client.get(f"/api/runs/{run_id}").json()
            if status is not None:
                return data if data.get("status") == status else None
            return data if data.get("status") not in ("running", "waiting", "starting", None) else None

        return wait_until(done, timeout, f"run {run_id} {status or 'finished'}")  # type: ignore[return-value]

    def start(self, dag: str, **params: Any) -> str:
        response = self.client.post("/api/runs", json={"dag": dag, "params": params})
        assert response.status_code == 202, response.text
        return str(response.json()["run_id"])


@pytest.fixture
def live(web_project: Path) -> Iterator[Callable[..., Live]]:
    """``live(**ServeSettings overrides)``: the app served on a free loopback port, stopped after the test."""
    started: list[tuple[Server, threading.Thread, WebContext]] = []

    def start(*, tls: Any = None, **overrides: Any) -> Live:
        config = serve_settings(web_project, **overrides)
        app = create_app(config, cwd=web_project)
        server = Server(app, config, tls=tls)
        thread = threading.Thread(target=server.run, name="dagctl-serve-test", daemon=True)
        thread.start()
        started.append((server, thread, context_of(app)))
        wait_until(lambda: server.url, 15, "server listening")
        assert server.url is not None
        return Live(server, context_of(app), server.url)

    try:
        yield start
    finally:
        for server, thread, ctx in started:
            try:
                server.request_stop()
                thread.join(15)
                assert not thread.is_alive(), "the server did not stop"
            finally:
                ctx.launcher.terminate_all()


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Chromium from the distribution, driven by selenium through the system's chromedriver (never a
    downloaded one): :mod:`tests.web.browser_support`."""
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium must never fetch a browser or a driver
    from tests.web.browser_support import start_browser

    yield from start_browser(str(tmp_path / "chromium-profile"))


NEVER_STARTED = {
    "task_id": "after",
    "status": "not started",
    "note": "its run's process died before it started; dagctl resume runs it",
}
"""What ``dagctl show`` says of DOOMED's ``after`` once its run's process was killed."""


@contextlib.contextmanager
def killed_run(server: Live, project: Path) -> Iterator[str]:
    """Start DOOMED through ``server``, SIGKILL its ``dagctl run`` once ``work`` is running and recorded so
    (``after`` waits on it), and give the run's id; afterwards, end ``work``'s process group (it leads one of
    its own, which outlives the killed dagctl)."""
    pidfile = project / "work.pid"
    (project / "configs" / "dags" / "doomed.yaml").write_text(dag_text(DOOMED).format(pidfile=pidfile))
    run_id = server.start("doomed")
    task_group = None
    try:
        task_group = int(wait_until(lambda: _line(pidfile), 30, "work's pid file"))  # type: ignore[arg-type]

        def started() -> bool:
            return "work" in (server.client.get(f"/api/runs/{run_id}").json().get("tasks") or {})

        wait_until(started, 30, "work recorded as started")
        launch = server.ctx.launcher.by_run_id(run_id)
        assert launch is not None
        os.kill(launch.pid, signal.SIGKILL)
        assert launch.done.wait(10), "the killed dagctl run was not reaped"
        yield run_id
    finally:
        if task_group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(task_group, signal.SIGKILL)
            wait_until(lambda: not process_alive(task_group), 10, "work's process group gone")


def _line(path: Path) -> str | None:
    """The whole first line of ``path`` (None until its newline is there)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return text.strip() if text.endswith("\n") else None
