"""The live view's model: events folded with the graph and history, viewed at a fixed instant."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from dagctl.report.progress import Row, RunProgress, fold
from dagctl.store.events import DagStart, TaskOk, TaskRetry, TaskStart, format_ts

from .events import DIAMOND, at, ev, graph

HISTORY = {"extract": 2.0, "by_region": 5.0, "by_product": 1.0, "report": 0.5, "side": 1.0}


def diamond_run() -> list[dict]:
    return [
        ev("dag_start", 0, tasks=5),
        ev("task_start", 0, "extract", attempt=1, log_path="/logs/extract.log"),
        ev("task_start", 0, "side", attempt=1),
        ev("task_ok", 1, "side", attempt=1, duration_s=1.0),
        ev("task_ok", 2, "extract", attempt=1, duration_s=2.0),
        ev("task_start", 2, "by_region", attempt=1, log_path="/logs/by_region.log"),
        ev("task_start", 2, "by_product", attempt=1),
        ev("task_retry", 3, "by_product", attempt=1, delay_s=4.0, error="exit code 1\nmore text"),
    ]


def test_a_run_in_progress_at_one_instant():
    g = graph({**DIAMOND, "side": []}, retries={"by_product": 2})
    p = fold(diamond_run(), g, at(4), expected=HISTORY, parallelism=2)
    assert (p.dag_name, p.run_id, p.status, p.total, p.done, p.failed) == ("etl", "r1", "running", 5, 2, 0)
    assert {k: v for k, v in p.counts.items() if v} == {"success": 2, "running": 1, "retrying": 1, "pending": 1}
    assert p.elapsed_s == 4.0
    assert p.has_history and p.most_attempts == 3 and p.hidden == {}
    # by_product has 4 s of retry wait and 1 s of work left, then report: the chain wins over work / parallelism
    assert p.eta_s == 4.5
    assert p.rows == (
        Row("extract", "extract", 0, "success", 1, 1, 2.0, 2.0, "", None),
        Row("by_region", "by_region", 0, "running", 1, 1, 2.0, 5.0, "", "/logs/by_region.log"),
        Row("by_product", "by_product", 0, "retrying", 1, 3, None, 1.0, "exit code 1", None, 3.0),
        Row("side", "side", 0, "success", 1, 1, 1.0, 1.0, "", None),
        Row("report", "report", 0, "pending", 0, 1, None, 0.5, "waits on by_region, by_product", None),
    )


def test_without_history_there_is_no_eta_and_the_order_is_the_plans():
    g = graph({**DIAMOND, "side": []})
    p = fold(diamond_run()[:3], g, at(1.5))
    assert p.eta_s is None and not p.has_history
    assert [r.task_id for r in p.rows] == ["extract", "by_region", "by_product", "report", "side"]
    assert [(r.status, r.elapsed_s, r.expected_s) for r in p.rows[:2]] == [
        ("running", 1.5, None),
        ("pending", None, None),
    ]
    assert p.rows[1].note == "waits on extract"


def test_a_task_whose_upstream_is_done_is_queued():
    g = graph({"a": [], "b": [], "c": ["a"]})
    p = fold([ev("dag_start", 0), ev("task_start", 0, "a")], g, at(1))
    assert [(r.task_id, r.status, r.note) for r in p.rows] == [
        ("a", "running", ""),
        ("b", "queued", "queued"),
        ("c", "pending", "waits on a"),
    ]
    assert (p.counts["queued"], p.counts["pending"]) == (1, 1)


def test_typed_events_fold_like_their_records():
    g = graph({**DIAMOND, "side": []}, retries={"by_product": 2})
    common = {"run_id": "r1", "dag_name": "etl", "tenant_id": "default"}
    typed = [
        DagStart(ts=format_ts(at(0)), tasks=5, **common),
        TaskStart(ts=format_ts(at(0)), task_id="extract", attempt=1, log_path="/logs/extract.log", **common),
        TaskStart(ts=format_ts(at(0)), task_id="side", attempt=1, **common),
        TaskOk(ts=format_ts(at(1)), task_id="side", attempt=1, duration_s=1.0, **common),
        TaskOk(ts=format_ts(at(2)), task_id="extract", attempt=1, duration_s=2.0, **common),
        TaskStart(ts=format_ts(at(2)), task_id="by_region", attempt=1, log_path="/logs/by_region.log", **common),
        TaskStart(ts=format_ts(at(2)), task_id="by_product", attempt=1, **common),
        TaskRetry(ts=format_ts(at(3)), task_id="by_product", attempt=1, delay_s=4.0, error="exit code 1", **common),
    ]
    expected = fold(diamond_run(), g, at(4), expected=HISTORY, parallelism=2)
    assert fold(typed, g, at(4), expected=HISTORY, parallelism=2) == expected


def test_endings_skips_reuse_cancel_and_timeouts():
    g = graph({"a": [], "b": ["a"], "c": [], "d": [], "e": []})
    events = [
        ev("dag_start", 0),
        ev("task_start", 0, "a"),
        ev("task_fail", 1, "a", attempt=1, duration_s=1.0, status="timeout"),
        ev("task_skip", 1, "b", reason="upstream 'a' failed"),
        ev("task_skip", 0, "c", status="success", reason="reused outputs of an earlier run"),
        ev("task_start", 0, "d"),
        ev("task_cancel", 2, "d", attempt=1, reason="interrupted by SIGINT"),
        ev("task_cancel", 2, "e", reason="interrupted by SIGINT"),
        ev("dag_done", 2, status="cancelled", duration_s=2.0),
    ]
    p = fold(events, g, at(60), expected={"a": 1.0})
    assert (p.status, p.elapsed_s, p.eta_s, p.done, p.failed) == ("cancelled", 2.0, 0.0, 5, 1)
    assert [(r.task_id, r.status, r.note) for r in p.rows] == [
        ("a", "failed", "timed out"),
        ("b", "skipped", "upstream 'a' failed"),
        ("c", "reused", "reused outputs of an earlier run"),
        ("d", "cancelled", "interrupted by SIGINT"),
        ("e", "cancelled", "interrupted by SIGINT"),
    ]


def test_rows_that_do_not_fit_fold_into_counts_keeping_active_and_failed_ones():
    g = graph({f"t{i:02d}": [] for i in range(100)})
    events = [ev("dag_start", 0)]
    for i in range(50):
        events += [ev("task_start", i * 0.1, f"t{i:02d}"), ev("task_ok", i * 0.1 + 0.1, f"t{i:02d}", duration_s=0.1)]
    events += [ev("task_start", 5, "t50"), ev("task_fail", 5.1, "t50", duration_s=0.1, error="exit code 2")]
    events += [ev("task_start", 5.2, f"t{i}") for i in (51, 52, 53)]
    p = fold(events, g, at(6), parallelism=4, max_rows=10)
    assert [(r.task_id, r.status) for r in p.rows] == [
        ("t50", "failed"),
        ("t51", "running"),
        ("t52", "running"),
        ("t53", "running"),
        ("t54", "queued"),
        ("t55", "queued"),
        ("t56", "queued"),
        ("t57", "queued"),
        ("t58", "queued"),
    ]
    assert p.hidden == {"success": 50, "queued": 41}
    assert len(p.rows) + 1 == 10  # and a line for what is folded
    everything = fold(events, g, at(6), parallelism=4)
    assert len(everything.rows) == 100 and everything.hidden == {}


def test_when_running_tasks_alone_overflow_the_first_ones_stay():
    g = graph({f"t{i}": [] for i in range(6)})
    events = [ev("dag_start", 0)] + [ev("task_start", 0, f"t{i}") for i in range(6)]
    p = fold(events, g, at(1), max_rows=4)
    assert [r.task_id for r in p.rows] == ["t0", "t1", "t2"]
    assert p.hidden == {"running": 3}


def test_matrix_cells_are_grouped_under_their_task():
    """A matrix task's cells (events with ``cell``) are rows under it; the task counts them."""
    g = graph({"train": [], "report": ["train"]})
    events = [
        ev("dag_start", 0),
        ev("task_start", 0, "train", cells=3, matrix={"lr": [0.1, 0.01, 0.001]}),
        ev("task_start", 0, "train", attempt=1, cell="train:0", cell_index=0),
        ev("task_start", 0, "train", attempt=1, cell="train:1", cell_index=1),
        ev("task_ok", 1, "train", attempt=1, cell="train:0", cell_index=0, duration_s=1.0),
        ev("task_retry", 1, "train", attempt=1, cell="train:1", cell_index=1, delay_s=2.0, error="exit code 1"),
    ]
    p = fold(events, g, at(2))
    assert [(r.label, r.depth, r.status, r.attempt, r.note) for r in p.rows] == [
        ("train", 0, "running", 0, "1/3 cells"),
        ("train:0", 1, "success", 1, ""),
        ("train:1", 1, "retrying", 1, "exit code 1"),
        ("report", 0, "pending", 0, "waits on train"),
    ]
    assert p.total == 2 and p.counts["running"] == 1  # cells are not tasks of the DAG
    folded = fold(events, g, at(2), max_rows=3)  # the retrying cell stays, the finished one folds
    assert [r.label for r in folded.rows] == ["train", "train:1"]
    assert folded.hidden == {"success": 1, "pending": 1}
    done = fold([*events, ev("task_ok", 5, "train", duration_s=5.0, reason="3 of 3 cells succeeded")], g, at(5))
    assert (done.rows[0].status, done.rows[-1].status) == ("success", "queued")


