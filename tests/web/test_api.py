"""The HTTP API against the real app (uvicorn on a loopback port, httpx): runs, DAGs, validation, templates,
panels, metrics, and the error shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import ROOT
from tests.support import wait_until
from tests.web.conftest import NEVER_STARTED, QUICK, dag_text, killed_run


def test_a_run_started_through_the_api_is_a_run_like_any_other(live, web_project: Path) -> None:
    server = live()
    response = server.client.post("/api/runs", json={"dag": "quick", "params": {"who": "api", "n": 3}})
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    run = server.wait_for_run(run_id)
    assert run["status"] == "success" and run["run_id"] == run_id
    assert run["params"] == {"who": "api", "n": 3}  # typed as the DAG declares them, as -p would
    assert set(run["tasks"]) == {"hello", "count"} and run["trigger"] == "manual"
    assert (web_project / "logs" / "runs" / run_id / "hello.log").read_text() == "hello api\n"
    # the CLI sees the same run
    from dagctl.cli import main

    assert main(["show", run_id, "--json"]) == 0


def test_runs_are_listed_with_the_runs_filters(live) -> None:
    server = live()
    first = server.start("quick")
    second = server.start("flaky")
    server.wait_for_run(first)
    server.wait_for_run(second)
    listed = server.client.get("/api/runs").json()
    assert [r["run_id"] for r in listed] == [second, first]  # newest first
    assert server.client.get("/api/runs", params={"status": "failed"}).json()[0]["run_id"] == second
    assert [r["run_id"] for r in server.client.get("/api/runs", params={"dag": "quick"}).json()] == [first]
    assert len(server.client.get("/api/runs", params={"limit": 1}).json()) == 1
    assert server.client.get("/api/runs", params={"since": "1h"}).json()
    brief = server.client.get("/api/runs", params={"tasks": "false"}).json()[0]
    assert "tasks" not in brief and brief["counts"]["failed"] == 1
    bad = server.client.get("/api/runs", params={"since": "soon"})
    assert bad.status_code == 422 and bad.json()["location"] == "query.since"


def test_show_matches_the_cli_and_knows_latest_and_prefixes(live, capsys) -> None:
    from dagctl.cli import main

    server = live()
    run_id = server.start("quick")
    server.wait_for_run(run_id)
    shown = server.client.get(f"/api/runs/{run_id}").json()
    capsys.readouterr()
    assert main(["show", run_id, "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert shown == cli  # one serializer: the same fields and values, every time as ISO-8601 text
    assert server.client.get("/api/runs/latest").json()["run_id"] == run_id
    assert server.client.get(f"/api/runs/{run_id[:17]}").json()["run_id"] == run_id
    missing = server.client.get("/api/runs/19990101-000000.000-000000")
    assert missing.status_code == 404
    assert set(missing.json()) >= {"error", "location", "hint"} and "unknown run" in missing.json()["error"]


def test_unknown_dags_and_bad_params_are_refused_with_the_cli_messages(live) -> None:
    server = live()
    unknown = server.client.post("/api/runs", json={"dag": "quik", "params": {}})
    assert unknown.status_code == 422
    assert unknown.json() == {
        "error": f"unknown DAG 'quik' in {server.ctx.config.dags_dir}",
        "location": "body.dag",
        "hint": "did you mean 'quick'?",
    }
    param = server.client.post("/api/runs", json={"dag": "quick", "params": {"whom": "x"}})
    assert param.status_code == 422 and param.json()["error"] == "unknown param 'whom'"
    assert param.json()["hint"] == "did you mean 'who'?" and param.json()["location"] == "body.params"
    typed = server.client.post("/api/runs", json={"dag": "quick", "params": {"n": "many"}})
    assert typed.status_code == 422
    assert typed.json()["error"] == "param 'n' must be a whole number (its default is 2), got 'many'"
    both = server.client.post("/api/runs", json={"dag": "quick", "template": "x"})
    assert both.status_code == 422 and "either dag or template" in both.json()["error"]
    extra = server.client.post("/api/runs", json={"dag": "quick", "parms": {}})
    assert extra.status_code == 422 and extra.json()["location"] == "body.parms"
    assert server.client.get("/api/runs").json() == []  # nothing was started


def test_params_are_checked_against_their_typed_declarations(live, web_project: Path) -> None:
    (web_project / "configs" / "dags" / "typed.yaml").write_text(
        "name: typed\nparams:\n  rows: {type: int, max: 1000, default: 10}\n  day: {type: date, required: true}\n"
        "tasks:\n  - {id: a, run: 'echo ${params.rows}'}\n"
    )
    server = live()
    over = server.client.post("/api/runs", json={"dag": "typed", "params": {"rows": 5000, "day": "2026-12-07"}})
    assert over.status_code == 422 and over.json()["location"] == "body.params"
    assert "rows" in over.json()["error"] and "1000" in over.json()["error"]
    missing = server.client.post("/api/runs", json={"dag": "typed", "params": {"rows": 5}})
    assert missing.status_code == 422 and missing.json()["error"] == "param 'day' is required"
    assert server.client.get("/api/runs").json() == []  # nothing was started


def test_a_dag_can_be_named_by_its_file_but_never_outside_the_folder(live, web_project: Path) -> None:
    (web_project / "outside.yaml").write_text(dag_text(QUICK).replace("name: quick", "name: outside"))
    server = live()
    ok = server.client.post("/api/runs", json={"dag": "quick.yaml"})
    assert ok.status_code == 202
    for ref in ("../outside.yaml", str(web_project / "outside.yaml"), "../../etc/passwd.yaml"):
        refused = server.client.post("/api/runs", json={"dag": ref})
        assert refused.status_code == 422, ref
        assert "outside" in refused.json()["error"] or "not a name inside" in refused.json()["error"]
    server.wait_for_run(ok.json()["run_id"])


def test_cancel_stops_a_running_run_and_refuses_a_finished_one(live) -> None:
    server = live()
    run_id = server.start("slow")
    server.wait_for_run(run_id, status="running")
    wait_until(lambda: server.client.get(f"/api/runs/{run_id}").json()["tasks"].get("wait"), 20, "task started")
    response = server.client.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelling"
    run = server.wait_for_run(run_id)
    assert run["status"] == "cancelled"
    assert "dagctl serve" in run["tasks"]["wait"]["reason"]
    again = server.client.post(f"/api/runs/{run_id}/cancel")
    assert again.status_code == 409 and "already finished" in again.json()["error"]


def test_retry_starts_a_linked_run_that_reuses_what_succeeded(live) -> None:
    server = live()
    run_id = server.start("flaky")
    assert server.wait_for_run(run_id)["status"] == "failed"
    response = server.client.post(f"/api/runs/{run_id}/retry", json={})
    assert response.status_code == 202, response.text
    new_id = response.json()["run_id"]
    assert new_id and new_id != run_id and response.json()["parent_run_id"] == run_id
    retried = server.wait_for_run(new_id)
    assert retried["trigger"] == "retry" and retried["parent_run_id"] == run_id
    assert retried["tasks"]["ok"]["status"] == "success"  # reused, not run again
    running = server.start("slow")
    server.wait_for_run(running, status="running")
    refused = server.client.post(f"/api/runs/{running}/retry")
    assert refused.status_code == 409 and "still running" in refused.json()["error"]
    server.client.post(f"/api/runs/{running}/cancel")
    server.wait_for_run(running)


def test_a_run_that_cannot_start_says_why(live, web_project: Path) -> None:
    server = live()
    run_id = server.start("quick")
    server.wait_for_run(run_id)
    # a launch the server made that died before writing an event: its stderr is the answer
    launch = server.ctx.launcher.start_run(
        web_project / "configs" / "dags" / "missing.yaml", {}, "20260101-000000.000-abcdef"
    )
    launch.done.wait(30)
    shown = server.client.get("/api/runs/20260101-000000.000-abcdef").json()
    assert shown["status"] == "not_started" and "missing.yaml" in shown["error"]


def test_the_run_view_has_the_graph_and_the_timeline(live) -> None:
    server = live()
    run_id = server.start("flaky")
    server.wait_for_run(run_id)
    view = server.client.get(f"/api/runs/{run_id}/view").json()
    assert view["run"]["run_id"] == run_id
    nodes = {n["id"]: n for n in view["graph"]["nodes"]}
    assert nodes["ok"]["status"] == "success" and nodes["bad"]["status"] == "failed"
    assert nodes["bad"]["x"] > nodes["ok"]["x"] and view["graph"]["edges"] == [{"from": "ok", "to": "bad"}]
    lanes = {lane["task_id"]: lane for lane in view["timeline"]["lanes"]}
    assert [a["outcome"] for a in lanes["bad"]["attempts"]] == ["retried", "failed"]
    assert lanes["bad"]["attempts"][1]["wait"]["kind"] == "retry_wait"
    svg = server.client.get(f"/api/runs/{run_id}/timeline.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text


def test_a_killed_run_lists_the_tasks_it_never_started_as_the_cli_does(live, web_project: Path, capsys) -> None:
    from dagctl.cli import main

    server = live()
    with killed_run(server, web_project) as run_id:
        shown = server.client.get(f"/api/runs/{run_id}").json()
        view = server.client.get(f"/api/runs/{run_id}/view").json()
        capsys.readouterr()
        assert main(["show", run_id, "--json"]) == 0
        cli = json.loads(capsys.readouterr().out)
    assert shown["status"] == "abandoned" and shown["unstarted_tasks"] == [NEVER_STARTED]
    assert set(shown["tasks"]) == {"work"}  # additive: ``tasks`` still holds the tasks with events only
    assert cli["unstarted_tasks"] == shown["unstarted_tasks"]
    assert view["run"]["unstarted_tasks"] == [NEVER_STARTED]
    nodes = {n["id"]: n["status"] for n in view["graph"]["nodes"]}
    assert nodes == {"work": "cancelled", "after": "not started"}
    assert "unstarted_tasks" not in server.client.get("/api/runs").json()[0]  # lists leave it out (docs/serve.md)


def test_dags_are_listed_and_yaml_is_validated_with_lines_and_columns(live, web_project: Path) -> None:
    (web_project / "configs" / "dags" / "broken.yaml").write_text("name: broken\ntasks:\n  - id: a\n    rn: echo\n")
    server = live()
    dags = {d["file"]: d for d in server.client.get("/api/dags").json()}
    assert dags["quick.yaml"]["name"] == "quick" and dags["quick.yaml"]["params"] == {"who": "world", "n": 2}
    assert dags["broken.yaml"]["valid"] is False and "broken.yaml:4:5" in dags["broken.yaml"]["problem"]
    bad = server.client.post(
        "/api/validate", content="name: x\ntasks:\n  - id: a\n    run: echo\n    retries: many\n",
        headers={"content-type": "application/yaml"},
    )  # fmt: skip
    assert bad.status_code == 200
    (problem,) = bad.json()["problems"]
    assert bad.json()["valid"] is False and (problem["line"], problem["column"]) == (5, 14)
    assert "retries" in problem["message"] and problem["file"] == "dag.yaml"
    good = server.client.post("/api/validate", json={"yaml": dag_text(QUICK)})
    assert good.json()["valid"] is True and good.json()["dag"]["tasks"] == ["hello", "count"]
    odd = server.client.post("/api/validate", json={"yml": "x"})
    assert odd.status_code == 422


def test_templates_are_validated_files_that_runs_can_start_from(live, web_project: Path) -> None:
    server = live()
    text = dag_text(QUICK).replace("name: quick", "name: from_template")
    created = server.client.post("/api/templates", json={"name": "greeting", "yaml": text})
    assert created.status_code == 201 and created.json()["params"] == {"who": "world", "n": 2}
    assert (web_project / "configs" / "templates" / "greeting.yaml").read_text() == text
    assert server.client.post("/api/templates", json={"name": "greeting", "yaml": text}).status_code == 409
    assert server.client.post("/api/templates", json={"name": "greeting", "yaml": text, "overwrite": True}).is_success
    invalid = server.client.post("/api/templates", json={"name": "bad", "yaml": "name: bad\ntasks: []\n"})
    assert invalid.status_code == 422 and invalid.json()["problems"][0]["line"] == 2
    assert not (web_project / "configs" / "templates" / "bad.yaml").exists()
    assert [t["name"] for t in server.client.get("/api/templates").json()] == ["greeting"]
    assert server.client.get("/api/templates/greeting").json()["yaml"] == text
    run = server.client.post("/api/runs", json={"template": "greeting", "params": {"who": "template"}})
    assert run.status_code == 202
    finished = server.wait_for_run(run.json()["run_id"])
    assert finished["dag_name"] == "from_template" and finished["params"]["who"] == "template"
    for name in ("../escape", "..", ".hidden", "a/b", "x" * 65):
        response = server.client.post("/api/templates", json={"name": name, "yaml": text})
        assert response.status_code == 422, name
    assert server.client.get("/api/templates/..%2F..%2Fetc").status_code in (404, 422)
    assert server.client.delete("/api/templates/greeting").status_code == 204
    assert server.client.delete("/api/templates/greeting").status_code == 404
    assert server.client.get("/api/templates/greeting").status_code == 404


def test_schedules_and_stats_panels(live, web_project: Path, monkeypatch) -> None:
    (web_project / "configs" / "schedules" / "s.yaml").write_text(
        '- id: quick-hourly\n  cron: "0 * * * *"\n  dag: ../dags/quick.yaml\n'
    )
    (web_project / "configs" / "schedules" / "broken.yaml").write_text('- id: x\n  cron: "99 * * * *"\n  dag: nope\n')
    server = live(panel_window="2")
    listing = server.client.get("/api/schedules").json()
    (schedule,) = listing["schedules"]
    assert schedule["id"] == "quick-hourly" and schedule["next_fire_utc"].endswith(":00:00.000Z")
    assert listing["problems"] and listing["problems"][0]["file"].endswith("broken.yaml")
    (web_project / "configs" / "schedules" / "broken.yaml").unlink()
    shown = subprocess.run(
        [sys.executable, "-m", "dagctl", "schedule", "list", "--dir", "configs/schedules", "--json"],
        cwd=web_project, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert json.loads(shown.stdout) == server.client.get("/api/schedules").json()["schedules"]  # the same entries
    run_id = server.start("quick")
    server.wait_for_run(run_id)
    stats = server.client.get("/api/stats").json()
    assert stats["window"]["hours"] == 2.0  # ORCH_PANEL_WINDOW_H
    assert stats["runs"][0]["run_id"] == run_id and stats["tenants"][0]["tenant"] == "default"
    assert server.client.get("/api/stats", params={"window": "30m"}).json()["window"]["hours"] == 0.5
    assert server.client.get("/api/stats", params={"window": "later"}).status_code == 422


def test_metrics_count_runs_tasks_and_durations_since_the_server_started(live) -> None:
    server = live()
    run_id = server.start("flaky")
    server.wait_for_run(run_id)
    text = server.client.get("/metrics").text
    assert 'dagctl_runs_total{dag="flaky",status="failed"} 1.0' in text
    assert 'dagctl_tasks_total{dag="flaky",status="success"} 1.0' in text
    assert 'dagctl_task_retries_total{dag="flaky"} 1.0' in text
    assert 'dagctl_task_duration_seconds_count{dag="flaky"} 2.0' in text
    assert "dagctl_runs_running 0.0" in text and "dagctl_scheduler_queue_depth 0.0" in text
    assert "dagctl_scheduler_lag_seconds_bucket" in text
    assert server.client.get("/metrics").text.count('dagctl_runs_total{dag="flaky",status="failed"} 1.0') == 1


def test_health_openapi_and_errors_are_json(live) -> None:
    server = live()
    assert server.client.get("/healthz").json()["ok"] is True
    spec = server.client.get("/openapi.json").json()
    assert {"/api/runs", "/api/runs/{run_id}/events", "/api/validate", "/api/templates", "/metrics"} <= set(
        spec["paths"]
    )
    docs = server.client.get("/docs")
    assert docs.status_code == 200 and "/api/runs/{run_id}/events" in docs.text and "cdn" not in docs.text.lower()
    nowhere = server.client.get("/api/nowhere")
    assert nowhere.status_code == 404 and nowhere.json() == {
        "error": "no such page or endpoint",
        "location": "/api/nowhere",
    }
    wrong = server.client.put("/api/runs")
    assert wrong.status_code == 405 and wrong.json()["location"] == "/api/runs"


def _started_by(project: Path, run_id: str) -> int:
    """The pid the run's ``dag_start`` records: the process that ran it."""
    first = (project / "logs" / "runs" / run_id / "events.jsonl").read_text().splitlines()[0]
    return int(json.loads(first)["pid"])


