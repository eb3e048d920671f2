"""What a run's events keep when a full disk leaves room for only some of its last lines
(:func:`dagctl.store.sinks.choose`, :func:`~dagctl.store.sinks.with_note`): its beginning and end, failures, other
outcomes, the rest, and last the tasks it never started; ``dag_done`` says what was left out."""

from __future__ import annotations

from dagctl.store.sinks import choose, importance, with_note


def _line(event: str, task: str = "", **fields: object) -> dict[str, object]:
    return {"event": event, **({"task_id": task} if task else {}), **fields}


def test_what_fits_is_chosen_by_importance_and_the_rest_is_named_in_dag_done() -> None:
    backlog = [
        _line("task_start", "a"),
        _line("task_ok", "a"),
        _line("task_fail", "b", error="exit code 1"),
        *(_line("task_cancel", f"n{i}", reason="not started: stopped: disk full") for i in range(3)),
        _line("run_warning", message="..."),
        _line("dag_done", status="failed", error="stopped: disk full"),
    ]
    assert [importance(r) for r in backlog] == [3, 2, 1, 4, 4, 4, 3, 0]
    sizes = [100] * len(backlog)
    order, must, count = choose(backlog, sizes, room=350)
    assert (must, count) == (1, 3)
    assert order[:count] == [7, 2, 1]  # dag_done, then the failure, then the success
    order, must, count = choose(backlog, sizes, room=0)
    assert count == 1 and order[0] == 7  # dag_done whatever the room
    assert choose(backlog, sizes, room=None)[2] == len(backlog)  # room unknown: try them all first
    noted = with_note(backlog[-1], [backlog[j] for j in order[3:]])
    assert noted["error"] == (
        "stopped: disk full; 3 tasks not started and 2 other events: their records did not fit on the full disk"
    )
    noted = with_note(backlog[-1], [backlog[j] for j in order[1:]])
    assert noted["error"] == (
        "stopped: disk full; 3 tasks not started, the outcomes of 2 tasks that ran and 2 other events: "
        "their records did not fit on the full disk"
    )
    assert with_note(backlog[-1], [])["error"] == "stopped: disk full"
    assert with_note({"event": "dag_done", "error": None}, backlog[3:4])["error"] == (
        "1 task not started: their records did not fit on the full disk"
    )
