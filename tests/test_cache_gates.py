"""The task cache, approval gates, and pause/resume, as users rely on them: real runs, real processes for
what happens between processes (two writers of one cache key, two people deciding at once, kill -9)."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dagctl.errors import DagctlError
from dagctl.run.cache import CacheStore, restore_log
from dagctl.store.history import History
from tests.support import wait_until

CACHED = """
    name: cached
    params: {n: 1}
    tasks:
      - id: make
        cache: {inputs: ["data/*.txt"]}
        run: echo "ran" >> runs.log; cat data/*.txt; echo "n=${params.n}" > "$DAGCTL_OUTPUT"
      - id: use
        depends_on: make
        cache: true
        run: echo "ran" >> use.log; echo "twice=$(( N * 2 ))" > "$DAGCTL_OUTPUT"
        env: {N: "${outputs.make.n}"}
      - id: py
        cache: true
        python: steps:double
        params: {x: 21}
"""


def _runs(proj: Any, name: str) -> int:
    path = proj.folder / name
    return len(path.read_text().split()) if path.exists() else 0


def test_a_loop_is_cached_whole(proj) -> None:
    """Only a loop's last iteration was stored and looked up: a second run ran every other iteration again."""
    proj.write(
        "lc.yaml",
        """
        name: lc
        tasks:
          - id: fit
            cache: true
            run: 'echo "$DAGCTL_ITERATION" >> iterations; echo "it=$DAGCTL_ITERATION" > $DAGCTL_OUTPUT'
            repeat: {until: "iteration >= 3", max_iterations: 5}
          - {id: after, depends_on: fit, run: 'echo "got=${outputs.fit.it}" > $DAGCTL_OUTPUT'}
        """,
    )
    first, _ = proj.run("lc.yaml")
    second, _ = proj.run("lc.yaml")
    assert (proj.folder / "iterations").read_text().split() == ["1", "2", "3"]  # the second run ran none
    assert second.tasks["fit"].reason == "cached" and second.tasks["fit"].outputs == {"it": "3"}
    assert first.tasks["after"].outputs == second.tasks["after"].outputs == {"got": "3"}


def test_a_second_run_with_the_same_inputs_is_served_from_the_cache(proj) -> None:
    (proj.folder / "data").mkdir()
    (proj.folder / "data" / "a.txt").write_text("hello\n")
    proj.write("steps.py", "def double(x):\n    return {'y': x * 2}\n")
    first, _ = proj.run("cached.yaml", CACHED)
    assert first.status == "success" and _runs(proj, "runs.log") == 1
    second, sink = proj.run("cached.yaml")
    assert second.status == "success", second.summary()
    assert _runs(proj, "runs.log") == 1 and _runs(proj, "use.log") == 1  # nothing ran again
    hits = {e.task_id: e for e in sink.of("task_ok") if e.cached}
    assert set(hits) == {"make", "use", "py"} and not sink.of("task_start")
    assert second.tasks["use"].outputs == {"twice": "2"} and second.tasks["py"].outputs == {"y": 42}
    assert hits["make"].cache_key == first.tasks["make"].cache_key
    # the log of the run that made the entry comes back with it
    assert (second.run_dir / "make.log").read_text() == "hello\n"


@pytest.mark.parametrize(
    ("change", "reruns"),
    [
        ("command", {"make"}),  # same outputs: downstream keys are the same, so `use` still hits
        ("param", {"make", "use"}),  # n=2 changes make's output, which is in use's key
        ("input file", {"make"}),
        ("module source", {"py"}),
        ("salt", {"make"}),
        ("nothing", set()),
    ],
)
def test_each_ingredient_of_the_key_makes_a_miss(proj, change: str, reruns: set[str]) -> None:
    (proj.folder / "data").mkdir()
    (proj.folder / "data" / "a.txt").write_text("hello\n")
    proj.write("steps.py", "def double(x):\n    return {'y': x * 2}\n")
    proj.run("cached.yaml", CACHED)
    text, kwargs = CACHED, {}
    if change == "command":
        text = CACHED.replace("cat data/*.txt;", "cat data/*.txt; true;")
    elif change == "param":
        kwargs = {"params": {"n": 2}}
    elif change == "input file":
        (proj.folder / "data" / "b.txt").write_text("more\n")
    elif change == "module source":
        proj.write("steps.py", "def double(x):\n    return {'y': x + x}\n")
    elif change == "salt":
        text = CACHED.replace('inputs: ["data/*.txt"]', 'inputs: ["data/*.txt"], key: v2')
    _, sink = proj.run("cached.yaml", text, **kwargs)
    ran = {e.task_id for e in sink.of("task_start")}
    assert ran == reruns


def test_an_absolute_input_glob_is_in_the_key(proj, tmp_path_factory) -> None:
    # it used to end the run with an internal error (exit 3), leaving it abandoned
    conf = tmp_path_factory.mktemp("etc") / "app.conf"
    conf.write_text("a\n")
    text = f"""
        name: abs
        tasks:
          - {{id: t, cache: {{inputs: ["{conf.parent}/*.conf"]}}, run: echo ran >> t.log}}
    """
    first, _ = proj.run("abs.yaml", text)
    second, _ = proj.run("abs.yaml")
    conf.write_text("b\n")
    third, _ = proj.run("abs.yaml")
    assert [r.status for r in (first, second, third)] == ["success"] * 3
    assert [r.tasks["t"].reason for r in (first, second, third)] == [None, "cached", None]
    assert _runs(proj, "t.log") == 2


def test_cache_ls_of_a_dag_with_no_entries_does_not_call_the_cache_empty(proj, cli) -> None:
    assert cli("cache", "ls").out == "the task cache is empty\n"
    proj.write("c.yaml", "name: c\ntasks:\n  - {id: t, cache: true, run: 'true'}\n")
    assert cli("run", "c.yaml", "-q").code == 0
    assert cli("cache", "ls", "--dag", "other").out == "the task cache holds no entry of DAG 'other'\n"
    assert cli("cache", "ls", "--dag", "c").out.splitlines()[1].split()[1:3] == ["c", "t"]


def test_no_cache_and_refresh(proj, cli) -> None:
    proj.write("c.yaml", "name: c\ntasks:\n  - {id: t, cache: true, run: 'echo x >> n.log'}\n")
    for args, total in ((), 1), ((), 1), (("--no-cache",), 2), (("--refresh",), 3), ((), 3):
        assert cli("run", "c.yaml", "-q", *args).code == 0
        assert _runs(proj, "n.log") == total, args
    assert cli("run", "c.yaml", "--no-cache", "--refresh").code == 2


def test_a_corrupt_entry_is_a_miss_with_a_warning(proj, caplog) -> None:
    first, _ = proj.run("c.yaml", "name: c\ntasks:\n  - {id: t, cache: true, run: 'echo x >> n.log'}\n")
    key = first.tasks["t"].cache_key
    entry = Path(proj.settings.task_cache_dir) / key[:2] / f"{key}.json"
    entry.write_text('{"format": 1, "key": "' + key + '", "outp')  # torn by a crash of another tool
    _, sink = proj.run("c.yaml")
    assert _runs(proj, "n.log") == 2 and sink.of("task_start")
    assert "unreadable" in caplog.text
    json.loads(entry.read_text())  # the new result replaced it, whole


def test_two_runs_computing_one_key_at_once_leave_one_whole_entry(proj) -> None:
    proj.write("c.yaml", "name: c\ntasks:\n  - {id: t, cache: true, run: 'sleep 0.3; echo v=1 > $DAGCTL_OUTPUT'}\n")
    procs = [proj.dagctl("run", "c.yaml", "-q") for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=60) == 0, p.communicate()
    store = CacheStore(Path(proj.settings.task_cache_dir))
    [entry] = list(store.entries())
    assert entry.outputs == {"v": "1"}
    assert not list(Path(proj.settings.task_cache_dir).rglob("*.tmp"))


def test_eviction_drops_the_least_recently_used_entries(tmp_path: Path) -> None:
    store = CacheStore(tmp_path)
    for i, key in enumerate(["a" * 64, "b" * 64, "c" * 64]):
        store.put(key, outputs={"blob": "x" * 1000}, log=None, about={"task": key[0]}, now=1000.0 + i)
    store.get("a" * 64, now=2000.0, ttl=None)  # used again: now the most recent
    os.utime(store._path("b" * 64), (1, 1))
    os.utime(store._path("c" * 64), (2, 2))
    dropped = store.evict(max_size=2500)
    assert [e.key[0] for e in dropped] == ["b"]
    assert {e.key[0] for e in store.entries()} == {"a", "c"}
    assert store.get("c" * 64, now=5000.0, ttl=100.0) is None  # older than its ttl: a miss


def test_a_hit_restores_the_log_of_entries_old_and_new(tmp_path: Path) -> None:
    store = CacheStore(tmp_path / "cache")
    log = tmp_path / "made.log"
    log.write_text("built\n")
    store.put("d" * 64, outputs={}, log=str(log), about={}, now=1.0)
    store.put("e" * 64, outputs={}, log=None, about={}, now=1.0)
    older = json.loads(Path(store._path("d" * 64)).read_text())
    del older["has_log"]  # stored by a dagctl before entries said whether they have a log
    Path(store._path("f" * 64)).parent.mkdir(parents=True)
    Path(store._path("f" * 64)).write_text(json.dumps({**older, "key": "f" * 64}))
    Path(store._path("f" * 64)).with_suffix(".log").write_text("built before\n")
    for key, expected in (("d", "built\n"), ("e", None), ("f", "built before\n")):
        entry = store.get(key * 64, now=2.0, ttl=None)
        assert entry is not None
        restored = restore_log(entry, str(tmp_path / "run" / f"{key}.log"))
        assert (Path(restored).read_text() if restored else None) == expected


GATE = """
    name: gate
    params: {version: "1.2"}
    tasks:
      - {id: build, run: "true"}
      - id: ok
        depends_on: build
        approval: {message: "Deploy ${params.version}?", approvers: [ana, li], policy: POLICY, timeout: TIMEOUT}
      - {id: deploy, depends_on: ok, run: 'echo "by=${outputs.ok.approved_by}" > $DAGCTL_OUTPUT'}
"""


def _gate(proj: Any, policy: str = "any", timeout: str = "1h", on_timeout: str = "") -> subprocess.Popen[str]:
    text = GATE.replace("POLICY", policy).replace("TIMEOUT", timeout)
    if on_timeout:
        text = text.replace("timeout: ", f"on_timeout: {on_timeout}, timeout: ")
    proj.write("gate.yaml", text)
    run = proj.dagctl("run", "gate.yaml", "-q")
    history = History(proj.settings)

    def waiting() -> bool:
        try:
            return history.summary(history.resolve("latest")).status == "waiting"
        except DagctlError:  # not started yet, or its events not written yet
            return False

    wait_until(waiting, 30)
    return run


def test_an_approval_lets_the_run_go_on_and_is_recorded(proj, cli) -> None:
    run = _gate(proj)
    try:
        runs = cli("runs", "--status", "waiting")
        assert "gate" in runs.out
        result = cli("approve", "latest", "ok", "--as", "ana", "--comment", "looks fine")
        assert result.code == 0 and "approved by ana" in result.out
        assert run.wait(timeout=30) == 0
    finally:
        run.kill()
    summary = History(proj.settings).summary(History(proj.settings).resolve("latest"))
    gate = summary.tasks["ok"]
    assert gate.status == "success" and gate.approval is not None
    assert gate.approval["decision"] == "approved" and gate.approval["by"] == ["ana"]
    assert gate.approval["message"] == "Deploy 1.2?"
    assert summary.tasks["deploy"].status == "success"


def test_a_rejection_fails_the_gate_and_downstream_follows_its_rule(proj, cli) -> None:
    run = _gate(proj)
    try:
        blank = cli("reject", "latest", "ok", "--as", "li", "--reason", "  ")
        assert blank.code == 2 and "--reason is empty" in blank.err  # a rejection says why
        assert cli("reject", "latest", "ok", "--as", "li", "--reason", "tests are red").code == 0
        assert run.wait(timeout=30) == 1
    finally:
        run.kill()
    summary = History(proj.settings).summary(History(proj.settings).resolve("latest"))
    assert summary.tasks["ok"].status == "failed" and "rejected by li: tests are red" in summary.tasks["ok"].error
    assert summary.tasks["deploy"].status == "skipped"


def test_policy_all_waits_for_every_approver_and_bad_decisions_are_refused(proj, cli) -> None:
    run = _gate(proj, policy="all")
    try:
        assert cli("approve", "latest", "ok", "--as", "bob").code == 2  # not an approver
        assert cli("approve", "latest", "ok", "--as", "ana").code == 0
        assert cli("approve", "latest", "ok", "--as", "ana").code == 2  # twice
        assert cli("approve", "latest", "nope", "--as", "ana").code == 2  # not a gate
        assert History(proj.settings).summary(History(proj.settings).resolve("latest")).status == "waiting"
        shown = cli("show", "latest").out
        assert "waits for li (ana approved)" in shown and "waits for ana" not in shown  # who is left to decide
        assert cli("approve", "latest", "ok", "--as", "li").code == 0
        assert run.wait(timeout=30) == 0
        assert cli("approve", "latest", "ok", "--as", "li").code == 2  # not waiting any more
    finally:
        run.kill()


def test_a_gate_interrupted_while_it_waits_is_reported_as_waiting_not_as_a_failure(proj) -> None:
    """JUnit said `cancelled while running: not started: interrupted by SIGTERM` for a gate waiting for people:
    a failure that contradicts itself."""
    import signal
    import xml.etree.ElementTree as ET

    from dagctl.report.cases import RunTree
    from dagctl.report.junit import junit_xml

    run = _gate(proj)
    try:
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 143
    finally:
        run.kill()
    history = History(proj.settings)
    summary = history.summary(history.resolve("latest"))
    assert summary.tasks["ok"].reason == "stopped while waiting for approval: interrupted by SIGTERM"
    root = ET.fromstring(junit_xml(RunTree(summary)))
    (gate,) = [c for c in root.iter("testcase") if c.get("name") == "ok"]
    assert gate.find("failure") is None
    skipped = gate.find("skipped")
    assert (
        skipped is not None and skipped.get("message") == "cancelled while waiting for approval: interrupted by SIGTERM"
    )


@pytest.mark.parametrize(("on_timeout", "code", "status"), [("fail", 1, "failed"), ("skip", 0, "skipped")])
def test_a_gate_nobody_decides_times_out(proj, on_timeout: str, code: int, status: str) -> None:
    proj.write("t.yaml", GATE.replace("POLICY", "any").replace("TIMEOUT", "0.3s").replace(
        "timeout: ", f"on_timeout: {on_timeout}, timeout: "))  # fmt: skip
    result, _ = proj.run("t.yaml")
    assert result.tasks["ok"].status == status
    assert result.exit_code == code


def test_a_gate_message_knows_what_a_task_command_knows(proj) -> None:
    proj.write(
        "m.yaml",
        """
        name: m
        tasks:
          - id: ok
            approval: {message: "${dag.name}/${task.id} cell ${matrix.env}", timeout: 0.2s, on_timeout: skip}
            matrix: {env: [prod]}
            min_success: 0
        """,
    )
    result, sink = proj.run("m.yaml")
    assert result.status == "success", result.summary()
    assert [e.message for e in sink.of("approval_requested")] == ["m/ok cell prod"]


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("${params.nope}", "unknown param 'nope' in ${params.nope}"),
        ("${outputs.later.x}", "${outputs.later.x} at column 1 reads outputs of task 'later', which is not upstream"),
        ("${matrix.env}", "${matrix.env} at column 1 is only known in a task with matrix:"),
    ],
)
def test_validate_checks_the_references_of_a_gate_message(cli, proj, message: str, problem: str) -> None:
    proj.write(
        "m.yaml",
        f"""
        name: m
        tasks:
          - {{id: ok, approval: {{message: "{message}"}}}}
          - {{id: later, depends_on: ok, run: 'true'}}
        """,
    )
    result = cli("validate", "m.yaml")
    assert result.code == 2 and f"m.yaml:3:34: task 'ok' approval.message: {problem}" in result.err, result.err
    assert cli("run", "m.yaml", "-q").code == 2  # refused before anything runs, not failed at the gate


def test_two_people_deciding_at_once_record_exactly_one_outcome(proj) -> None:
    run = _gate(proj)
    try:
        deciders = [
            proj.dagctl("approve", "latest", "ok", "--as", "ana"),
            proj.dagctl("reject", "latest", "ok", "--as", "li", "--reason", "no"),
        ]
        codes = sorted(p.wait(timeout=30) for p in deciders)
        assert codes == [0, 2]
        run.wait(timeout=30)
    finally:
        run.kill()
    run_id = History(proj.settings).resolve("latest")
    decisions = History(proj.settings).events_of(run_id)
    outcomes = [e["event"] for e in decisions if e["event"] in ("approval_granted", "approval_rejected")]
    assert len(outcomes) == 1
    lines = (proj.folder / "logs" / "runs" / run_id / "approvals" / "ok.jsonl").read_text().splitlines()
    assert len(lines) == 1


PAUSABLE = """
    name: pausable
    options: {parallelism: 1}
    tasks:
      - {id: a, run: 'echo a >> trace; touch a.started; sleep 1'}
      - {id: b, depends_on: a, run: 'echo b >> trace'}
      - {id: c, depends_on: b, run: 'echo c >> trace'}
"""


def test_pause_lets_running_tasks_finish_then_resume_goes_on_in_the_same_run(proj, cli) -> None:
    proj.write("p.yaml", PAUSABLE)
    run = proj.dagctl("run", "p.yaml", "-q")
    try:
        wait_until((proj.folder / "a.started").exists, 30)
        assert cli("pause", "latest", "--wait", "0").code == 0
        assert run.wait(timeout=30) == 0
        assert "resume it with: dagctl resume" in run.communicate()[1]
    finally:
        run.kill()
    history = History(proj.settings)
    run_id = history.resolve("latest")
    assert history.summary(run_id).status == "paused"
    again = cli("pause", run_id)
    assert again.code == 2 and f"is paused already — resume it with: dagctl resume {run_id}" in again.err
    assert (proj.folder / "trace").read_text().split() == ["a"]
    assert cli("resume", run_id, "-q").code == 0
    assert (proj.folder / "trace").read_text().split() == ["a", "b", "c"]  # a was not run again
    summary = history.summary(run_id)
    assert summary.status == "success" and history.resolve("latest") == run_id  # the same run
    kinds = [e["event"] for e in history.events_of(run_id)]
    assert kinds.count("dag_done") == 2 and "dag_resume" in kinds
    # its time is its whole time, pause included, as the timeline draws it; show says when it paused
    ((paused, resumed),) = summary.pauses
    assert paused is not None and resumed is not None and summary.started and summary.ended
    assert summary.duration_s == pytest.approx((summary.ended - summary.started).total_seconds(), abs=0.002)
    assert summary.duration_s >= summary.paused_s > 0
    shown = cli("show", run_id).out
    assert "Paused:   " in shown and "paused)" in shown and "resumed " in shown


def _paused_run(proj: Any, cli: Any, text: str) -> str:
    """Run ``text`` (a PAUSABLE DAG), pause it while its first task runs, and return the paused run's id."""
    proj.write("p.yaml", text)
    run = proj.dagctl("run", "p.yaml", "-q")
    try:
        wait_until((proj.folder / "a.started").exists, 30)
        assert cli("pause", "latest", "--wait", "0").code == 0
        assert run.wait(timeout=30) == 0
    finally:
        run.kill()
    return History(proj.settings).resolve("latest")


def test_a_paused_run_can_be_cancelled_for_good(proj, cli) -> None:
    """`dagctl cancel` refused a paused run (`already finished (paused)`): nothing could end one but a resume,
    and prune keeps paused runs."""
    run_id = _paused_run(proj, cli, PAUSABLE)
    history = History(proj.settings)
    result = cli("cancel", run_id, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"run_id": run_id, "requested": True, "status": "cancelled", "stopped": True}
    summary = history.summary(run_id)
    assert summary.status == "cancelled" and summary.error and summary.error.endswith("while it was paused")
    assert cli("resume", run_id).code == 2 and cli("cancel", run_id).code == 2
    assert (proj.folder / "trace").read_text().split() == ["a"]


def test_a_resume_goes_on_where_the_run_ran_unless_told_otherwise(proj, cli, monkeypatch) -> None:
    """A paused run of Celery workers went on on local threads, and resume had no --executor, --broker or -j."""
    run_id = _paused_run(proj, cli, PAUSABLE)
    events = proj.settings.runs_dir / run_id / "events.jsonl"
    first, *rest = events.read_text().splitlines(keepends=True)
    events.write_text(json.dumps({**json.loads(first), "executor": "celery"}) + "\n" + "".join(rest))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    monkeypatch.setenv("DAGCTL_BROKER_TIMEOUT", "0.5")
    monkeypatch.delenv("DAGCTL_EXECUTOR", raising=False)
    to_workers = cli("resume", run_id)
    assert to_workers.code == 3 and "cannot reach the broker at redis://127.0.0.1:9/0" in to_workers.err
    assert History(proj.settings).summary(run_id).status == "paused"  # untouched
    assert cli("resume", run_id, "--broker", "redis://127.0.0.1:9/0", "-x", "threads").code == 2
    here = cli("resume", run_id, "--executor", "threads", "-j", "1", "-q")
    assert here.code == 0, here.err
    assert (proj.folder / "trace").read_text().split() == ["a", "b", "c"]


def test_two_resumes_of_one_run_at_once_run_its_tasks_once(proj, cli) -> None:
    """Both found the run paused and went on with it: b ran twice, into one run with two dag_done records."""
    held = "touch b.started; while [ ! -f go ]; do sleep 0.02; done; echo b >> trace"
    run_id = _paused_run(proj, cli, PAUSABLE.replace("echo b >> trace", held))
    first = proj.dagctl("resume", run_id, "-q")
    try:
        wait_until((proj.folder / "b.started").exists, 30)
        second = proj.dagctl("resume", run_id, "-q")
        _, err = second.communicate(timeout=30)
        assert second.returncode == 2, err
        assert err == (
            f"dagctl: error: run {run_id} is being resumed by another process already — follow it with: "
            f"dagctl logs {run_id} --follow (or dagctl show {run_id})\n"
        )
        (proj.folder / "go").touch()
        assert first.wait(timeout=30) == 0
    finally:
        (proj.folder / "go").touch()
        first.kill()
    assert (proj.folder / "trace").read_text().split() == ["a", "b", "c"]
    done = cli("resume", run_id, "-q")  # and once it is over, it is not paused any more
    assert done.code == 2
    assert f"nothing is left to do; to run tasks again: dagctl retry {run_id} --from TASK" in done.err


def test_a_run_whose_process_was_killed_can_be_resumed(proj, cli) -> None:
    proj.write("p.yaml", PAUSABLE.replace("sleep 1", "sleep 30"))
    run = proj.dagctl("run", "p.yaml", "-q")
    try:
        wait_until((proj.folder / "a.started").exists, 30)
        run.kill()
        run.wait(timeout=10)
    finally:
        run.kill()
    history = History(proj.settings)
    run_id = history.resolve("latest")
    wait_until(lambda: history.summary(run_id).status == "abandoned", 10)
    proj.write("p.yaml", PAUSABLE)  # (the snapshot is what runs: it still sleeps 30 s)
    (proj.folder / "logs" / "runs" / run_id / "dag.yaml").write_text(textwrap.dedent(PAUSABLE).lstrip())
    result = cli("resume", run_id, "-q")
    assert result.code == 0, result.err
    assert (proj.folder / "trace").read_text().split() == ["a", "a", "b", "c"]  # a ran again: it had not finished
    assert history.summary(run_id).tasks["a"].attempts == 2  # the second start is attempt 2, in the same run


def test_the_release_example_caches_its_build_and_waits_for_an_approval(proj, cli) -> None:
    from tests.conftest import EXAMPLE_DAGS

    example = str(EXAMPLE_DAGS / "release.yaml")

    def release() -> list[str]:
        run = proj.dagctl("run", example, "-q")
        try:
            wait_until(lambda: "release" in cli("runs", "--status", "waiting").out, timeout=30)
            assert cli("approve", "latest", "go_ahead", "--as", "li").code == 0
            assert run.wait(timeout=30) == 0
        finally:
            run.kill()
        summary = History(proj.settings).summary(History(proj.settings).resolve("latest"))
        assert summary.status == "success" and summary.tasks["go_ahead"].approval["by"] == ["li"]
        return sorted(t for t, s in summary.tasks.items() if s.cached)

    assert release() == []
    assert release() == ["build", "test"]  # nothing they depend on changed


SECRET_OUT = """
    name: leaky
    secrets: {TOKEN: {from_env: LEAKY_TOKEN}}
    tasks:
      - id: login
        cache: true
        run: echo "session=$TOKEN" > "$DAGCTL_OUTPUT"
      - id: plain
        cache: true
        run: echo "x=1" > "$DAGCTL_OUTPUT"
"""


def test_outputs_holding_a_secret_are_not_kept_in_the_cache(proj, monkeypatch, cli) -> None:
    monkeypatch.setenv("LEAKY_TOKEN", "s3cr3t-value-123")
    first, sink = proj.run("leaky.yaml", SECRET_OUT)
    assert first.status == "success" and first.tasks["login"].outputs == {"session": "s3cr3t-value-123"}
    warnings = [e.message for e in sink.of("run_warning")]
    assert any("task login was not cached: its outputs hold the value of a secret" in w for w in warnings)
    listing = cli("cache", "ls", "--json")
    assert [entry["task"] for entry in json.loads(listing.out)] == ["plain"]
    store = proj.folder / "logs" / "cache" / "tasks"
    assert not any(b"s3cr3t-value-123" in p.read_bytes() for p in store.rglob("*") if p.is_file())
    second, sink = proj.run("leaky.yaml")
    assert {e.task_id for e in sink.of("task_ok") if e.cached} == {"plain"}  # login ran again, with the secret
    assert second.tasks["login"].outputs == {"session": "s3cr3t-value-123"}


def _damage(store: CacheStore, key: str, text: str = '{"format": 1, "key": "torn') -> Path:
    path = Path(store._path(key))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_cache_clear_removes_unreadable_entries_too_and_counts_them(proj, cli) -> None:
    # it reported "removed 1 cache entry" and left the damaged files on disk
    proj.run("c.yaml", "name: c\ntasks:\n  - {id: t, cache: true, run: 'echo x'}\n")
    store = CacheStore(Path(proj.settings.task_cache_dir))
    torn = _damage(store, "a" * 64)
    torn.with_suffix(".log").write_text("its log\n")
    foreign = _damage(store, "b" * 64, json.dumps({"key": "c" * 64}))  # whole JSON, but not the entry of its key
    assert [e.key for e in store.unreadable()] == ["a" * 64, "b" * 64]
    listed = cli("cache", "ls")
    assert listed.err == "2 unreadable cache entries (never used; dagctl cache clear removes them)\n", listed
    assert cli("cache", "clear", "--dag", "c", "--json").out.startswith('{\n  "removed": 1')  # not whose: kept
    assert torn.exists() and foreign.exists()
    cleared = cli("cache", "clear", "--json")
    assert cleared.code == 0 and json.loads(cleared.out)["removed"] == 2 and json.loads(cleared.out)["unreadable"] == 2
    assert not [p for p in Path(proj.settings.task_cache_dir).rglob("*") if p.is_file()]
    assert cli("cache", "ls").out == "the task cache is empty\n"
    _damage(store, "d" * 64)
    text = cli("cache", "clear")
    assert text.err.startswith("removed 1 cache entry (") and text.err.endswith(" bytes, 1 of them unreadable)\n")


def test_eviction_counts_unreadable_entries_and_drops_them_first(tmp_path: Path) -> None:
    # their bytes were not counted and they were never dropped: a cache of damaged files grew past its cap
    store = CacheStore(tmp_path)
    for i, key in enumerate(["a" * 64, "b" * 64]):
        store.put(key, outputs={"blob": "x" * 1000}, log=None, about={"task": key[0]}, now=1000.0 + i)
    torn = _damage(store, "e" * 64, '{"format": 1, "key": "' + "e" * 64 + '", "outputs": "' + "y" * 1500)
    os.utime(torn, None)  # the most recently written: by use alone it would be dropped last
    readable = sum(e.size for e in store.entries())
    dropped = store.evict(max_size=readable)  # over the cap by the damaged file's bytes alone
    assert [(e.key[0], e.readable) for e in dropped] == [("e", False)]
    assert not torn.exists() and {e.key[0] for e in store.entries()} == {"a", "b"}
    assert [e.key[0] for e in store.evict(max_size=readable - 1)] == ["a"]  # then the least recently used