def test_each_retry_answers_with_the_run_it_started(live, web_project: Path) -> None:
    server = live()
    parent = server.start("flaky")
    server.wait_for_run(parent)
    first = server.client.post(f"/api/runs/{parent}/retry", json={})
    assert first.status_code == 202, first.text
    server.wait_for_run(first.json()["run_id"])
    wait_until(lambda: all(la.done.is_set() for la in server.ctx.launcher.launches()), 30, "the retry's process ended")
    second = server.client.post(f"/api/runs/{parent}/retry", json={})  # an earlier retry of the parent is there
    assert second.status_code == 202, second.text
    assert second.json()["run_id"] != first.json()["run_id"]
    for answer in [first, second]:
        new_id = answer.json()["run_id"]
        assert new_id is not None and _started_by(web_project, new_id) == answer.json()["pid"]
        assert server.wait_for_run(new_id)["parent_run_id"] == parent
    assert "error" not in first.json()  # not a field of this answer (docs/serve.md)


def test_retries_of_one_run_at_once_start_one_run(live, web_project: Path) -> None:
    """A client that sends its retry again (a timeout, a double click in a script) while the first one's process
    runs gets 409 naming it: one new run, not one per request."""
    server = live()
    parent = server.start("flaky")
    server.wait_for_run(parent)
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: server.client.post(f"/api/runs/{parent}/retry", json={}), range(3)))
    started = [a for a in answers if a.status_code == 202]
    assert len(started) == 1, [a.text for a in answers]
    for refused in (a for a in answers if a.status_code != 202):
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"].startswith(f"run {parent} is being retried already: ")
    new_id = started[0].json()["run_id"]
    assert new_id is not None and server.wait_for_run(new_id)["parent_run_id"] == parent
    children = [r["run_id"] for r in server.client.get("/api/runs", params={"limit": 50}).json()
                if r.get("parent_run_id") == parent]  # fmt: skip
    assert children == [new_id]


