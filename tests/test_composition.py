"""Composed DAGs as a user relies on them: matrix fan-out and fan-in, sub-DAGs, repeat-until loops, and the
retry of each. Real runs (threads, shell and Python tasks); events and files are checked, not internals."""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from dagctl.errors import SpecError
from dagctl.run.api import run_dag
from dagctl.run.resume import prepare_retry
from dagctl.settings import Settings
from dagctl.store.history import History
from dagctl.store.sinks import MemorySink

STEPS = """
import threading

_lock = threading.Lock()
_running = [0, 0]  # now, most at once


def train(lr, bs):
    with _lock:
        _running[0] += 1
        _running[1] = max(_running[1], _running[0])
    try:
        return {"accuracy": round(0.5 + lr * 10 + bs / 1000, 4), "label": "big" if bs > 16 else "small"}
    finally:
        with _lock:
            _running[0] -= 1


def most_at_once():
    return {"most": _running[1]}


def pick_middle(cells):
    return {"middle": cells[len(cells) // 2]["matrix"]}


def converge(ctx):
    n = int(ctx.env["DAGCTL_ITERATION"])
    return {"loss": round(1.0 / (n * n), 4), "n": n}


def flaky_epoch(ctx):
    import os
    n = int(ctx.env["DAGCTL_ITERATION"])
    marker = os.path.join(ctx.run_dir, "..", "..", "..", f"broke-{n}")
    if n == 3 and not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("the GPU fell off")
    return {"loss": round(1.0 / n, 4), "n": n}
"""


@pytest.fixture
def dags(tmp_path: Path):
    """Write DAG files beside steps.py and run one: dags.run(name, text=None, **run_dag kwargs)."""

    class Dags:
        folder = tmp_path
        settings = Settings(logs_dir=tmp_path / "logs", events_path=tmp_path / "logs" / "events.jsonl", grace_s=0.5)

        def write(self, name: str, text: str) -> Path:
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip())
            return path

        def run(self, name: str, text: str | None = None, **kwargs: Any) -> tuple[Any, MemorySink]:
            path = self.write(name, text) if text is not None else tmp_path / name
            sink = MemorySink()
            return run_dag(path, sinks=[sink], settings=self.settings, **kwargs), sink

        def events(self, run_id: str) -> list[dict[str, Any]]:
            return History(self.settings).events_of(run_id)

    (tmp_path / "steps.py").write_text(STEPS)
    return Dags()


HYPER = """
    name: hyper
    params: {lrs: [0.001, 0.01, 0.1]}
    tasks:
      - id: train
        matrix: {lr: "${params.lrs}", bs: [16, 32]}
        max_parallel: 2
        python: steps:train
        params: {lr: "${matrix.lr}", bs: "${matrix.bs}"}
        aggregate: {strategy: best, metric: accuracy, order: max}
      - id: report
        depends_on: [train]
        run: echo "best_lr=${outputs.train.best.matrix.lr}" > "$DAGCTL_OUTPUT"
"""


def test_a_matrix_runs_one_cell_per_combination_and_fans_in_the_best(dags) -> None:
    result, sink = dags.run("hyper.yaml", HYPER)
    assert result.status == "success", result.summary()
    cells = result.cells
    assert list(cells) == [f"train:{i}" for i in range(6)]
    assert [c.matrix for c in cells.values()][:3] == [
        {"lr": 0.001, "bs": 16},
        {"lr": 0.001, "bs": 32},
        {"lr": 0.01, "bs": 16},
    ]  # key order, then value order: the first key varies slowest
    best = result.tasks["train"].outputs["best"]
    assert best["matrix"] == {"lr": 0.1, "bs": 32} and best["index"] == 5
    assert len(result.tasks["train"].outputs["cells"]) == 6
    assert result.tasks["report"].outputs == {"best_lr": "0.1"}
    starts = [e for e in sink.of("task_start", "train") if e.cell]
    assert [(e.cell, e.cell_index, e.matrix) for e in starts][1] == ("train:1", 1, {"lr": 0.001, "bs": 32})
    [fan_out] = [e for e in sink.of("task_start", "train") if e.cells]
    assert fan_out.cells == 6
    # every cell has its own files; the task's outputs are what downstream reads
    assert json.loads((result.run_dir / "outputs" / "train:5.json").read_text())["accuracy"] == 1.532
    assert result.summary()["tasks_succeeded"] == 2  # tasks, not cells


