"""The DAG's shape for reports: chains, the order rows are shown in, the critical path, a snapshot's edges."""

from __future__ import annotations

from dagctl.report.graph import critical_path, display_order, graph_of_document, tails, topological

from .events import DIAMOND, graph


def test_tails_are_the_longest_expected_chain_to_the_end():
    g = graph(DIAMOND)
    assert tails(g, {}) == {"report": 1.0, "by_region": 2.0, "by_product": 2.0, "extract": 3.0}
    durations = {"extract": 2.0, "by_region": 5.0, "by_product": 1.0, "report": 0.5}
    assert tails(g, durations) == {"report": 0.5, "by_region": 5.5, "by_product": 1.5, "extract": 7.5}


def test_unknown_tasks_weigh_the_median_of_the_known_ones():
    g = graph({"a": [], "b": [], "c": []})
    assert tails(g, {"a": 1.0, "b": 3.0}) == {"a": 1.0, "b": 3.0, "c": 2.0}


def test_rows_are_topological_with_the_critical_path_first():
    g = graph({**DIAMOND, "side": []})
    assert display_order(g, tails(g, {})) == ("extract", "by_region", "by_product", "report", "side")
    slow_product = tails(g, {"by_product": 9.0, "by_region": 1.0, "extract": 1.0, "report": 1.0, "side": 1.0})
    assert display_order(g, slow_product) == ("extract", "by_product", "by_region", "report", "side")
    assert critical_path(g, slow_product) == ("extract", "by_product", "report")


def test_a_wide_fan_without_history_keeps_the_files_order():
    g = graph({f"t{i}": [] for i in range(5)})
    assert display_order(g, tails(g, {})) == ("t0", "t1", "t2", "t3", "t4")
    slow_t3 = {"t0": 1.0, "t1": 1.0, "t2": 1.0, "t3": 5.0, "t4": 1.0}
    assert display_order(g, tails(g, slow_t3)) == ("t3", "t0", "t1", "t2", "t4")


def test_graph_of_a_dag_files_data():
    data = {
        "name": "x",
        "defaults": {"retries": 1},
        "tasks": [
            {"id": "b", "depends_on": "a"},
            {"id": "a"},
            {"id": "c", "depends_on": ["a", "b", "ghost"], "retries": 3},
            "not a task",
        ],
    }
    g = graph_of_document(data)
    assert g is not None
    assert g.order == ("a", "b", "c")
    assert g.depends_on == {"a": (), "b": ("a",), "c": ("a", "b")}
    assert g.downstream == {"a": ("b", "c"), "b": ("c",), "c": ()}
    assert g.max_attempts == {"a": 2, "b": 2, "c": 4}


def test_no_graph_from_a_cycle_or_no_task_list():
    assert graph_of_document({"tasks": [{"id": "a", "depends_on": "b"}, {"id": "b", "depends_on": "a"}]}) is None
    assert graph_of_document({"name": "x"}) is None
    assert graph_of_document(["tasks"]) is None
    assert topological({"a": ("b",), "b": ("a",)}) is None
