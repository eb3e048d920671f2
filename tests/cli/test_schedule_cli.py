"""`dagctl schedule`, `schedule list|next`, `backfill` and schedule validation, as a user runs them.

The exactly-once tests start real processes: eight `--once` at once, `--once` alongside `--serve`, and a
`--serve` killed with SIGKILL in the middle of a run and restarted. Each asserts exactly one `run_started`
per slot in the state log. Waits are bounded waits on conditions; every child is killed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support import wait_until as wait_for

WAIT = 30.0


class Proc:
    """A dagctl child process whose stderr is read line by line in a thread."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        full_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "DAGCTL_LOGS_DIR": str(cwd / "logs"),
            "NO_COLOR": "1",
            "SCHED_TICK_MS": "50",
            **(env or {}),
        }
        for key in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
            if key not in (env or {}):
                full_env.pop(key, None)
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "dagctl", *args],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.out: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=lambda: self.out.extend(self.popen.stdout or ()), daemon=True)
        self._out_reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_line(self, text: str, timeout: float = WAIT) -> str:
        with self._changed:
            ok = self._changed.wait_for(
                lambda: any(text in line for line in self.lines) or self.popen.poll() is not None, timeout
            )
            found = [line for line in self.lines if text in line]
        if not ok or not found:
            raise AssertionError(f"no stderr line with {text!r}; got:\n" + "\n".join(self.lines))
        return found[0]

    def finish(self, timeout: float = WAIT) -> tuple[int, str, str]:
        code = self.popen.wait(timeout)
        self._reader.join(timeout)
        self._out_reader.join(timeout)
        return code, "".join(self.out), "\n".join(self.lines)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(WAIT)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()

    @property
    def pid(self) -> int:
        return self.popen.pid