def test_a_loop_runs_again_on_its_row():
    g = graph({"poll": [], "after": ["poll"]})
    events = [
        ev("dag_start", 0),
        ev("task_start", 0, "poll", attempt=1, iteration=1),
        ev("task_ok", 1, "poll", attempt=1, iteration=1, duration_s=1.0, reason="until is false"),
        ev("task_start", 2, "poll", attempt=1, iteration=2),
    ]
    p = fold(events, g, at(3))
    assert [(r.task_id, r.status, r.iteration, r.elapsed_s, r.note) for r in p.rows] == [
        ("poll", "running", 2, 1.0, ""),
        ("after", "pending", None, None, "waits on poll"),  # not queued: the loop goes on
    ]
    assert p.done == 0


def test_a_sub_dag_task_names_its_child_run():
    g = graph({"child": []})
    p = fold([ev("task_start", 0, "child", attempt=1, child_run_id="20261206-120000.000-c0ffee")], g, at(1))
    assert p.rows[0].note == "sub-DAG run 20261206-120000.000-c0ffee"


def test_an_approval_gate_waits_for_its_approvers_then_ends_like_a_task():
    g = graph({"build": [], "go": ["build"]})
    events = [
        ev("task_ok", 1, "build", attempt=1, duration_s=1.0),
        ev("approval_requested", 1, "go", attempt=1, message="Deploy 1.2?", approvers=["ana", "li"]),
    ]
    row = fold(events, g, at(5)).rows[1]
    assert (row.status, row.note) == ("waiting", "waits for ana, li: Deploy 1.2? (dagctl approve)")
    done = fold([*events, ev("task_ok", 6, "go", attempt=1, duration_s=5.0)], g, at(7)).rows[1]
    assert done.status == "success"


