"""A run as test cases and as JUnit XML: what passes, fails and is skipped, and a document CI servers accept."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dagctl.report.cases import RunTree, cases
from dagctl.report.junit import junit_xml
from dagctl.store.runsummary import fold_run

from . import junit_schema
from .ci_runs import parent_events, tree
from .events import ev


def by_name(root: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name"): c for c in root.iter("testcase")}


def test_every_task_cell_and_sub_dag_task_is_a_test_case_and_each_problem_counts_once():
    found = cases(tree())
    assert [(c.name, c.outcome, c.kind) for c in found] == [
        ("extract", "passed", "success"),
        ("flaky", "failed", "failed"),
        ("slow", "failed", "timeout"),
        ("report", "skipped", "skipped"),
        ("train:0 [lr=0.1]", "passed", "success"),
        ("train:1 [lr=1]", "failed", "failed"),
        ("prep/fetch", "failed", "failed"),
        ("prep/clean", "skipped", "skipped"),
        ("sleepy", "failed", "cancelled"),
        ("never", "skipped", "cancelled"),
    ]
    fetch = next(c for c in found if c.name == "prep/fetch")
    assert fetch.run.dag_name == "prep" and fetch.plan_task == "fetch" and fetch.tail == ("no route",)
    assert next(c for c in found if c.name.startswith("train:1")).plan_task == "train"


def test_a_container_is_a_case_when_it_failed_and_nothing_inside_it_did():
    records = parent_events()
    # the failed cell succeeds: the matrix task still failed (its aggregate), so it is a case of its own
    records = [
        ev("task_ok", 2, "train", attempt=1, cell="train:1", cell_index=1, duration_s=1)
        if r.get("cell") == "train:1" and r["event"] == "task_fail"
        else r
        for r in records
    ]
    found = {c.name: c for c in cases(RunTree(fold_run(records)))}
    assert found["train"].outcome == "failed" and found["train"].message == "1 of 2 cells succeeded, 2 needed"
    assert found["prep"].outcome == "failed"  # no child run known: the dag: task speaks for it
    assert "prep/fetch" not in found


def test_junit_is_valid_against_the_common_schema_and_counts_what_it_holds():
    text = junit_xml(tree())
    assert junit_schema.problems(text) == []
    root = ET.fromstring(text)
    assert root.tag == "testsuites" and root.get("tests") == "10" and root.get("failures") == "5"
    (suite,) = root.findall("testsuite")
    assert suite.attrib == {
        "name": "etl",
        "tests": "10",
        "failures": "5",
        "errors": "0",
        "skipped": "3",
        "time": "6.000",
        "id": "r1",
        "timestamp": "2026-12-06T12:00:00",
        "hostname": "ci-1",
        "file": "dags/etl.yaml",
    }
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["run_id"] == "r1" and props["status"] == "failed" and props["param.day"] == "2026-12-06"
    cases_ = by_name(suite)
    assert cases_["extract"].attrib == {"name": "extract", "classname": "etl", "time": "1.250"}
    assert list(cases_["extract"]) == []
    assert cases_["prep/fetch"].get("classname") == "prep"


def test_a_failure_carries_the_error_exit_code_attempts_log_and_tail():
    root = ET.fromstring(junit_xml(tree()))
    failure = by_name(root)["flaky"].find("failure")
    assert failure is not None
    assert failure.attrib == {"message": "exit code 3", "type": "failed"}
    text = failure.text or ""
    assert "exit code: 3" in text and "attempts: 2" in text and "log: logs/runs/r1/flaky@2.log" in text
    assert text.rstrip().endswith("try 2\nboom <&> \\x07bell")  # colours dropped, a control character spelled out
    timeout = by_name(root)["slow"].find("failure")
    assert timeout is not None and timeout.get("type") == "timeout" and timeout.get("message") == "timed out after 5s"
    cancelled = by_name(root)["sleepy"].find("failure")
    assert cancelled is not None and cancelled.get("type") == "cancelled"
    assert cancelled.get("message") == "cancelled while running: run timed out after 6s"


def test_skipped_and_never_started_tasks_are_skipped_with_the_reason():
    root = ET.fromstring(junit_xml(tree()))
    skipped = by_name(root)["report"].find("skipped")
    assert skipped is not None and skipped.attrib == {"message": "upstream 'flaky' failed", "type": "skipped"}
    never = by_name(root)["never"].find("skipped")
    assert never is not None and never.get("message") == "cancelled before it started: run timed out after 6s"


def test_a_run_still_going_reports_its_unfinished_tasks_as_skipped():
    records = [ev("dag_start", 0), ev("task_start", 0, "a", attempt=1)]
    text = junit_xml(RunTree(fold_run(records)))
    assert junit_schema.problems(text) == []
    skipped = by_name(ET.fromstring(text))["a"].find("skipped")
    assert skipped is not None and skipped.get("message") == "not finished (running)"


def test_the_schema_check_finds_what_breaks_the_schema():
    bad = (
        '<testsuites skipped="1" time="1.5s"><testsuite name="x" tests="1" failures="0">'
        '<testcase><error message="m"/></testcase></testsuite></testsuites>'
    )
    found = junit_schema.problems(bad)
    assert any("'skipped' not allowed on <testsuites>" in p for p in found)
    assert any("time '1.5s'" in p for p in found)
    assert any("misses the required attribute 'errors'" in p for p in found)
    assert any("misses the required attribute 'name'" in p for p in found)
    assert any("<error> not allowed in <testcase>" in p for p in found)
