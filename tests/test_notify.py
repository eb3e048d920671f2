"""Notifications: what each message says and how it is typed, the final message first when a service hangs,
URLs checked when read, ``${env.NAME}`` filled at the start of a run, and secrets kept out of every message."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.dag.notifyurls import filled, masked, url_problem
from dagctl.errors import UsageError
from dagctl.run import notify
from dagctl.run.notify import Notifier
from dagctl.store.events import DagDone, TaskRetry
from tests.conftest import ROOT

RUN = {"ts": "2026-12-07T10:00:00.000000Z", "run_id": "r1", "dag_name": "etl", "tenant_id": "default"}


def retry(n: int) -> TaskRetry:
    return TaskRetry(**RUN, task_id="a", attempt=n, status="failed", error="exit code 1", delay_s=0.0)


def done(status: str) -> DagDone:
    return DagDone(**RUN, status=status, duration_s=1.5)


class Service:
    """A notification service; ``hang`` makes it never answer (until released at the end of the test)."""

    def __init__(self, hang: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.hang = hang
        self.got: list[tuple[str, str]] = []
        self.release = threading.Event()

    def send(self, title: str, body: str, kind: str = "info") -> None:
        if any(word in title for word in self.hang):
            self.release.wait(30)
            raise OSError("gave up")
        self.got.append((title, kind))


def test_messages_are_typed_so_services_colour_a_failure_as_one() -> None:
    service = Service()
    notifier = Notifier(["failure", "retry", "success"], service.send, FakeClock())
    notifier.emit(retry(1))
    notifier.emit(done("failed"))
    notifier.close()
    assert service.got == [("dagctl: etl: retrying a", "warning"), ("dagctl: etl failed", "failure")]
    other = Service()
    notifier = Notifier(["success"], other.send, FakeClock())
    notifier.emit(done("success"))
    notifier.close()
    assert other.got == [("dagctl: etl succeeded", "success")]


def test_a_hanging_service_gives_way_to_the_final_message_at_the_runs_end(caplog, monkeypatch) -> None:
    """Retry messages stuck behind a service that never answers used up the 15 s the run waits at its end, and
    the failure message, the one people want, was never sent."""
    monkeypatch.setattr(notify, "BEFORE_FINAL_S", 0.2)  # the time the others get once the run has ended
    service = Service(hang={"retrying"})
    notifier = Notifier(["failure", "retry"], service.send, FakeClock(), target="json://hooks.example.com/***")
    try:
        for n in (1, 2, 3):
            notifier.emit(retry(n))
        notifier.emit(done("failed"))
        with caplog.at_level(logging.WARNING, logger=notify.__name__):
            notifier.close()  # the first retry message hangs: given up at the cut-off, the others dropped
        assert service.got == [("dagctl: etl failed", "failure")]
        assert notifier.dropped == 3
        assert "3 notifications to json://hooks.example.com/*** not sent" in caplog.text
    finally:
        service.release.set()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("slack://T000/B000/XXXX", "slack://***"),
        ("mailto://me:pw@example.com", "mailto://***@example.com"),
        ("bogus://admin:Sup3rS3cret@hooks.example.com/x", "bogus://***@hooks.example.com/***"),
        ("json://127.0.0.1:8080/hook?token=abc", "json://127.0.0.1:8080/***"),
        ("${env.SLACK_URL}", "${env.SLACK_URL}"),
        ("nourl", "nourl"),
        ("xoxb-0123456789-abcdef", "xoxb-0***"),
    ],
)
def test_a_url_is_named_without_its_secrets(url: str, shown: str) -> None:
    assert masked(url) == shown


def test_url_problems_and_env_references() -> None:
    assert url_problem("json://hooks.example.com/x") is None
    assert url_problem("${env.HOOK}") is None
    assert url_problem("slack:/typo") == "notify url 'slack:/typo' is not a URL (scheme://...)"
    assert "only ${env.NAME}" in (url_problem("json://${params.host}/x") or "")
    assert filled("json://${env.HOST}/x", {"HOST": "h.example.com"}) == "json://h.example.com/x"
    with pytest.raises(UsageError, match="environment variable HOOK is not set"):
        filled("${env.HOOK}", {})
    with pytest.raises(UsageError, match="is not a URL once filled in"):
        filled("${env.HOOK}", {"HOOK": "not a url"})


def dagctl(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH", "HOOK")}
    base.update(PYTHONPATH=str(ROOT / "src"), DAGCTL_LOGS_DIR=str(folder / "logs"), NO_COLOR="1", **env)
    return subprocess.run(
        [sys.executable, "-m", "dagctl", *args], cwd=folder, env=base, capture_output=True, text=True, timeout=60
    )


def test_urls_are_checked_when_read_and_a_unknown_service_stops_the_run_without_its_secret(tmp_path: Path) -> None:
    pytest.importorskip("apprise", reason="the notify extra (apprise) is not installed")
    (tmp_path / "etl.yaml").write_text("name: etl\ntasks:\n  - {id: a, run: 'touch ran'}\n")
    (tmp_path / "dagctl.yaml").write_text('notify: {urls: ["json://ok.example.com/x", "slack:/typo"]}\n')
    checked = dagctl(tmp_path, "validate", "etl.yaml")
    assert checked.returncode == 2
    assert "dagctl.yaml:1:44: notify url 'slack:/typo' is not a URL (scheme://...)" in checked.stderr
    (tmp_path / "dagctl.yaml").write_text('notify: {urls: ["bogus://admin:Sup3rS3cret@hooks.example.com/x"]}\n')
    run = dagctl(tmp_path, "run", "etl.yaml", "-q")
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(
        "dagctl: error: notify: apprise does not understand the URL 'bogus://***@hooks.example.com/***'"
    )
    assert "Sup3rS3cret" not in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "ran").exists()


def test_env_references_in_urls_are_filled_when_the_run_starts(tmp_path: Path) -> None:
    pytest.importorskip("apprise", reason="the notify extra (apprise) is not installed")
    (tmp_path / "etl.yaml").write_text(
        'name: etl\nnotify: {urls: ["${env.HOOK}"]}\ntasks:\n  - {id: a, run: "touch ran"}\n'
    )
    missing = dagctl(tmp_path, "run", "etl.yaml", "-q")
    assert missing.returncode == 2 and not (tmp_path / "ran").exists()
    assert "notify url '${env.HOOK}': environment variable HOOK is not set — export HOOK=" in missing.stderr
    ok = dagctl(tmp_path, "run", "etl.yaml", "-q", HOOK="json://127.0.0.1:9/hook")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ran").exists()