def test_history_sets_the_order_only_before_the_first_event():
    g = graph({"a": [], "b": []})
    model = RunProgress(g)
    model.set_history({"a": 1.0, "b": 9.0})
    assert [r.task_id for r in model.view(at(0)).rows] == ["b", "a"]
    model.apply(ev("task_start", 0, "b"))
    model.set_history({"a": 9.0, "b": 1.0})
    view = model.view(at(0))
    assert [r.task_id for r in view.rows] == ["b", "a"]  # rows never move during a run
    assert [r.expected_s for r in view.rows] == [1.0, 9.0]


def test_succeeded_durations_for_the_next_runs_history():
    g = graph({"a": [], "b": [], "c": []})
    model = RunProgress(g).apply_all(
        [ev("task_ok", 1, "a", duration_s=1.5), ev("task_fail", 1, "b", duration_s=0.5), ev("task_start", 1, "c")]
    )
    assert model.succeeded() == {"a": 1.5}


def _scenarios() -> dict[str, tuple[dict[str, list[str]], list[dict]]]:
    """Runs of every shape the model groups or marks, as records."""
    retried = [
        ev("dag_start", 0),
        ev("task_start", 0, "a", attempt=1, log_path="/logs/a.log"),
        ev("task_retry", 1, "a", attempt=1, delay_s=1.0, error="exit code 1"),
        ev("task_start", 2, "a", attempt=2, log_path="/logs/a.2.log"),
        ev("task_ok", 3, "a", attempt=2, duration_s=1.0, cached=None),
        ev("task_start", 3, "b", attempt=1),
    ]
    matrix = [
        ev("dag_start", 0),
        ev("task_start", 0, "a", cells=2, matrix={"x": [1, 2]}),
        ev("task_start", 0, "a", attempt=1, cell="a:0", cell_index=0),
        ev("task_ok", 1, "a", attempt=1, cell="a:0", cell_index=0, duration_s=1.0),
        ev("task_start", 1, "a", attempt=1, cell="a:1", cell_index=1),
    ]
    loop = [
        ev("task_start", 0, "a", attempt=1, iteration=1),
        ev("task_ok", 1, "a", attempt=1, iteration=1, duration_s=1.0, status="iterated", reason="until is false"),
        ev("task_start", 1, "a", attempt=1, iteration=2),
    ]
    child = [ev("task_start", 0, "a", attempt=1, child_run_id="20261206-120000.000-c0ffee")]
    cached = [ev("task_ok", 0, "a", attempt=1, duration_s=0.0, cached=True, cache_key="ab" * 32)]
    extra = [ev("task_start", 0, "unplanned", attempt=1), ev("task_ok", 1, "unplanned", duration_s=1.0)]
    return {
        "diamond": ({**DIAMOND, "side": []}, diamond_run()),
        "retried": ({"a": [], "b": ["a"]}, retried),
        "matrix": ({"a": [], "b": ["a"]}, matrix),
        "loop": ({"a": [], "b": ["a"]}, loop),
        "child": ({"a": []}, child),
        "cached": ({"a": [], "b": ["a"]}, cached),
        "unplanned": ({"a": []}, extra),
    }