def test_max_parallel_caps_the_cells_running_at_once(dags) -> None:
    result, _ = dags.run(
        "cap.yaml",
        """
        name: cap
        options: {parallelism: 8}
        tasks:
          - {id: t, matrix: {lr: [1, 2, 3, 4, 5, 6, 7, 8], bs: [16]}, max_parallel: 2, python: steps:train,
             params: {lr: "${matrix.lr}", bs: "${matrix.bs}"}}
          - {id: probe, depends_on: t, python: steps:most_at_once}
        """,
    )
    assert result.status == "success"
    assert 1 <= result.tasks["probe"].outputs["most"] <= 2


def test_cells_that_retry_share_max_parallel_and_all_get_their_retry(dags) -> None:
    # each cell fails its first attempt; a cell waiting for its retry must free its slot, and get it back
    result, _ = dags.run(
        "flaky.yaml",
        """
        name: flaky
        options: {parallelism: 4}
        tasks:
          - id: t
            matrix: {x: [1, 2, 3]}
            max_parallel: 1
            retries: 1
            retry_delay: 0.01
            run: |
              cd "$DAGCTL_RUN_DIR"
              mkdir busy || echo x >> overlapped
              sleep 0.05; rmdir busy
              [ -e seen-${matrix.x} ] || { touch seen-${matrix.x}; exit 1; }
        """,
    )
    assert result.status == "success", result.summary()
    assert [result.cells[f"t:{i}"].attempt for i in range(3)] == [2, 2, 2]
    run_dir = dags.settings.runs_dir / result.run_id
    assert (run_dir / "seen-3").exists() and not (run_dir / "overlapped").exists()  # never two cells at once


def test_cell_logs_exist_only_for_cells_that_ran(dags, monkeypatch) -> None:
    from dagctl.run.executors import logfiles

    real, ahead = logfiles.LogPrecreator, []

    def eager(paths: list[str], **kwargs: Any) -> Any:  # every log created ahead, timing ignored
        ahead.extend(Path(p).name for p in paths)
        return real(paths, **{**kwargs, "ahead": len(paths) + 1, "worth_s": None})

    monkeypatch.setattr(logfiles, "LogPrecreator", eager)
    result, _ = dags.run(
        "skip.yaml",
        """
        name: skip
        tasks:
          - {id: ran, matrix: {x: [1, 2]}, run: 'echo ${matrix.x}'}
          - {id: skipped, matrix: {x: [1, 2, 3]}, when: "1 == 2", run: 'echo ${matrix.x}'}
        """,
    )
    assert result.status == "success"
    run_dir = dags.settings.runs_dir / result.run_id
    assert {"ran:0.log", "ran:1.log", "skipped:2.log"} <= set(ahead)  # cells of literal lists, known ahead
    logs = sorted(p.name for p in run_dir.glob("*.log"))
    assert logs == ["ran:0.log", "ran:1.log"]  # what was made for cells that never ran is gone
    assert (run_dir / "ran:1.log").read_text().strip().endswith("2")


def test_a_run_that_strands_work_is_never_a_success(dags, monkeypatch) -> None:
    from dagctl.run.runner import Runner

    monkeypatch.setattr(Runner, "_push_ready", lambda self, uid: None)  # a lost unit: nothing would start it
    result, _ = dags.run("strand.yaml", "name: strand\ntasks:\n  - {id: a, run: 'true'}\n")
    assert result.status == "failed"
    assert "unfinished: a" in (result.error or "")


