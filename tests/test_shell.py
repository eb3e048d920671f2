"""run_shell: direct exec vs sh -c, logs, exit reasons, and that timeouts/cancels leave no process behind."""

from __future__ import annotations

import os
import signal
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagctl.clock import FakeClock, SystemClock
from dagctl.errors import ExecutorError, UsageError
from dagctl.run.actions.shell import SHELL, ShellOutcome, needs_shell, run_shell, split_command
from tests.support import eventually, process_alive

ENV = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}


def read_pid(path: Path) -> int:
    assert eventually(lambda: path.exists() and path.read_text().strip() != ""), f"{path} never written"
    return int(path.read_text())


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "task.log"


def run(command: str | list[str], log: Path, **kw) -> ShellOutcome:
    kw.setdefault("env", ENV)
    kw.setdefault("cwd", None)
    kw.setdefault("timeout", 10.0)
    kw.setdefault("cancel", threading.Event())
    kw.setdefault("clock", SystemClock())
    return run_shell(command, log_path=log, **kw)


class Background:
    """run_shell on a worker thread, so the test can poke at files, events and the clock meanwhile."""

    def __init__(self, command: str | list[str], log: Path, **kw) -> None:
        self.result: ShellOutcome | None = None
        self.error: BaseException | None = None

        def target() -> None:
            try:
                self.result = run(command, log, **kw)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 5.0) -> ShellOutcome:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run_shell did not return"
        assert self.error is None, self.error
        assert self.result is not None
        return self.result


