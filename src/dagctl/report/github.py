"""GitHub Actions output: workflow commands (groups, ``::error`` annotations) and the step summary. Pure.

- :func:`group` / :data:`GROUP_END` fold a task's log in the job log; :func:`stop_commands` / :func:`resume_commands`
  surround text a task wrote, so that a line in a log cannot act as a workflow command (set an output, a mask,
  end the group early).
- :func:`error_annotations`: one ``::error file=...,line=...,title=...::message`` per failed task, pointing at the
  line of the task in its DAG file (:func:`task_lines`).
- :func:`step_summary`: Markdown for ``$GITHUB_STEP_SUMMARY``: the outcome, a table of every task (the same cases
  as the JUnit report, :mod:`dagctl.report.cases`) and the log tails of the failed ones.

Escaping follows the runner's rules: in a command's message ``%``, CR and LF are percent-encoded; in its
properties ``:`` and ``,`` too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dagctl.dag.durations import format_duration
from dagctl.dag.yamlread import parse_document
from dagctl.errors import DagctlError
from dagctl.store.runsummary import RunSummary

from .cases import FAILED, PASSED, SKIPPED, Case, RunTree, cases, counts, plain

GROUP_END = "::endgroup::"
MAX_ROWS = 500
"""Rows of the step summary's table; the rest is counted (the JUnit report and ``dagctl show`` have them all)."""
MAX_DETAILS = 10
"""Failed tasks whose log tail the step summary shows."""
ANNOTATION_LINES = 10
"""Log lines an annotation carries (the group in the job log has the whole log)."""

_ICONS = {PASSED: "✅", FAILED: "❌", SKIPPED: "⏭️"}


# ------------------------------------------------------------------------------------------- commands


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", **properties: str | int | None) -> str:
    """``::name key=value,...::message``, escaped; properties that are None are left out."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v is not None)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def group(title: str) -> str:
    return command("group", title)


def stop_commands(token: str) -> str:
    """Until :func:`resume_commands` with the same token, the runner reads no workflow command."""
    return f"::stop-commands::{token}"


def resume_commands(token: str) -> str:
    return f"::{token}::"


# ---------------------------------------------------------------------------------------- annotations


def task_lines(text: str, file: str) -> dict[str, int]:
    """The line of each task in a DAG file's text (its ``id:``), and of each handler (``handler:failure``).

    A file that does not parse gives what could be found: nothing (annotations then name no line)."""
    try:
        doc = parse_document(text, file)
    except DagctlError:
        return {}
    data = doc.data if isinstance(doc.data, dict) else {}
    lines: dict[str, int] = {}
    tasks = data.get("tasks")
    if isinstance(tasks, list):
        for i, task in enumerate(tasks):
            if isinstance(task, dict) and isinstance(task.get("id"), str):
                lines.setdefault(task["id"], doc.position(("tasks", i, "id"), key=True)[0])
    handlers = data.get("handlers")
    if isinstance(handlers, dict):
        for kind in handlers:
            lines[f"handler:{kind}"] = doc.position(("handlers", kind), key=True)[0]
    return lines


def annotation(case: Case, file: str | None, line: int | None) -> str:
    """The ``::error`` command of one failed case, at ``file:line`` when known."""
    t = case.task
    facts = [f"after {t.attempts} attempt{'s' if t.attempts != 1 else ''}" if t.attempts else ""]
    if t.exit_code is not None and f"exit code {t.exit_code}" not in case.message:
        facts.append(f"exit code {t.exit_code}")
    detail = ", ".join(f for f in facts if f)
    message = plain(case.message) + (f" ({detail})" if detail else "")
    tail = [plain(line) for line in case.tail[-ANNOTATION_LINES:]]
    if tail:
        message += "\n" + "\n".join(tail)
    title = f"dagctl: task {case.name} {'timed out' if case.kind == 'timeout' else case.kind}"
    return command("error", message, file=file, line=line if file else None, title=plain(title))


def error_annotations(
    found: Sequence[Case], lines: Mapping[str, Mapping[str, int]], shown: Mapping[str, str] | None = None
) -> list[str]:
    """``::error`` commands for the failed cases. ``lines`` maps a DAG file (as the run recorded it) to
    :func:`task_lines`; ``shown`` maps it to the path GitHub should link (relative to the workspace)."""
    out: list[str] = []
    for case in found:
        if case.outcome != FAILED:
            continue
        dag_file = case.run.dag_file
        line = lines.get(dag_file or "", {}).get(case.plan_task)
        file = (shown or {}).get(dag_file or "", dag_file) if dag_file else None
        out.append(annotation(case, file, line))
    return out


# -------------------------------------------------------------------------------------------- summary


def _cell(text: object) -> str:
    """Text for a Markdown table cell: one line, no table or HTML syntax."""
    value = " ".join(plain(str(text)).split())
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _fence(lines: Sequence[str]) -> str:
    longest = 0
    for line in lines:
        run = 0
        for char in line:
            run = run + 1 if char == "`" else 0
            longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _headline(run: RunSummary) -> str:
    icon = "✅" if run.status == "success" else "❌" if run.status in ("failed", "cancelled", "abandoned") else "⏸️"
    took = f" in {format_duration(run.duration_s)}" if run.duration_s is not None else ""
    return f"### {icon} {_cell(run.dag_name or 'dag')}: {_cell(run.status)}{took}"


def step_summary(tree: RunTree) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: a headline, a table of every task, the failed tasks' log tails."""
    run = tree.run
    found = cases(tree)
    n = counts(found)
    lines = [_headline(run), ""]
    about = f"Run `{run.run_id}` · {n['tests']} tasks: {n[PASSED]} passed, {n[FAILED]} failed, {n[SKIPPED]} skipped"
    lines.append(about)
    if run.error:
        lines += ["", f"**Reason:** {_cell(run.error)}"]
    lines += ["", "| | task | status | attempts | time | details |", "|---|---|---|---|---|---|"]
    for case in found[:MAX_ROWS]:
        t = case.task
        time = format_duration(case.seconds) if t.attempts else ""
        details = case.message
        if case.outcome == FAILED and t.exit_code is not None and f"exit code {t.exit_code}" not in details:
            details += f" (exit code {t.exit_code})"
        if t.cached:
            details = details or "from the task cache"
        row = [_ICONS[case.outcome], f"`{_cell(case.name)}`", _cell(case.kind), str(t.attempts or ""), time]
        lines.append("| " + " | ".join([*row, _cell(details)]) + " |")
    if len(found) > MAX_ROWS:
        lines.append(f"\n… and {len(found) - MAX_ROWS} more (`dagctl show {run.run_id}` lists them all)")
    failed = [c for c in found if c.outcome == FAILED and c.tail]
    for case in failed[:MAX_DETAILS]:
        tail = [plain(line) for line in case.tail]
        fence = _fence(tail)
        title = f"❌ {_cell(case.name)}: last {len(case.tail)} lines of the log"
        lines += ["", f"<details><summary>{title}</summary>", "", fence, *tail, fence, "", "</details>"]
    return "\n".join(lines) + "\n\n"