@pytest.mark.parametrize(
    ("aggregate", "check"),
    [
        ("{strategy: collect}", lambda o: set(o) == {"cells"}),
        ("{strategy: worst, metric: accuracy, order: max}", lambda o: o["worst"]["matrix"]["lr"] == 0.001),
        ("{strategy: best, metric: accuracy, order: min}", lambda o: o["best"]["index"] == 0),
        ("{strategy: average, metrics: [accuracy]}", lambda o: abs(o["mean"]["accuracy"] - 0.579) < 1e-9),
        ("{strategy: vote, key: label}", lambda o: o["winner"] == "small" and o["counts"] == {"small": 2, "big": 2}),
        ("{strategy: python, python: 'steps:pick_middle'}", lambda o: o["middle"] == {"lr": 0.01, "bs": 16}),
    ],
)
def test_each_fan_in_strategy(dags, aggregate: str, check: Any) -> None:
    result, _ = dags.run(
        "agg.yaml",
        f"""
        name: agg
        tasks:
          - id: t
            matrix: {{lr: [0.001, 0.01], bs: [16, 32]}}
            python: steps:train
            params: {{lr: "${{matrix.lr}}", bs: "${{matrix.bs}}"}}
            aggregate: {aggregate}
        """,
    )
    assert result.status == "success", result.summary()
    assert check(result.tasks["t"].outputs)


def test_a_failing_cell_fails_the_matrix_unless_min_success_allows_it(dags) -> None:
    text = """
        name: some
        tasks:
          - id: t
            matrix: {n: [1, 2, 3]}
            run: test ${matrix.n} -ne 2
            {extra}
          - {id: after, depends_on: t, run: "true"}
    """
    failed, _ = dags.run("some.yaml", text.replace("{extra}", ""))
    assert failed.status == "failed" and failed.tasks["t"].status == "failed"
    assert "2 of 3 cells succeeded, 3 needed" in failed.tasks["t"].error
    assert failed.cells["t:1"].status == "failed" and failed.tasks["after"].status == "skipped"
    ok, _ = dags.run("some.yaml", text.replace("{extra}", "min_success: 2"))
    assert ok.status == "success" and ok.tasks["t"].reason == "2 of 3 cells succeeded"


def test_a_matrix_that_fails_still_tells_its_cells_to_what_runs_after_failures(dags) -> None:
    """A fan-in that runs whatever happened (all_done) and a failure handler are where the cells matter most;
    they got `no outputs from task 't'` and failed themselves."""
    text = """
        name: report
        handlers:
          failure: {run: 'echo "handler: ${outputs.t.cells}" >> SEEN'}
        tasks:
          - id: t
            matrix: {n: [1, 2, 3]}
            run: 'echo "{\\"n\\": ${matrix.n}}" > "$DAGCTL_OUTPUT"; test ${matrix.n} -ne 2'
          - {id: tell, depends_on: t, trigger_rule: all_done, run: 'echo "tell: ${outputs.t.cells}" >> SEEN'}
    """
    result, _ = dags.run("report.yaml", text.replace("SEEN", str(dags.folder / "seen")))
    assert result.status == "failed" and result.tasks["t"].status == "failed"
    assert result.tasks["tell"].status == "success", result.summary()
    seen = [line.split(": ", 1) for line in (dags.folder / "seen").read_text().splitlines()]
    assert [who for who, _ in seen] == ["tell", "handler"]
    for _, cells in seen:
        assert [(c["status"], c["outputs"]) for c in json.loads(cells)] == [
            ("success", {"n": 1}),
            ("failed", {"n": 2}),
            ("success", {"n": 3}),
        ]


def test_a_matrix_fed_by_an_upstream_output_expands_when_it_arrives(dags, capsys) -> None:
    text = """
        name: dynamic
        tasks:
          - {id: list, run: 'echo ''{"days": ["mon", "tue", "wed"]}'' > "$DAGCTL_OUTPUT"'}
          - id: each
            depends_on: list
            matrix: {day: "${outputs.list.days}"}
            run: echo "seen=${matrix.day}" > "$DAGCTL_OUTPUT"
    """
    result, _ = dags.run("dynamic.yaml", text)
    assert result.status == "success", result.summary()
    assert [c["outputs"]["seen"] for c in result.tasks["each"].outputs["cells"]] == ["mon", "tue", "wed"]
    from dagctl.cli import main

    assert main(["run", str(dags.folder / "dynamic.yaml"), "--dry-run"]) == 0
    assert "matrix: expands when the run reaches it, from ${outputs.list.days}" in capsys.readouterr().out