@pytest.fixture
def no_leftovers() -> Iterator[list[int]]:
    """Pids registered here must be gone when the test ends (checked even if the test asserts first)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if not eventually(lambda pid=pid: not process_alive(pid), 5.0):
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"pid {pid} outlived its task")


# -- needs_shell / split_command ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("true", False),
        ("echo hi", False),
        ("python -m pytest tests", False),
        ("  ls   -l\t/tmp ", False),
        ("./build.sh release", False),
        ("make all", False),
        ("echo done fi then", False),  # keywords matter only as the first word
        ("", False),
        ("a | b", True),
        ("a && b", True),
        ("sleep 1 &", True),
        ("a; b", True),
        ("cat < in", True),
        ("echo > out", True),
        ("(cd x)", True),
        ("echo $HOME", True),
        ("echo `date`", True),
        ("echo a\\ b", True),
        ('echo "a b"', True),
        ("echo 'a b'", True),
        ("ls *.py", True),
        ("ls ?.py", True),
        ("ls [ab].py", True),
        ("echo hi # comment", True),
        ("ls ~", True),
        ("FOO=1 make", True),
        ("date +%s", True),
        ("echo a\nb", True),
        ("echo a\rb", True),
        ("! false", True),
        ("echo {a,b}", True),
        ("cd /tmp", True),
        ("export A", True),
        ("source env.sh", True),
        (". env.sh", True),
        ("exit 3", True),
        ("set -e", True),
        ("if", True),
        ("for", True),
        ("while true", True),
        ("ulimit -n", True),
        ("kill 0", True),
    ],
)
def test_needs_shell_only_for_shell_syntax_and_builtins(command: str, expected: bool) -> None:
    assert needs_shell(command) is expected


def test_split_command_execs_simple_strings_and_lists_directly() -> None:
    assert split_command("echo  hi there") == (["echo", "hi", "there"], False)
    assert split_command(["echo", "a | b", "$x"]) == (["echo", "a | b", "$x"], False)
    assert split_command("echo a | wc -c") == ([SHELL, "-c", "echo a | wc -c"], True)


@pytest.mark.parametrize("command", ["", "   ", []])
def test_split_command_rejects_an_empty_command(command: str | list[str]) -> None:
    with pytest.raises(UsageError, match="empty command"):
        split_command(command)


# -- running ---------------------------------------------------------------------------------------------


def test_true_succeeds_and_creates_the_log_with_its_directories(log: Path) -> None:
    outcome = run("true", log)
    assert outcome == ShellOutcome(0, "success", outcome.duration_s, None, None)
    assert outcome.duration_s >= 0
    assert log.read_bytes() == b""


def test_log_holds_stdout_and_stderr_appended(log: Path) -> None:
    log.parent.mkdir(parents=True)
    log.write_text("earlier attempt\n")
    assert run("echo hi", log).status == "success"
    assert run(["sh", "-c", "echo out; echo err >&2"], log).status == "success"
    assert log.read_text() == "earlier attempt\nhi\nout\nerr\n"


def test_shell_pipelines_work(log: Path) -> None:
    assert run("printf 'a\\nb\\nc\\n' | wc -l | tr -d ' '", log).status == "success"
    assert log.read_text() == "3\n"


def test_env_is_exactly_what_is_passed(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGCTL_TEST_LEAK", "leaked")
    run('echo "$GREETING/${DAGCTL_TEST_LEAK:-unset}"', log, env={**ENV, "GREETING": "hello"})
    assert log.read_text() == "hello/unset\n"


def test_cwd_is_honoured(log: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    assert run("pwd", log, cwd=str(workdir)).status == "success"
    assert log.read_text().strip() == os.path.realpath(workdir)


def test_nonzero_exit_fails_with_the_code(log: Path) -> None:
    outcome = run("exit 3", log)
    assert (outcome.status, outcome.exit_code, outcome.error, outcome.signal) == (
        "failed",
        3,
        "exit code 3",
        None,
    )


def test_death_by_signal_is_named(log: Path) -> None:
    outcome = run(["sh", "-c", "kill -USR1 $$"], log)
    assert outcome.status == "failed"
    assert outcome.signal == signal.SIGUSR1
    assert outcome.exit_code == 128 + signal.SIGUSR1
    assert outcome.error == "killed by signal SIGUSR1"


def test_command_not_found_is_a_failed_attempt_with_a_hint(log: Path) -> None:
    outcome = run("no-such-command-dagctl --flag", log)
    assert (outcome.status, outcome.exit_code, outcome.signal) == ("failed", 127, None)
    assert outcome.error == "command not found: no-such-command-dagctl (check PATH or the task's run:)"


def test_command_not_found_inside_the_shell_points_at_the_log(log: Path) -> None:
    outcome = run("no-such-command-dagctl > /dev/null", log)
    assert (outcome.status, outcome.exit_code) == ("failed", 127)
    assert outcome.error is not None and outcome.error.startswith("exit code 127 (the shell could not find")
    assert "no-such-command-dagctl" in log.read_text()


def test_non_executable_file_is_permission_denied(log: Path, tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    outcome = run("./job.sh", log, cwd=str(tmp_path))
    assert (outcome.status, outcome.exit_code) == ("failed", 126)
    assert outcome.error is not None and outcome.error.startswith("permission denied: ./job.sh")


def test_missing_cwd_fails_without_starting(log: Path, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    outcome = run("true", log, cwd=missing)
    assert (outcome.status, outcome.exit_code) == ("failed", None)
    assert outcome.error is not None and outcome.error.startswith(f"cannot enter working directory {missing}")


def test_unwritable_log_is_an_executor_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ExecutorError, match="cannot open task log"):
        run("true", blocker / "task.log")


def test_output_is_streamed_to_the_log_while_running(log: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    cancel = threading.Event()
    task = Background(f"echo first; touch {ready}; sleep 30", log, cancel=cancel)
    assert eventually(ready.exists)
    assert log.read_text() == "first\n"
    assert task.thread.is_alive()
    cancel.set()
    assert task.join().status == "cancelled"


def test_duration_comes_from_the_injected_clock(log: Path) -> None:
    assert run("true", log, clock=FakeClock()).duration_s == 0.0


# -- stopping --------------------------------------------------------------------------------------------


def test_timeout_kills_the_grandchild(log: Path, tmp_path: Path, no_leftovers: list[int]) -> None:
    pidfile = tmp_path / "pid"
    outcome = run(f"sleep 300 & echo $! > {pidfile}; wait", log, timeout=0.3, grace=2.0)
    no_leftovers.append(read_pid(pidfile))
    assert (outcome.status, outcome.error) == ("timeout", "timed out after 0.3s")
    assert (outcome.signal, outcome.exit_code) == (signal.SIGTERM, 143)
    assert 0.3 <= outcome.duration_s < 2.0
    assert not process_alive(no_leftovers[0])


def test_timeout_follows_the_injected_clock(log: Path, tmp_path: Path, no_leftovers: list[int]) -> None:
    pidfile = tmp_path / "pid"
    clock = FakeClock()
    task = Background(f"echo $$ > {pidfile}; exec sleep 300", log, timeout=60.0, clock=clock)
    no_leftovers.append(read_pid(pidfile))
    assert task.thread.is_alive()
    clock.advance(61)
    outcome = task.join()
    assert (outcome.status, outcome.error, outcome.duration_s) == ("timeout", "timed out after 60s", 61.0)


def test_sigterm_ignoring_task_gets_sigkill_after_grace(log: Path, tmp_path: Path, no_leftovers: list[int]) -> None:
    pidfile = tmp_path / "pid"
    outcome = run(f"trap '' TERM; sleep 300 & echo $! > {pidfile}; wait", log, timeout=0.2, grace=0.2)
    no_leftovers.append(read_pid(pidfile))
    assert outcome.status == "timeout"
    assert (outcome.signal, outcome.exit_code) == (signal.SIGKILL, 137)
    assert outcome.error == "timed out after 0.2s; still running 0.2s after SIGTERM, sent SIGKILL"
    assert 0.4 <= outcome.duration_s < 3.0
    assert not process_alive(no_leftovers[0])


def test_cancel_from_another_thread_stops_the_tree_and_sigkills_stubborn_grandchildren(
    log: Path, tmp_path: Path, no_leftovers: list[int]
) -> None:
    pidfile = tmp_path / "pid"
    cancel = threading.Event()
    task = Background(f"(trap '' TERM; exec sleep 300) & echo $! > {pidfile}; wait", log, cancel=cancel, grace=0.2)
    no_leftovers.append(read_pid(pidfile))
    cancel.set()
    outcome = task.join()
    assert outcome.status == "cancelled"
    assert outcome.signal == signal.SIGTERM  # the shell itself went on SIGTERM ...
    assert outcome.error == "cancelled; still running 0.2s after SIGTERM, sent SIGKILL"  # ... its child did not
    assert not process_alive(no_leftovers[0])


def test_kill_now_cuts_the_grace_period_short(log: Path, tmp_path: Path, no_leftovers: list[int]) -> None:
    pidfile = tmp_path / "pid"
    cancel, kill_now = threading.Event(), threading.Event()
    task = Background(
        f"trap '' TERM; echo $$ > {pidfile}; sleep 300", log, cancel=cancel, kill_now=kill_now, grace=60.0
    )
    no_leftovers.append(read_pid(pidfile))
    cancel.set()  # first Ctrl+C: SIGTERM, which this task ignores ...
    assert not eventually(lambda: not task.thread.is_alive(), timeout=0.2)
    kill_now.set()  # ... second Ctrl+C: SIGKILL now, not in 60 s
    outcome = task.join(timeout=5.0)
    assert (outcome.status, outcome.signal) == ("cancelled", signal.SIGKILL)
    assert outcome.error == "cancelled; sent SIGKILL at once"


def test_waiting_works_without_pidfd(log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    assert run("echo hi", log).status == "success"
    assert run("exit 4", log).exit_code == 4
    assert run("sleep 300", log, timeout=0.1).status == "timeout"
    assert log.read_text() == "hi\n"


def test_cancelled_before_start_runs_nothing(log: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    outcome = run("true", log, cancel=cancel)
    assert (outcome.status, outcome.exit_code, outcome.error) == ("cancelled", None, "cancelled before start")
    assert not log.exists()


def test_background_leftovers_of_a_successful_task_are_terminated(
    log: Path, tmp_path: Path, no_leftovers: list[int]
) -> None:
    pidfile = tmp_path / "pid"
    outcome = run(f"sleep 300 & echo $! > {pidfile}", log, grace=2.0)
    no_leftovers.append(read_pid(pidfile))
    assert (outcome.status, outcome.exit_code, outcome.error) == ("success", 0, None)
    assert not process_alive(no_leftovers[0])


def test_interrupt_while_waiting_kills_the_group(log: Path, tmp_path: Path, no_leftovers: list[int]) -> None:
    pidfile = tmp_path / "pid"

    class InterruptOnceStarted(threading.Event):
        def is_set(self) -> bool:
            if pidfile.exists() and pidfile.read_text().strip():
                raise KeyboardInterrupt
            return False

    with pytest.raises(KeyboardInterrupt):
        run(f"sleep 300 & echo $! > {pidfile}; wait", log, cancel=InterruptOnceStarted())
    no_leftovers.append(read_pid(pidfile))
    assert not process_alive(no_leftovers[0])
