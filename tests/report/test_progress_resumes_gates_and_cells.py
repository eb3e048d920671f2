"""The live view's model for a resumed run, an approved gate, and matrix cells with their values."""

from __future__ import annotations

from dagctl.report.progress import RunProgress, kept_before_resume
from dagctl.store.events import DagResume

from .events import at, ev, graph

CHAIN = {"a": [], "b": ["a"], "c": ["b"], "side": []}


def before_the_pause() -> list[dict]:
    """A run of CHAIN paused after ``a`` succeeded and ``side`` failed once and was cancelled by the pause."""
    return [
        ev("dag_start", 0, run="r1"),
        ev("task_start", 0, "a", attempt=1),
        ev("task_start", 0, "side", attempt=1),
        ev("task_ok", 2, "a", attempt=1, duration_s=2.0),
        ev("task_retry", 2, "side", attempt=1, delay_s=5.0, error="exit code 1"),
        ev("task_cancel", 3, "side", reason="paused"),
        ev("dag_done", 3, status="paused", duration_s=3.0),
    ]


def resume(seconds: float) -> dict:
    return ev("dag_resume", seconds, run="r1", reused=1, pid=42)


def test_a_resumed_run_shows_the_tasks_it_kept_as_done_and_its_run_id():
    model = RunProgress(graph(CHAIN), expected={"a": 2.0, "b": 1.0, "c": 1.0, "side": 1.0})
    model.resume_from(before_the_pause())
    model.apply_all([resume(10), ev("task_start", 10, "b", attempt=1, run="r1")])
    p = model.view(at(11))
    assert p.run_id == "r1" and p.status == "running"
    rows = {r.task_id: r for r in p.rows}
    assert (rows["a"].status, rows["a"].elapsed_s) == ("success", 2.0)  # kept: done, with its time
    assert rows["side"].status == "queued"  # not kept: it runs again
    assert (p.done, p.counts["running"], p.counts["queued"] + p.counts["pending"]) == (1, 1, 2)
    assert p.elapsed_s == 11.0 and not p.since_resume  # from the run's start, the pause included (as `runs`)
    model.apply_all(
        [
            ev("task_ok", 11, "b", attempt=1, duration_s=1.0),
            ev("task_start", 11, "c", attempt=1),
            ev("task_start", 11, "side", attempt=2),
            ev("task_ok", 12, "c", attempt=1, duration_s=1.0),
            ev("task_ok", 12, "side", attempt=2, duration_s=1.0),
            ev("dag_done", 12, status="success", duration_s=2.0),  # this process's part
        ]
    )
    end = model.view(at(20))
    assert (end.status, end.done, end.elapsed_s) == ("success", 4, 12.0)  # its whole time, as `runs` says


def test_what_a_resume_keeps_is_what_succeeded_and_reused_not_a_loops_iteration():
    events = [
        *before_the_pause(),
        ev("task_skip", 1, "b", status="success", reason="reused outputs of an earlier run"),
        ev("task_start", 1, "c", attempt=1, iteration=1),
        ev("task_ok", 2, "c", attempt=1, iteration=1, status="iterated", duration_s=1.0),
    ]
    kept = kept_before_resume(events)
    assert [(e["event"], e.get("task_id")) for e in kept] == [
        ("dag_start", None),
        ("task_start", "a"),
        ("task_ok", "a"),
        ("task_skip", "b"),
    ]


def test_a_resumed_run_whose_past_is_unknown_counts_from_the_resume():
    model = RunProgress(graph(CHAIN))
    model.apply_all([resume(10), ev("task_start", 10, "b", attempt=1, run="r1")])
    p = model.view(at(11))
    assert (p.run_id, p.elapsed_s, p.since_resume) == ("r1", 1.0, True)
    model.apply(ev("dag_done", 12, status="success", duration_s=2.0))
    assert model.view(at(13)).elapsed_s == 2.0


def test_typed_resume_events_fold_like_their_records():
    typed = DagResume(ts=resume(10)["ts"], run_id="r1", dag_name="etl", tenant_id="default", reused=1, pid=42)
    model = RunProgress(graph(CHAIN))
    model.resume_from(before_the_pause())
    model.apply(typed)
    p = model.view(at(10))
    assert p.run_id == "r1" and {r.task_id: r.status for r in p.rows}["a"] == "success"


def test_an_approved_gate_says_who_approved_it_not_who_it_waits_for():
    model = RunProgress(graph({"build": [], "gate": ["build"]}))
    model.apply_all(
        [
            ev("dag_start", 0),
            ev("task_start", 0, "build", attempt=1),
            ev("task_ok", 1, "build", attempt=1, duration_s=1.0),
            ev("approval_requested", 1, "gate", attempt=1, approvers=["ana", "li"], message="Ship it?"),
        ]
    )
    assert model.view(at(2)).rows[1].note == "waits for ana, li: Ship it? (dagctl approve)"
    model.apply_all(
        [
            ev("approval_granted", 3, "gate", attempt=1, by=["ana"]),
            ev("task_ok", 3, "gate", attempt=1, duration_s=2.0),
        ]
    )
    gate = model.view(at(4)).rows[1]
    assert (gate.status, gate.note) == ("success", "approved by ana")


def test_matrix_cells_show_their_values():
    model = RunProgress(graph({"train": []}))
    model.apply_all(
        [
            ev("dag_start", 0),
            ev("task_start", 0, "train", cells=2),
            ev("task_start", 0, "train", attempt=1, cell="train:0", matrix={"lr": 0.1, "size": "数据"}),
            ev("task_start", 0, "train", attempt=1, cell="train:1"),
        ]
    )
    labels = [r.label for r in model.view(at(1)).rows]
    assert labels == ["train", "train:0 [lr=0.1, size=数据]", "train:1"]