def test_every_kind_of_run_folds_alike_from_typed_events_and_from_records():
    """The runner hands the live view typed events (plain starts and ends take a short path); an events file
    gives records. Both must give the same view, whatever the run holds."""
    from dagctl.store.events import Event, parse_event

    for name, (deps, records) in _scenarios().items():
        typed = [parse_event(r) for r in records]
        assert all(isinstance(e, Event) for e in typed), name
        g = graph(deps, retries={"a": 1})
        for now in (at(1.5), at(10)):
            assert fold(typed, g, now, expected=HISTORY) == fold(records, g, now, expected=HISTORY), name
            assert fold(typed, g, now, max_rows=2) == fold(records, g, now, max_rows=2), name


def _story(kind: str, task: str) -> list[tuple[str, dict]]:
    """One task's events in a run, as (kind, fields) in order; times are given by the position in the run."""
    plain = {"attempt": 1, "log_path": f"/logs/{task}.log"}
    stories: dict[str, list[tuple[str, dict]]] = {
        "ok": [("task_start", plain), ("task_ok", {**plain, "duration_s": 0.5})],
        "retried": [
            ("task_start", plain),
            ("task_retry", {"attempt": 1, "delay_s": 2.0, "error": "exit code 1"}),
            ("task_start", {"attempt": 2}),
            ("task_ok", {"attempt": 2, "duration_s": 1.0}),
        ],
        "failed": [("task_start", plain), ("task_fail", {"attempt": 1, "status": "failed", "error": "exit code 2"})],
        "skipped": [("task_skip", {"reason": "condition is false"})],
        "cancelled": [("task_start", plain), ("task_cancel", {"reason": "SIGINT"})],
        "cells": [
            ("task_start", {"cells": 2, "matrix": {"x": [1, 2]}}),
            ("task_start", {"attempt": 1, "cell": f"{task}:0", "cell_index": 0}),
            ("task_ok", {"attempt": 1, "cell": f"{task}:0", "cell_index": 0, "duration_s": 1.0}),
            ("task_start", {"attempt": 1, "cell": f"{task}:1", "cell_index": 1}),
            ("task_ok", {"attempt": 1, "cell": f"{task}:1", "cell_index": 1, "duration_s": 1.0}),
            ("task_ok", {"attempt": 1, "duration_s": 2.0}),
        ],
        "loop": [
            ("task_start", {"attempt": 1, "iteration": 1}),
            ("task_ok", {"attempt": 1, "iteration": 1, "duration_s": 1.0, "status": "iterated", "reason": "again"}),
            ("task_start", {"attempt": 1, "iteration": 2}),
            ("task_ok", {"attempt": 1, "iteration": 2, "duration_s": 1.0}),
        ],
        "child": [
            ("task_start", {"attempt": 1, "child_run_id": "20261206-120000.000-c0ffee"}),
            ("task_ok", {"attempt": 1, "duration_s": 3.0}),
        ],
        "approval": [
            ("approval_requested", {"approvers": ["ana"], "message": "ship it?"}),
            ("approval_granted", {"by": ["ana"]}),
            ("task_start", plain),
            ("task_ok", {**plain, "duration_s": 0.5}),
        ],
        "running": [("task_start", plain)],
        "no attempt": [("task_start", {}), ("task_ok", {"duration_s": 0.5})],
    }
    return stories[kind]


