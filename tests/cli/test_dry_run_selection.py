"""`dagctl run --dry-run` with `--only` / `--from`: the preview shows what the run would run and reuse, and
refuses what the run refuses, with the same one-line error and exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagctl.dag.loader import load_dag_text
from dagctl.dag.plan import build_plan
from dagctl.dag.planview import plan_as_dict, plan_lines

CHAIN = """\
name: chain
tasks:
  - {id: a, run: "echo '{\\"n\\": 1}' > $DAGCTL_OUTPUT"}
  - {id: b, run: "true", depends_on: a}
  - {id: c, run: "true", depends_on: b}
"""


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    path = tmp_path / "chain.yaml"
    path.write_text(CHAIN)
    return path


def test_dry_run_refuses_an_unknown_task_as_the_run_does(cli, chain: Path) -> None:
    for option in ("--only", "--from"):
        run = cli("run", str(chain), option, "zz")
        dry = cli("run", str(chain), "--dry-run", option, "zz")
        assert run.code == dry.code == 2
        assert dry.err == run.err == "dagctl: error: DAG 'chain' has no task 'zz' — known tasks: a, b, c\n"
        assert dry.out == ""


def test_dry_run_refuses_a_selection_whose_upstream_never_succeeded_as_the_run_does(cli, chain: Path) -> None:
    dry = cli("run", str(chain), "--dry-run", "--only", "b")
    run = cli("run", str(chain), "--only", "b")
    assert dry.code == run.code == 2
    assert dry.err == run.err
    assert dry.err.startswith("dagctl: error: no earlier run of 'chain' has succeeded at: a — ")
    assert dry.out == ""


def test_dry_run_lists_only_the_selected_tasks_and_what_is_reused(cli, chain: Path) -> None:
    assert cli("run", str(chain), "-q").code == 0
    result = cli("run", str(chain), "--dry-run", "--only", "b")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert "Tasks: 1 of 3 selected in 1 level (up to 1 in parallel)" in lines
    planned = [line.strip() for line in lines if line.startswith("  ") and ". " in line]
    assert [line.split(" ")[1] for line in planned] == ["b"]
    assert "Reused: a (outputs of the newest run in which each succeeded)" in lines
    assert "Not run: c (recorded as skipped: not selected)" in lines

    data = json.loads(cli("run", str(chain), "--dry-run", "--from", "b", "--json").out)
    assert [t["id"] for t in data["tasks"]] == ["b", "c"]
    assert data["selected"] == ["b", "c"] and data["levels"] == [["b"], ["c"]]
    assert data["reused"] == {"a": {"n": 1}} and data["not_run"] == []


def test_a_dry_run_without_selection_is_unchanged() -> None:
    plan = build_plan(load_dag_text(CHAIN))
    lines = plan_lines(plan)
    assert lines[2] == "Tasks: 3 in 3 levels (up to 1 in parallel)"
    assert not any(line.startswith(("Reused", "Not run")) for line in lines)
    assert "selected" not in plan_as_dict(plan)


def test_the_preview_of_a_selection_is_a_pure_view_of_plan_and_reuse() -> None:
    plan = build_plan(load_dag_text(CHAIN))
    lines = plan_lines(plan, selected=["a", "b", "c"], reused={})
    assert lines[2] == "Tasks: 3 of 3 selected in 3 levels (up to 1 in parallel)"
    assert lines[-1] == "Reused: none"
    data = plan_as_dict(plan, selected=["c"], reused={"b": {"k": "v"}})
    assert data["selected"] == ["c"] and data["reused"] == {"b": {"k": "v"}} and data["not_run"] == ["a"]


def test_a_dry_run_refuses_the_options_the_run_refuses(cli, tmp_path) -> None:
    dag = tmp_path / "d.yaml"
    dag.write_text("name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    for options, message in (
        (["--timeout", "bogus"], "--timeout: 'bogus' is not a duration"),
        (["--timeout", "0"], "--timeout 0 is no time at all"),
        (["-x", "bogus"], "unknown executor 'bogus'"),
    ):
        for dry in ([], ["--dry-run"]):
            result = cli("run", str(dag), *options, *dry)
            assert result.code == 2 and message in result.err, (options, dry, result)
    assert cli("run", str(dag), "--timeout", "1m", "--dry-run").code == 0
