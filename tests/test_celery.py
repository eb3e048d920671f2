"""The Celery executor's parts that need no running services: configuration, JSON-only wiring, remote log
files, clear errors for a missing extra or an unreachable broker, and the CLI surface."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dagctl.errors import ExecutorError, UsageError
from dagctl.run.attempts import Attempt
from dagctl.run.executors.celery_config import CeleryConfig, check_broker_url, redact, require
from dagctl.run.executors.remote_logs import localize, read_log_tail, remove_attempt_files, write_shipped_log
from tests.cli.test_run_cli import dagctl
from tests.service_helpers import free_port


def closed_port_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


# ---------------------------------------------------------------------------------------- configuration


def test_broker_comes_from_the_flag_then_redis_url_then_the_default():
    assert CeleryConfig.from_env({}).broker == "redis://localhost:6379/0"
    assert CeleryConfig.from_env({"REDIS_URL": "redis://q:6379/1"}).broker == "redis://q:6379/1"
    assert CeleryConfig.from_env({"REDIS_URL": "redis://q:6379/1"}, broker="redis://b/2").broker == "redis://b/2"


def test_tuning_knobs_come_from_the_environment_and_bad_values_are_usage_errors():
    config = CeleryConfig.from_env(
        {"DAGCTL_WORKER_LEASE": "2.5", "DAGCTL_BROKER_TIMEOUT": "1", "DAGCTL_WORKER_DIR": "/srv/dagctl"}
    )
    assert (config.lease_s, config.connect_timeout, config.worker_dir) == (2.5, 1.0, "/srv/dagctl")
    with pytest.raises(UsageError, match="DAGCTL_WORKER_LEASE='soon' is not valid: expected a number from 1 to 3600"):
        CeleryConfig.from_env({"DAGCTL_WORKER_LEASE": "soon"})


@pytest.mark.parametrize(
    "url", ["amqp://guest@rabbit//", "localhost:6379", "redis://", "redis://h:port/0", "redis://h:6379/abc"]
)
def test_a_broker_url_that_is_not_redis_is_refused_with_a_hint(url):
    with pytest.raises(UsageError) as info:
        check_broker_url(url)
    assert "redis://HOST:PORT/DB" in str(info.value)


def test_passwords_never_appear_in_messages():
    assert redact("redis://:s3cret@queue:6379/0") == "redis://:***@queue:6379/0"
    assert redact("redis://user:s3cret@queue/0") == "redis://user:***@queue/0"
    assert redact("redis://queue:6379/0") == "redis://queue:6379/0"
    with pytest.raises(UsageError) as info:
        check_broker_url("amqp://user:s3cret@rabbit//")
    assert "s3cret" not in str(info.value)


def test_missing_extra_fails_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "celery", None)  # import celery -> ImportError
    with pytest.raises(ExecutorError) as info:
        require("celery")
    assert info.value.hint == "install the extra: pip install 'dagctl[celery]'"
    assert info.value.exit_code == 3


def test_a_worker_without_the_extra_says_which_one_before_any_banner(monkeypatch, cli):
    """`dagctl worker` printed its start-up banner, then 'internal error: ModuleNotFoundError ... report it'."""
    monkeypatch.setitem(sys.modules, "celery", None)  # import celery -> ImportError
    result = cli("worker", "--broker", "redis://127.0.0.1:1/0")
    assert result.code == 3
    assert result.err.startswith("dagctl: error: the Celery executor needs the 'celery' package")
    assert result.err.rstrip().endswith("install the extra: pip install 'dagctl[celery]'")
    assert len(result.err.strip().splitlines()) == 1  # no banner, no traceback


def test_nothing_imports_celery_until_the_celery_executor_is_used():
    code = (
        "import sys, dagctl, dagctl.run.api, dagctl.cli.app, dagctl.run.executors.celery; "
        "dagctl.cli.app.build_app(); print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('celery', 'kombu', 'redis', 'billiard')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_app_speaks_json_only_and_acknowledges_late():
    pytest.importorskip("celery", reason="the celery extra is not installed")
    from dagctl.run.executors.celery_app import make_app
    from dagctl.run.worker import make_worker_app

    for make in (make_app, make_worker_app):
        conf = make(CeleryConfig.from_env({})).conf
        assert conf.task_serializer == "json" and conf.result_serializer == "json"
        assert list(conf.accept_content) == ["json"] and list(conf.result_accept_content) == ["json"]
        assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
        assert conf.task_ignore_result
        assert conf.broker_transport_options["socket_connect_timeout"] == 3.0


# ---------------------------------------------------------------------------------------- broker unreachable


def test_an_unreachable_broker_is_a_clear_executor_error_within_seconds():
    pytest.importorskip("redis", reason="the celery extra is not installed")
    pytest.importorskip("celery", reason="the celery extra is not installed")
    from dagctl.run.executors.celery import CeleryExecutor

    url = closed_port_url()
    start = time.monotonic()
    with pytest.raises(ExecutorError) as info:
        CeleryExecutor(CeleryConfig.from_env({}, broker=url))
    assert time.monotonic() - start < 5
    assert str(info.value).startswith(f"cannot reach the broker at {url}: ")
    assert "REDIS_URL / --broker" in str(info.value)


def test_dagctl_run_with_an_unreachable_broker_exits_3_with_one_line(tmp_path):
    pytest.importorskip("celery", reason="the celery extra is not installed")
    (tmp_path / "dag.yaml").write_text("name: x\ntasks:\n  - {id: a, run: 'true'}\n")
    url = closed_port_url()
    start = time.monotonic()
    proc = dagctl("run", "dag.yaml", "--executor", "celery", "--broker", url, cwd=tmp_path)
    _out, err = proc.communicate(timeout=30)
    assert time.monotonic() - start < 10
    assert proc.returncode == 3, err
    assert err.startswith(f"dagctl: error: cannot reach the broker at {url}: ") and err.count("\n") == 1


def test_dagctl_worker_with_an_unreachable_broker_exits_3(tmp_path):
    pytest.importorskip("celery", reason="the celery extra is not installed")
    proc = dagctl("worker", "--broker", closed_port_url(), cwd=tmp_path)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "dagctl: error: cannot reach the broker at redis://127.0.0.1:" in err


def test_unknown_executor_and_bad_broker_url_are_usage_errors(tmp_path):
    (tmp_path / "dag.yaml").write_text("name: x\ntasks:\n  - {id: a, run: 'true'}\n")
    proc = dagctl("run", "dag.yaml", "--executor", "kubernetes", cwd=tmp_path)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.strip() == "dagctl: error: unknown executor 'kubernetes' — use --executor threads or --executor celery"
    proc = dagctl("run", "dag.yaml", cwd=tmp_path, env={"DAGCTL_EXECUTOR": "celery", "REDIS_URL": "amqp://r//"})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "is not a Redis URL" in err
    proc = dagctl("run", "dag.yaml", "--broker", "redis://queue:6379/0", cwd=tmp_path)  # ran here, silently
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.startswith("dagctl: error: --broker is for the Celery executor, and this run would use local threads")
    assert not (tmp_path / "logs").exists()


def test_queue_needs_a_persistent_backend(tmp_path):
    proc = dagctl("queue", cwd=tmp_path, env={"QUEUE_BACKEND": "memory"})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "QUEUE_BACKEND=memory: runs are not queued" in err and "QUEUE_BACKEND=redis" in err


@pytest.mark.parametrize("command", ["worker", "queue"])
def test_help_has_examples(command, tmp_path):
    proc = dagctl(command, "--help", cwd=tmp_path)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Examples:" in out and f"dagctl {command}" in out


def test_run_help_documents_the_executor_flags(tmp_path):
    out, _ = dagctl("run", "--help", cwd=tmp_path).communicate(timeout=30)
    assert "--executor" in out and "DAGCTL_EXECUTOR" in out and "--broker" in out


# ---------------------------------------------------------------------------------------- remote log files


def make_attempt(tmp_path: Path) -> Attempt:
    run_dir = tmp_path / "coordinator" / "logs" / "runs" / "r1"
    return Attempt(
        attempt_id="r1/t/2",
        run_id="r1",
        dag_name="d",
        task_id="t",
        attempt=2,
        kind="run",
        command="true",
        env={"DAGCTL_OUTPUT": f"{run_dir}/outputs/t@2.out", "DAGCTL_RUN_DIR": str(run_dir), "OTHER": "kept"},
        log_path=f"{run_dir}/t@2.log",
        output_path=f"{run_dir}/outputs/t@2.out",
        run_dir=str(run_dir),
    )


def test_localize_moves_every_coordinator_path_under_the_worker_folder(tmp_path):
    attempt = make_attempt(tmp_path)
    local = localize(attempt, tmp_path / "worker")
    run_dir = tmp_path / "worker" / "runs" / "r1"
    assert local.run_dir == str(run_dir) and (run_dir / "outputs").is_dir()
    assert local.log_path == str(run_dir / "t@2.log")
    assert local.output_path == local.env["DAGCTL_OUTPUT"] == str(run_dir / "outputs" / "t@2.out")
    assert local.env["DAGCTL_RUN_DIR"] == str(run_dir) and local.env["OTHER"] == "kept"
    assert (local.attempt_id, local.command) == (attempt.attempt_id, attempt.command)
    Path(local.log_path).write_text("x")
    remove_attempt_files(local)
    assert not Path(local.log_path).exists()


def test_log_tail_is_capped_and_starts_on_a_whole_line(tmp_path):
    log = tmp_path / "t.log"
    log.write_bytes(b"".join(f"line {i:04d}\n".encode() for i in range(1000)))  # 10,000 bytes
    text, dropped = read_log_tail(log, cap=1000)
    assert text.startswith("line 0900\n") and text.endswith("line 0999\n")
    assert dropped == 9000 and len(text) == 1000
    text, dropped = read_log_tail(log, cap=995)  # the cut falls inside "line 0900"
    assert text.startswith("line 0901\n") and dropped == 9010
    assert read_log_tail(log) == (log.read_text(), 0)
    assert read_log_tail(tmp_path / "missing.log") == (None, 0)
    log.write_bytes(b"caf\xe9\n")
    assert read_log_tail(log) == ("caf\ufffd\n", 0)


def test_shipped_log_lands_at_the_coordinator_path_with_a_note_when_capped(tmp_path):
    target = tmp_path / "logs" / "runs" / "r1" / "t.log"
    write_shipped_log(target, "tail\n", 123456, worker="w1@host")
    assert target.read_text() == (
        "[dagctl: the first 123,456 bytes of this log were dropped: worker w1@host sends back only the last 1 MiB "
        "of a task's log]\ntail\n"
    )
    write_shipped_log(target, "whole\n")
    assert target.read_text() == "whole\n"
    write_shipped_log(tmp_path / "none.log", None)
    assert not (tmp_path / "none.log").exists()
    write_shipped_log(tmp_path / "empty.log", "")
    assert (tmp_path / "empty.log").read_text() == ""


def test_attempt_payload_is_json_and_survives_the_round_trip(tmp_path):
    from dagctl.run.worker import attempt_from_dict

    attempt = make_attempt(tmp_path)
    wire = json.loads(json.dumps({**attempt.to_dict(), "added_by_a_newer_coordinator": 1}))
    assert attempt_from_dict(wire) == attempt


def test_a_worker_folder_loses_empty_run_folders_and_kept_logs_once_they_are_old(tmp_path):
    """Each run left an empty `runs/<run_id>/outputs/` in the worker's folder for ever."""
    import os
    import time

    from dagctl.run.executors.remote_logs import KEEP_FILES_S, prune_worker_dir

    now = time.time()
    runs = tmp_path / "runs"

    def made(path: Path, age: float, text: str | None = None) -> Path:
        if text is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        os.utime(path, (now - age, now - age))
        return path

    made(runs / "old" / "outputs", 2 * 3600)
    made(runs / "old", 2 * 3600)
    made(runs / "busy" / "outputs", 60)  # an attempt of this run may be about to write there
    made(runs / "kept" / "slow.log", KEEP_FILES_S + 60, "stopped: its coordinator died\n")
    made(runs / "kept", KEEP_FILES_S + 60)
    made(runs / "recent" / "slow.log", 3600, "kept for a week\n")
    assert prune_worker_dir(tmp_path, now) == 4
    assert sorted(p.name for p in runs.iterdir()) == ["busy", "recent"]
    assert (runs / "busy" / "outputs").is_dir() and (runs / "recent" / "slow.log").exists()
    assert prune_worker_dir(tmp_path / "nothing-here", now) == 0
