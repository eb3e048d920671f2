from __future__ import annotations

import pytest

from dagctl.dag.plan import build_plan, find_cycles, graph_issues
from dagctl.dag.spec import DagSpec
from dagctl.errors import SpecError


def dag(*tasks: tuple[str, list[str]], **extra) -> DagSpec:
    return DagSpec.model_validate(
        {"name": "d", "tasks": [{"id": t, "run": "true", "depends_on": deps} for t, deps in tasks], **extra}
    )


def test_diamond_levels_order_and_priority():
    plan = build_plan(dag(("load", ["left", "right"]), ("extract", []), ("left", ["extract"]), ("right", ["extract"])))
    assert plan.order == ["extract", "left", "right", "load"]
    assert plan.levels == (("extract",), ("left", "right"), ("load",))
    assert [plan.tasks[t].priority for t in plan.order] == [3, 2, 2, 1]
    assert plan.tasks["extract"].downstream == ("left", "right")


def test_level_is_the_longest_distance_from_a_root():
    plan = build_plan(dag(("a", []), ("b", ["a"]), ("c", ["b"]), ("d", ["a", "c"])))
    assert plan.tasks["d"].level == 3


def test_defaults_fill_task_settings():
    spec = dag(("a", []), ("b", ["a"]), defaults={"retries": 3, "timeout": "1m"})
    plan = build_plan(spec)
    assert (plan.tasks["a"].retries, plan.tasks["a"].timeout) == (3, 60.0)


def test_build_plan_refuses_a_cycle_built_in_code():
    with pytest.raises(SpecError, match="dependency cycle: a -> b -> a"):
        build_plan(dag(("a", ["b"]), ("b", ["a"])))


def test_find_cycles_reports_each_tangle_once():
    cycles = find_cycles({"a": ["b"], "b": ["a"], "c": ["d"], "d": ["c"], "e": ["a"]})
    assert cycles == [["a", "b", "a"], ["c", "d", "c"]]


def test_graph_issues_tolerates_garbage_entries():
    issues = graph_issues([(None, []), ("a", [3, "zz"]), (5, "a")])
    assert [i.message for i in issues] == ["task 'a' depends on unknown task 'zz'"]


def test_subgraph_downstream():
    plan = build_plan(dag(("a", []), ("b", ["a"]), ("c", ["b"]), ("x", [])))
    assert plan.subgraph_downstream(["b"]) == ["b", "c"]


def test_plan_of_10k_tasks_is_linear_enough():
    tasks = [(f"t{i}", [f"t{i - 1}"] if i else []) for i in range(10_000)]
    plan = build_plan(dag(*tasks))
    assert plan.tasks["t9999"].level == 9999
    assert plan.tasks["t0"].priority == 10_000
