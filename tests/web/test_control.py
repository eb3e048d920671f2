"""Steering runs through the API: approval gates, pause and resume (cancel and retry are in test_api.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.support import wait_until
from tests.web.sse_client import collect

GATE = """name: gate
tasks:
  - {id: build, run: "true"}
  - id: ok
    depends_on: build
    approval: {message: "Deploy?", approvers: [ana, li]}
  - {id: deploy, depends_on: ok, run: "echo deployed"}
"""

STEPS = """name: steps
tasks:
  - {id: first, run: "sleep 1; echo first"}
  - {id: second, run: "echo second", depends_on: first}
"""


def test_an_approval_gate_is_decided_through_the_api(live, web_project: Path) -> None:
    (web_project / "configs" / "dags" / "gate.yaml").write_text(GATE)
    server = live()
    run_id = server.start("gate")
    run = server.wait_for_run(run_id, status="waiting")
    assert run["tasks"]["ok"]["approval"]["approvers"] == ["ana", "li"]
    url = f"/api/runs/{run_id}/approvals/ok"
    stranger = server.client.post(url, json={"decision": "approve", "by": "zed"})
    assert stranger.status_code == 422 and "not an approver" in stranger.json()["error"]
    no_reason = server.client.post(url, json={"decision": "reject", "by": "ana"})
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.json()["error"]
    not_a_gate = server.client.post(f"/api/runs/{run_id}/approvals/build", json={"decision": "approve", "by": "ana"})
    assert not_a_gate.status_code == 422 and not_a_gate.json()["hint"] == "its gates: ok"
    approved = server.client.post(url, json={"decision": "approve", "by": "ana", "comment": "fine"})
    assert approved.status_code == 200 and approved.json()["gate"] == "approved"
    assert server.wait_for_run(run_id)["status"] == "success"
    again = server.client.post(url, json={"decision": "approve", "by": "li"})
    assert again.status_code == 409


def test_a_run_is_paused_and_resumed_in_the_same_run(live, web_project: Path) -> None:
    (web_project / "configs" / "dags" / "steps.yaml").write_text(STEPS)
    server = live()
    run_id = server.start("steps")
    wait_until(lambda: server.client.get(f"/api/runs/{run_id}").json()["tasks"].get("first"), 20, "first started")
    paused = server.client.post(f"/api/runs/{run_id}/pause")
    assert paused.status_code == 202 and paused.json()["status"] == "pausing"
    assert server.wait_for_run(run_id)["status"] == "paused"
    first = collect(server.client, f"/api/runs/{run_id}/events")
    assert first[-1].json["status"] == "paused"  # the stream of a paused run completes ...
    resumed = server.client.post(f"/api/runs/{run_id}/resume")
    assert resumed.status_code == 202 and resumed.json()["run_id"] == run_id
    wait_until(lambda: server.client.get(f"/api/runs/{run_id}").json()["status"] == "success", 30, "resumed run done")
    rest = collect(server.client, f"/api/runs/{run_id}/events", headers={"Last-Event-ID": first[-2].id or ""})
    kinds = [m.json.get("event") for m in rest[:-1]]
    assert kinds[0] == "dag_resume" and kinds[-1] == "dag_done"  # ... and goes on after a resume
    assert rest[-1].json["status"] == "success"
    assert server.client.post(f"/api/runs/{run_id}/resume").status_code == 409
    assert server.client.post(f"/api/runs/{run_id}/pause").status_code == 409


def test_deciding_a_gate_decided_already_is_a_conflict(live, web_project: Path) -> None:
    (web_project / "configs" / "dags" / "gate.yaml").write_text(GATE)
    server = live()
    run_id = server.start("gate")
    server.wait_for_run(run_id, status="waiting")
    launch = server.ctx.launcher.by_run_id(run_id)
    assert launch is not None
    os.kill(launch.pid, signal.SIGSTOP)  # the run does not move on: it is still recorded waiting
    try:
        url = f"/api/runs/{run_id}/approvals/ok"
        assert server.client.post(url, json={"decision": "approve", "by": "ana"}).json()["gate"] == "approved"
        again = server.client.post(url, json={"decision": "approve", "by": "li"})
        assert again.status_code == 409  # docs/serve.md: 409 if the gate is not waiting
        assert again.json()["error"] == "ok is already approved (by ana)"
    finally:
        os.kill(launch.pid, signal.SIGCONT)
    assert server.wait_for_run(run_id)["status"] == "success"


def test_resumes_of_one_run_at_once_resume_it_once(live, web_project: Path) -> None:
    """Of resumes sent at once, one goes on with the run and the others are told 409 (not a 202 for a process that
    then quietly refuses)."""
    from concurrent.futures import ThreadPoolExecutor

    (web_project / "configs" / "dags" / "steps.yaml").write_text(STEPS)
    server = live()
    run_id = server.start("steps")
    wait_until(lambda: server.client.get(f"/api/runs/{run_id}").json()["tasks"].get("first"), 20, "first started")
    assert server.client.post(f"/api/runs/{run_id}/pause").status_code == 202
    assert server.wait_for_run(run_id)["status"] == "paused"
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: server.client.post(f"/api/runs/{run_id}/resume"), range(3)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [202, 409, 409], [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        error = refused.json()["error"]
        assert error.startswith((f"run {run_id} is being resumed already", f"run {run_id} is running")), error
    assert server.client.get(f"/api/runs/{run_id}").json()["status"] != "paused"  # it goes on as the 202 said
    assert server.wait_for_run(run_id)["status"] == "success"
    resumes = [la for la in server.ctx.launcher.launches() if la.kind == "resume"]
    assert len(resumes) == 1


def test_a_resume_another_process_makes_first_is_refused_with_its_words(live, web_project: Path) -> None:
    """A run resumed from elsewhere (``dagctl resume``) at the same moment: the process started here refuses, and
    the answer says so (409) instead of 202."""
    from filelock import FileLock

    from dagctl.store.layout import RESUME_LOCK

    (web_project / "configs" / "dags" / "steps.yaml").write_text(STEPS)
    server = live()
    run_id = server.start("steps")
    wait_until(lambda: server.client.get(f"/api/runs/{run_id}").json()["tasks"].get("first"), 20, "first started")
    assert server.client.post(f"/api/runs/{run_id}/pause").status_code == 202
    assert server.wait_for_run(run_id)["status"] == "paused"
    claim = FileLock(str(web_project / "logs" / "runs" / run_id / RESUME_LOCK), timeout=0, thread_local=False)
    with claim:  # what a dagctl resume elsewhere holds while it goes on with the run
        answer = server.client.post(f"/api/runs/{run_id}/resume")
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == f"run {run_id} is being resumed by another process already"  # its words
    assert server.client.get(f"/api/runs/{run_id}").json()["status"] == "paused"