def test_a_sub_dag_runs_as_a_linked_run_and_hands_back_its_outputs(dags) -> None:
    dags.write(
        "pipelines/prep.yaml",
        """
        name: prep
        params: {day: "1970-01-01"}
        tasks:
          - {id: fetch, run: 'echo rows=42 > "$DAGCTL_OUTPUT"'}
          - {id: inner, dag: leaf.yaml}
        outputs: {rows: "${outputs.fetch.rows}", day: "${params.day}", leaf: "${outputs.inner.word}"}
        """,
    )
    dags.write("pipelines/leaf.yaml", "name: leaf\ntasks:\n  - {id: w, run: 'echo word=deep > $DAGCTL_OUTPUT'}\n"
               "outputs: {word: '${outputs.w.word}'}\n")  # fmt: skip
    result, sink = dags.run(
        "parent.yaml",
        """
        name: parent
        params: {day: "2026-12-06"}
        tasks:
          - {id: prep, dag: pipelines/prep.yaml, params: {day: "${params.day}"}}
          - {id: use, depends_on: prep, run: 'echo "n=${outputs.prep.rows} d=${outputs.prep.day}" > $DAGCTL_OUTPUT'}
        """,
    )
    assert result.status == "success", result.summary()
    assert result.tasks["prep"].outputs == {"rows": "42", "day": "2026-12-06", "leaf": "deep"}
    assert result.tasks["use"].outputs == {"n": "42 d=2026-12-06"}
    child_id = result.tasks["prep"].child_run_id
    [start] = sink.of("task_start", "prep")
    assert start.child_run_id == child_id
    history = History(dags.settings)
    child = history.summary(child_id)
    assert (child.parent_run_id, child.parent_task, child.status) == (result.run_id, "prep", "success")
    assert history.summary(result.run_id).tasks["prep"].child_run_id == child_id


def test_a_child_file_is_validated_once_and_an_edit_to_it_is_seen(dags) -> None:
    dags.write(
        "child.yaml",
        "name: child\ntasks:\n  - {id: w, run: 'echo v=1 > $DAGCTL_OUTPUT'}\noutputs: {v: '${outputs.w.v}'}\n",
    )
    parent = "name: parent\ntasks:\n  - {id: c, dag: child.yaml}\n"
    first, _ = dags.run("parent.yaml", parent)
    assert first.tasks["c"].outputs == {"v": "1"}
    cached = sorted(p.name.split("-")[0] for p in dags.settings.plan_cache_dir.iterdir())
    assert cached == ["child", "parent"]  # the child's plan is kept like the parent's
    dags.write(
        "child.yaml",
        "name: child\ntasks:\n  - {id: w, run: 'echo v=2 > $DAGCTL_OUTPUT'}\noutputs: {v: '${outputs.w.v}'}\n",
    )
    second, _ = dags.run("parent.yaml")
    assert second.tasks["c"].outputs == {"v": "2"}  # never a stale plan
    dags.write("child.yaml", "name: child\ntasks:\n  - {id: w, run: true, bogus: 1}\n")
    with pytest.raises(SpecError, match=r"sub-DAG child\.yaml is invalid"):  # a cached parent is not trusted
        dags.run("parent.yaml")


def test_cancelling_the_parent_cancels_its_child(dags, monkeypatch) -> None:
    from dagctl.run.state import RunControl

    dags.write("slow.yaml", "name: slow\ntasks:\n  - {id: wait, run: 'touch started; sleep 30'}\n")
    monkeypatch.chdir(dags.folder)
    control = RunControl()
    started = dags.folder / "started"

    def cancel_when_started() -> None:
        from tests.support import wait_until

        wait_until(started.exists, timeout=20)
        control.cancel("stop it")

    threading.Thread(target=cancel_when_started, daemon=True).start()
    result, _ = dags.run("outer.yaml", "name: outer\ntasks:\n  - {id: child, dag: slow.yaml}\n", control=control)
    assert result.status == "cancelled"
    child = History(dags.settings).summary(result.tasks["child"].child_run_id)
    assert child.status == "cancelled"


