"""validate / run --dry-run / graph / schema / --version / --help, as a user sees them."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import jsonschema
import pytest
import yaml

from tests.conftest import EXAMPLE_DAGS, ROOT


def test_example_dags_validate_quietly(cli):
    result = cli("validate", str(EXAMPLE_DAGS))
    assert result.code == 0, result
    assert result.out == "" and result.err == ""


def test_validate_reports_every_problem_and_exits_2(cli, write):
    bad = write("dags/bad.yaml", "name: d\ntasks:\n  - id: a\n    run: x\n    depnds_on: [b]\n    retries: yes\n")
    result = cli("validate", str(bad.parent))
    assert result.code == 2
    lines = result.err.splitlines()
    assert lines[0].startswith(f"{bad}:5:5: unknown key 'depnds_on'")
    assert lines[1].startswith(f"{bad}:6:14: task 'a' retries")
    assert lines[-1] == "2 problems in 1 file (1 checked)"
    assert "Traceback" not in result.err


def test_validate_finds_duplicate_dag_names_in_a_folder(cli, write):
    write("dags/one.yaml", "name: same\ntasks:\n  - {id: a, run: x}\n")
    two = write("dags/two.yaml", "name: same\ntasks:\n  - {id: a, run: x}\n")
    result = cli("validate", str(two.parent))
    assert result.code == 2
    assert result.err.startswith(f"{two}:1:7: DAG name 'same' is already used by ")
    assert "one.yaml:1:7" in result.err


@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_validate_empty_folder_is_an_error_even_when_quiet(cli, tmp_path, quiet):
    (tmp_path / "empty").mkdir()
    result = cli("validate", *quiet, str(tmp_path / "empty"))
    assert result.code == 2
    assert result.err.startswith(f"dagctl: error: no DAG or schedule files found in {tmp_path / 'empty'} — ")
    assert result.err.count("\n") == 1


def test_dry_run_prints_the_plan_like_the_source_note(cli):
    result = cli("run", str(EXAMPLE_DAGS / "weekly_ops_chain.yaml"), "--dry-run")
    assert result.code == 0, result
    assert result.out.splitlines()[:2] == ["DRY RUN: DAG 'weekly_ops_chain'", "Tenant: local-dev"]
    assert "  1. sweep (workflow: inbox_drive_sweep, depends_on: none) [level 0, retries 1, timeout none]" in result.out
    assert "  3. brief (workflow: meeting_transcript_brief, depends_on: report)" in result.out


def test_dry_run_json_is_machine_readable(cli):
    result = cli("run", str(EXAMPLE_DAGS / "diamond_pipeline.yaml"), "--dry-run", "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert data["dag"] == "diamond_pipeline"
    assert data["levels"] == [["extract"], ["by_region", "by_product"], ["report"]]
    report = data["tasks"][-1]
    assert report["depends_on"] == ["by_region", "by_product"]
    assert report["timeout_s"] == 120.0 and report["retries"] == 1


def test_dry_run_of_invalid_dag_exits_2_without_traceback(cli, write):
    bad = write("c.yaml", "name: d\ntasks:\n  - {id: a, run: x, depends_on: [b]}\n  - {id: b, run: x, depends_on: a}\n")
    result = cli("run", str(bad), "--dry-run")
    assert result.code == 2
    assert "dependency cycle: a -> b -> a" in result.err
    assert "Traceback" not in result.err


def test_debug_shows_a_traceback(cli, write):
    bad = write("c.yaml", "name: d\ntasks: []\n")
    result = cli("--debug", "run", str(bad), "--dry-run")
    assert result.code == 2
    assert "Traceback" in result.err


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("text", "level 1\n  by_region [python]  <- extract"),
        ("mermaid", "    t0 --> t1"),
        ("dot", '    "extract" -> "by_region";'),
    ],
)
def test_graph_formats(cli, fmt, expected):
    result = cli("graph", str(EXAMPLE_DAGS / "diamond_pipeline.yaml"), "--format", fmt)
    assert result.code == 0, result
    assert expected in result.out


def test_every_example_dag_matches_the_emitted_json_schema(cli):
    result = cli("schema")
    assert result.code == 0
    schema = json.loads(result.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    examples = sorted(EXAMPLE_DAGS.glob("*.yaml"))
    assert examples, "no example DAGs found"
    for path in examples:
        data = yaml.safe_load(path.read_text())
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], (path, errors)
    assert list(validator.iter_errors({"name": "x", "tasks": [{"id": "a", "run": "x", "depnds_on": []}]}))


def test_every_command_help_has_an_example(cli):
    top = cli("--help")
    assert top.code == 0
    commands = ["validate", "run", "graph", "schema"]
    for command in commands:
        assert command in top.out
        result = cli(command, "--help")
        assert result.code == 0, command
        assert "Example" in result.out, command


def test_version_via_console_script_and_module():
    from dagctl import __version__

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-m", "dagctl", "--version"], capture_output=True, text=True, env=env)
    assert out.returncode == 0
    assert out.stdout.strip() == f"dagctl {__version__}"


def test_each_command_loads_only_its_own_module_and_the_map_is_complete() -> None:
    import typer

    from dagctl.cli.app import COMMAND_MODULES, MODULES, build_app

    registered: dict[str, str] = {}
    for module in MODULES:
        app = typer.Typer()
        importlib.import_module(f"dagctl.cli.{module}").register(app)
        names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
        registered.update(dict.fromkeys(names, module))
    assert registered == COMMAND_MODULES
    full = build_app()
    only_run = build_app(["run", "x.yaml", "-q"])
    assert [c.name for c in only_run.registered_commands] == ["run"]
    assert len(full.registered_commands) + len(full.registered_groups) == len(COMMAND_MODULES)
    assert len(build_app(["no-such-command"]).registered_commands) == len(full.registered_commands)


def test_the_program_exits_fast_but_with_its_code_and_all_its_output(tmp_path) -> None:
    """entry() skips interpreter teardown: exit handlers still run, stdout is complete, codes pass through."""
    dag = tmp_path / "wide.yaml"
    dag.write_text("name: wide\ntasks:\n" + "".join(f"  - {{id: t{i}, run: 'true'}}\n" for i in range(2000)))
    plan = subprocess.run(
        [sys.executable, "-m", "dagctl", "run", str(dag), "--dry-run", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plan.returncode == 0, plan.stderr
    assert len(json.loads(plan.stdout)["tasks"]) == 2000  # ~300 KB through a pipe, none of it lost
    bad = subprocess.run(
        [sys.executable, "-m", "dagctl", "run", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "file not found" in bad.stderr
