"""The command line as a whole: help that names things, one meaning per short flag, --json wherever a command
prints a result, and the design notes' command lines working as written."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from dagctl.cli import main
from dagctl.cli.app import build_app
from tests.conftest import ROOT
from tests.support import wait_until


def commands() -> list[tuple[list[str], object]]:
    """Every command and group of the app, as (words after `dagctl`, click command)."""
    found: list[tuple[list[str], object]] = []

    def walk(words: list[str], command: object) -> None:
        found.append((words, command))
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk([*words, name], sub)

    walk([], typer.main.get_command(build_app()))
    return found


LEAVES = [(words, c) for words, c in commands() if not getattr(c, "commands", None)]
TYPER_METAVARS = re.compile(r"<(str|text|int|integer|float|path|int range|float range|boolean)>")
"""typer's own names for values; braces are checked in the usage line and the names of values (prose may
show ${params.x} or Argo's {{retries}})."""


@pytest.mark.parametrize(("words", "command"), commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_help_names_arguments_and_values_plainly(words, command, capsys):
    assert main([*words, "--help"]) == 0
    text = capsys.readouterr().out
    usage = text.splitlines()[0]
    assert usage.startswith("Usage: dagctl"), usage
    assert "{" not in usage and "<" not in usage, usage
    assert not TYPER_METAVARS.search(text), f"dagctl {' '.join(words)} --help: {TYPER_METAVARS.search(text)}"
    for param in command.params:  # type: ignore[attr-defined]
        if getattr(param, "hidden", False) or param.name == "help":
            continue
        shown = param.metavar or ""
        assert "{" not in shown and "<" not in shown and shown != "TEXT", (words, param.name, shown)
        if param.param_type_name == "argument" or not param.is_flag:
            named = re.fullmatch(r"\[?[A-Z][A-Z0-9_=]*\]?(\.\.\.)?", shown)  # DAG, [RUN], KEY=VALUE, PATH...
            choices = re.fullmatch(r"\[[a-z0-9_-]+(\|[a-z0-9_-]+)+\]", shown)  # [text|mermaid|dot]
            assert named or choices, (words, param.name, shown)


def test_usage_lines_read_as_people_write_commands(capsys):
    for words, usage in [
        (["run"], "Usage: dagctl run [OPTIONS] DAG"),
        (["show"], "Usage: dagctl show [OPTIONS] [RUN]"),
        (["logs"], "Usage: dagctl logs [OPTIONS] [RUN] [TASK]"),
        (["approve"], "Usage: dagctl approve [OPTIONS] RUN TASK"),
        (["validate"], "Usage: dagctl validate [OPTIONS] PATH..."),
        (["backfill"], "Usage: dagctl backfill [OPTIONS] SCHEDULE"),
    ]:
        assert main([*words, "--help"]) == 0
        assert capsys.readouterr().out.splitlines()[0] == usage


HIDDEN_SHORT_FLAGS = {
    # command, hidden short flag -> the long option it still means (it means something else elsewhere)
    ("run", "-n"): "--dry-run",
    ("prune", "-n"): "--dry-run",
    ("backfill", "-n"): "--dry-run",
    ("worker", "-n"): "--name",
    ("export argo", "-n"): "--namespace",
    ("serve", "-p"): "--port",
    ("graph", "-f"): "--format",
}


def test_each_short_flag_means_one_thing_in_every_command():
    meanings: dict[str, dict[str, set[str]]] = {}
    hidden: set[tuple[str, str]] = set()
    for words, command in commands():
        for param in command.params:  # type: ignore[attr-defined]
            shorts = [o for o in param.opts if re.fullmatch(r"-[A-Za-z]", o)]
            longs = {o for o in [*param.opts, *param.secondary_opts] if o.startswith("--")}
            for short in shorts:
                if getattr(param, "hidden", False):
                    hidden.add((" ".join(words), short))
                else:
                    meanings.setdefault(short, {})[" ".join(words) or "dagctl"] = longs
    for short, by_command in meanings.items():
        shared = set.intersection(*by_command.values())
        assert shared, f"{short} means different things: {by_command}"
    assert hidden == set(HIDDEN_SHORT_FLAGS)
    assert meanings["-n"]["runs"] == {"--limit"} and "--limit" in meanings["-n"]["schedule next"]
    assert {c for c in meanings["-p"]} == {"run", "exec-task", "export argo"}
    assert {c for c in meanings["-f"]} == {"logs"}


def test_hidden_short_flags_still_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGCTL_LOGS_DIR", str(tmp_path / "logs"))
    Path("d.yaml").write_text("name: d\ntasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true', depends_on: [a]}\n")
    assert main(["run", "d.yaml", "-n"]) == 0
    assert "DRY RUN: DAG 'd'" in capsys.readouterr().out
    assert main(["graph", "d.yaml", "-f", "mermaid"]) == 0
    assert capsys.readouterr().out.startswith("flowchart TD")
    assert main(["prune", "--older-than", "1d", "-n", "--json"]) == 0
    assert '"dry_run": true' in capsys.readouterr().out


NO_JSON = {
    "schema": "prints JSON Schema always",
    "exec-task": "its output is the task's own log (an exported workflow's step reads it)",
    "export argo": "prints a YAML manifest (or writes it with -o)",
    "worker": "a service: logs on stderr",
    "serve": "a service: logs on stderr",
}


def test_every_command_that_prints_a_result_has_json():
    missing = []
    for words, command in LEAVES:
        name = " ".join(words)
        opts = {o for p in command.params for o in p.opts}  # type: ignore[attr-defined]
        if name in NO_JSON:
            assert "--json" not in opts, f"{name} has --json now: drop it from NO_JSON"
        elif "--json" not in opts:
            missing.append(name)
    assert missing == []


# ------------------------------------------------------------------------------------------- design notes

NOTE_DAG = (ROOT / "configs" / "dags" / "weekly_ops_chain.yaml").read_text()
NOTE_SCHEDULE = """\
- id: weekly_ops_chain
  cron: "*/5 * * * *"  # Every 5 minutes
  dag: configs/dags/weekly_ops_chain.min.yaml
  tenant: local-dev
  enabled: true
"""


@pytest.fixture
def note_project(tmp_path: Path) -> Path:
    """The layout the spine note (seeds/004) describes: configs/dags/weekly_ops_chain.min.yaml, its schedule in
    configs/schedules/, and the workflows it names registered in configs/dagctl.yaml."""
    configs = tmp_path / "configs"
    (configs / "dags").mkdir(parents=True)
    (configs / "schedules").mkdir()
    (configs / "dags" / "weekly_ops_chain.min.yaml").write_text(NOTE_DAG)
    (configs / "schedules" / "weekly_ops.yaml").write_text(NOTE_SCHEDULE)
    shutil.copy(ROOT / "configs" / "dagctl.yaml", configs / "dagctl.yaml")
    for folder in ("workflows", "data"):
        shutil.copytree(ROOT / "configs" / folder, configs / folder)
    return tmp_path


def note_env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH", "DAGCTL_LOGS_DIR")}
    return {**env, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1", **extra}


def note_line(folder: Path, line: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """A command line of the note with `dagctl` for the note's scripts, run in a shell as a user would."""
    assert line.startswith("dagctl ")
    program = f'"{sys.executable}" -m dagctl'
    return subprocess.run(
        ["sh", "-c", program + line.removeprefix("dagctl")],
        cwd=folder,
        env=note_env(folder, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_notes_run_lines_work_as_written(note_project):
    dry = note_line(note_project, "dagctl run --dag configs/dags/weekly_ops_chain.min.yaml --dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("DRY RUN: DAG 'weekly_ops_chain'\nTenant: local-dev\nTasks: 3")
    assert "1. sweep (workflow: inbox_drive_sweep, depends_on: none)" in dry.stdout
    live = note_line(note_project, "dagctl run --dag configs/dags/weekly_ops_chain.min.yaml")
    assert live.returncode == 0, live.stderr
    assert "DAG EXECUTION COMPLETE" in live.stdout and "Tasks Succeeded: 3" in live.stdout
    events = (note_project / "logs" / "orchestrator_events.jsonl").read_text()
    assert all(f'"event":"{e}"' in events for e in ("dag_start", "task_start", "task_ok", "dag_done"))


def test_the_notes_scheduler_lines_work_as_written(note_project):
    once = note_line(note_project, "dagctl schedule --dir configs/schedules --once")
    assert once.returncode == 0, once.stderr
    due = note_line(note_project, "dagctl schedule --dir configs/schedules --once --now 2026-03-08T07:05:00Z")
    assert due.returncode == 0, due.stderr
    state = (note_project / "logs" / "orchestrator_state.jsonl").read_text()  # tail -f ... | grep run_finished
    assert '"event":"run_finished"' in state and '"status":"success"' in state
    for line in ("dagctl schedule --dir configs/schedules --serve", "dagctl schedule --serve"):
        serve = subprocess.Popen(
            [sys.executable, "-m", "dagctl", *line.split()[1:]],
            cwd=note_project,
            env=note_env(note_project),
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert serve.stderr is not None
            wait_until(lambda s=serve: "scheduler ready" in s.stderr.readline(), 30, "the scheduler's first tick")
            serve.send_signal(signal.SIGTERM)
            assert serve.wait(timeout=60) == 0
        finally:
            if serve.poll() is None:
                serve.kill()
                serve.wait(timeout=10)


@pytest.mark.service
def test_the_notes_worker_and_queue_lines_work_as_written(note_project, tmp_path):
    from tests.service_helpers import RedisServer, require_services

    require_services()
    redis = RedisServer(tmp_path / "redis").start()
    worker = subprocess.Popen(
        ["sh", "-c", f'exec "{sys.executable}" -m dagctl worker --worker-id worker-1'],
        cwd=note_project,
        env=note_env(note_project, REDIS_URL=redis.url, C_FORCE_ROOT="1", PYTHONWARNINGS="ignore"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        client = redis.client()
        wait_until(lambda: client.keys("dagctl:worker:worker-1@*"), 30, "worker-1 ready")
        # QUEUE_BACKEND=redis REDIS_URL=... python -m src.orchestrator.scheduler ...: one tick of it, at a due slot
        queued = note_line(
            note_project,
            "dagctl schedule --dir configs/schedules --once --now 2026-03-08T07:05:00Z",
            QUEUE_BACKEND="redis",
            REDIS_URL=redis.url,
        )
        assert queued.returncode == 0, queued.stderr
        status = note_line(note_project, "dagctl queue --json", QUEUE_BACKEND="redis", REDIS_URL=redis.url)
        assert status.returncode == 0, status.stderr
        import json

        jobs = json.loads(status.stdout)["jobs"]
        assert [j["state"] for j in jobs] == ["success"] and jobs[0]["worker"].startswith("worker-1@")
    finally:
        with_group = worker.pid
        os.killpg(with_group, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(with_group, signal.SIGKILL)
            worker.wait(timeout=10)
        redis.stop()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["run", "x.yaml", "--bogus"], "dagctl: error: No such option: --bogus — see 'dagctl run --help'"),
        (
            ["run", "x.yaml", "-j", "0"],
            "dagctl: error: Invalid value for '--parallelism' / '-j': 0 is not in the range x>=1 — see 'dagctl run "
            "--help'",
        ),
        (["reject"], "dagctl: error: Missing argument 'RUN' — see 'dagctl reject --help'"),
        (["bogus"], "dagctl: error: No such command 'bogus'. Did you mean 'logs'? — see 'dagctl --help'"),
    ],
)
def test_a_command_line_click_refuses_is_one_line_too(argv, line, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [line] and captured.out == ""


def test_an_empty_params_file_says_what_to_write_in_it(cli, tmp_path):
    (tmp_path / "d.yaml").write_text("name: d\nparams: {n: 1}\ntasks:\n  - {id: a, run: 'true'}\n")
    (tmp_path / "p.yaml").write_text("")
    result = cli("run", str(tmp_path / "d.yaml"), "--params-file", str(tmp_path / "p.yaml"))
    assert result.code == 2
    where = tmp_path / "p.yaml"
    assert result.err.strip() == f"{where}:1:1: file is empty — write the params, one 'name: value' per line"
