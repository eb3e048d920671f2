"""What a notification says and when there is none: a failure message carries each failed task's error (and the
tail of its log only with ``log_lines:``), the host, the schedule, the logical date and whether the run is a retry;
``title:`` / ``body:``
templates over the run's fields, checked when the file is read; ``notify: {events: []}`` sends nothing, also
switching off the project's ``notify:``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.dag.loader import load_dag_text
from dagctl.dag.plan import build_plan
from dagctl.dag.schema import dag_json_schema
from dagctl.errors import SpecError
from dagctl.run import notify
from dagctl.run.notify import Notifier, notifier_for, read_tail
from dagctl.run.notify_message import RunFacts, message_for
from dagctl.store.events import DagDone, DagStart, TaskFail, TaskRetry

RUN = {"ts": "2026-12-07T02:00:05.000000Z", "run_id": "r2", "dag_name": "etl", "tenant_id": "default"}


def nightly_retry_that_failed(log: Path) -> list:
    return [
        DagStart(
            **RUN,
            params={"env": "prod"},
            trigger="retry",
            parent_run_id="r1",
            host="ci-01",
            schedule_id="etl_nightly",
            logical_date="2026-12-07T02:00:00+00:00",
        ),
        TaskFail(**RUN, task_id="load", attempt=2, error="exit code 4", log_path=str(log)),
        TaskFail(**RUN, task_id="handler:failure", attempt=1, error="exit code 9"),
        DagDone(**RUN, status="failed", duration_s=12.25),
    ]


def test_a_failure_message_carries_what_an_operator_acts_on(tmp_path: Path) -> None:
    log = tmp_path / "load.log"
    log.write_bytes(b"".join(b"row %d ok\n" % n for n in range(40)) + b"\x1b[31mERROR\x1b[0m: disk full \x07\n")
    facts = RunFacts()
    events = nightly_retry_that_failed(log)
    for event in events[:-1]:
        facts.note(event)
    title, body, kind = message_for(events[-1], {"failure"}, facts, read_tail) or ("", "", "")
    assert (title, kind) == ("dagctl: etl failed", "failure")
    lines = body.splitlines()
    assert lines[0] == "Run r2 of etl failed after 12.2s."
    assert (
        "Host: ci-01, trigger: retry of run r1, schedule: etl_nightly, logical date: 2026-12-07T02:00:00+00:00" in lines
    )
    assert "Failed tasks: load" in lines and "load (attempt 2): exit code 4" in lines
    assert "  | ERROR: disk full" in lines and "  | row 39 ok" in lines  # the tail, without terminal escapes
    assert "  | row 0 ok" not in lines and "\x1b" not in body and "\x07" not in body
    assert "Handler failure failed: exit code 9" in lines
    assert lines[-1] == "See: dagctl show r2"


def test_a_retry_and_a_success_say_where_they_ran() -> None:
    facts = RunFacts()
    facts.note(DagStart(**RUN, trigger="schedule", host="ci-01", schedule_id="etl_nightly"))
    retry = TaskRetry(**RUN, task_id="a", attempt=1, status="failed", error="exit code 1", delay_s=30.0)
    _, body, kind = message_for(retry, {"retry"}, facts) or ("", "", "")
    assert kind == "warning"
    assert body.splitlines()[:2] == [
        "Attempt 1 of a failed: exit code 1; next attempt in 30s.",
        "Host: ci-01, trigger: schedule, schedule: etl_nightly",
    ]
    _, body, _ = message_for(DagDone(**RUN, status="success", duration_s=1.5), {"success"}, facts) or ("", "", "")
    assert body.splitlines()[1] == "Host: ci-01, trigger: schedule, schedule: etl_nightly"


def test_title_and_body_templates_read_the_runs_fields(tmp_path: Path) -> None:
    got: list[tuple[str, str]] = []
    spec = load_dag_text(
        "name: etl\nparams: {env: prod}\ntasks:\n  - {id: load, run: 'exit 4'}\n"
        "notify:\n  urls: ['json://hooks.example.com/x']\n"
        "  title: '[${params.env}] ${dag.name} ${run.status} on ${run.host}'\n"
        '  body: "schedule ${run.schedule} for ${logical_date}, retry of ${run.retry_of:-nothing}\\n${message.body}"\n'
    )
    plan = build_plan(spec)
    assert plan.dag.notify is not None
    notifier = Notifier(
        plan.dag.notify["events"],
        lambda title, body, kind="info": got.append((title, body)),
        FakeClock(),
        title=plan.dag.notify["title"],
        body=plan.dag.notify["body"],
    )
    for event in nightly_retry_that_failed(tmp_path / "gone.log"):
        notifier.emit(event)
    notifier.close()
    (title, body), *_ = got
    assert title == "[prod] etl failed on ci-01"
    first, second, *_ = body.splitlines()
    assert first == "schedule etl_nightly for 2026-12-07T02:00:00+00:00, retry of r1"
    assert second == "Run r2 of etl failed after 12.2s."  # dagctl's own text, where ${message.body} is


def test_a_template_that_cannot_be_filled_sends_dagctls_own_text_and_says_why(caplog) -> None:
    got: list[str] = []
    notifier = Notifier(
        ["failure"], lambda title, body, kind="info": got.append(title), FakeClock(), title="${params.team} alert"
    )
    with caplog.at_level(logging.WARNING, logger=notify.__name__):
        notifier.emit(DagDone(**RUN, status="failed", duration_s=1.0))  # a project's template: no such param here
        notifier.close()
    assert got == ["dagctl: etl failed"]
    assert "notify: the title/body template cannot be filled (unknown param 'team'" in caplog.text


@pytest.mark.parametrize(
    ("notify_yaml", "expected"),
    [
        ("{urls: [u], title: '${run.stauts}'}", "5:55: notify.title: unknown field ${run.stauts} — did you mean"),
        ("{urls: [u], title: '${params.nope}'}", "5:55: notify: title: unknown param 'nope' in ${params.nope}"),
        ("{urls: [u], body: '${env.TOKEN}'}", "5:54: notify.body: ${env.TOKEN} cannot be used in a message"),
        ("{events: [failure]}", "5:9: notify: needs urls, a list of apprise URLs — write an apprise URL"),
    ],
)
def test_notify_is_checked_where_it_is_written(notify_yaml: str, expected: str) -> None:
    text = "name: etl\nparams: {env: prod}\ntasks:\n  - {id: a, run: 'true'}\nnotify: " + notify_yaml + "\n"
    with pytest.raises(SpecError) as found:
        load_dag_text(text.replace("[u]", "['json://hooks.example.com/x']"), "etl.yaml")
    assert f"etl.yaml:{expected}" in str(found.value)


def test_events_none_switches_notifications_off_and_needs_no_urls() -> None:
    spec = load_dag_text("name: etl\ntasks:\n  - {id: a, run: 'exit 1'}\nnotify: {events: []}\n")
    plan = build_plan(spec)
    assert plan.dag.notify is not None and plan.dag.notify["events"] == []  # set: the project's does not apply
    assert notifier_for(plan.dag.notify) is None
    with_urls = build_plan(
        load_dag_text("name: etl\ntasks:\n  - {id: a, run: 'exit 1'}\nnotify: {events: [], urls: ['json://x.y/z']}\n")
    )
    assert notifier_for(with_urls.dag.notify) is None  # it sent a failure message: [] read as the default


def test_the_schema_accepts_notify_as_dagctl_does() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (the dev extra) checks the emitted schema")
    validator = jsonschema.Draft202012Validator(dag_json_schema())
    base = {"name": "etl", "tasks": [{"id": "a", "run": "true"}]}
    good = [
        {"events": []},
        {"events": [], "urls": ["json://x.y/z"]},
        {"urls": ["json://x.y/z"], "title": "${dag.name}", "body": "${message.body}"},
        {"urls": ["json://x.y/z"], "log_lines": 0},
        {"urls": ["json://x.y/z"], "log_lines": 50},
    ]
    bad = [
        {"events": ["failure"]},
        {},
        {"urls": []},
        {"urls": ["json://x.y/z"], "title": 5},
        {"urls": ["json://x.y/z"], "log_lines": 51},
        {"urls": ["json://x.y/z"], "log_lines": -1},
        {"urls": ["json://x.y/z"], "log_lines": "10"},
    ]
    for value in good:
        assert not list(validator.iter_errors({**base, "notify": value})), value
        load_dag_text(f"name: etl\ntasks:\n  - {{id: a, run: 'true'}}\nnotify: {value}\n".replace("'", '"'))
    for value in bad:
        assert list(validator.iter_errors({**base, "notify": value})), value


def test_a_dag_without_notifications_exports_to_argo() -> None:
    from dagctl.export.argo import ArgoOptions, export_plan

    plan = build_plan(load_dag_text("name: etl\ntasks:\n  - {id: a, run: 'true'}\nnotify: {events: []}\n"))
    assert export_plan(plan, ArgoOptions(dag_path="dags/etl.yaml")).manifest


def test_the_docs_list_every_field_a_template_may_read() -> None:
    from dagctl.dag.notifytext import FIELDS

    docs = (Path(__file__).resolve().parents[1] / "docs" / "dag-format.md").read_text()
    assert [name for name in FIELDS if f"`${{{name}}}`" not in docs] == []


FAILED_LOAD = "name: etl\ntasks:\n  - {id: load, run: 'exit 4'}\nnotify: {urls: ['json://hooks.example.com/x']NOTE}\n"


def _failure_body(tmp_path: Path, notify_extra: str) -> str:
    """The failure message of a run whose task ``load`` logged a DSN with its password (from a .env file: no
    declared secret) and failed, as the DAG's ``notify:`` (plus ``notify_extra``) makes it."""
    log = tmp_path / "load.log"
    log.write_text("".join(f"row {n} ok\n" for n in range(60)) + "connect postgresql://etl:Pa55w0rd@db/prod failed\n")
    plan = build_plan(load_dag_text(FAILED_LOAD.replace("NOTE", notify_extra)))
    got: list[str] = []
    notifier = notifier_for(plan.dag.notify, FakeClock())
    assert notifier is not None
    notifier.lanes[0].send = lambda title, body, kind="info": got.append(body)  # type: ignore[method-assign]
    for event in nightly_retry_that_failed(log):
        notifier.emit(event)
    notifier.close()
    [body] = got
    return body


