"""The runner as an operator relies on it: order, data between tasks, retries, timeouts, rules, cancel."""

from __future__ import annotations

import json
import os
import textwrap
import threading
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.errors import UsageError
from dagctl.run.api import run_dag
from dagctl.run.executors.inline import InlineExecutor
from dagctl.run.state import RunControl
from dagctl.settings import Settings
from dagctl.store.sinks import MemorySink
from tests.support import process_alive as _alive
from tests.support import wait_until


@pytest.fixture
def dagrun(tmp_path: Path):
    """Write a DAG and run it: dagrun(yaml, **run_dag kwargs) -> (result, sink)."""

    def _run(text: str, **kwargs):
        path = tmp_path / "dag.yaml"
        path.write_text(textwrap.dedent(text).lstrip())
        sink = MemorySink()
        settings = Settings(
            logs_dir=tmp_path / "logs", events_path=tmp_path / "logs" / "events.jsonl", grace_s=kwargs.pop("grace", 0.5)
        )
        result = run_dag(path, sinks=[sink], settings=settings, **kwargs)
        return result, sink

    return _run


def statuses(result) -> dict[str, str]:
    return {t.id: t.status for t in result.tasks.values()}


def test_outputs_flow_downstream_through_templates_and_output_file(dagrun):
    result, _sink = dagrun("""
        name: flow
        params: {greeting: hello}
        tasks:
          - id: produce
            run: echo "word=${params.greeting}" > "$DAGCTL_OUTPUT"
          - id: consume
            depends_on: produce
            run: echo "got ${outputs.produce.word}" && echo "len=${outputs.produce.word}" > "$DAGCTL_OUTPUT"
        """)
    assert result.status == "success", result.summary()
    assert result.tasks["produce"].outputs == {"word": "hello"}
    assert (result.run_dir / "consume.log").read_text() == "got hello\n"
    assert json.loads((result.run_dir / "outputs" / "produce.json").read_text()) == {"word": "hello"}
    assert (result.run_dir / "dag.yaml").exists()
    assert result.exit_code == 0


def test_shell_values_from_outputs_cannot_inject(dagrun, tmp_path):
    marker = tmp_path / "pwned"
    result, _ = dagrun(f"""
        name: inject
        tasks:
          - id: evil
            run: echo 'x={"$"}(touch {marker}); y' > "$DAGCTL_OUTPUT"
          - id: victim
            depends_on: evil
            run: echo ${{outputs.evil.x}}
        """)
    assert result.status == "success", result.summary()
    assert not marker.exists()
    assert (result.run_dir / "victim.log").read_text() == f"$(touch {marker}); y\n"


def test_argv_list_takes_values_verbatim_as_single_arguments(dagrun):
    result, _ = dagrun("""
        name: argv
        params: {arg: "two words; and more"}
        tasks:
          - id: a
            run: [printf, "<%s>", "${params.arg}"]
        """)
    assert result.status == "success", result.summary()
    assert (result.run_dir / "a.log").read_text() == "<two words; and more>"


def test_retries_back_off_exponentially_and_record_each_retry(dagrun, tmp_path):
    counter = tmp_path / "count"
    clock = FakeClock()
    result, sink = dagrun(
        f"""
        name: flaky
        tasks:
          - id: flaky
            run: n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; [ $n -ge 3 ]
            retries: 3
            retry_delay: 10s
            backoff: 3
        """,
        executor=InlineExecutor(),
        clock=clock,
    )
    assert result.status == "success"
    retries = sink.of("task_retry")
    assert [(e.attempt, e.delay_s) for e in retries] in (
        [(1, pytest.approx(10, rel=0.11)), (2, pytest.approx(30, rel=0.11))],
    )
    assert result.tasks["flaky"].attempt == 3
    assert (result.run_dir / "flaky@3.log").exists()


def test_failed_task_does_not_stop_unrelated_branches_and_skips_propagate(dagrun):
    result, sink = dagrun("""
        name: branches
        tasks:
          - {id: bad, run: "exit 3"}
          - {id: after_bad, run: "true", depends_on: bad}
          - {id: after_after, run: "true", depends_on: after_bad}
          - {id: good, run: "true"}
          - {id: after_good, run: "true", depends_on: good}
        """)
    assert statuses(result) == {
        "bad": "failed",
        "after_bad": "skipped",
        "after_after": "skipped",
        "good": "success",
        "after_good": "success",
    }
    assert result.tasks["bad"].exit_code == 3
    assert result.tasks["after_bad"].reason == "upstream 'bad' failed"
    assert result.tasks["after_after"].reason == "upstream 'after_bad' skipped"
    assert result.status == "failed" and result.exit_code == 1
    done = sink.of("dag_done")[0]
    assert (done.tasks_succeeded, done.tasks_failed, done.tasks_skipped) == (2, 1, 2)


