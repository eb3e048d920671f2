"""Shell completion, as shells use it: the script `dagctl --show-completion` prints is sourced in a real bash,
whose completion function calls a real `dagctl` process back; zsh and fish get their scripts (run when those
shells are installed, their call-back protocol checked either way). Tab at a real interactive prompt of each
shell: test_completion_at_a_real_prompt.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dagctl.cli import COMPLETE_VAR
from dagctl.cli.completion import dag_files, task_ids, words_typed
from dagctl.store.events import ApprovalGranted, ApprovalRequested, Event, TaskOk, TaskStart
from tests.conftest import ROOT

BASH = shutil.which("bash")
RUN_IDS = ("20261201-080000.000-aaaaaa", "20261203-090000.000-bbbbbb", "20261202-100000.000-cccccc")


def project(root: Path) -> Path:
    """A project in ``root``: its dagctl.yaml and DAG files, three run folders and a `dagctl` program on PATH that
    runs this checkout."""
    (root / "configs" / "dags").mkdir(parents=True)
    (root / "configs" / "dagctl.yaml").write_text("notify: null\n")  # the project file: not a DAG
    (root / "configs" / "dags" / "nightly.yaml").write_text(
        "name: nightly\ntasks:\n  - {id: load, run: 'true'}\n  - {id: extract, run: 'true'}\n"
        "  - {id: export, run: 'true', depends_on: [extract]}\n"
    )
    (root / "local.yml").write_text("name: local\ntasks:\n  - {id: a, run: 'true'}\n")
    (root / "notes.txt").write_text("not a DAG\n")
    for run_id in RUN_IDS:  # folder names are all completion reads: no events needed
        (root / "logs" / "runs" / run_id).mkdir(parents=True)
    run = root / "logs" / "runs" / RUN_IDS[1]
    (run / "events.jsonl").write_text(
        '{"v":1,"event":"task_start","run_id":"x","task_id":"extract"}\n'
        '{"v":1,"event":"task_start","run_id":"x","task_id":"report"}\n'
    )
    bin_dir = root / "bin"
    bin_dir.mkdir()
    program = bin_dir / "dagctl"
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dagctl "$@"\n')
    program.chmod(0o755)
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return project(tmp_path)


def environment(folder: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH", COMPLETE_VAR) and not k.startswith(("COMP_", "XDG_"))
    }
    return {
        **env,
        "PATH": f"{folder / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(ROOT / "src"),
        "DAGCTL_LOGS_DIR": str(folder / "logs"),
        "HOME": str(folder / "home"),
    }


def dagctl(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["dagctl", *args],
        cwd=folder,
        env={**environment(folder), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def bash_complete(folder: Path, *words: str) -> list[str]:
    """What bash offers after sourcing the script and pressing Tab with ``words`` typed (the last one may be
    empty): COMP_LINE, COMP_POINT, COMP_WORDS and COMP_CWORD set as bash sets them (its words cut at ``:``,
    one of its COMP_WORDBREAKS), the completion function called as bash calls it."""
    assert BASH is not None
    line = " ".join(words)
    split = [w for w in re.split(r"\s+|(:)", line) if w is not None and w != ""]  # as bash splits the line
    script = (
        "source <(dagctl --show-completion bash) || exit 9\n"
        'complete -p dagctl | grep -q -- "-F _dagctl_completion dagctl" || exit 8\n'
        'COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; shift\n'
        'COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()\n'
        "_dagctl_completion dagctl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        [BASH, "--norc", "--noprofile", "-c", script, "bash", line, *split, *([""] if line.endswith(" ") else [])],
        cwd=folder,
        env=environment(folder),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


@needs_bash
def test_bash_completes_run_ids_newest_first_with_latest(folder):
    newest_first = sorted(RUN_IDS, reverse=True)
    assert bash_complete(folder, "dagctl", "show", "") == ["latest", *newest_first]
    assert bash_complete(folder, "dagctl", "logs", "20261202") == ["20261202-100000.000-cccccc"]
    assert bash_complete(folder, "DAGCTL_LOGS_DIR=logs", "dagctl", "logs", "20261202") == [RUN_IDS[2]]
    for command in ("cancel", "retry", "resume", "pause", "approve", "reject"):
        assert bash_complete(folder, "dagctl", command, "2026120")[0] == newest_first[0], command


@needs_bash
def test_bash_completes_dag_files_for_the_dag_argument(folder):
    offered = bash_complete(folder, "dagctl", "run", "")
    assert offered[:2] == ["local.yml", "configs/dags/nightly.yaml"]  # DAG files first, then folders
    assert "notes.txt" not in offered
    assert bash_complete(folder, "dagctl", "graph", "conf") == ["configs/dags/nightly.yaml", "configs/"]
    assert bash_complete(folder, "dagctl", "run", "--dag", "configs/dags/n") == ["configs/dags/nightly.yaml"]


@needs_bash
def test_a_dag_argument_completes_into_folders_and_never_to_the_project_file(folder):
    """`dagctl run configs/da<Tab>` goes into configs/dags/, not to configs/dagctl.yaml (the project file)."""
    assert bash_complete(folder, "dagctl", "run", "configs/da") == ["configs/dags/"]
    assert bash_complete(folder, "dagctl", "run", "configs/") == ["configs/dags/"]
    assert bash_complete(folder, "dagctl", "run", "configs/dags/") == ["configs/dags/nightly.yaml"]
    assert bash_complete(folder, "dagctl", "validate", "lo") == ["local.yml", "logs/"]


def test_dag_files_are_files_then_the_dag_folder_then_subfolders_hidden_ones_when_asked(folder, monkeypatch):
    (folder / ".git").mkdir()
    (folder / ".ci.yaml").write_text("name: ci\n")
    (folder / "dagctl.yaml").write_text("notify: null\n")
    monkeypatch.chdir(folder)
    assert dag_files("") == ["local.yml", "configs/dags/nightly.yaml", "bin/", "configs/", "logs/"]
    assert dag_files(".") == [".ci.yaml", ".git/"]
    assert dag_files("configs/") == ["configs/dags/"]
    assert dag_files("missing/") == []


@needs_bash
def test_bash_completes_commands_options_and_the_tasks_of_a_run(folder):
    commands = bash_complete(folder, "dagctl", "")
    assert commands[:3] == ["validate", "run", "graph"]  # in the order of dagctl --help
    assert {"show", "logs", "schedule", "cache"} <= set(commands)
    assert bash_complete(folder, "dagctl", "ru") == ["run", "runs"]
    assert set(bash_complete(folder, "dagctl", "run", "x.yaml", "--d")) == {"--dag", "--dry-run"}
    assert bash_complete(folder, "dagctl", "logs", RUN_IDS[1], "") == ["extract", "report"]
    dag = "configs/dags/nightly.yaml"  # exec-task's TASK: the DAG file's tasks, in its order
    assert bash_complete(folder, "dagctl", "exec-task", dag, "") == ["load", "extract", "export"]
    assert bash_complete(folder, "dagctl", "exec-task", dag, "ex") == ["extract", "export"]
    assert bash_complete(folder, "dagctl", "exec-task", "notes.txt", "") == []  # not a DAG: nothing, no error
    assert bash_complete(folder, "dagctl", "exec-task", "missing.yaml", "") == []
    assert bash_complete(folder, "dagctl", "run", "x.yaml", "--executor", "") == ["threads", "celery"]
    assert bash_complete(folder, "dagctl", "runs", "--status", "fa") == ["failed"]


@needs_bash
def test_a_completion_request_never_runs_anything(folder):
    """A shell's call-back goes to typer even when its words are a plain `dagctl run` command line."""
    env = {COMPLETE_VAR: "complete_bash", "COMP_WORDS": "dagctl run local.yml --dr", "COMP_CWORD": "3"}
    done = dagctl(folder, "run", "local.yml", env=env)  # a plain form: the fast path would run it
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["--dry-run"]
    assert sorted(p.name for p in (folder / "logs" / "runs").iterdir()) == sorted(RUN_IDS)  # no new run