def test_a_child_run_cancelled_on_its_own_fails_its_parent(dags, monkeypatch) -> None:
    """The parent ended `success`, exit 0, with its sub-DAG task cancelled and everything after it skipped."""
    dags.write("slow.yaml", "name: slow\ntasks:\n  - {id: wait, run: 'touch started; sleep 30'}\n")
    monkeypatch.chdir(dags.folder)
    history = History(dags.settings)
    started = dags.folder / "started"

    def cancel_the_child() -> None:
        from tests.support import wait_until

        wait_until(started.exists, timeout=20)
        child = next(r for r in history.run_ids() if history.summary(r).parent_task == "child")
        history.request_cancel(child, "cancelled by hand")

    threading.Thread(target=cancel_the_child, daemon=True).start()
    outer = "name: outer\ntasks:\n  - {id: child, dag: slow.yaml}\n  - {id: after, depends_on: child, run: 'true'}\n"
    result, _ = dags.run("outer.yaml", outer)
    assert result.tasks["child"].status == "cancelled" and result.tasks["after"].status == "skipped"
    assert result.status == "failed" and result.exit_code == 1
    assert history.summary(result.run_id).error == f"task 'child' was cancelled: {result.tasks['child'].reason}"


def test_a_child_run_is_paused_and_resumed_through_its_parent(dags, monkeypatch) -> None:
    """Pausing a child run alone failed its parent's dag: task; resuming it alone reached nobody."""
    from dagctl.errors import StateError
    from dagctl.run.resume import prepare_resume

    dags.write("quick.yaml", "name: quick\ntasks:\n  - {id: w, run: 'true'}\n")
    monkeypatch.chdir(dags.folder)
    result, _ = dags.run("outer.yaml", "name: outer\ntasks:\n  - {id: child, dag: quick.yaml}\n")
    history = History(dags.settings)
    child = result.tasks["child"].child_run_id
    assert child is not None
    for verb, act in (
        ("pause", lambda: history.request_pause(child, "by hand")),
        ("resume", lambda: prepare_resume(history, child)),
    ):
        with pytest.raises(StateError) as caught:
            act()
        assert str(caught.value) == (
            f"run {child} is the sub-DAG run of task 'child' of run {result.run_id} — {verb} that run instead: "
            f"dagctl {verb} {result.run_id}"
        )


LOOP = """
    name: loop
    tasks:
      - id: fit
        python: steps:converge
        repeat:
          until: "outputs.fit.loss < 0.05 or previous.fit.loss - outputs.fit.loss < 0.001"
          max_iterations: {max}
          {on_max}
      - {id: after, depends_on: fit, run: 'echo "n=${outputs.fit.n}" > "$DAGCTL_OUTPUT"'}
"""


def test_a_loop_runs_until_its_condition_holds(dags) -> None:
    result, sink = dags.run("loop.yaml", LOOP.replace("{max}", "10").replace("{on_max}", ""))
    assert result.status == "success", result.summary()
    assert result.tasks["fit"].outputs == {"loss": 0.04, "n": 5}  # 1, .25, .111, .0625, .04 < .05
    assert result.tasks["after"].outputs == {"n": "5"}
    assert [e.iteration for e in sink.of("task_start", "fit")] == [1, 2, 3, 4, 5]
    assert sink.of("task_ok", "fit")[-1].reason == "until met at iteration 5"
    assert (result.run_dir / "outputs" / "fit~3.json").exists()


def test_a_loop_that_hits_its_maximum_fails_or_succeeds_as_told(dags) -> None:
    failed, _ = dags.run("loop.yaml", LOOP.replace("{max}", "3").replace("{on_max}", ""))
    assert failed.tasks["fit"].status == "failed" and failed.tasks["after"].status == "skipped"
    assert "max_iterations 3 reached" in failed.tasks["fit"].error
    ok, _ = dags.run("loop.yaml", LOOP.replace("{max}", "3").replace("{on_max}", "on_max: succeed"))
    assert ok.status == "success" and ok.tasks["fit"].outputs["n"] == 3