def test_retrying_a_run_where_nothing_failed_is_refused_before_anything_starts(live) -> None:
    server = live()
    run_id = server.start("quick")
    assert server.wait_for_run(run_id)["status"] == "success"
    launched = len(server.ctx.launcher.launches())
    refused = server.client.post(f"/api/runs/{run_id}/retry", json={})
    assert refused.status_code == 409
    assert refused.json()["error"] == f"every task of run {run_id} succeeded: nothing to retry"  # the CLI's words
    assert refused.json()["hint"] == "use --from TASK to run a task and what follows it again"
    assert len(server.ctx.launcher.launches()) == launched  # nothing was started
    unknown = server.client.post(f"/api/runs/{run_id}/retry", json={"from_task": "nope"})
    assert unknown.status_code == 422 and unknown.json()["location"] == "body.from_task"
    again = server.client.post(f"/api/runs/{run_id}/retry", json={"from_task": "count"})
    assert again.status_code == 202 and again.json()["run_id"]  # from a task: something to run
    assert server.wait_for_run(again.json()["run_id"])["status"] == "success"


def test_a_retry_whose_process_refuses_answers_with_its_error(live, web_project: Path, tmp_path: Path) -> None:
    from dagctl.cli import main

    assert main(["run", str(web_project / "configs" / "dags" / "flaky.yaml"), "-q"]) == 1
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\necho 'dagctl: error: the snapshot is gone — run it again' >&2\nexit 2\n")
    fake.chmod(0o755)
    server = live(python=str(fake))
    run_id = server.client.get("/api/runs").json()[0]["run_id"]
    refused = server.client.post(f"/api/runs/{run_id}/retry", json={})
    assert refused.status_code == 409
    assert refused.json()["error"] == "the snapshot is gone" and refused.json()["hint"] == "run it again"


