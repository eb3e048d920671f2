"""Workflows of the weekly_ops_chain example DAG, registered by name in configs/dagctl.yaml.

Each one is a plain function: task params in (by name), upstream outputs in as ``<task>__<key>``, the
TaskContext as ``ctx``; it writes a file into the run's folder and returns a small dict of outputs.
Sample inputs live in configs/data/, found relative to this file so the working directory does not matter.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from dagctl.run.context import TaskContext
from dagctl.errors import TaskError

DATA = Path(__file__).resolve().parent.parent / "data"

URGENT_WORDS = {"urgent", "asap", "outage", "overdue", "blocker"}
IMPORTANT_WORDS = {"approve", "contract", "deadline", "invoice", "review"}


def _read_message(path: Path) -> dict[str, Any]:
    """A message file: ``Header: value`` lines, a blank line, then the body."""
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    headers = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
    return {"from": headers.get("From", "?"), "date": headers.get("Date", ""),
            "subject": headers.get("Subject", path.stem), "body": body}


def _score(item: dict[str, Any]) -> tuple[int, bool]:
    words = set(re.findall(r"[a-z0-9]+", f"{item['subject']} {item['body']}".lower()))
    urgent = len(words & URGENT_WORDS)
    return 3 * urgent + len(words & IMPORTANT_WORDS), urgent > 0


def inbox_drive_sweep(inbox_items: str | list[str], ctx: TaskContext) -> dict[str, Any]:
    """Score the sample inbox plus the ``inbox_items`` notes by keywords, newest first on ties."""
    items = [_read_message(p) for p in sorted((DATA / "inbox").glob("*.txt"))]
    notes = inbox_items.splitlines() if isinstance(inbox_items, str) else list(inbox_items)
    items += [{"from": "(param)", "date": "", "subject": n.strip(), "body": ""} for n in notes if n.strip()]
    ctx.progress(40, f"read {len(items)} items")
    for item in items:
        item["score"], item["urgent"] = _score(item)
    items.sort(key=lambda i: (i["score"], i["date"]), reverse=True)
    lines = ["# Inbox sweep", "", "| # | score | date | from | subject |", "|---:|---:|---|---|---|"]
    for n, i in enumerate(items, start=1):
        flag = " **URGENT**" if i["urgent"] else ""
        lines.append(f"| {n} | {i['score']} | {i['date'] or '-'} | {i['from']} | {i['subject']}{flag} |")
    path = Path(ctx.run_dir) / "sweep.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    urgent = sum(i["urgent"] for i in items)
    ctx.log(f"wrote {path}: {len(items)} items, {urgent} urgent")
    return {"summary": f"Prioritized {len(items)} items", "urgent": urgent, "path": str(path)}


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise TaskError(f"{name} {text!r} is not a date — write YYYY-MM-DD") from None


def weekly_report_pack(start_date: str, end_date: str, ctx: TaskContext, sweep__summary: str = "") -> dict[str, Any]:
    """Hours per project from the work log between two dates (inclusive), as a Markdown report."""
    start, end = _day(start_date, "start_date"), _day(end_date, "end_date")
    if start > end:
        raise TaskError(f"start_date {start} is after end_date {end}")
    with (DATA / "worklog.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if start <= date.fromisoformat(r["date"]) <= end]
    ctx.progress(50, f"{len(rows)} work log rows in range")
    hours: dict[str, float] = defaultdict(float)
    for row in rows:
        hours[row["project"]] += float(row["hours"])
    ranking = sorted(hours.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"# Weekly report {start} to {end}", "", f"Inbox: {sweep__summary or 'no sweep'}", "",
             "| project | hours |", "|---|---:|", *(f"| {p} | {h:.1f} |" for p, h in ranking)]
    path = Path(ctx.run_dir) / "weekly_report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ctx.log(f"wrote {path}")
    return {"rows": len(rows), "projects": len(hours), "hours": round(sum(hours.values()), 2),
            "top_project": ranking[0][0] if ranking else None, "path": str(path)}


def meeting_transcript_brief(meeting_title: str, ctx: TaskContext, report__path: str = "") -> dict[str, Any]:
    """Pull ``DECISION:`` and ``ACTION:`` lines out of the sprint review transcript into a brief."""
    found: dict[str, list[str]] = {"DECISION": [], "ACTION": []}
    for line in (DATA / "transcripts" / "sprint_review.txt").read_text(encoding="utf-8").splitlines():
        kind, sep, text = line.strip().partition(":")
        if sep and kind in found:
            found[kind].append(text.strip())
    ctx.progress(70, f"{len(found['ACTION'])} actions, {len(found['DECISION'])} decisions")
    lines = [f"# {meeting_title} — brief", "", "## Decisions", *(f"- {d}" for d in found["DECISION"]),
             "", "## Action items", *(f"- [ ] {a}" for a in found["ACTION"])]
    if report__path:
        lines += ["", f"Weekly report: {report__path}"]
    path = Path(ctx.run_dir) / "brief.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ctx.log(f"wrote {path}")
    return {"actions": len(found["ACTION"]), "decisions": len(found["DECISION"]), "path": str(path)}
