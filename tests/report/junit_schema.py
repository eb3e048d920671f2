"""The rules of the JUnit schema CI servers read (Maven Surefire's ``junit-10.xsd``, as Jenkins and pytest use it),
checked with a plain XML parser: which elements may hold which children and attributes, which attributes are
required, and the pattern of the suites' ``time``. :func:`problems` returns what breaks them (empty: valid)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_RESULT = {"attrs": {"type", "message"}, "required": set(), "children": set(), "text": True}
_RERUN = {"attrs": {"type", "message"}, "required": {"type"}, "children": {"stackTrace", "system-out", "system-err"}}
RULES: dict[str, dict] = {
    "testsuites": {
        "attrs": {"name", "time", "tests", "failures", "errors"},
        "required": set(),
        "children": {"testsuite"},
    },
    "testsuite": {
        "attrs": {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id"}
        | {"package", "file", "log", "url", "version"},
        "required": {"name", "tests", "failures", "errors"},
        "children": {"testsuite", "properties", "testcase", "system-out", "system-err"},
    },
    "properties": {"attrs": set(), "required": set(), "children": {"property"}},
    "property": {"attrs": {"name", "value"}, "required": {"name", "value"}, "children": set()},
    "testcase": {
        "attrs": {"name", "time", "classname", "group"},
        "required": {"name"},
        "children": {"skipped", "errors", "failure", "system-out", "system-err"}
        | {"rerunFailure", "rerunError", "flakyFailure", "flakyError"},
    },
    "failure": _RESULT,
    "skipped": _RESULT,
    "errors": _RESULT,
    "rerunFailure": _RERUN,
    "rerunError": _RERUN,
    "flakyFailure": _RERUN,
    "flakyError": _RERUN,
    "system-out": {"attrs": set(), "required": set(), "children": set(), "text": True},
    "system-err": {"attrs": set(), "required": set(), "children": set(), "text": True},
    "stackTrace": {"attrs": set(), "required": set(), "children": set(), "text": True},
}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]{0,3})?")
"""``xs:pattern`` of ``time`` on testsuites and testsuite (an XSD pattern matches the whole value)."""


def problems(text: str) -> list[str]:
    """Everything in ``text`` that the schema does not allow; parsing errors raise (the text is not XML)."""
    root = ET.fromstring(text)
    found: list[str] = []
    if root.tag not in ("testsuites", "testsuite"):
        found.append(f"root element is <{root.tag}>")

    def check(element: ET.Element, where: str) -> None:
        rules = RULES.get(element.tag)
        if rules is None:
            found.append(f"{where}: unknown element <{element.tag}>")
            return
        for name in set(element.attrib) - rules["attrs"]:
            found.append(f"{where}: attribute {name!r} not allowed on <{element.tag}>")
        for name in rules["required"] - set(element.attrib):
            found.append(f"{where}: <{element.tag}> misses the required attribute {name!r}")
        time = element.attrib.get("time")
        if element.tag in ("testsuites", "testsuite") and time is not None and not SUREFIRE_TIME.fullmatch(time):
            found.append(f"{where}: time {time!r} does not match the schema's pattern")
        if not rules.get("text") and (element.text or "").strip():
            found.append(f"{where}: <{element.tag}> holds text")
        for i, child in enumerate(element):
            if child.tag not in rules["children"]:
                found.append(f"{where}: <{child.tag}> not allowed in <{element.tag}>")
            if (child.tail or "").strip():
                found.append(f"{where}: text after <{child.tag}>")
            check(child, f"{where}/{child.tag}[{i}]")

    check(root, root.tag)
    return found