STORIES = [
    "ok",  # the live view's usual batch: mostly plain starts and ends, so weighted
    "ok",
    "ok",
    "ok",
    "retried",
    "failed",
    "skipped",
    "cancelled",
    "cells",
    "loop",
    "child",
    "approval",
    "running",
    "no attempt",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.data())
def test_a_batch_of_events_folds_as_its_events_one_by_one(data: hs.DataObject) -> None:
    """The live view folds what came since its last frame in one call, which leaves out the starts that only
    their end follows; whatever the run holds and wherever the batches break, the view must be the same."""
    from dagctl.store.events import parse_event

    tasks = ["a", "b", "c", "d", "e", "unplanned"]
    g = graph({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []}, retries={"a": 1, "b": 2})
    queues = [
        [(kind, task, fields) for kind, fields in _story(data.draw(hs.sampled_from(STORIES), label=task), task)]
        for task in tasks
    ]
    records = [ev("dag_start", 0)] if data.draw(hs.booleans(), label="dag_start") else []
    while any(queues):  # the tasks' stories interleaved at random, each in its order
        queue = data.draw(hs.sampled_from([q for q in queues if q]))
        kind, task, fields = queue.pop(0)
        records.append(ev(kind, len(records) * 0.25, task, **fields))
    if data.draw(hs.booleans(), label="dag_done"):
        records.append(ev("dag_done", len(records) * 0.25, status="success", duration_s=len(records) * 0.25))
    typed = [parse_event(r) for r in records]
    cuts = sorted(data.draw(hs.sets(hs.integers(0, len(typed)), max_size=4), label="cuts"))
    # expected times in halves of a second: the remaining work is exact whatever order tasks leave it in
    one_by_one = RunProgress(g, parallelism=2, expected=HISTORY | {"a": 1.0, "b": 2.0})
    batched = RunProgress(g, parallelism=2, expected=HISTORY | {"a": 1.0, "b": 2.0})
    for start, end in zip([0, *cuts], [*cuts, len(typed)], strict=True):
        for event in typed[start:end]:
            one_by_one.apply(event)
        batched.apply_batch(typed[start:end])
        for now in (at(start * 0.25 + 0.1), at(100)):
            assert batched.view(now) == one_by_one.view(now)
            assert batched.view(now, max_rows=3) == one_by_one.view(now, max_rows=3)
        assert batched.version == one_by_one.version
    assert batched.succeeded() == one_by_one.succeeded()


