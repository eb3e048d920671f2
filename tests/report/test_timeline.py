"""A run's timeline: bars per attempt with queued and retry-wait time, the critical path, scaling to a width."""

from __future__ import annotations

from dagctl.report.timeline import Attempt, Segment, build_timeline, columns, details, headline, ticks

from .events import DIAMOND, at, ev, graph


def diamond_events() -> list[dict]:
    return [
        ev("dag_start", 0),
        ev("task_start", 0.5, "extract", attempt=1),
        ev("task_ok", 2.0, "extract", attempt=1, duration_s=1.5),
        ev("task_start", 2.0, "by_region", attempt=1),
        ev("task_start", 2.5, "by_product", attempt=1),
        ev("task_retry", 3.0, "by_product", attempt=1, delay_s=1.0, error="exit code 1"),
        ev("task_start", 4.0, "by_product", attempt=2),
        ev("task_ok", 5.0, "by_region", attempt=1, duration_s=3.0),
        ev("task_ok", 6.0, "by_product", attempt=2, duration_s=2.0),
        ev("task_start", 6.0, "report", attempt=1),
        ev("task_ok", 7.0, "report", attempt=1, duration_s=1.0),
        ev("dag_done", 7.0, status="success", duration_s=7.0),
    ]


def test_every_attempt_with_the_time_it_waited_before():
    t = build_timeline(diamond_events(), graph=graph(DIAMOND))
    assert (t.run_id, t.dag_name, t.status, t.started, t.span_s, t.edges_known) == (
        "r1",
        "etl",
        "success",
        at(0),
        7.0,
        True,
    )
    assert [lane.task_id for lane in t.lanes] == ["extract", "by_region", "by_product", "report"]  # by first start
    attempts = {lane.task_id: lane.attempts for lane in t.lanes}
    assert attempts["extract"] == (
        Attempt("extract", 1, "success", Segment("running", 0.5, 2.0), Segment("queued", 0.0, 0.5), duration_s=1.5),
    )
    assert attempts["by_region"] == (Attempt("by_region", 1, "success", Segment("running", 2.0, 5.0), duration_s=3.0),)
    assert attempts["by_product"] == (
        Attempt(
            "by_product", 1, "retried", Segment("running", 2.5, 3.0), Segment("queued", 2.0, 2.5), None, "exit code 1"
        ),
        Attempt(
            "by_product", 2, "success", Segment("running", 4.0, 6.0), Segment("retry_wait", 3.0, 4.0), duration_s=2.0
        ),
    )
    assert attempts["report"] == (Attempt("report", 1, "success", Segment("running", 6.0, 7.0), duration_s=1.0),)
    assert t.attempts == 5


def test_the_critical_path_is_the_chain_that_decided_the_end():
    t = build_timeline(diamond_events(), graph=graph(DIAMOND))
    assert t.critical_path == ("extract", "by_product", "report")
    assert [lane.task_id for lane in t.lanes if lane.critical] == ["extract", "by_product", "report"]
    assert details(t) == "4 tasks, 5 attempts · critical path: extract → by_product → report"
    assert headline(t) == "etl · run r1: success in 7s"  # as `dagctl show` says it


def test_without_the_dags_edges_queued_time_is_unknown_and_the_path_guessed():
    t = build_timeline(diamond_events())
    assert not t.edges_known
    assert t.critical_path == ("extract", "by_product", "report")
    assert [a.wait for lane in t.lanes for a in lane.attempts] == [
        None,
        None,
        None,
        Segment("retry_wait", 3.0, 4.0),
        None,
    ]
    assert "(guessed from times)" in details(t)


def test_a_run_still_going_ends_at_now_with_running_attempts_and_a_pending_retry():
    t = build_timeline(diamond_events()[:6], graph=graph(DIAMOND), now=at(3.5))
    assert (t.status, t.span_s) == ("running", 3.5)
    lanes = {lane.task_id: lane for lane in t.lanes}
    assert lanes["by_region"].attempts == (Attempt("by_region", 1, "running", Segment("running", 2.0, 3.5)),)
    assert lanes["by_product"].status == "retrying"
    assert lanes["by_product"].waiting == Segment("retry_wait", 3.0, 3.5)