def test_a_loop_whose_condition_cannot_be_evaluated_fails_saying_so_once(dags) -> None:
    text = (
        LOOP.replace("{max}", "3")
        .replace("{on_max}", "")
        .replace("outputs.fit.loss < 0.05 or previous.fit.loss - outputs.fit.loss < 0.001", "outputs.fit.loss / 0 < 1")
    )
    result, _ = dags.run("loop.yaml", text)
    error = result.tasks["fit"].error
    assert result.tasks["fit"].status == "failed" and error.startswith("repeat: until: outputs.fit.loss / 0 < 1: ")
    assert "when:" not in error  # the condition's own prefix is not repeated after repeat: until:


def _retry(dags: Any, run_id: str) -> tuple[Any, MemorySink]:
    history = History(dags.settings)
    prepared = prepare_retry(history, run_id)
    sink = MemorySink()
    result = run_dag(
        prepared.spec,
        params=prepared.params,
        sinks=[sink],
        settings=dags.settings,
        trigger="retry",
        parent_run_id=run_id,
        **prepared.run_options(),
    )
    return result, sink


def test_retry_reuses_the_cells_that_succeeded(dags) -> None:
    text = """
        name: cells
        tasks:
          - id: t
            matrix: {n: [1, 2, 3]}
            run: test ${matrix.n} -ne 2 -o -e fixed && echo "n=${matrix.n}" > "$DAGCTL_OUTPUT"
    """
    first, _ = dags.run("cells.yaml", text)
    assert first.status == "failed"
    (dags.folder / "fixed").touch()
    import os

    cwd = os.getcwd()
    os.chdir(dags.folder)
    try:
        second, sink = _retry(dags, first.run_id)
    finally:
        os.chdir(cwd)
    assert second.status == "success", second.summary()
    started = [e.cell for e in sink.of("task_start", "t") if e.cell]
    assert started == ["t:1"]  # only the cell that failed ran again
    assert [c["outputs"]["n"] for c in second.tasks["t"].outputs["cells"]] == ["1", "2", "3"]


def test_retry_resumes_a_loop_from_its_last_completed_iteration(dags, monkeypatch) -> None:
    monkeypatch.chdir(dags.folder)
    text = """
        name: flaky
        tasks:
          - id: fit
            python: steps:flaky_epoch
            repeat: {until: "outputs.fit.n >= 5", max_iterations: 10}
    """
    first, _ = dags.run("flaky.yaml", text)
    assert first.status == "failed" and "the GPU fell off" in first.tasks["fit"].error
    second, sink = _retry(dags, first.run_id)
    assert second.status == "success", second.summary()
    assert [e.iteration for e in sink.of("task_start", "fit")] == [3, 4, 5]


