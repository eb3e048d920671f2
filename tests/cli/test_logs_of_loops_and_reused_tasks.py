"""`dagctl logs RUN TASK` of a loop (`repeat:`) prints the log `show` names, its last iteration's, and `--iteration` /
`--attempt` pick another; a task or matrix cell whose outputs a retry reused (it did not run) says in which run it
ran, with the command for its log there."""

from __future__ import annotations

import json
from pathlib import Path

from dagctl.cli.logs_cmd import pick_log, why_no_log
from dagctl.store.runsummary import TaskSummary
from dagctl.store.tasklogs import AttemptLog, attempt_logs

LOOP = """\
name: loop
tasks:
  - id: fit
    run: >-
      echo "iter $DAGCTL_ITERATION";
      if [ "$DAGCTL_ITERATION" = 3 ] && [ ! -e {ok} ]; then exit 7; fi;
      echo "loss=$((10 - DAGCTL_ITERATION))" > "$DAGCTL_OUTPUT"
    repeat: {{until: "outputs.fit.loss < 5", max_iterations: 8}}
  - {{id: post, depends_on: fit, run: 'echo "final ${{outputs.fit.loss}}"'}}
"""

RETRIED_LOOP = """\
name: loop3
tasks:
  - id: fit
    run: >-
      echo "iter $DAGCTL_ITERATION";
      if [ "$DAGCTL_ITERATION" = 3 ] && [ ! -e {mark} ]; then touch {mark}; echo again; exit 7; fi;
      echo "n=$DAGCTL_ITERATION" > "$DAGCTL_OUTPUT"
    retries: 1
    repeat: {{until: "outputs.fit.n >= 4", max_iterations: 9}}
"""

MATRIX = """\
name: mx
tasks:
  - {{id: prep, run: 'echo prepared'}}
  - id: train
    depends_on: [prep]
    matrix: {{k: [a, b, c]}}
    run: 'echo "cell ${{matrix.k}}"; if [ "${{matrix.k}}" = b ] && [ ! -e {ok} ]; then exit 4; fi'
  - {{id: report, depends_on: [train], run: 'test -e {ok2} && echo reported'}}
"""


def run_id_of(cli) -> str:
    return json.loads(cli("show", "latest", "--json").out)["run_id"]


def one_line_error(result) -> str:
    assert result.code == 2 and result.err.count("\n") == 1 and "Traceback" not in result.err, result
    return result.err.strip()


