"""The local executor's fast path: shell attempts spawned and reaped on the waiting (runner's) thread.

It must keep every promise of ``run_shell``: own session, stdin from /dev/null, output in the log, default
SIGPIPE, no inherited descriptors, the whole group stopped on timeout, cancel or leftovers. Attempts it
cannot take (a ``cwd:``, a program not on PATH) go the ordinary way, with the same errors as before.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagctl.clock import SystemClock
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken
from dagctl.run.executors import spawner
from dagctl.run.executors.spawner import ShellSpawner
from dagctl.run.waker import Waker
from tests.support import process_alive, wait_until

pytestmark = pytest.mark.skipif(not spawner.supported(), reason="needs posix_spawn, pidfds and epoll (Linux)")

ENV = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}


class Harness:
    """A waker, a spawner on it, and a way to wait (on this thread, as the runner does) for results."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.waker = Waker()
        self.spawner = ShellSpawner(self.waker, SystemClock(), ENV)
        self.results: dict[str, AttemptResult] = {}

    def attempt(self, command: str | list[str], task: str = "t", **kw) -> Attempt:
        out = self.tmp / f"{task}.out"
        kw.setdefault("env", {"DAGCTL_OUTPUT": str(out)})
        return Attempt(
            attempt_id=f"r/{task}/1",
            run_id="r",
            dag_name="d",
            task_id=task,
            attempt=1,
            kind="run",
            command=command,
            log_path=str(self.tmp / "logs" / f"{task}.log"),
            output_path=str(out),
            grace=kw.pop("grace", 0.3),
            **kw,
        )

    def start(self, attempt: Attempt, token: CancelToken | None = None) -> bool:
        def done(result: AttemptResult) -> None:
            self.results[attempt.task_id] = result
            self.waker.set()

        return self.spawner.try_start(attempt, token or CancelToken(), done)

    def wait_for(self, task: str = "t", timeout: float = 10.0) -> AttemptResult:
        deadline = SystemClock().monotonic() + timeout
        while task not in self.results:
            remaining = deadline - SystemClock().monotonic()
            assert remaining > 0, f"no result for {task}"
            self.waker.wait(remaining)
            self.waker.clear()
        return self.results[task]

    def run(self, command: str | list[str], **kw) -> tuple[AttemptResult, str]:
        attempt = self.attempt(command, **kw)
        assert self.start(attempt)
        result = self.wait_for(attempt.task_id)
        return result, Path(attempt.log_path).read_text()


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.spawner.close()
    harness.waker.close()


def test_success_output_and_outputs_file(h: Harness) -> None:
    result, log = h.run("sh -c 'echo out; echo err >&2; echo rows=3 > $DAGCTL_OUTPUT'")
    assert result.status == "success" and result.exit_code == 0
    assert log == "out\nerr\n"
    assert result.outputs == {"rows": "3"}


def test_failure_exit_code_and_signal_are_reported_like_run_shell(h: Harness) -> None:
    result, _ = h.run("sh -c 'exit 3'", task="a")
    assert (result.status, result.exit_code, result.error) == ("failed", 3, "exit code 3")
    result, _ = h.run(["sh", "-c", "kill -SEGV $$"], task="b")
    assert (result.status, result.exit_code, result.error) == ("failed", 139, "killed by signal SIGSEGV")


def test_env_is_exactly_base_plus_attempt(h: Harness) -> None:
    result, log = h.run("env", env={"EXTRA": "x y"})
    assert result.ok
    assert sorted(log.splitlines()) == sorted([f"PATH={ENV['PATH']}", "LC_ALL=C", "EXTRA=x y"])


def test_child_leads_its_own_session_with_stdin_from_dev_null(h: Harness) -> None:
    result, log = h.run("sh -c 'cat /proc/self/stat; readlink /proc/self/fd/0'")
    assert result.ok
    stat, stdin = log.splitlines()
    pid, pgrp, session = (int(x) for x in (stat.split(") ")[0].split(" (")[0], *stat.split(") ")[1].split()[2:4]))
    assert pgrp == session != os.getsid(0)
    assert stdin == "/dev/null"
    assert pid != pgrp  # cat is a child of the session leader sh


def test_sigpipe_is_back_at_its_default_for_the_child(h: Harness) -> None:
    result, log = h.run("grep SigIgn /proc/self/status")
    mask = int(log.split()[1], 16)
    assert result.ok
    assert not mask & (1 << (signal.SIGPIPE - 1)), "SIGPIPE is ignored in the task, as Python ignores it"


def test_inheritable_descriptors_of_dagctl_do_not_leak_into_tasks(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, True)
    try:
        harness = Harness(tmp_path)  # created after the fd, as the runner's spawner is
        result, log = harness.run("ls /proc/self/fd")
        harness.spawner.close()
        harness.waker.close()
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert result.ok
    assert str(write_fd) not in log.split()


