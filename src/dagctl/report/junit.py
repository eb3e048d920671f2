"""A run as a JUnit XML report, for CI servers (GitLab, Jenkins, GitHub test reporters, Azure, CircleCI). Pure.

The shape follows the JUnit schema that CI servers read (Maven Surefire's ``junit-10.xsd``, as Jenkins and pytest
use it)::

    <testsuites name="dagctl" tests failures errors time>
      <testsuite name=DAG id=RUN_ID tests failures errors skipped time timestamp hostname file>
        <properties><property name="run_id" value=.../> ...</properties>
        <testcase name=TASK classname=DAG time=SECONDS>
          <failure message=ERROR type="failed|timeout|cancelled">error, exit code, attempts, log, tail</failure>
        </testcase>
        <testcase name=TASK classname=DAG time=SECONDS><skipped message=REASON type="skipped|cancelled|..."/></testcase>

One test case per task, matrix cell and sub-DAG task (:func:`dagctl.report.cases.cases`); sub-DAG tasks carry
the child run's DAG name as ``classname``. ``errors`` is always 0: a task that did not succeed is a failure.
Text that XML cannot hold (terminal colour codes, other control characters) is left out or escaped.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timezone

from .cases import ANSI, FAILED, SKIPPED, Case, RunTree, cases, counts

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` as XML 1.0 can hold it: terminal escape sequences removed, other control characters as ``\\xNN``."""
    text = ANSI.sub("", text)
    return _NOT_XML.sub(lambda m: repr(m.group())[1:-1] if ord(m.group()) < 0xD800 else "\ufffd", text)


def seconds(value: float) -> str:
    """A time attribute: seconds with milliseconds, as the schema's pattern wants (``12.345``)."""
    return f"{max(0.0, value):.3f}"


def failure_text(case: Case) -> str:
    """What a CI server shows under a failed test: what went wrong, the numbers, where the log is, its last lines."""
    t = case.task
    lines = [case.message]
    if t.exit_code is not None:
        lines.append(f"exit code: {t.exit_code}")
    if t.attempts:
        lines.append(f"attempts: {t.attempts}")
    lines.append(f"run: {case.run.run_id}")
    if t.log_path:
        lines.append(f"log: {t.log_path}")
    if case.tail:
        lines.append(f"--- last {len(case.tail)} lines of the log ---")
        lines.extend(case.tail)
    return "\n".join(lines) + "\n"


def _properties(tree: RunTree) -> list[tuple[str, str]]:
    run = tree.run
    found = [("run_id", run.run_id), ("status", run.status)]
    for name, value in (
        ("trigger", run.trigger),
        ("error", run.error),
        ("dag_file", run.dag_file),
        ("executor", run.executor),
        ("schedule_id", run.schedule_id),
        ("logical_date", run.logical_date),
        ("tenant_id", run.tenant_id),
    ):
        if value:
            found.append((name, value))
    for key, value in sorted((run.params or {}).items()):
        found.append((f"param.{key}", value if isinstance(value, str) else json.dumps(value, default=str)))
    return found


def junit_xml(tree: RunTree) -> str:
    """The JUnit XML report of ``tree`` (a run, its failed tasks' log tails, its child runs), as a string."""
    run = tree.run
    found = cases(tree)
    n = counts(found)
    total_time = seconds(run.duration_s if run.duration_s is not None else sum(c.seconds for c in found))
    root = ET.Element(
        "testsuites",
        {"name": "dagctl", "tests": str(n["tests"]), "failures": str(n[FAILED]), "errors": "0", "time": total_time},
    )
    suite_attrs = {
        "name": xml_text(run.dag_name or "dag"),
        "tests": str(n["tests"]),
        "failures": str(n[FAILED]),
        "errors": "0",
        "skipped": str(n[SKIPPED]),
        "time": total_time,
        "id": run.run_id,
    }
    if run.started is not None:
        suite_attrs["timestamp"] = run.started.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if run.host:
        suite_attrs["hostname"] = xml_text(run.host)
    if run.dag_file:
        suite_attrs["file"] = xml_text(run.dag_file)
    suite = ET.SubElement(root, "testsuite", suite_attrs)
    props = ET.SubElement(suite, "properties")
    for name, value in _properties(tree):
        ET.SubElement(props, "property", {"name": xml_text(name), "value": xml_text(value)})
    for case in found:
        testcase = ET.SubElement(
            suite,
            "testcase",
            {
                "name": xml_text(case.name),
                "classname": xml_text(case.run.dag_name or run.dag_name or "dag"),
                "time": seconds(case.seconds),
            },
        )
        if case.outcome == FAILED:
            failure = ET.SubElement(testcase, "failure", {"message": xml_text(case.message), "type": case.kind})
            failure.text = xml_text(failure_text(case))
        elif case.outcome == SKIPPED:
            ET.SubElement(testcase, "skipped", {"message": xml_text(case.message), "type": case.kind})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