def test_a_batch_leaves_out_the_starts_only_their_end_follows():
    """What the batch saves: 1,000 plain tasks that started and ended since the last frame are folded in one
    short step each, without the generic fold of their starts and ends; every task is counted once."""
    from unittest.mock import patch

    ids = [f"t{i}" for i in range(1000)]
    g = graph({tid: [] for tid in ids})
    model = RunProgress(g, parallelism=2)
    run = {"run_id": "r1", "dag_name": "fan", "tenant_id": "default"}
    events: list[object] = [DagStart(ts=format_ts(at(0)), tasks=1000, trigger="manual", **run)]
    for tid in ids:
        events.append(TaskStart(ts=format_ts(at(0)), task_id=tid, attempt=1, **run))
        events.append(TaskOk(ts=format_ts(at(1)), task_id=tid, attempt=1, duration_s=1.0, **run))
    events.append(TaskStart(ts=format_ts(at(1)), task_id="late", attempt=1, **run))
    folded: list[object] = []
    real = RunProgress.apply
    with patch.object(RunProgress, "apply", lambda self, event: (folded.append(event), real(self, event))[1]):
        model.apply_batch(events)
    assert folded == [events[0], events[-1]]  # the run's start and the task still running
    assert model.version == len(events)
    view = model.view(at(2))
    assert view.counts["success"] == 1000 and view.total == 1001
    assert [(r.task_id, r.status, r.attempt, r.elapsed_s) for r in view.rows[:2]] == [
        ("t0", "success", 1, 1.0),
        ("t1", "success", 1, 1.0),
    ]
    small = model.view(at(2), max_rows=4)  # the running task, then finished ones in order, the rest folded
    assert [(r.task_id, r.status) for r in small.rows] == [("t0", "success"), ("t1", "success"), ("late", "running")]
    assert small.hidden == {"success": 998}
    assert model.succeeded() == dict.fromkeys(ids, 1.0)


def test_the_eta_is_the_same_in_every_process():
    """The ETA sums what the running tasks have left; the set of them iterates in an order that differs between
    processes (string hashing) and between folding one by one and in batches. The sum is exact, so the same run
    gives the same ETA anywhere, to the last digit."""
    import os
    import subprocess
    import sys

    script = (
        "from datetime import datetime, timedelta, timezone\n"
        "from dagctl.report.graph import TaskGraph\n"
        "from dagctl.report.progress import RunProgress\n"
        "from dagctl.store.events import DagStart, TaskStart, format_ts\n"
        "t0 = datetime(2026, 12, 6, 12, tzinfo=timezone.utc)\n"
        "ids = tuple(f'task-{i}' for i in range(40))\n"
        "g = TaskGraph(order=ids, depends_on=dict.fromkeys(ids, ()), downstream=dict.fromkeys(ids, ()),"
        " max_attempts=dict.fromkeys(ids, 1))\n"
        "m = RunProgress(g, parallelism=3, expected={t: 0.1 * (i + 1) for i, t in enumerate(ids)})\n"
        "run = {'run_id': 'r', 'dag_name': 'd', 'tenant_id': 'default'}\n"
        "m.apply(DagStart(ts=format_ts(t0), tasks=40, trigger='manual', **run))\n"
        "for i, t in enumerate(ids):\n"
        "    m.apply(TaskStart(ts=format_ts(t0 + timedelta(seconds=0.01 * i)), task_id=t, attempt=1, **run))\n"
        "print(repr(m.eta(t0 + timedelta(seconds=0.55))))\n"
    )
    etas = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(6)
    }
    assert len(etas) == 1, etas