def test_cwd_and_missing_programs_take_the_ordinary_path(h: Harness, tmp_path: Path) -> None:
    assert not h.start(h.attempt("pwd", cwd=str(tmp_path)))
    assert not h.start(h.attempt("no-such-program-dagctl --x"))
    assert not h.spawner._children


def test_leftovers_of_a_finished_task_are_stopped(h: Harness, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    result, _ = h.run(f"sh -c 'sleep 300 & echo $! > {pidfile}'")
    assert result.ok
    assert not process_alive(int(pidfile.read_text()))


def test_timeout_via_the_token_stops_the_whole_tree(h: Harness, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    token = CancelToken()
    attempt = h.attempt(f"sh -c 'sleep 300 & echo $! > {pidfile}; wait'", timeout=30.0)
    assert h.start(attempt, token)
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), what="sleeper started")
    token.cancel(reason="timeout")  # what the runner does at the task's deadline
    result = h.wait_for()
    assert (result.status, result.error) == ("timeout", "timed out after 30s")
    assert not process_alive(int(pidfile.read_text()))


def test_cancel_from_another_thread_and_kill_now_for_a_stubborn_task(h: Harness, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    token = CancelToken()
    attempt = h.attempt(f"sh -c 'trap \"\" TERM; touch {ready}; while :; do :; done'", grace=60.0)
    assert h.start(attempt, token)
    wait_until(ready.exists, what="task ready")
    threading.Thread(target=token.cancel).start()
    wait_until(lambda: token.is_cancelled, what="cancel requested")
    token.cancel(now=True)  # second Ctrl+C: no waiting out the 60 s grace
    result = h.wait_for(timeout=10.0)
    assert result.status == "cancelled"
    assert "sent SIGKILL at once" in (result.error or "")


def test_close_kills_what_is_still_running(h: Harness, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    assert h.start(h.attempt(f"sh -c 'echo $$ > {pidfile}; exec sleep 300'"))
    pid = int(wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), what="pid written"))
    h.spawner.close()
    wait_until(lambda: not process_alive(pid), what="task killed")
    assert h.wait_for().status == "cancelled"


def test_many_short_tasks_two_at_a_time_all_report_once(h: Harness) -> None:
    pending = [f"t{i}" for i in range(60)]
    running: set[str] = set()
    while pending or running:
        while pending and len(running) < 2:
            task = pending.pop()
            assert h.start(h.attempt("true", task=task))
            running.add(task)
        h.waker.wait(10.0)
        h.waker.clear()
        running -= set(h.results)
    assert len(h.results) == 60 and all(r.ok for r in h.results.values())
    assert not h.spawner._children


# -- the waker on its own ----------------------------------------------------------------------------------


def test_waker_is_an_event_until_it_watches_and_frees_its_descriptors_on_close() -> None:
    waker = Waker()
    assert not waker.wait(0)
    waker.set()
    assert waker.wait(0) and waker.is_set()
    waker.clear()
    read_fd, write_fd = os.pipe()
    seen: list[bytes] = []
    waker.watch(read_fd, lambda: seen.append(os.read(read_fd, 10)))
    before = len(os.listdir("/proc/self/fd"))
    os.write(write_fd, b"hi")
    assert not waker.wait(5.0)  # the callback ran; nobody set the flag
    assert seen == [b"hi"]
    threading.Thread(target=waker.set).start()
    assert waker.wait(5.0)  # a set() from another thread wakes the epoll wait
    waker.close()
    assert len(os.listdir("/proc/self/fd")) == before - 3  # epoll and its pipe
    waker.set()  # still a working flag after close
    assert waker.wait(0)
    os.close(read_fd)
    os.close(write_fd)


def test_waker_set_by_its_own_callback_returns_the_wait_and_clear_leaves_nothing_pending() -> None:
    waker = Waker()
    read_fd, write_fd = os.pipe()

    def on_readable() -> None:
        os.read(read_fd, 10)
        waker.set()  # from the waiting thread itself (how a finished child reports)

    waker.watch(read_fd, on_readable)
    os.write(write_fd, b"x")
    assert waker.wait(5.0)
    waker.clear()
    assert not waker.wait(0.05)  # no stale wake-up left behind
    threading.Thread(target=waker.set).start()  # another thread still wakes it
    assert waker.wait(5.0)
    waker.clear()
    assert not waker.wait(0.05)
    waker.close()
    os.close(read_fd)
    os.close(write_fd)


def test_waker_a_wake_up_byte_that_missed_clear_costs_one_early_return_not_a_busy_loop() -> None:
    """The end state of a set() from another thread racing clear(): a byte in the pipe, none expected."""
    import time

    waker = Waker()
    read_fd, write_fd = os.pipe()
    waker.watch(read_fd, lambda: None)
    waker._written = False
    assert waker._pipe is not None
    os.write(waker._pipe[1], b"\0")
    assert not waker.wait(5.0)  # the stray byte wakes it once (the flag is not set)...
    start = time.monotonic()
    assert not waker.wait(0.05)  # ...and is gone: this wait sleeps its full time
    assert time.monotonic() - start >= 0.04
    waker.close()
    os.close(read_fd)
    os.close(write_fd)