def test_trigger_rules_express_cleanup_fallback_and_joins(dagrun):
    result, _ = dagrun("""
        name: rules
        tasks:
          - {id: main, run: "exit 1"}
          - {id: cleanup, run: "true", depends_on: main, trigger_rule: all_done}
          - {id: alert, run: "true", depends_on: main, trigger_rule: one_failed}
          - {id: only_if_failed, run: "true", depends_on: main, trigger_rule: all_failed}
          - {id: normal, run: "true", depends_on: main}
          - {id: join, run: "true", depends_on: [cleanup, normal], trigger_rule: none_failed}
          - {id: ok, run: "true"}
          - {id: any_ok, run: "true", depends_on: [main, ok], trigger_rule: one_success}
        """)
    assert statuses(result) == {
        "main": "failed",
        "cleanup": "success",
        "alert": "success",
        "only_if_failed": "success",
        "normal": "skipped",
        "join": "success",
        "ok": "success",
        "any_ok": "success",
    }


def test_when_conditions_skip_with_the_reason(dagrun):
    result, _sink = dagrun("""
        name: cond
        params: {env: dev}
        tasks:
          - id: check
            run: echo "count=0" > "$DAGCTL_OUTPUT"
          - id: deploy
            run: "true"
            when: params.env == "prod"
          - id: process
            run: "true"
            depends_on: check
            when: outputs.check.count > 0
          - id: always_on
            run: "true"
            depends_on: check
            when: outputs.check.count == 0 and params.env != "prod"
        """)
    assert statuses(result) == {"check": "success", "deploy": "skipped", "process": "skipped", "always_on": "success"}
    assert result.tasks["deploy"].reason == 'when: params.env == "prod" is false'
    assert result.status == "success"


def test_params_override_and_unknown_param_is_an_error(dagrun):
    result, _ = dagrun(
        """
        name: p
        params: {rows: 10}
        tasks:
          - {id: a, run: "echo rows=${params.rows}"}
        """,
        params={"rows": "25"},
    )
    assert (result.run_dir / "a.log").read_text() == "rows=25\n"
    with pytest.raises(UsageError, match=r"unknown param 'rwos'.*did you mean 'rows'"):
        dagrun("name: p\nparams: {rows: 10}\ntasks:\n  - {id: a, run: 'true'}\n", params={"rwos": "1"})


def test_ready_queue_prefers_the_longest_remaining_path(dagrun):
    _result, sink = dagrun("""
        name: prio
        options: {parallelism: 1}
        tasks:
          - {id: short, run: "true"}
          - {id: long1, run: "true"}
          - {id: long2, run: "true", depends_on: long1}
          - {id: long3, run: "true", depends_on: long2}
        """)
    starts = [e.task_id for e in sink.of("task_start")]
    assert starts == ["long1", "long2", "short", "long3"]  # short ties with long3 (one task left each)


def test_a_task_starts_as_soon_as_its_own_upstream_is_done_not_level_by_level(dagrun, tmp_path):
    gate = tmp_path / "gate"
    result, sink = dagrun(f"""
        name: eager
        options: {{parallelism: 2}}
        tasks:
          - id: slow
            run: while [ ! -e {gate} ]; do sleep 0.01; done
            timeout: 20s
          - {{id: fast, run: "true"}}
          - id: after_fast
            run: touch {gate}
            depends_on: fast
        """)
    assert result.status == "success", result.summary()
    order = [(e.kind, e.task_id) for e in sink.events if getattr(e, "task_id", "")]
    assert order.index(("task_start", "after_fast")) < order.index(("task_ok", "slow"))


def test_task_timeout_kills_the_process_tree(dagrun, tmp_path):
    pidfile = tmp_path / "pid"
    result, sink = dagrun(
        f"""
        name: slow
        tasks:
          - id: hang
            run: sleep 300 & echo $! > {pidfile}; wait
            timeout: 0.5s
        """,
        grace=0.2,
    )
    assert statuses(result) == {"hang": "failed"}
    fail = sink.of("task_fail")[0]
    assert fail.status == "timeout"
    assert "timed out after 0.5s" in fail.error
    pid = int(pidfile.read_text())
    assert not _alive(pid)


def test_whole_run_timeout_stops_the_run(dagrun):
    result, _sink = dagrun(
        """
        name: slowrun
        tasks:
          - {id: hang, run: "sleep 30"}
          - {id: later, run: "true", depends_on: hang}
        """,
        timeout=0.3,
        grace=0.2,
    )
    assert result.status == "failed"
    assert result.error == "run timed out after 0.3s"
    assert statuses(result) == {"hang": "cancelled", "later": "cancelled"}


def test_fail_fast_stops_everything_at_the_first_failure(dagrun):
    result, _ = dagrun(
        """
        name: ff
        options: {parallelism: 2}
        tasks:
          - {id: slow, run: "sleep 30"}
          - {id: bad, run: "sleep 0.1; exit 1"}
          - {id: later, run: "true", depends_on: slow}
        """,
        fail_fast=True,
        grace=0.2,
    )
    assert statuses(result) == {"slow": "cancelled", "bad": "failed", "later": "cancelled"}
    assert result.error == "stopped after task 'bad' failed (--fail-fast)"
    assert result.exit_code == 1