def test_a_run_that_never_started_says_so_to_every_control(live, web_project: Path) -> None:
    server = live()
    run_id = "20260101-000000.000-abcdef"
    launch = server.ctx.launcher.start_run(web_project / "configs" / "dags" / "missing.yaml", {}, run_id)
    assert launch.done.wait(30)
    for action in ("cancel", "pause", "resume", "retry"):
        answer = server.client.post(f"/api/runs/{run_id}/{action}", json={} if action == "retry" else None)
        assert answer.status_code == 409, action
        assert (
            answer.json()["error"].startswith(f"run {run_id} never started: ")
            and "missing.yaml" in (answer.json()["error"])
        ), answer.json()
    gate = server.client.post(f"/api/runs/{run_id}/approvals/x", json={"decision": "approve", "by": "ana"})
    assert gate.status_code == 409 and "never started" in gate.json()["error"]


def test_templates_saved_at_once_under_one_name_are_each_written_whole(live, web_project: Path) -> None:
    server = live()
    texts = [dag_text(QUICK).replace("name: quick", f"name: v{n}") + "#" * (20_000 * n) + "\n" for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda t: server.client.post("/api/templates", json={"name": "race", "yaml": t, "overwrite": True}),
                texts,
            )
        )
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
    folder = web_project / "configs" / "templates"
    assert (folder / "race.yaml").read_text() in texts  # one of them, whole
    assert sorted(p.name for p in folder.iterdir()) == ["race.yaml"]  # no temporary file left behind