def test_through_the_runner_unusual_commands_fail_with_the_same_words_as_before(tmp_path: Path) -> None:
    """What the fast path cannot start (not found, not executable, no #! line, a cwd:) still runs, or fails
    with run_shell's one-line reasons."""
    import textwrap

    from dagctl.run.api import run_dag
    from dagctl.settings import Settings

    script = tmp_path / "job.sh"
    script.write_text("echo hi\n")
    script.chmod(0o644)
    noshebang = tmp_path / "noshebang"
    noshebang.write_bytes(b"\x00\x01binary-ish")
    noshebang.chmod(0o755)
    dag = tmp_path / "dag.yaml"
    dag.write_text(
        textwrap.dedent(f"""
        name: odd
        tasks:
          - {{id: missing, run: "no-such-command-dagctl --x"}}
          - {{id: not_exec, run: "{script}"}}
          - {{id: no_shebang, run: "{noshebang}"}}
          - {{id: in_dir, run: "pwd", cwd: "{tmp_path}"}}
        """)
    )
    settings = Settings(logs_dir=tmp_path / "logs", events_path=tmp_path / "logs" / "events.jsonl")
    result = run_dag(dag, settings=settings)
    errors = {t.id: t.error for t in result.tasks.values()}
    assert errors["missing"] == "command not found: no-such-command-dagctl (check PATH or the task's run:)"
    assert (errors["not_exec"] or "").startswith(f"permission denied: {script}")
    assert (errors["no_shebang"] or "").startswith(f"cannot execute {noshebang}")
    assert result.tasks["in_dir"].status == "success"
    assert (result.run_dir / "in_dir.log").read_text().strip() == str(tmp_path)


def test_the_child_opens_its_log_and_a_log_it_cannot_open_goes_the_ordinary_way(h: Harness) -> None:
    """The spawned child opens its own log (appending, created 0644, stderr a copy of stdout). A log that
    cannot be opened is not the spawner's to report: it declines, and run_shell's error names the log."""
    from dagctl.errors import ExecutorError
    from dagctl.run.actions.shell import run_shell

    log = Path(h.attempt("true").log_path)
    log.parent.mkdir(parents=True)
    log.write_text("earlier\n")
    result, text = h.run("sh -c 'echo out; echo err >&2'")
    assert result.status == "success" and text == "earlier\nout\nerr\n"
    assert log.stat().st_mode & 0o777 == 0o644 & ~_umask()

    blocked = h.attempt("true", task="blocked")
    Path(blocked.log_path).mkdir()  # a folder where the log should be
    assert not h.start(blocked)
    with pytest.raises(ExecutorError, match="cannot open task log"):
        run_shell(
            "true",
            env=ENV,
            cwd=None,
            log_path=Path(blocked.log_path),
            timeout=None,
            cancel=threading.Event(),
            clock=SystemClock(),
        )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_waker_forget_then_close_stops_callbacks_and_a_reused_fd_number_can_be_watched_again() -> None:
    waker = Waker()
    read_fd, write_fd = os.pipe()
    calls: list[str] = []
    waker.watch(read_fd, lambda: calls.append("old"))
    waker.forget(read_fd)
    os.close(read_fd)  # the kernel drops it from the epoll set: no epoll_ctl needed
    os.close(write_fd)
    new_read, new_write = os.pipe()  # very likely the same fd numbers again
    try:
        waker.watch(new_read, lambda: (calls.append("new"), os.read(new_read, 1)))
        os.write(new_write, b"x")
        waker.wait(1.0)
        assert calls == ["new"]
    finally:
        waker.close()
        os.close(new_read)
        os.close(new_write)


def test_cancel_token_events_made_late_still_see_an_earlier_cancel() -> None:
    early = CancelToken()
    requested = early.requested  # made before the cancel: set by it
    early.cancel(now=True, reason="timeout")
    assert requested.is_set() and early.now.is_set() and early.is_cancelled and early.reason == "timeout"

    late = CancelToken()
    heard: list[str] = []
    late.on_cancel(lambda: heard.append("first"))
    late.cancel(reason="cancelled")
    late.cancel(now=True, reason="ignored: not the first")
    late.on_cancel(lambda: heard.append("after"))  # already cancelled: called at once
    assert late.requested.is_set() and late.now.is_set()  # made after the cancels
    assert late.reason == "cancelled" and heard == ["first", "after"]

    untouched = CancelToken()
    assert not untouched.requested.is_set() and not untouched.now.is_set() and not untouched.is_cancelled