def test_retry_of_a_parent_reuses_what_its_child_finished(dags, monkeypatch) -> None:
    monkeypatch.chdir(dags.folder)
    dags.write(
        "child.yaml",
        """
        name: child
        tasks:
          - {id: a, run: 'echo ran >> a.count; echo x=1 > "$DAGCTL_OUTPUT"'}
          - {id: b, depends_on: a, run: 'test -e fixed'}
        """,
    )
    first, _ = dags.run("par.yaml", "name: par\ntasks:\n  - {id: c, dag: child.yaml}\n")
    assert first.status == "failed" and "sub-DAG run" in first.tasks["c"].error
    (dags.folder / "fixed").touch()
    second, _ = _retry(dags, first.run_id)
    assert second.status == "success", second.summary()
    assert (dags.folder / "a.count").read_text() == "ran\n"  # the child's finished task was not run again


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("  - {id: t, run: x, matrix: {n: []}}", "matrix key 'n' has no values"),
        ("  - {id: t, run: x, matrix: {}}", "empty matrix"),
        ("  - {id: t, run: 'echo ${matrix.m}', matrix: {n: [1]}}", "unknown matrix key"),
        ("  - {id: t, run: 'echo ${matrix.n}'}", "only known in a task with matrix:"),
        ("  - {id: t, run: x, matrix: {n: '${params.one}'}}", "param 'one' is a int, not a list"),
        ("  - {id: t, run: x, matrix: {n: [1]}, repeat: {until: 'true'}}", "both matrix: and repeat:"),
        ("  - {id: t, run: x, max_parallel: 2}", "max_parallel: without matrix:"),
        ("  - {id: t, run: x, repeat: {until: 'previous.t.x > 1 and iteration < 3'}}", None),
        ("  - {id: t, run: x, when: 'iteration > 1'}", "only known in a repeat: until: condition"),
        ("  - {id: t, run: x, matrix: {n: [1]}, aggregate: {strategy: best}}", "needs metric:"),
        ("  - {id: t, dag: missing.yaml}", "sub-DAG file missing.yaml not found"),
        ("  - {id: t, dag: {tasks: [{id: a, run: x, nope: 1}]}}", "inline sub-DAG"),
    ],
)
def test_composition_mistakes_are_found_before_the_run(dags, text: str, message: str | None) -> None:
    from dagctl.dag.loader import load_dag

    path = dags.write("bad.yaml", f"name: bad\nparams: {{one: 1}}\ntasks:\n{text}\n")
    if message is None:
        load_dag(path)
        return
    with pytest.raises(SpecError) as info:
        load_dag(path)
    assert message in str(info.value), str(info.value)
    assert all(p.line > 0 for p in info.value.problems)


def test_sub_dag_include_cycles_name_the_chain_of_files(dags) -> None:
    from dagctl.dag.loader import load_dag

    dags.write("a.yaml", "name: a\ntasks:\n  - {id: x, dag: b.yaml}\n")
    dags.write("b.yaml", "name: b\ntasks:\n  - {id: y, dag: a.yaml}\n")
    with pytest.raises(SpecError, match=r"include cycle: a.yaml -> b.yaml -> a.yaml"):
        load_dag(dags.folder / "a.yaml")


def test_params_a_sub_dag_would_refuse_are_reported_before_the_parent_runs(dags) -> None:
    # they used to pass validation and fail the dag: task when its child started, every time
    from dagctl.dag.loader import load_dag

    dags.write(
        "child.yaml", "name: child\nparams:\n  n: {type: int, required: true}\ntasks:\n  - {id: a, run: 'true'}\n"
    )
    parent = "name: p\nparams: {x: '5'}\ntasks:\n  - {id: p, dag: child.yaml, params: PARAMS}\n"
    cases = {
        "{n: abc}": "4:42: task 'p': sub-DAG param 'n' must be a whole number, got 'abc' — fix the value",
        "{}": "4:18: task 'p': sub-DAG param 'n' is required — pass it under params: (n: ...)",
    }
    for params, problem in cases.items():
        path = dags.write("p.yaml", parent.replace("PARAMS", params))
        with pytest.raises(SpecError) as info:
            load_dag(path)
        assert [str(p) for p in info.value.problems] == [f"{path}:{problem}"]
    for fine in ("{n: 3}", "{n: '3'}", "{n: '${params.x}'}"):  # a reference is known only when the child starts
        load_dag(dags.write("p.yaml", parent.replace("PARAMS", fine)))


def test_when_conditions_do_arithmetic(dags) -> None:
    result, _ = dags.run(
        "arith.yaml",
        """
        name: arith
        params: {budget: 10, used: 4}
        tasks:
          - {id: go, run: "true", when: "params.budget - params.used * 2 >= 2 and abs(-3) == max(1, 3)"}
          - {id: stop, run: "true", when: "params.budget / params.used > 3"}
        """,
    )
    assert result.tasks["go"].status == "success" and result.tasks["stop"].status == "skipped"


# ---------------------------------------------------------------------------------------------- refused, not ignored


def _no_run_started(folder: Path) -> bool:
    runs = folder / "logs" / "runs"
    return not runs.exists() or not any(runs.iterdir())


