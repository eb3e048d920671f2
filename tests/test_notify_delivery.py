"""Delivering notifications: each URL on its own (a service that took a message never gets it again, a broken one
is the only one named), failures said with their reason (HTTP status, connection refused, DNS) and without the
URL's secrets, and the wait at the run's end said on stderr and cut short by Ctrl+C / SIGTERM.

The end-to-end tests run real ``dagctl run`` processes against local HTTP servers on free loopback ports."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.run import notify
from dagctl.run.notify import Notifier, skipper
from dagctl.run.notify_apprise import NotSent, Service, reason_of, secrets_of
from dagctl.run.state import RunControl
from dagctl.store.events import DagDone, TaskRetry
from tests.conftest import ROOT
from tests.support import Hooks, wait_until

RUN = {"ts": "2026-12-07T10:00:00.000000Z", "run_id": "r1", "dag_name": "etl", "tenant_id": "default"}


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    pytest.importorskip("apprise", reason="the notify extra (apprise) is not installed")
    found = Hooks()
    yield found
    found.release.set()
    found.server.shutdown()
    found.server.server_close()


def refused_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(folder: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH")}
    base.update(PYTHONPATH=str(ROOT / "src"), DAGCTL_LOGS_DIR=str(folder / "logs"), NO_COLOR="1")
    return base


def dagctl(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dagctl", *args],
        cwd=folder,
        env=environment(folder),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_each_url_is_sent_and_retried_on_its_own_and_only_the_broken_one_is_named_with_why(tmp_path, hooks):
    """With one service down, the working one got every message three times, and the warning named both URLs and
    said that no service accepted the message."""
    broken = Hooks()  # another port: the warnings tell the services apart by host and port (paths are secret)
    try:
        refused = f"json://127.0.0.1:{refused_port()}/refused"
        urls = f'"{hooks.url("ok")}", "{broken.url("bad")}", "{refused}"'
        (tmp_path / "multi.yaml").write_text(
            f"name: multi\ntasks:\n  - {{id: b, run: 'exit 4'}}\nnotify: {{events: [failure], urls: [{urls}]}}\n"
        )
        done = dagctl(tmp_path, "run", "multi.yaml", "-q")
        assert done.returncode == 1, done.stderr
        assert hooks.titles("ok") == ["dagctl: multi failed"]  # once, whatever the others did
        assert broken.titles("bad") == ["dagctl: multi failed"] * 3  # retried on its own
    finally:
        broken.server.shutdown()
        broken.server.server_close()
    good = f"json://127.0.0.1:{hooks.server.server_address[1]}/***"
    bad = f"json://127.0.0.1:{broken.server.server_address[1]}/***"
    gone = refused.rsplit("/", 1)[0] + "/***"
    warnings = [line for line in done.stderr.splitlines() if " notification" in line or line.startswith("notif")]
    first = f"notification 'dagctl: multi failed' to {bad} failed (attempt 1 of 3)"
    assert f"{first}: HTTP 500 (Internal Server Error)" in warnings
    assert f"notification 'dagctl: multi failed' to {gone} failed (attempt 3 of 3): connection refused" in warnings
    assert f"1 notification to {gone} not sent: the service kept failing: connection refused" in warnings
    assert f"1 notification to {bad} not sent: the service kept failing: HTTP 500 (Internal Server Error)" in warnings
    assert not [line for line in warnings if good in line]  # the service that took it is not named
    assert not [line for line in warnings if "slow" in line or "no notification service" in line]
    assert "Traceback" not in done.stderr


def test_a_service_that_took_a_message_is_not_sent_it_again_while_another_fails() -> None:
    got: list[str] = []
    tries: list[str] = []

    def works(title: str, body: str, kind: str = "info") -> None:
        got.append(title)

    def broken(title: str, body: str, kind: str = "info") -> None:
        tries.append(title)
        raise NotSent("HTTP 404 (Not Found): no such webhook or address: a revoked or mistyped URL?")

    services = [Service("json://good.example.com/***", works), Service("slack://***", broken)]
    notifier = Notifier(["failure", "retry"], services, FakeClock())
    notifier.emit(TaskRetry(**RUN, task_id="a", attempt=1, status="failed", error="exit code 1", delay_s=0.0))
    notifier.emit(DagDone(**RUN, status="failed", duration_s=1.5))
    notifier.close()
    assert got == ["dagctl: etl: retrying a", "dagctl: etl failed"]
    assert tries.count("dagctl: etl failed") == 3
    assert notifier.sent == 2 and notifier.dropped >= 1


@pytest.mark.parametrize(
    ("logged", "reason"),
    [
        ([("WARNING", "Failed to send Slack notification: Not Found error=404.")], "HTTP 404 (Not Found): no such"),
        ([("WARNING", "Failed to send JSON POST notification: Unauthorized, error=401.")], "HTTP 401 (Unauthorized)"),
        (
            [
                ("WARNING", "A Connection error occurred sending JSON notification to no-such-host.invalid."),
                ("DEBUG", "Socket Exception: NameResolutionError(\"Failed to resolve 'no-such-host.invalid'\")"),
            ],
            "host name not found (DNS)",
        ),
        ([("DEBUG", "Socket Exception: ... [Errno 111] Connection refused")], "connection refused"),
        ([("DEBUG", "Socket Exception: Read timed out. (read timeout=4)")], "timed out"),
        ([], "the service did not take the message (apprise gave no reason)"),
    ],
)
def test_the_reason_of_a_failed_send_is_what_an_operator_acts_on(logged, reason) -> None:
    assert reason_of(logged).startswith(reason)


def test_a_reason_never_carries_the_urls_secrets() -> None:
    url = "slack://T0SECRET/B0SECRET/XXXXTOKENXXXX"
    said = "Slack refused https://hooks.slack.com/services/T0SECRET/B0SECRET/XXXXTOKENXXXX (token XXXXTOKENXXXX)"
    reason = reason_of([("WARNING", said)], secrets_of(url))
    assert "SECRET" not in reason and "TOKEN" not in reason
    assert reason == "Slack refused https://hooks.slack.com/*** (token ***)"
    mail = secrets_of("mailto://me:pa55word@example.com")
    assert "pa55word" in mail and "example.com" not in mail


class Hanging:
    def __init__(self) -> None:
        self.release = threading.Event()

    def send(self, title: str, body: str, kind: str = "info") -> None:
        self.release.wait(30)
        raise NotSent("gave up")


def test_the_wait_at_the_runs_end_is_said_and_a_stop_ends_it_at_once(caplog, monkeypatch) -> None:
    monkeypatch.setattr(notify, "ANNOUNCE_S", 0.05)
    service = Hanging()
    control = RunControl()
    notifier = Notifier(["failure"], [Service("json://hooks.example.com/***", service.send)], control=control)
    try:
        assert skipper(control) is None  # the tasks are not over yet: a stop is for them
        notifier.emit(DagDone(**RUN, status="failed", duration_s=1.5))
        closed = threading.Event()
        with caplog.at_level(logging.WARNING, logger=notify.__name__):
            threading.Thread(target=lambda: (notifier.close(), closed.set()), daemon=True).start()
            wait_until(lambda: "dagctl: sending 1 notification" in caplog.text, 5, "the wait said on stderr")
            said = "dagctl: sending 1 notification to json://hooks.example.com/*** (up to 1"
            assert said in caplog.text and "s more; Ctrl+C to skip)" in caplog.text
            assert not closed.is_set()
            skip = skipper(control)
            assert skip is not None
            skip()
            wait_until(closed.is_set, 2, "the wait ended by the stop")
        assert "1 notification to json://hooks.example.com/*** not sent: skipped by an interrupt" in caplog.text
    finally:
        service.release.set()


def test_a_run_told_to_stop_while_it_waits_for_its_notifications_stops_waiting(caplog) -> None:
    """A scheduler that stops cancels its runs: one that is only waiting for a slow service ends at once."""
    service = Hanging()
    control = RunControl()
    control.cancel("interrupted by SIGINT", signal=2)  # how the run itself ended: no reason to stop waiting
    notifier = Notifier(["failure"], [Service("json://hooks.example.com/***", service.send)], control=control)
    try:
        notifier.emit(DagDone(**RUN, status="cancelled", duration_s=1.5))
        closed = threading.Event()
        with caplog.at_level(logging.WARNING, logger=notify.__name__):
            threading.Thread(target=lambda: (notifier.close(), closed.set()), daemon=True).start()
            wait_until(lambda: skipper(control) is not None, 5, "the wait to begin")
            assert not closed.wait(0.2)  # still waiting: the cancel that ended the run does not end the wait
            control.cancel(now=True)  # "scheduler stopping: second signal"
            wait_until(closed.is_set, 2, "the wait ended by the cancel")
        assert (
            "1 notification to json://hooks.example.com/*** not sent: skipped: the run was told to stop" in caplog.text
        )
    finally:
        service.release.set()


def test_a_quick_service_is_sent_to_without_a_word(caplog) -> None:
    got: list[str] = []
    notifier = Notifier(["success"], lambda title, body, kind="info": got.append(title), FakeClock(), "json://x/***")
    notifier.emit(DagDone(**RUN, status="success", duration_s=1.5))
    with caplog.at_level(logging.WARNING, logger=notify.__name__):
        notifier.close()
    assert got == ["dagctl: etl succeeded"] and caplog.text == ""


class Stderr:
    """What a process writes to stderr, read as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.text = ""
        assert process.stderr is not None
        stream = process.stderr

        def read() -> None:
            for line in stream:
                self.text += line

        threading.Thread(target=read, daemon=True).start()