def test_zsh_and_fish_get_scripts_that_call_dagctl_back(folder):
    zsh = dagctl(folder, "--show-completion", "zsh")
    assert zsh.returncode == 0 and zsh.stdout.startswith("#compdef dagctl")
    assert f"{COMPLETE_VAR}=complete_zsh dagctl" in zsh.stdout and "compdef _dagctl_completion dagctl" in zsh.stdout
    fish = dagctl(folder, "--show-completion", "fish")
    assert fish.returncode == 0 and fish.stdout.startswith("complete --command dagctl")
    assert f"{COMPLETE_VAR}=complete_fish" in fish.stdout
    # the call-backs those scripts make, made by hand: what zsh and fish would offer
    asked = dagctl(folder, env={COMPLETE_VAR: "complete_zsh", "_TYPER_COMPLETE_ARGS": "dagctl show "})
    assert asked.returncode == 0 and asked.stdout.split() == ["latest", *sorted(RUN_IDS, reverse=True)]
    asked = dagctl(folder, env={COMPLETE_VAR: "complete_zsh", "_TYPER_COMPLETE_ARGS": "dagctl gra"})
    assert asked.returncode == 0 and asked.stdout.startswith("graph\t")  # a command: its help after a tab
    asked = dagctl(
        folder,
        env={
            COMPLETE_VAR: "complete_fish",
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
            "_TYPER_COMPLETE_ARGS": "dagctl run conf",
        },
    )
    assert asked.returncode == 0 and asked.stdout.split() == ["configs/dags/nightly.yaml", "configs/"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (its script is checked as text)")
def test_zsh_sources_its_script(folder):
    done = subprocess.run(
        ["zsh", "-f", "-c", "autoload -Uz compinit && compinit -u && source <(dagctl --show-completion zsh)"],
        cwd=folder,
        env=environment(folder),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (its script is checked as text)")
def test_fish_completes_a_run_id(folder):
    done = subprocess.run(
        ["fish", "--no-config", "-c", "dagctl --show-completion fish | source; complete -C 'dagctl show 20261203'"],
        cwd=folder,
        env=environment(folder),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert RUN_IDS[1] in done.stdout, done.stderr


def test_install_completion_writes_the_script_where_the_shell_reads_it(folder):
    done = dagctl(folder, "--install-completion", "bash")
    assert done.returncode == 0, done.stderr
    script = folder / "home" / ".bash_completions" / "dagctl.sh"
    assert "_dagctl_completion" in script.read_text()
    rc = (folder / "home" / ".bashrc").read_text()
    assert rc.count(f"source '{script}'") == 1
    assert dagctl(folder, "--install-completion", "bash").returncode == 0
    assert (folder / "home" / ".bashrc").read_text().count(f"source '{script}'") == 1  # not added twice
    assert dagctl(folder, "--install-completion", "fish").returncode == 0
    assert (folder / "home" / ".config" / "fish" / "completions" / "dagctl.fish").is_file()


def test_an_unknown_shell_is_one_line_and_exit_2(folder):
    done = dagctl(folder, "--show-completion", "tcsh")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "bash, zsh or fish" in done.stderr and "Traceback" not in done.stderr


def test_without_a_shell_name_the_login_shell_is_used(folder):
    done = dagctl(folder, "--show-completion", env={"SHELL": "/bin/bash"})
    assert done.returncode == 0 and "_dagctl_completion" in done.stdout


@pytest.mark.parametrize(
    ("env", "words"),
    [
        (
            {COMPLETE_VAR: "complete_bash", "COMP_WORDS": "dagctl schedule next ", "COMP_CWORD": "3"},
            ["schedule", "next"],
        ),
        ({COMPLETE_VAR: "complete_bash", "COMP_WORDS": "dagctl ru", "COMP_CWORD": "1"}, []),
        ({COMPLETE_VAR: "complete_bash", "COMP_LINE": "dagctl logs latest train:"}, ["logs", "latest"]),
        ({COMPLETE_VAR: "complete_bash", "COMP_LINE": "DAGCTL_LOGS_DIR=/x dagctl show "}, ["show"]),
        ({COMPLETE_VAR: "complete_zsh", "_TYPER_COMPLETE_ARGS": "dagctl logs latest "}, ["logs", "latest"]),
        ({COMPLETE_VAR: "complete_fish", "_TYPER_COMPLETE_ARGS": "dagctl logs lat"}, ["logs"]),
        ({COMPLETE_VAR: "complete_zsh", "_TYPER_COMPLETE_ARGS": "dagctl run 'open"}, []),
    ],
)
def test_only_the_words_before_the_cursor_choose_the_module_to_load(env, words):
    assert words_typed(env) == words


def write_events(folder: Path, run_id: str, *events: Event) -> None:
    run = folder / "logs" / "runs" / run_id
    run.mkdir(parents=True, exist_ok=True)
    (run / "events.jsonl").write_text("".join(json.dumps(e.to_record()) + "\n" for e in events))


GATED_RUN = "20261204-080000.000-dddddd"


def at(second: int) -> dict[str, Any]:
    return {"ts": f"2026-12-04T08:00:{second:02d}.000Z", "run_id": GATED_RUN, "dag_name": "train", "tenant_id": "t"}


@pytest.fixture
def matrix_and_gates(folder: Path) -> Path:
    """A run (the newest) with a task, a matrix task whose three cells started, a gate decided and a gate waiting."""
    write_events(
        folder,
        GATED_RUN,
        TaskStart(**at(1), task_id="prepare"),
        TaskOk(**at(2), task_id="prepare"),
        TaskStart(**at(3), task_id="train", cells=3),
        *(TaskStart(**at(4), task_id="train", cell=f"train:{i}", cell_index=i, attempt=1) for i in range(3)),
        ApprovalRequested(**at(5), task_id="review", message="ok?"),
        ApprovalGranted(**at(6), task_id="review", by=["ann"]),
        TaskOk(**at(7), task_id="review"),
        ApprovalRequested(**at(8), task_id="deploy", message="ship?"),
    )
    return folder


@needs_bash
def test_the_tasks_of_a_run_include_its_matrix_cells(matrix_and_gates):
    cells = ["train:0", "train:1", "train:2"]
    in_start_order = ["prepare", "train", *cells, "review", "deploy"]
    assert bash_complete(matrix_and_gates, "dagctl", "logs", GATED_RUN, "") == in_start_order
    assert bash_complete(matrix_and_gates, "dagctl", "logs", "latest", "tr") == ["train", *cells]
    # bash cuts `train:` at the colon and replaces only what follows it: the cells come back without `train:`
    assert bash_complete(matrix_and_gates, "dagctl", "logs", "latest", "train:") == ["0", "1", "2"]
    assert bash_complete(matrix_and_gates, "dagctl", "logs", "latest", "train:2") == ["2"]


@needs_bash
def test_approve_and_reject_complete_the_approval_gates_waiting_first(matrix_and_gates, monkeypatch):
    for command in ("approve", "reject"):
        assert bash_complete(matrix_and_gates, "dagctl", command, GATED_RUN, "") == ["deploy", "review"], command
    assert bash_complete(matrix_and_gates, "dagctl", "approve", "latest", "r") == ["review"]
    monkeypatch.setenv("DAGCTL_LOGS_DIR", str(matrix_and_gates / "logs"))  # the library call: the command named
    assert task_ids(GATED_RUN, "d", command="reject") == ["deploy"]
    assert task_ids(GATED_RUN, "", command="logs")[:2] == ["prepare", "train"]