def test_the_log_of_a_loop_is_its_last_iterations_the_one_show_names(cli, tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").write_text(LOOP.format(ok=tmp_path / "ok"))
    assert cli("run", str(tmp_path / "loop.yaml"), "-q").code == 1  # fails at iteration 3
    run_id = run_id_of(cli)
    shown = json.loads(cli("show", run_id, "--json").out)["tasks"]["fit"]
    assert Path(shown["log_path"]).name == "fit~3.log"
    assert cli("logs", run_id, "fit").out == "iter 3\n"
    assert cli("logs", run_id, "fit", "--iteration", "2").out == "iter 2\n"
    assert cli("logs", run_id, "fit", "--iteration", "1", "--attempt", "1").out == "iter 1\n"
    (entry,) = [t for t in json.loads(cli("logs", run_id, "--json").out)["tasks"] if t["task"] == "fit"]
    assert entry["log"] == shown["log_path"] and entry["iteration"] == 3 and entry["text"] == "iter 3\n"
    every = cli("logs", run_id).out
    assert f"==> fit (iteration 3, attempt 1, failed) {shown['log_path']} <==\niter 3\n" in every
    assert one_line_error(cli("logs", run_id, "fit", "--iteration", "5")).endswith(
        f"task 'fit' ran no iteration 5 in run {run_id} — its iterations in this run: 1-3"
    )
    assert "its attempts in iteration 3: 1" in one_line_error(cli("logs", run_id, "fit", "--attempt", "2"))


def test_a_retried_loop_that_went_on_from_iteration_3_has_its_logs_and_points_at_the_earlier_ones(
    cli, tmp_path: Path
) -> None:
    (tmp_path / "loop.yaml").write_text(LOOP.format(ok=tmp_path / "ok"))
    assert cli("run", str(tmp_path / "loop.yaml"), "-q").code == 1
    first = run_id_of(cli)
    (tmp_path / "ok").touch()
    assert cli("retry", first, "-q").code == 0
    retry = run_id_of(cli)
    assert not (tmp_path / "logs" / "runs" / retry / "fit.log").exists()  # iterations 1-2 ran in the first run
    assert cli("logs", retry, "fit").out == "iter 6\n"  # loss 4 < 5: the loop ended at iteration 6
    assert cli("logs", retry, "fit", "--iteration", "3").out == "iter 3\n"
    error = one_line_error(cli("logs", retry, "fit", "--iteration", "1"))
    assert error.endswith(f"ones before ran in run {first}: dagctl logs {first[-6:]} fit --iteration 1")
    assert cli("logs", first[-6:], "fit", "--iteration", "1").out == "iter 1\n"  # the command it gives works
    assert cli("logs", retry, "post").out == "final 4\n"
    assert "'post' of run" in one_line_error(cli("logs", retry, "post", "--iteration", "1"))
    assert "is not a loop (repeat:): it has no iterations" in cli("logs", retry, "post", "--iteration", "1").err


def test_a_loop_with_retries_has_a_log_per_iteration_and_attempt(cli, tmp_path: Path) -> None:
    (tmp_path / "loop3.yaml").write_text(RETRIED_LOOP.format(mark=tmp_path / "failed-once"))
    assert cli("run", str(tmp_path / "loop3.yaml"), "-q").code == 0
    run_id = run_id_of(cli)
    names = sorted(p.name for p in (tmp_path / "logs" / "runs" / run_id).glob("fit*.log"))
    assert names == ["fit.log", "fit~2.log", "fit~3.log", "fit~3@2.log", "fit~4.log"]
    assert cli("logs", run_id, "fit").out == "iter 4\n"
    assert cli("logs", run_id, "fit", "--iteration", "3").out == "iter 3\n"  # its last attempt
    assert cli("logs", run_id, "fit", "--iteration", "3", "--attempt", "1").out == "iter 3\nagain\n"


def test_attempts_and_their_logs_come_from_the_events() -> None:
    events = [
        {"event": "task_start", "task_id": "fit", "attempt": 1, "iteration": 1, "log_path": "/r/fit.log"},
        {"event": "task_ok", "task_id": "fit", "attempt": 1, "iteration": 1, "status": "iterated"},
        {"event": "task_start", "task_id": "fit", "attempt": 1, "iteration": 2, "log_path": "/r/fit~2.log"},
        {"event": "task_retry", "task_id": "fit", "attempt": 1, "iteration": 2},
        {"event": "task_start", "task_id": "fit", "attempt": 2, "iteration": 2, "log_path": "/r/fit~2@2.log"},
        {"event": "task_start", "task_id": "train", "cell": "train:0", "attempt": 1, "log_path": "/r/train:0.log"},
        {"event": "task_fail", "task_id": "bad", "attempt": 1, "error": "a template"},
    ]
    refs = attempt_logs(events, "fit")
    assert refs == [AttemptLog(1, 1, "fit.log"), AttemptLog(2, 1, "fit~2.log"), AttemptLog(2, 2, "fit~2@2.log")]
    assert pick_log("fit", refs, iteration=None, attempt=None, run_id="r") == AttemptLog(2, 2, "fit~2@2.log")
    assert pick_log("fit", refs, iteration=2, attempt=1, run_id="r") == AttemptLog(2, 1, "fit~2.log")
    assert pick_log("fit", refs, iteration=None, attempt=1, run_id="r") == AttemptLog(2, 1, "fit~2.log")
    assert attempt_logs(events, "train:0") == [AttemptLog(None, 1, "train:0.log")]
    assert attempt_logs(events, "bad") == [AttemptLog(None, 1, "bad.log")]  # failed before it started: no file
    assert pick_log("gate", [], iteration=None, attempt=None, run_id="r") is None


def test_a_task_and_cells_a_retry_reused_say_where_they_ran(cli, tmp_path: Path) -> None:
    ok, ok2 = tmp_path / "ok", tmp_path / "ok2"
    (tmp_path / "mx.yaml").write_text(MATRIX.format(ok=ok, ok2=ok2))
    assert cli("run", str(tmp_path / "mx.yaml"), "-q").code == 1  # cell b failed
    first = run_id_of(cli)
    ok.touch()
    assert cli("retry", first, "-q").code == 1  # b runs again and succeeds; report fails
    second = run_id_of(cli)
    error = one_line_error(cli("logs", second, "train:0"))
    assert error == (
        f"dagctl: error: task 'train:0' was not run in run {second}: its outputs were reused from run {first}"
        f" — dagctl logs {first[-6:]} train:0"
    )
    assert cli("logs", first[-6:], "train:0").out == "cell a\n"  # the command it gives works
    matrix = one_line_error(cli("logs", second, "train"))
    assert "(train:0 [k=a], reused; train:1 [k=b]; train:2 [k=c], reused)" in matrix
    assert matrix.endswith(f"ask for a cell's log: dagctl logs {second[-6:]} train:1")  # one that ran here
    assert cli("logs", second[-6:], "train:1").out == "cell b\n"
    headers = [line for line in cli("logs", second).out.splitlines() if line.startswith("==> prep")]
    assert headers == [
        f"==> prep (success) no log: it was not run in this run: its outputs were reused from run {first} <=="
    ]
    ok2.touch()
    assert cli("retry", second, "-q").code == 0
    third = run_id_of(cli)
    # reused twice over: the run that ran it is the first, not the retry it was taken from
    assert one_line_error(cli("logs", third, "prep")).endswith(
        f"its outputs were reused from run {first} — dagctl logs {first[-6:]} prep"
    )


def test_why_a_reused_task_has_no_log() -> None:
    reused = TaskSummary(task_id="prep", status="success", reason="reused outputs of an earlier run")
    assert why_no_log(reused, [], None, "R1") == "it was not run in this run: its outputs were reused from run R1"
    assert why_no_log(reused, [], None) == "it was not run in this run: its outputs were reused from an earlier run"