def test_skips_cancels_failures_before_start_and_timeouts():
    events = [
        ev("dag_start", 0),
        ev("task_fail", 0.0, "render", attempt=1, duration_s=0.0, error="bad template"),
        ev("task_skip", 0.1, "after", reason="upstream 'render' failed"),
        ev("task_start", 0.0, "slow", attempt=1),
        ev("task_fail", 2.0, "slow", attempt=1, status="timeout", error="timed out after 2s", exit_code=-15),
        ev("task_cancel", 2.0, "never", reason="run timed out"),
        ev("dag_done", 2.0, status="failed", duration_s=2.0),
    ]
    t = build_timeline(events)
    lanes = {lane.task_id: lane for lane in t.lanes}
    assert lanes["render"].attempts == (
        Attempt("render", 1, "failed", Segment("running", 0.0, 0.0), None, None, "bad template", duration_s=0.0),
    )
    assert lanes["slow"].attempts[0].outcome == "timeout" and lanes["slow"].attempts[0].exit_code == -15
    assert (lanes["after"].status, lanes["after"].note, lanes["after"].attempts) == (
        "skipped",
        "upstream 'render' failed",
        (),
    )
    assert (lanes["never"].status, lanes["never"].note) == ("cancelled", "run timed out")
    assert [lane.task_id for lane in t.lanes][-2:] == ["after", "never"]  # never started: at the end


def test_columns_scale_a_lane_to_a_width():
    t = build_timeline(diamond_events(), graph=graph(DIAMOND))
    lanes = {lane.task_id: lane for lane in t.lanes}
    assert columns(lanes["extract"], t.span_s, 14) == ["queued", *["success"] * 3, *[""] * 10]
    assert columns(lanes["by_product"], t.span_s, 14) == [
        *[""] * 4,
        "queued",
        "retried",
        "retry_wait",
        "retry_wait",
        *["success"] * 4,
        "",
        "",
    ]
    # an attempt shorter than a column still gets one; a wait never hides a run
    short = build_timeline(
        [ev("dag_start", 0), ev("task_start", 0, "a"), ev("task_ok", 0.01, "a"), ev("dag_done", 100)]
    )
    assert columns(short.lanes[0], short.span_s, 10) == ["success", *[""] * 9]


def test_ticks_are_round_times_at_least_a_gap_apart():
    assert [(k.seconds, k.position, k.label) for k in ticks(7.0, 700, min_gap=70)] == [
        (float(n), n * 100.0, f"{n}s") for n in range(8)
    ]
    assert [k.label for k in ticks(0.9, 90, min_gap=20)] == ["0s", "250ms", "500ms", "750ms"]
    assert [k.label for k in ticks(400, 80, min_gap=10)] == ["0s", "1m", "2m", "3m", "4m", "5m", "6m"]
    assert [k.label for k in ticks(5400, 100, min_gap=30)] == ["0s", "30m", "1h", "1h30m"]


def test_matrix_cells_get_lanes_under_their_task_and_loops_attempts_per_iteration():
    events = [
        ev("dag_start", 0),
        ev("task_start", 0, "train", cells=2, matrix={"lr": [0.1, 0.01]}),
        ev("task_start", 0, "train", attempt=1, cell="train:0", cell_index=0),
        ev("task_start", 0, "train", attempt=1, cell="train:1", cell_index=1),
        ev("task_ok", 2, "train", attempt=1, cell="train:1", cell_index=1, duration_s=2.0),
        ev("task_ok", 3, "train", attempt=1, cell="train:0", cell_index=0, duration_s=3.0),
        ev("task_ok", 3, "train", duration_s=3.0, reason="2 of 2 cells succeeded"),
        ev("task_start", 3, "poll", attempt=1, iteration=1),
        ev("task_ok", 4, "poll", attempt=1, iteration=1, duration_s=1.0),
        ev("task_start", 5, "poll", attempt=1, iteration=2),
        ev("task_ok", 6, "poll", attempt=1, iteration=2, duration_s=1.0),
        ev("dag_done", 6, status="success", duration_s=6.0),
    ]
    t = build_timeline(events, graph=graph({"train": [], "poll": ["train"]}))
    assert [(lane.task_id, lane.parent, len(lane.attempts)) for lane in t.lanes] == [
        ("train", None, 0),
        ("train:0", "train", 1),
        ("train:1", "train", 1),
        ("poll", None, 2),
    ]
    train = t.lanes[0]
    assert (train.group, train.status, train.start_s, train.end_s) == (Segment("group", 0.0, 3.0), "success", 0.0, 3.0)
    assert [(a.number, a.iteration, a.run) for a in t.lanes[3].attempts] == [
        (1, 1, Segment("running", 3.0, 4.0)),
        (1, 2, Segment("running", 5.0, 6.0)),
    ]
    assert t.critical_path == ("train", "poll") and t.attempts == 4
    assert details(t) == "2 tasks, 2 matrix cells, 4 attempts · critical path: train → poll"
    assert columns(train, t.span_s, 6) == ["group", "group", "group", "", "", ""]