def test_saving_a_template_into_a_templates_file_is_a_clean_error(live, web_project: Path) -> None:
    (web_project / "not-a-folder").write_text("")
    server = live(templates_dir=web_project / "not-a-folder")
    answer = server.client.post("/api/templates", json={"name": "t", "yaml": dag_text(QUICK)})
    assert answer.status_code == 503 and answer.json()["error"].startswith("cannot create the templates folder")
    assert "Traceback" not in answer.text


def test_metrics_say_which_file_cannot_be_read(live, web_project: Path) -> None:
    server = live()
    assert server.client.get("/metrics").status_code == 200
    events = server.ctx.config.settings.events_path
    if events.parent.exists():
        os.rename(events.parent, web_project / "logs-moved")
    events.parent.write_text("not a folder")  # a file where the logs folder should be
    answer = server.client.get("/metrics")
    assert answer.status_code == 503
    assert answer.json()["error"] == f"cannot read {events}: Not a directory"
    assert server.client.get("/api/stats").json()["error"] == answer.json()["error"]  # as /api/stats says it


def test_a_dag_behind_a_symlink_leading_out_is_neither_listed_nor_run(live, web_project: Path) -> None:
    outside = web_project / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(dag_text(QUICK).replace("name: quick", "name: secretdag"))
    (web_project / "configs" / "dags" / "secret.yaml").symlink_to(outside / "secret.yaml")
    (web_project / "configs" / "dags" / "inner.yaml").symlink_to(web_project / "configs" / "dags" / "quick.yaml")
    server = live()
    files = {d["file"]: d["name"] for d in server.client.get("/api/dags").json()}
    assert "secret.yaml" not in files and files["inner.yaml"] == "quick"  # a link inside the folder is fine
    for ref in ("secretdag", "secret.yaml"):
        refused = server.client.post("/api/runs", json={"dag": ref})
        assert refused.status_code == 422, ref
    assert server.client.get("/api/runs").json() == []