def test_a_failure_message_sends_no_log_lines_unless_asked(tmp_path: Path) -> None:
    body = _failure_body(tmp_path, "")
    assert "load (attempt 2): exit code 4" in body.splitlines()  # the task's one-line error is kept
    assert "Pa55w0rd" not in body and "last lines of its log" not in body and "| row" not in body


def test_log_lines_asks_for_that_many_lines_of_each_failed_tasks_log(tmp_path: Path) -> None:
    lines = _failure_body(tmp_path, ", log_lines: 3").splitlines()
    shown = [line for line in lines if line.startswith("  | ")]
    assert shown == ["  | row 58 ok", "  | row 59 ok", "  | connect postgresql://etl:Pa55w0rd@db/prod failed"]
    many = [line for line in _failure_body(tmp_path, ", log_lines: 50").splitlines() if line.startswith("  | ")]
    assert len(many) == 50 and many[0] == "  | row 11 ok"


@pytest.mark.parametrize("value", ["51", "-1", "ten", "true", "2.5"])
def test_log_lines_is_checked_where_it_is_written(value: str) -> None:
    with pytest.raises(SpecError) as found:
        load_dag_text(FAILED_LOAD.replace("NOTE", f", log_lines: {value}"), "etl.yaml")
    message = str(found.value)
    assert "etl.yaml:4:" in message and "log_lines:" in message and "from 0 to 50" in message, message
    assert "Traceback" not in message