@pytest.fixture
def procs() -> Iterator[Callable[..., Proc]]:
    started: list[Proc] = []

    def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Proc:
        proc = Proc(*args, cwd=cwd, env=env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def state(cwd: Path) -> list[dict]:
    path = cwd / "logs" / "orchestrator_state.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def started_per_slot(cwd: Path) -> Counter[str]:
    return Counter(r["slot"] for r in state(cwd) if r["event"] == "run_started")


STEPS = '''
import threading
from pathlib import Path


def hold(ctx, gate):
    """Wait until the gate file exists or the run is cancelled."""
    tick = threading.Event()
    for _ in range(3000):
        if Path(gate).exists() or ctx.cancelled:
            break
        tick.wait(0.01)
    ctx.raise_if_cancelled()
'''


SCHEDULES = "configs/schedules"
"""The project's schedule folder (shared `project` fixture), as `--dir` is given it from the project folder."""


@pytest.fixture
def dags(project: Path) -> Path:
    """configs/dags/ of the project: note.yaml appends ${logical_date} to ran.txt; hold.yaml waits for `gate`."""
    dags = project / "configs" / "dags"
    (dags / "note.yaml").write_text(
        textwrap.dedent(f"""\
        name: note
        tasks:
          - id: note
            run: echo "${{logical_date}} $(printenv NOTIFY_SOCKET || echo unset)" >> {project / "ran.txt"}
        """)
    )
    (dags / "fail.yaml").write_text("name: fail\ntasks:\n  - {id: f, run: 'exit 3'}\n")
    (dags / "steps.py").write_text(STEPS)
    (dags / "hold.yaml").write_text(
        textwrap.dedent(f"""\
        name: hold
        tasks:
          - id: hold
            python: steps:hold
            params: {{gate: "{project / "gate"}"}}
        """)
    )
    return dags


pytestmark = pytest.mark.usefixtures("dags")  # every test here runs in a project with these DAGs


def write_schedules(project: Path, text: str, name: str = "s.yaml") -> Path:
    path = project / SCHEDULES / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


# ------------------------------------------------------------------------------------------ exactly once


def test_eight_once_processes_at_the_same_time_run_each_slot_once(project: Path, procs) -> None:
    write_schedules(
        project,
        """
        - {id: a, cron: "* * * * *", dag: ../dags/note.yaml}
        - {id: b, cron: "*/5 * * * *", dag: ../dags/note.yaml, overlap: allow}
        """,
    )
    started = [
        procs("schedule", "--dir", SCHEDULES, "--once", "--now", "2026-03-08T07:05:30Z", cwd=project) for _ in range(8)
    ]
    codes = [p.finish()[0] for p in started]
    assert codes == [0] * 8
    assert started_per_slot(project) == {"a@2026-03-08T07:05:00Z": 1, "b@2026-03-08T07:05:00Z": 1}
    assert sorted((project / "ran.txt").read_text().split()) == ["2026-03-08T07:05:00+00:00"] * 2 + ["unset"] * 2
    enqueued = [r for r in state(project) if r["event"] == "schedule_enqueued"]
    assert len(enqueued) == 2 and {r["claimed_by"]["pid"] for r in enqueued} <= {p.pid for p in started}


def test_once_alongside_serve_runs_each_slot_once(project: Path, procs) -> None:
    write_schedules(project, '- {id: a, cron: "* * * * *", dag: ../dags/note.yaml}\n')
    serve = procs("schedule", "--dir", SCHEDULES, "--serve", cwd=project)
    racing = [procs("schedule", "--dir", SCHEDULES, "--once", "--now", now_iso(), cwd=project) for _ in range(3)]
    serve.wait_line("scheduler ready")
    later = [procs("schedule", "--dir", SCHEDULES, "--once", "--now", now_iso(), cwd=project) for _ in range(2)]
    assert [p.finish()[0] for p in racing + later] == [0] * 5
    wait_for(lambda: sum(1 for r in state(project) if r["event"] == "run_finished") >= 1)
    serve.popen.send_signal(signal.SIGTERM)
    code, _out, err = serve.finish()
    assert code == 0, err
    counts = started_per_slot(project)
    assert counts and set(counts.values()) == {1}, counts


def test_serve_killed_mid_run_and_restarted_does_not_run_the_slot_again(project: Path, procs) -> None:
    write_schedules(project, '- {id: h, cron: "* * * * *", dag: ../dags/hold.yaml}\n')
    first = procs("schedule", "--dir", SCHEDULES, "--serve", cwd=project)
    wait_for(lambda: started_per_slot(project))
    (killed_slot,) = started_per_slot(project)
    first.popen.send_signal(signal.SIGKILL)
    first.finish()
    second = procs("schedule", "--dir", SCHEDULES, "--serve", "--grace", "5s", cwd=project)
    second.wait_line("scheduler ready")
    wait_for(lambda: any(r["event"] == "run_finished" and r["slot"] == killed_slot for r in state(project)))
    (project / "gate").touch()  # let any run of a later minute finish
    second.popen.send_signal(signal.SIGTERM)
    code, _out, err = second.finish()
    assert code == 0, err
    lost = [r for r in state(project) if r["event"] == "run_finished" and r["slot"] == killed_slot]
    assert [r["status"] for r in lost] == ["lost"]
    assert f"pid {first.pid}" in lost[0]["error"]
    counts = started_per_slot(project)
    assert counts[killed_slot] == 1 and set(counts.values()) == {1}, counts


# ------------------------------------------------------------------------------------ serve behaviour


def test_sighup_reloads_and_a_broken_file_keeps_its_last_good_version(project: Path, procs) -> None:
    a = write_schedules(project, '- {id: a, cron: "0 0 1 1 *", dag: ../dags/note.yaml}\n', "a.yaml")
    b = write_schedules(project, '- {id: b, cron: "* * * * *", dag: ../dags/note.yaml, enabled: false}\n', "b.yaml")
    serve = procs("schedule", "--dir", SCHEDULES, "--serve", cwd=project)
    serve.wait_line("scheduler ready: 2 schedules")
    # Same size, same inode, same mtime: only SIGHUP can tell the scheduler that b is now enabled.
    stat = b.stat()
    with open(b, "r+") as fh:
        fh.write(b.read_text().replace("enabled: false", "enabled: true "))
    os.utime(b, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    serve.popen.send_signal(signal.SIGHUP)
    try:
        wait_for(lambda: any(slot.startswith("b@") for slot in started_per_slot(project)))
    except AssertionError:
        raise AssertionError("\n".join(serve.lines) + "\n" + json.dumps(state(project))) from None
    broken = a.with_name("a.yaml.tmp")
    broken.write_text('- {id: a, cron: "0 0 * * * *", dag: ../dags/note.yaml}\n')
    os.replace(broken, a)  # noticed without SIGHUP; replaced whole, so no half-written state is seen
    line = serve.wait_line("has 6 fields")
    assert line.endswith(
        f"ERROR {SCHEDULES}/a.yaml:1:17: schedule 'a': cron: '0 0 * * * *' has 6 fields, which is "
        "ambiguous (seconds or year?) — use 5 fields: minute hour day-of-month month day-of-week"
    )
    serve.wait_line("broken files keep their last good version")
    serve.popen.send_signal(signal.SIGTERM)
    code, _out, err = serve.finish()
    assert code == 0
    # SIGHUP reloads (the edit itself may be noticed too, in the instant before utime restores the mtime),
    # and the broken file is reported while the last good version of it stays active.
    reloads = [line for line in err.splitlines() if "schedules reloaded" in line]
    assert len(reloads) >= 2 and all(line.endswith("schedules reloaded: 2 active") for line in reloads), err
    assert "schedules reloaded: 2 active" in err.split("broken files keep their last good version", 1)[1], err


def test_a_reload_reads_the_metrics_textfile_setting_again_and_keeps_it_when_broken(project: Path, procs) -> None:
    write_schedules(project, '- {id: a, cron: "0 0 1 1 *", dag: ../dags/note.yaml}\n')
    serve = procs("schedule", "--dir", SCHEDULES, "--serve", cwd=project)
    serve.wait_line("scheduler ready")
    (project / "dagctl.yaml").write_text("metrics_textfile: metrics/scheduler.prom\n")
    serve.popen.send_signal(signal.SIGHUP)
    serve.wait_line(f"metrics_textfile: {project / 'metrics' / 'scheduler.prom'}")
    assert "dagctl_schedule_enabled" in (project / "metrics" / "scheduler.prom").read_text()
    (project / "dagctl.yaml").write_text("metrics_textfile: [a, b]\n")
    serve.popen.send_signal(signal.SIGHUP)
    line = serve.wait_line("metrics_textfile kept")
    assert "metrics_textfile: must be a file path, got a list" in line
    assert line.endswith(f"metrics_textfile kept: {project / 'metrics' / 'scheduler.prom'}")
    serve.popen.send_signal(signal.SIGTERM)
    code, _out, err = serve.finish()
    assert code == 0, err


def test_a_second_serve_is_refused_and_says_who_holds_the_lock(project: Path, procs) -> None:
    write_schedules(project, '- {id: a, cron: "0 0 1 1 *", dag: ../dags/note.yaml}\n')
    first = procs("schedule", "--dir", SCHEDULES, "--serve", cwd=project)
    first.wait_line("scheduler ready")
    second = procs("schedule", "--dir", SCHEDULES, "--serve", cwd=project)
    code, _out, err = second.finish()
    assert code == 3
    assert (
        f"dagctl: error: another dagctl schedule --serve already uses {project / 'logs'}: held by pid "
        f"{first.pid} on {socket.gethostname()}, started " in err
    )
    assert f"with --dir {SCHEDULES}" in err
    first.popen.send_signal(signal.SIGINT)
    assert first.finish()[0] == 0


def test_serve_speaks_sd_notify_and_hides_the_socket_from_tasks(project: Path, procs) -> None:
    write_schedules(project, '- {id: a, cron: "* * * * *", dag: ../dags/note.yaml}\n')
    name = f"dagctl-test-{secrets.token_hex(4)}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(b"\0" + name.encode())  # the abstract namespace, as systemd's @ addresses
    server.settimeout(WAIT)
    messages: list[str] = []
    try:
        serve = procs(
            "schedule",
            "--dir",
            SCHEDULES,
            "--serve",
            cwd=project,
            env={"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "200000"},
        )
        while messages.count("WATCHDOG=1") < 3:
            messages.append(server.recv(4096).decode())
        wait_for(lambda: (project / "ran.txt").exists())
        serve.popen.send_signal(signal.SIGTERM)
        while not messages[-1].startswith("STOPPING=1"):
            messages.append(server.recv(4096).decode())
        assert serve.finish()[0] == 0
    finally:
        server.close()
    assert messages[0].startswith("READY=1\nSTATUS=1 schedules")
    assert (project / "ran.txt").read_text().split()[1] == "unset"  # tasks do not inherit NOTIFY_SOCKET


def test_serve_stop_waits_for_running_dags_then_cancels_them_after_grace(project: Path, procs) -> None:
    write_schedules(project, '- {id: h, cron: "* * * * *", dag: ../dags/hold.yaml}\n')
    serve = procs("schedule", "--dir", SCHEDULES, "--serve", "--grace", "0.3s", cwd=project)
    wait_for(lambda: started_per_slot(project))
    serve.popen.send_signal(signal.SIGTERM)
    code, _out, err = serve.finish()
    assert code == 0, err
    (finished,) = [r for r in state(project) if r["event"] == "run_finished"]
    assert finished["status"] == "cancelled"
    assert "grace period of 0.3s is over" in err


# ------------------------------------------------------------------------------------- --once in-process


def test_once_exit_codes(cli, project: Path) -> None:
    ok = write_schedules(project, '- {id: a, cron: "* * * * *", dag: ../dags/note.yaml}\n', "ok.yaml")
    assert cli("schedule", "--dir", str(ok), "--once", "--now", "2026-01-01T00:00:10Z").code == 0
    bad_run = write_schedules(project, '- {id: f, cron: "* * * * *", dag: ../dags/fail.yaml}\n', "f.yaml")
    result = cli("schedule", "--dir", str(bad_run), "--once", "--now", "2026-01-01T00:00:10Z")
    assert result.code == 1 and "finished f@2026-01-01T00:00:00Z" in result.err
    broken = write_schedules(project, '- {id: x, cron: "@reboot", dag: ../dags/note.yaml}\n', "broken.yaml")
    result = cli("schedule", "--dir", str(broken), "--once")
    assert result.code == 2 and result.err.startswith(f"{broken}:1:17: schedule 'x': cron: '@reboot'")
    result = cli("schedule", "--dir", str(ok), "--once", "--now", "2026-01-01T00:00")
    assert result.code == 2 and "has no UTC offset" in result.err
    assert cli("schedule", "--dir", str(ok)).code == 2
    assert cli("schedule", "--dir", str(project / "nope"), "--once").code == 2


def test_once_now_ahead_of_the_clock_warns_that_its_claims_are_real(cli, project: Path) -> None:
    ok = write_schedules(project, '- {id: a, cron: "0 0 1 1 *", dag: ../dags/note.yaml}\n', "ok.yaml")
    past = cli("schedule", "--dir", str(ok), "--once", "--now", "2026-01-01T00:00:10Z")
    assert past.code == 0 and "warning" not in past.err
    ahead = cli("schedule", "--dir", str(ok), "--once", "--now", "2999-01-01T00:00:10Z")
    assert ahead.code == 0
    assert "dagctl: warning: --now is " in ahead.err and "ahead of the clock" in ahead.err
    assert "STATE_STORE_PATH" in ahead.err


def test_an_unusable_state_store_is_an_environment_problem(cli, project: Path, monkeypatch) -> None:
    ok = write_schedules(project, '- {id: a, cron: "* * * * *", dag: ../dags/note.yaml}\n')
    monkeypatch.setenv("STATE_STORE_PATH", "/dev/null/state.jsonl")
    result = cli("schedule", "--dir", str(ok), "--once")
    assert result.code == 3
    expected = "dagctl: error: cannot write /dev/null/state.jsonl (STATE_STORE_PATH): Not a directory"
    assert result.err.startswith(expected)


def test_schedule_list_shows_next_fire_and_last_run(cli, project: Path) -> None:
    write_schedules(
        project,
        """
        - {id: nightly, cron: "30 2 * * *", timezone: America/New_York, dag: ../dags/note.yaml}
        - {id: paused, cron: "@hourly", dag: ../dags/note.yaml, enabled: false}
        """,
    )
    assert cli("schedule", "--dir", str(project / SCHEDULES), "--once", "--now", "2026-03-08T07:00:30Z").code == 0
    result = cli("schedule", "list", "--dir", str(project / SCHEDULES))
    assert result.code == 0, result
    header, nightly, paused = result.out.splitlines()
    assert header.split() == ["ID", "CRON", "TIMEZONE", "ENABLED", "NEXT", "FIRE", "LAST", "RUN", "STATUS"]
    assert nightly.split()[:7] == ["nightly", "30", "2", "*", "*", "*", "America/New_York"]
    assert nightly.split()[-1] == "success" and ":30:00-0" in nightly
    assert paused.split()[-3:] == ["-", "-", "-"] and " no " in paused
    data = json.loads(cli("schedule", "--dir", str(project / SCHEDULES), "list", "--json").out)
    assert data[0]["last_run"]["slot"] == "nightly@2026-03-08T07:00:00Z" and data[1]["next_fire"] is None


def test_schedule_list_now_shows_what_a_tick_then_would_see_next(cli, project: Path) -> None:
    """`schedule --once` takes --now to try a night the clocks change; `schedule list` had no way to look there."""
    write_schedules(
        project, '- {id: nightly, cron: "30 2 * * *", timezone: America/New_York, dag: ../dags/note.yaml}\n'
    )
    where = ("--dir", str(project / SCHEDULES))
    data = json.loads(cli("schedule", "list", *where, "--now", "2026-03-08T05:00:00Z", "--json").out)
    assert data[0]["next_fire"] == "2026-03-08T03:00:00-04:00"  # 02:30 does not exist that night: at the jump
    data = json.loads(cli("schedule", "list", *where, "--now", "2026-03-08T08:00:00-05:00", "--json").out)
    assert data[0]["next_fire"] == "2026-03-09T02:30:00-04:00"
    bad = cli("schedule", "list", *where, "--now", "tomorrow")
    assert bad.code == 2 and "--now 'tomorrow' is not an ISO-8601 time" in bad.err


def test_schedule_next_prints_iso_times_with_dst_offsets(cli, project: Path) -> None:
    write_schedules(
        project, '- {id: nightly, cron: "30 2 * * *", timezone: America/New_York, dag: ../dags/note.yaml}\n'
    )
    result = cli(
        "schedule", "next", "nightly", "--dir", str(project / SCHEDULES), "--after", "2026-03-06", "--count", "4"
    )
    assert result.code == 0, result
    assert result.out.splitlines() == [
        "2026-03-06T02:30:00-05:00",
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]
    result = cli(
        "schedule",
        "next",
        "--cron",
        "@hourly",
        "--tz",
        "America/New_York",
        "--after",
        "2026-11-01T00:30:00-04:00",
        "-n",
        "3",
        "--json",
    )
    data = json.loads(result.out)
    assert data["next"] == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"]
    assert data["next_utc"] == ["2026-11-01T05:00:00.000Z", "2026-11-01T06:00:00.000Z", "2026-11-01T07:00:00.000Z"]
    assert cli("schedule", "next", "--cron", "0 0 * * * *").code == 2
    result = cli("schedule", "next", "nightlly", "--dir", str(project / SCHEDULES))
    assert result.code == 2 and "did you mean 'nightly'?" in result.err


def test_backfill_runs_the_range_oldest_first_skipping_slots_already_run(cli, project: Path) -> None:
    folder = str(project / SCHEDULES)
    write_schedules(project, '- {id: h, cron: "0 */6 * * *", dag: ../dags/note.yaml}\n')
    assert cli("schedule", "--dir", folder, "--once", "--now", "2026-01-01T06:00:05Z").code == 0
    result = cli(
        "backfill",
        "h",
        "--dir",
        folder,
        "--start",
        "2026-01-01T00:00:00Z",
        "--end",
        "2026-01-01T18:00:00Z",
        "--dry-run",
    )
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0] == "2026-01-01T00:00:00+00:00  would run"
    assert lines[1].startswith("2026-01-01T06:00:00+00:00  skipped  already ran: run 2026") and "success" in lines[1]
    assert lines[2:] == ["2026-01-01T12:00:00+00:00  would run", "2026-01-01T18:00:00+00:00  would run"]
    assert "4 slots, 3 to run, 1 already ran (dry run)" in result.err
    result = cli("backfill", "h", "--dir", folder, "--start", "2026-01-01", "--end", "2026-01-01T18:00")
    assert result.code == 0, result
    assert [line.split()[1] for line in result.out.splitlines()] == ["success", "skipped", "success", "success"]
    assert (project / "ran.txt").read_text().split()[::2] == [
        "2026-01-01T06:00:00+00:00",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T12:00:00+00:00",
        "2026-01-01T18:00:00+00:00",
    ]
    again = cli("backfill", "h", "--dir", folder, "--start", "2026-01-01", "--end", "2026-01-01T18:00")
    assert [line.split()[1] for line in again.out.splitlines()] == ["skipped"] * 4
    assert cli("backfill", "h", "--dir", folder, "--start", "2026-01-01", "--end", "2999-01-01").code == 2


# ------------------------------------------------------------------------------------------ validation


def test_validate_reports_each_bad_schedule_input_at_file_line_col(cli, project: Path, dags: Path) -> None:
    path = write_schedules(
        project,
        """
        - id: six
          cron: "0 0 * * * *"
          dag: ../dags/note.yaml
        - id: reboot
          cron: "@reboot"
          dag: ../dags/note.yaml
        - id: feb30
          cron: "0 0 30 2 *"
          dag: ../dags/note.yaml
        - id: zone
          cron: "0 9 * * *"
          timezone: America/New_Yrok
          dag: ../dags/note.yaml
        - id: nodag
          cron: "0 9 * * *"
          dag: ../dags/missing.yaml
        - id: zone
          cron: "0 9 * * *"
          dag: ../dags/note.yaml
        - id: params
          cron: "0 9 * * *"
          dag: ../dags/note.yaml
          params: {rows: 3}
        """,
    )
    unquoted = write_schedules(project, "- id: star\n  cron: */5 * * * *\n  dag: ../dags/note.yaml\n", "star.yaml")
    result = cli("validate", str(project / SCHEDULES), str(dags))
    assert result.code == 2
    lines = result.err.splitlines()
    expected = [
        f"{path}:2:9: schedule 'six': cron: '0 0 * * * *' has 6 fields, which is ambiguous",
        f"{path}:5:9: schedule 'reboot': cron: '@reboot' is not supported: dagctl has no boot event — start the job "
        "from a systemd unit",
        f"{path}:8:9: schedule 'feb30': cron: day-of-month '30' never occurs in February",
        f"{path}:12:13: schedule 'zone': timezone: unknown timezone 'America/New_Yrok' — did you mean "
        "'America/New_York'?",
        f"{path}:16:8: schedule 'nodag': DAG file '../dags/missing.yaml' not found",
        f"{path}:17:7: duplicate schedule id 'zone' (first defined at {path}:10:7)",
        f"{path}:23:11: schedule 'params' params: unknown param 'rows' for DAG 'note'",
        f"{unquoted}:2:10: invalid YAML: did not find expected alphabetic or numeric character (in the cron "
        'expression) — quote the cron expression, e.g. cron: "*/5 * * * *"',
    ]
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, lines)
    assert lines[-1] == f"{len(expected)} problems in 2 files (5 checked)"


def test_validate_warns_of_a_schedule_that_fires_less_than_once_a_year(cli, project: Path, dags: Path) -> None:
    path = write_schedules(
        project,
        """
        - id: leap
          cron: "0 3 29 2 *"
          dag: ../dags/note.yaml
        - id: daily
          cron: "0 3 * * *"
          dag: ../dags/note.yaml
        """,
    )
    result = cli("validate", str(path))
    assert result.code == 0, result  # valid: a warning never fails validation
    [line] = result.err.splitlines()
    assert line.startswith(
        f"{path}:2:9: warning: schedule 'leap': cron '0 3 29 2 *' fires less than once a year: next on "
    )
    assert line.count("-02-29 03:00") == 2 and line.endswith(
        "(UTC) — if that is not meant, check its day-of-month, month and day-of-week fields"
    )
    as_json = json.loads(cli("validate", str(path), "--json").out)
    assert as_json["valid"] is True and as_json["problems"] == []
    assert [(w["line"], w["column"]) for w in as_json["warnings"]] == [(2, 9)]
    assert "fires less than once a year" in as_json["warnings"][0]["message"]
    quiet = cli("validate", str(path), "-q")
    assert quiet.code == 0 and quiet.err == ""


TYPED = """\
name: typed
params:
  rows: {type: int, max: 1000, default: 10}
  mode: {enum: [full, quick], default: full}
  day: {type: date, required: true}
tasks:
  - {id: a, run: "echo ${params.rows} >> ran.txt"}
"""


def typed_schedules(project: Path) -> Path:
    (project / "configs" / "dags" / "typed.yaml").write_text(TYPED)
    return write_schedules(
        project,
        """
        - id: unknown
          cron: "* * * * *"
          dag: ../dags/typed.yaml
          params: {nope: 1, day: 2026-01-01}
        - id: too_many
          cron: "* * * * *"
          dag: ../dags/typed.yaml
          params: {rows: 5000, mode: slow, day: 2026-01-01}
        - id: no_day
          cron: "* * * * *"
          dag: ../dags/typed.yaml
        """,
    )


def test_validate_reports_every_schedule_param_the_run_would_refuse_at_its_value(cli, project: Path) -> None:
    path = typed_schedules(project)
    result = cli("validate", str(path))
    assert result.code == 2, result
    assert result.err.splitlines() == [
        f"{path}:4:11: schedule 'unknown' params: unknown param 'nope' for DAG 'typed' — declare it under params: "
        "(known: rows, mode, day)",
        f"{path}:8:18: schedule 'too_many' params: param 'rows' must be at most 1000, got 5000 for DAG 'typed' — "
        "write rows: 1000 or less under params:",
        f"{path}:8:30: schedule 'too_many' params: param 'mode' must be one of full, quick, got 'slow' for DAG "
        "'typed' — write e.g. mode: full under params:",
        f"{path}:9:7: schedule 'no_day' params: param 'day' is required for DAG 'typed' — write it, e.g. "
        "day: 2026-12-06 under params:",
        "4 problems in 1 file (1 checked)",
    ]
    # the same words as the run of that schedule would fail with
    run = cli("run", str(project / "configs" / "dags" / "typed.yaml"), "-p", "rows=5000", "-p", "day=2026-01-01")
    assert run.err == "dagctl: error: param 'rows' must be at most 1000, got '5000' — pass -p rows=1000 or less\n"


def test_once_runs_nothing_when_a_schedule_passes_params_its_dag_refuses(cli, project: Path) -> None:
    path = typed_schedules(project)
    result = cli("schedule", "--dir", str(path), "--once", "--now", "2026-01-01T00:00:10Z")
    assert result.code == 2, result
    assert result.err.splitlines()[1].startswith(f"{path}:8:18: schedule 'too_many' params: param 'rows' must be")
    assert state(project) == [] and not (project / "ran.txt").exists()
    assert not (project / "logs" / "runs").exists()  # no folder made for runs that will not happen


def test_once_runs_schedules_whose_params_fit_the_dag(cli, project: Path) -> None:
    (project / "configs" / "dags" / "typed.yaml").write_text(TYPED)
    ok = write_schedules(
        project,
        '- {id: t, cron: "* * * * *", dag: ../dags/typed.yaml, params: {rows: "1000", day: 2026-01-01}}\n',
    )
    result = cli("schedule", "--dir", str(ok), "--once", "--now", "2026-01-01T00:00:10Z")
    assert result.code == 0, result
    assert (project / "ran.txt").read_text() == "1000\n"


def test_the_repositorys_schedules_validate(cli) -> None:
    result = cli("validate", str(ROOT / "configs" / "schedules"))
    assert result.code == 0 and result.err == "", result


def test_help_has_examples(cli) -> None:
    for args in (
        ("schedule", "--help"),
        ("schedule", "list", "--help"),
        ("schedule", "next", "--help"),
        ("backfill", "--help"),
    ):
        result = cli(*args)
        assert result.code == 0 and "Examples:" in result.out, args