def test_a_bad_status_filter_is_refused_with_the_statuses(live) -> None:
    server = live()
    bad = server.client.get("/api/runs", params={"status": "bogus"})
    assert bad.status_code == 422
    assert bad.json() == {
        "error": "status 'bogus' is not a run status",
        "location": "query.status",
        "hint": "use one of: success, failed, cancelled, abandoned, running, waiting, paused",
    }
    close = server.client.get("/api/runs", params={"status": "faild"}).json()
    assert close["hint"].startswith("did you mean failed? ")
    page = server.client.get("/", params={"status": "bogus"})
    assert page.status_code == 422 and "is not a run status" in page.text and "no runs found" not in page.text
    rows = server.client.get("/", params={"status": "bogus", "fragment": "rows"})
    assert rows.status_code == 422 and "use one of: success" in rows.text


def test_runs_can_be_filtered_by_the_file_of_their_dag(live) -> None:
    server = live()
    run_id = server.start("quick")
    server.wait_for_run(run_id)
    assert [r["run_id"] for r in server.client.get("/api/runs", params={"dag": "quick.yaml"}).json()] == [run_id]
    assert server.client.get("/api/runs", params={"dag": "flaky.yaml"}).json() == []
    missing = server.client.get("/api/runs", params={"dag": "nope.yaml"})
    assert missing.status_code == 422 and missing.json()["location"] == "query.dag"


