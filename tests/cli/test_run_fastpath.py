"""`dagctl run` without typer: the plain command lines parse exactly as typer parses them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dagctl.cli import main, run_main
from dagctl.cli.app import build_app
from tests.conftest import ROOT

PLAIN = [
    ["run", "dag.yaml"],
    ["run", "dag.yaml", "-q"],
    ["run", "-q", "dag.yaml", "--json"],
    ["run", "dag.yaml", "-n"],
    ["run", "dag.yaml", "--dry-run", "--json"],
    ["run", "dag.yaml", "-j", "3", "--fail-fast", "--timeout", "30m"],
    ["run", "dag.yaml", "--parallelism", "12", "--parallelism", "2"],  # the last one wins
    ["run", "dag.yaml", "-p", "rows=5", "--param", "name=a b", "-p", "rows=6"],
    ["run", "sub dir/dag.yaml", "--params-file", "p.yaml", "--only", "a,b", "-x", "threads"],
    ["run", "dag.yaml", "--from", "report", "--executor", "celery", "--broker", "redis://127.0.0.1:1/0"],
    ["run", "dag.yaml", "-q", "--quiet"],
    ["run", "--dag", "dag.yaml", "--dry-run"],  # the design notes' spelling
    ["run", "-q", "--dag", "sub dir/dag.yaml", "-j", "2"],
]

NOT_PLAIN = [
    ["run"],  # typer: missing argument
    ["run", "--help"],
    ["run", "-h"],
    ["run", "dag.yaml", "other.yaml"],  # typer: unexpected extra argument
    ["run", "dag.yaml", "-j", "0"],  # typer: out of range
    ["run", "dag.yaml", "-j", "two"],
    ["run", "dag.yaml", "-j", "+3"],
    ["run", "dag.yaml", "--parallelism=2"],
    ["run", "dag.yaml", "-qn"],
    ["run", "dag.yaml", "-p"],  # typer: option requires an argument
    ["run", "dag.yaml", "-p", "-q"],
    ["run", "dag.yaml", "--no-such-option"],
    ["run", "dag.yaml", "--"],
    ["run", ""],
    ["run", "--dag"],  # typer: option requires an argument
    ["run", "dag.yaml", "--dag", "other.yaml"],  # the DAG given twice: typer's path says so
    ["graph", "dag.yaml"],
]


@pytest.fixture
def typer_kwargs(monkeypatch):
    """What typer hands to run_command for a command line (nothing runs)."""
    seen: list[dict] = []

    def capture(dag, **kwargs):
        seen.append({"dag": dag, **kwargs})
        return 0

    monkeypatch.setattr(run_main, "run_command", capture)

    def parse(args: list[str]) -> dict:
        seen.clear()
        with pytest.raises(SystemExit) as exit_info:
            build_app(args)(args=args, prog_name="dagctl", standalone_mode=True)
        assert exit_info.value.code == 0, f"typer rejected {args}"
        (kwargs,) = seen
        return {**kwargs, "param": list(kwargs["param"])}

    return parse


@pytest.mark.parametrize("args", PLAIN, ids=" ".join)
def test_plain_command_lines_parse_as_typer_parses_them(args, typer_kwargs):
    assert run_main.parse_run_args(args) == typer_kwargs(args)


@pytest.mark.parametrize("args", NOT_PLAIN, ids=lambda a: " ".join(a) or "empty")
def test_anything_else_is_left_to_typer(args):
    assert run_main.parse_run_args(args) is None


def test_typer_still_answers_what_the_fast_path_leaves(capsys):
    assert main(["run", "dag.yaml", "-j", "0"]) == 2
    assert "Invalid value for '--parallelism'" in capsys.readouterr().err
    assert main(["run", "--help"]) == 0
    assert "Run a DAG on this machine" in capsys.readouterr().out


# What a plain `dagctl run` of a cached plan must not import: each costs milliseconds of every start
# (typer and click ~22 ms; dataclasses with inspect ~9; typing, pathlib's neighbours, subprocess, shutil a few
# each on the 2-core reference machine), and short shell tasks pay the start on every run.
NOT_ON_THE_RUN_PATH = (
    "typer",
    "click",
    "yaml",
    "pydantic",
    "typing",
    "dataclasses",
    "inspect",
    "subprocess",
    "shutil",
    "shlex",
    "difflib",
    "logging",
    "rich",
)


TWO_TASKS = "  - {id: a, run: 'true'}\n  - {id: b, run: 'true', depends_on: [a]}\n"


@pytest.mark.parametrize(
    "dag",
    [
        pytest.param("name: one\ntasks:\n" + TWO_TASKS, id="plain"),
        pytest.param("name: one\ndefaults: {cache: true}\ntasks:\n" + TWO_TASKS, id="cache-hits"),
        pytest.param("name: one\ntasks:\n  - {id: a, dag: child.yaml}\n  - {id: b, dag: child.yaml}\n", id="sub-dags"),
    ],
)
def test_a_plain_run_imports_nothing_it_does_not_need(tmp_path, dag):
    (tmp_path / "dag.yaml").write_text(dag)
    (tmp_path / "child.yaml").write_text("name: child\ntasks:\n  - {id: c, run: 'true'}\n")
    (tmp_path / "dagctl.yaml").write_text("workflows: {}\n")  # a project file is read when a run ends
    code = (
        "import sys; from dagctl.cli import main; rc = main(['run', 'dag.yaml', '-q']); "
        f"print(rc, *sorted(m for m in {NOT_ON_THE_RUN_PATH!r} if m in sys.modules))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "DAGCTL_LOGS_DIR": str(tmp_path / "logs")},
        )
        for _ in range(2)
    ]
    first, cached = (run.stdout.split() for run in runs)
    assert first[0] == "0" and "typer" not in first, runs[0].stderr  # the first run validates the file
    assert cached == ["0"], runs[1].stderr  # the second reads the cached plan
    assert (tmp_path / "logs" / "runs").is_dir()
    assert (tmp_path / "logs" / "orchestrator_events.jsonl").read_text().count('"event":"task_ok"') >= 4


def test_errors_on_the_fast_path_read_as_before(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGCTL_LOGS_DIR", str(tmp_path / "logs"))
    assert main(["run", "missing.yaml", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.yaml" in err and "Traceback" not in err
    Path("dag.yaml").write_text("name: one\nparams: {rows: 1}\ntasks:\n  - {id: a, run: 'true'}\n")
    assert main(["run", "dag.yaml", "-q", "-p", "nope=1"]) == 2
    assert "nope" in capsys.readouterr().err


def test_both_parsers_come_from_one_declaration_of_the_options():
    """Every declared option reaches typer with its flags (other spellings as parameters of their own, folded
    back by run_cmd.merge), and typer declares nothing else."""
    import typer.main

    from dagctl.cli.run_options import RUN_OPTIONS

    command = typer.main.get_command(build_app(["run"])).commands["run"]  # type: ignore[attr-defined]
    declared = {}
    for o in RUN_OPTIONS:
        if o.kind == "argument":
            declared[o.name] = (set(), "argument", False)
            if o.flags:
                declared[f"{o.name}_option"] = (set(o.flags), "value", False)
        else:
            declared[o.name] = (set(o.flags), o.kind, False)
        if o.hidden:
            declared[f"{o.name}_hidden"] = (set(o.hidden), o.kind, True)
    seen = {}
    for param in command.params:
        if param.name == "help":
            continue
        kind = (
            "argument"
            if param.param_type_name == "argument"
            else "flag"
            if param.is_flag
            else "repeated"
            if param.multiple
            else "value"
        )
        seen[param.name] = (set(param.opts) - {param.name}, kind, bool(param.hidden))
    assert seen == declared


def test_the_dag_is_given_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "a.yaml", "--dag", "b.yaml"]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["run", "-q"]) == 2
    assert "missing the DAG file" in capsys.readouterr().err


def test_the_fast_path_can_be_switched_off(monkeypatch):
    monkeypatch.setattr(run_main, "ENABLED", False)
    assert run_main.parse_run_args(["run", "dag.yaml", "-q"]) is None