def test_cache_on_a_dag_task_is_refused_where_it_is_written(dags, cli) -> None:
    # the plan dropped it: nothing was cached, and nothing said so. The docs never said it works (the key is made
    # of a task's command or callable; a dag: task has neither), so it is refused like cache: on a gate
    dags.write("child.yaml", "name: child\ntasks:\n  - {id: c, run: 'echo ran >> c.count'}\n")
    path = dags.write("parent.yaml", "name: parent\ntasks:\n  - id: sub\n    dag: child.yaml\n    cache: true\n")
    problem = f"{path}:5:5: task 'sub': cache: does not apply to a dag: task — cache the child's tasks instead"
    validate = cli("validate", str(path))
    assert (validate.code, validate.err.splitlines()[0]) == (2, problem), validate
    run = cli("run", str(path), "-q")
    assert (run.code, run.err) == (2, f"{problem}\n"), run
    assert _no_run_started(dags.folder)
    inline = dags.write("inline.yaml", "name: i\ntasks:\n  - {id: s, dag: {tasks: [{id: c, run: x}]}, cache: {}}\n")
    assert "task 's': cache: does not apply to a dag: task" in cli("validate", str(inline)).err
    # what does not ask for it keeps loading: the DAG's default cache (for the tasks it applies to), cache: false
    fine = (
        "name: p\ndefaults: {cache: true}\ntasks:\n  - {id: a, dag: child.yaml}\n"
        "  - {id: b, dag: child.yaml, cache: false}\n"
    )
    assert cli("validate", str(dags.write("fine.yaml", fine))).code == 0


def test_an_empty_matrix_from_a_param_is_refused_by_the_dry_run_and_the_run_alike(dags, cli) -> None:
    # the dry run said "cannot expand" and exited 0; the run started and failed the task (exit 1)
    path = dags.write("lr.yaml", HYPER)
    line = (
        "dagctl: error: task 'train' matrix key 'lr': param 'lrs' is an empty list, so the task has no cells"
        " — give it at least one value, e.g. -p 'lrs=[1, 2]'\n"
    )
    for extra in (["--dry-run"], ["--dry-run", "--json"], ["-q"], []):
        result = cli("run", str(path), "-p", "lrs=[]", *extra)
        assert (result.code, result.err, result.out) == (2, line, ""), (extra, result)
    assert _no_run_started(dags.folder)


def test_min_success_above_the_cells_is_refused_as_soon_as_the_cells_are_known(dags, cli) -> None:
    # it was quietly lowered to the number of cells
    words = "task 't' min_success: 3 is more than the 2 cells of its matrix — lower it to at most 2, or leave it out"
    literal = dags.write("lit.yaml", "name: l\ntasks:\n  - {id: t, run: x, matrix: {n: [1, 2]}, min_success: 3}\n")
    validate = cli("validate", str(literal))
    assert validate.code == 2 and validate.err.startswith(f"{literal}:3:42: {words}"), validate
    # from a param: the run knows the cells when it starts (so does its dry run), with the same words
    text = (
        "name: p\nparams: {ns: [1, 2, 3]}\ntasks:\n"
        "  - {id: t, run: 'true', matrix: {n: '${params.ns}'}, min_success: 3}\n"
    )
    from_param = dags.write("param.yaml", text)
    assert cli("validate", str(from_param)).code == 0
    for extra in (["--dry-run"], ["-q"]):
        result = cli("run", str(from_param), "-p", "ns=[1, 2]", *extra)
        assert result.code == 2 and result.err.startswith(f"dagctl: error: {words}"), (extra, result)
    assert _no_run_started(dags.folder)
    assert cli("run", str(from_param), "-q").code == 0  # three cells: fine
    # from an upstream output: known at the fan-out, which fails the task with the same words
    dynamic = """
        name: d
        tasks:
          - {id: up, run: 'echo ''{"ns": [1, 2]}'' > "$DAGCTL_OUTPUT"'}
          - {id: t, depends_on: up, run: 'true', matrix: {n: '${outputs.up.ns}'}, min_success: 3}
    """
    result, _ = dags.run("dynamic.yaml", dynamic)
    assert result.status == "failed" and result.tasks["t"].error.startswith(words), result.summary()