def test_an_invalid_dag_named_by_its_name_shows_its_problems(live, web_project: Path) -> None:
    (web_project / "configs" / "dags" / "invalid.yaml").write_text(
        "name: invalid\ntasks:\n  - id: a\n    run: echo a\n    depends_on: nonexistent\n"
    )
    server = live()
    listed = {d["file"]: d for d in server.client.get("/api/dags").json()}["invalid.yaml"]
    assert listed["name"] == "invalid" and listed["valid"] is False
    answer = server.client.post("/api/runs", json={"dag": "invalid"})
    assert answer.status_code == 422
    assert answer.json()["location"].startswith(str(web_project / "configs" / "dags" / "invalid.yaml") + ":5:")
    assert "nonexistent" in answer.json()["error"] and answer.json()["problems"]


def test_bodies_that_are_not_json_objects_say_what_to_send(live) -> None:
    server = live()
    cut = server.client.post("/api/runs", content='{"dag":"quick"', headers={"content-type": "application/json"})
    assert cut.status_code == 422
    assert cut.json()["error"] == "the request body is not valid JSON (at character 14)"
    assert cut.json()["location"] == "body" and "Content-Type: application/json" in cut.json()["hint"]
    text = server.client.post("/api/runs", content='{"dag":"quick"}', headers={"content-type": "text/plain"})
    assert text.status_code == 422 and text.json()["hint"] == "send it with Content-Type: application/json"
    assert "text/plain" in text.json()["error"]
    listed = server.client.post("/api/runs", json=["quick"])
    assert listed.json()["error"] == "the request body must be a JSON object, not a list"
    assert server.client.get("/api/runs").json() == []