def test_cancel_from_another_thread_terminates_running_tasks(dagrun, tmp_path):
    started = tmp_path / "started"
    control = RunControl()
    pidfile = tmp_path / "pid"

    def cancel_when_started() -> None:
        ready = threading.Event()
        for _ in range(500):
            if started.exists() and pidfile.exists() and pidfile.read_text().strip():
                break
            ready.wait(0.01)
        control.cancel("interrupted by SIGINT", signal=2)

    threading.Thread(target=cancel_when_started, daemon=True).start()
    result, sink = dagrun(
        f"""
        name: cancel
        tasks:
          - id: work
            run: sleep 300 & echo $! > {pidfile}; touch {started}; wait
          - {{id: next, run: "true", depends_on: work}}
        """,
        control=control,
        grace=0.2,
    )
    assert result.status == "cancelled"
    assert result.exit_code == 130
    assert statuses(result) == {"work": "cancelled", "next": "cancelled"}
    assert [e.kind for e in sink.events][-1] == "dag_done"
    assert not _alive(int(pidfile.read_text()))


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="needs the main thread")
@pytest.mark.parametrize("receiver", ["process", "another thread"])
def test_ctrl_c_in_a_library_caller_records_the_run_cancelled_then_raises(dagrun, tmp_path, receiver):
    """No signal handlers installed (a script calling run_dag): Ctrl+C stops the run cleanly first, also when the
    kernel hands the signal to a thread other than the one waiting for the run (it only flags it for that one)."""
    import signal

    started, pidfile = tmp_path / "started", tmp_path / "pid"

    def press_ctrl_c_when_started() -> None:
        wait_until(lambda: started.exists() and pidfile.exists() and pidfile.read_text().strip(), what="task start")
        if receiver == "process":
            os.kill(os.getpid(), signal.SIGINT)
        else:  # this thread gets it, as a thread the kernel picks may
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=press_ctrl_c_when_started, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            dagrun(
                f"""
                name: interrupted
                tasks:
                  - id: work
                    run: sleep 300 & echo $! > {pidfile}; touch {started}; wait
                """,
                grace=0.2,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    lines = [json.loads(line) for line in (tmp_path / "logs" / "events.jsonl").read_text().splitlines()]
    assert [r["event"] for r in lines][-2:] == ["task_cancel", "dag_done"]
    assert lines[-1]["status"] == "cancelled"
    assert lines[-2]["reason"] == "interrupted by SIGINT"
    assert not _alive(int(pidfile.read_text()))


def test_events_carry_the_documented_fields(dagrun, tmp_path):
    result, _ = dagrun("""
        name: ev
        tenant_id: acme
        params: {x: 1}
        tasks:
          - {id: a, run: "true"}
          - {id: b, run: "exit 2", depends_on: a}
        """)
    lines = [json.loads(line) for line in (tmp_path / "logs" / "events.jsonl").read_text().splitlines()]
    assert [r["event"] for r in lines] == ["dag_start", "task_start", "task_ok", "task_start", "task_fail", "dag_done"]
    for r in lines:
        assert r["v"] == 1 and r["run_id"] == result.run_id and r["dag_name"] == "ev" and r["tenant_id"] == "acme"
        assert r["ts"].endswith("Z") and len(r["ts"]) == len("2026-01-01T00:00:00.000Z")
    start = lines[0]
    assert start["params"] == {"x": 1} and start["trigger"] == "manual"
    assert start["pid"] == os.getpid() and start["host"]
    fail = lines[4]
    assert (fail["task_id"], fail["attempt"], fail["exit_code"], fail["status"]) == ("b", 1, 2, "failed")
    assert fail["log_path"].endswith("b.log") and fail["error"] == "exit code 2"
    done = lines[-1]
    assert (done["status"], done["tasks_succeeded"], done["tasks_failed"]) == ("failed", 1, 1)
    assert done["duration_s"] >= 0


def test_a_run_whose_last_lines_meet_a_full_disk_records_them_in_its_reserve_and_exits_3(dagrun, monkeypatch, tmp_path):
    """The disk fills just as the run ends (its tasks all done): dag_done cannot be written. The room set aside at
    the run's start takes it, and the run says it stopped for the environment (exit 3), not that all went well."""
    import errno

    from dagctl.store.jsonl import JsonlWriter

    real_append = JsonlWriter.append_encoded

    def full_until_the_reserve_is_freed(self, data):
        if b'"dag_done"' in data and any((tmp_path / "logs" / "runs").glob("*/.space-reserve")):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, data)

    monkeypatch.setattr(JsonlWriter, "append_encoded", full_until_the_reserve_is_freed)
    result, _ = dagrun("""
        name: last
        tasks:
          - {id: a, run: "true"}
        """)
    assert result.tasks["a"].status == "success"
    assert result.halted is not None and result.exit_code == 3
    recorded = [json.loads(line) for line in (result.run_dir / "events.jsonl").read_text().splitlines()]
    assert recorded[-1]["event"] == "dag_done"  # written into the reserve's room at close
    assert not (result.run_dir / ".space-reserve").exists()