def test_ctrl_c_while_the_run_waits_for_a_slow_service_ends_it_with_what_was_not_sent(tmp_path, hooks):
    """The run was over after 2 s, but the process stayed 15 s more, said nothing of why, and each Ctrl+C printed
    "second interrupt: killing running tasks now" with no task running."""
    (tmp_path / "slow.yaml").write_text(
        "name: slow\ntasks:\n  - {id: a, run: 'touch started; sleep 30'}\n"
        f'notify: {{events: [failure], urls: ["{hooks.url("hang")}"]}}\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "dagctl", "run", "slow.yaml", "-q"],
        cwd=tmp_path,
        env=environment(tmp_path),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        err = Stderr(process)
        wait_until(lambda: (tmp_path / "started").exists(), 20, "the task to start")
        process.send_signal(signal.SIGINT)  # the run stops; its 'cancelled' message goes to a service that hangs
        wait_until(lambda: "dagctl: sending 1 notification" in err.text, 10, "the wait to be said")
        assert f"to json://127.0.0.1:{hooks.server.server_address[1]}/*** (up to 1" in err.text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 130  # at once, with the run's exit code
        wait_until(lambda: "of slow cancelled" in err.text, 5, "the run's last line")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "1 notification to json://127.0.0.1:" in err.text and "not sent: skipped by an interrupt" in err.text
    assert "second interrupt" not in err.text
    assert hooks.titles("hang") == ["dagctl: slow cancelled"]


class CountingControl(RunControl):
    def __init__(self) -> None:
        super().__init__()
        self.cancels = 0

    def cancel(self, reason: str = "cancelled", *, now: bool = False, signal: int | None = None) -> None:
        self.cancels += 1
        super().cancel(reason, now=now, signal=signal)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_interrupts_say_what_they_do_once_and_end_the_notification_wait_once_the_tasks_are_over() -> None:
    from dagctl.cli.run_main import interrupts

    said: list[str] = []
    skipped: list[bool] = []
    control = CountingControl()
    with interrupts(control, said.append):
        os.kill(os.getpid(), signal.SIGINT)
        wait_until(lambda: control.cancels == 1, 5, "the first interrupt")
        os.kill(os.getpid(), signal.SIGINT)
        wait_until(lambda: control.cancels == 2, 5, "the second interrupt")
        os.kill(os.getpid(), signal.SIGTERM)
        wait_until(lambda: control.cancels == 3, 5, "the third interrupt")
        assert control.kill_now
        assert said == [
            "dagctl: SIGINT: stopping; running tasks get SIGTERM then SIGKILL (interrupt again to kill now)",
            "dagctl: second interrupt: killing running tasks now",
        ]  # the third has nothing more to kill: nothing said
        control.skip_notifications = lambda: skipped.append(True)  # as Notifier.close does when the tasks are over
        os.kill(os.getpid(), signal.SIGINT)
        wait_until(lambda: skipped, 5, "the wait for notifications to be skipped")
    assert control.cancels == 3 and len(said) == 2