def test_validating_a_large_dag_does_not_hold_up_other_requests(live, web_project: Path, monkeypatch) -> None:
    import threading

    from dagctl.web import api_dags

    entered, release = threading.Event(), threading.Event()
    real = api_dags.validate_text

    def slow(text: str, file: str):  # stands for a parse that takes long
        entered.set()
        assert release.wait(20)
        return real(text, file)

    monkeypatch.setattr(api_dags, "validate_text", slow)
    server = live()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(server.client.post, "/api/validate", json={"yaml": dag_text(QUICK)})
        assert entered.wait(20)
        try:
            health = server.client.get("/healthz", timeout=5)  # answered while the validation is under way
            assert health.status_code == 200
        finally:
            release.set()
        assert pending.result().json()["valid"] is True


def test_a_wrong_method_names_the_allowed_ones_and_head_works_where_get_does(live) -> None:
    server = live()
    wrong = server.client.put("/api/runs")
    assert wrong.status_code == 405 and set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    head = server.client.head("/healthz")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert server.client.head("/api/runs").status_code == 200
    post_only = server.client.head("/api/validate")
    assert post_only.status_code == 405 and post_only.headers["allow"] == "POST"
    stream = server.client.head("/api/runs/latest/events")
    assert stream.status_code == 405 and stream.headers["allow"] == "GET"


def test_a_browser_gets_a_page_for_an_unknown_path(live) -> None:
    server = live()
    page = server.client.get("/nowhere", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no such page or endpoint" in page.text
    api = server.client.get("/api/nowhere", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.json()["error"] == "no such page or endpoint"


def test_runs_are_listed_page_by_page(live) -> None:
    """``before=RUN_ID`` (the last run of a page) gives the next, older page; a full page says where it goes on in
    its ``Link`` header, and a parameter the list does not take (``offset``) is refused, not ignored."""
    server = live()
    started = [server.start("quick") for _ in range(5)]
    for run_id in started:
        server.wait_for_run(run_id)
    newest_first = sorted(started, reverse=True)  # ids sort by start time
    seen: list[str] = []
    url: str | None = "/api/runs?limit=2&tasks=false&dag=quick"
    while url is not None:
        page = server.client.get(url)
        assert page.status_code == 200, page.text
        seen += [r["run_id"] for r in page.json()]
        link = page.headers.get("link")
        url = link[1 : link.index(">")] if link else None
        if url is not None:
            assert link.endswith('; rel="next"') and "dag=quick" in url and "tasks=false" in url
    assert seen == newest_first  # every run once, newest first, page after page
    after = server.client.get("/api/runs", params={"before": newest_first[1], "limit": 10}).json()
    assert [r["run_id"] for r in after] == newest_first[2:]
    bad = server.client.get("/api/runs", params={"before": "last"})
    assert bad.status_code == 422 and bad.json()["location"] == "query.before"
    offset = server.client.get("/api/runs", params={"offset": 5})
    assert offset.status_code == 422 and offset.json()["error"] == "unknown query parameter 'offset'"
    assert "before=RUN_ID" in offset.json()["hint"]
    typo = server.client.get("/api/runs", params={"stauts": "failed"})
    assert typo.status_code == 422 and typo.json()["hint"] == "did you mean status?"


def test_a_bare_number_since_is_refused_on_the_runs_list(live) -> None:
    """``since=1`` would be 1 second for ``dagctl runs --since`` but 1 hour on the dashboard and ``/api/stats``:
    the API takes a duration with its unit, and says so."""
    server = live()
    server.wait_for_run(server.start("quick"))
    bare = server.client.get("/api/runs", params={"since": "1"})
    assert bare.status_code == 422 and bare.json()["location"] == "query.since"
    assert bare.json()["error"] == "since: 1 has no unit"
    assert bare.json()["hint"].startswith("give one, e.g. since=1h or since=1m")
    assert len(server.client.get("/api/runs", params={"since": "1h"}).json()) == 1
    assert server.client.get("/", params={"since": "1", "fragment": "rows"}).text.count("<tr>") == 1  # hours there
