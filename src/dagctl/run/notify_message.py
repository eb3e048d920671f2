"""What a ``notify:`` message says. Pure: the events come in, and the log tails through ``read_tail``, which the
caller (:class:`~dagctl.run.notify.Notifier`) gives.

dagctl's own text carries what an operator acts on: for a failure, the one-line error of each failed task (and
the last lines of its log when ``notify: {log_lines: N}`` asks for them: off by default, as a log may hold values
that are not declared ``secrets:`` and the message leaves the machine), the host, the trigger (a retry says which
run it retries), the schedule and the logical date, and the commands that show more. ``notify.title`` /
``notify.body`` are templates over the same fields (:mod:`dagctl.dag.notifytext` lists them);
``${message.title}`` / ``${message.body}`` are dagctl's own. Events reach the notifier already masked (the values
of declared ``secrets:`` are ``***``, and nothing else is), and so are the log files it reads.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dagctl.store.events import Event

MAX_TASKS = 10
"""Failed tasks named with their error in a failure message; the others are counted."""
MAX_TAILS = 3
"""Failed tasks whose log tail a failure message shows."""
TAIL_LINES = 10
"""Lines of a log :func:`tail_text` keeps when not told (``notify: {log_lines: N}`` tells it)."""
LINE_SHARE = 120
"""Characters of a log tail per line asked for, in all (10 lines: 1,200)."""
LINE_CHARS = 240

_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|[\x00-\x08\x0b-\x1f\x7f]")


class Message(tuple[str, str, str]):
    """``(title, body, kind)``: kind is apprise's notification type (``failure`` colours a Slack message red)."""

    __slots__ = ()

    @property
    def final(self) -> bool:
        """The message of the run's end: the one people want, sent before any other still waiting."""
        return self[2] in ("success", "failure")


class Failure:
    """A failed task (or cell, or handler) as its ``task_fail`` told it."""

    __slots__ = ("attempt", "error", "log_path", "task")

    def __init__(self, task: str, error: str, attempt: int | None, log_path: str | None) -> None:
        self.task, self.error, self.attempt, self.log_path = task, error, attempt, log_path


class RunFacts:
    """What the events of a run have said so far that a message uses (fed by :meth:`note`, on the run's thread)."""

    def __init__(self) -> None:
        self.host = ""
        self.trigger = ""
        self.schedule = ""
        self.logical_date = ""
        self.retry_of = ""
        self.resumed = False
        self.params: dict[str, Any] = {}
        self.failures: list[Failure] = []

    def note(self, event: Event) -> None:
        kind = event.kind
        if kind == "dag_start":
            self.host = str(getattr(event, "host", "") or "")
            self.trigger = str(getattr(event, "trigger", "") or "")
            self.schedule = str(getattr(event, "schedule_id", "") or "")
            self.logical_date = str(getattr(event, "logical_date", "") or "")
            self.params = dict(getattr(event, "params", None) or {})
            if self.trigger == "retry":
                self.retry_of = str(getattr(event, "parent_run_id", "") or "")
        elif kind == "dag_resume":
            self.host = str(getattr(event, "host", "") or "")
            self.resumed = True
        elif kind == "task_fail":
            task = str(getattr(event, "cell", None) or getattr(event, "task_id", ""))
            error = str(getattr(event, "error", None) or getattr(event, "status", "") or "failed")
            attempt, log_path = getattr(event, "attempt", None), getattr(event, "log_path", None)
            self.failures.append(Failure(task, error, attempt, log_path))

    @property
    def failed_tasks(self) -> list[str]:
        return [f.task for f in self.failures if not f.task.startswith("handler:")]

    def context_line(self) -> str:
        """``Host: ci-01, trigger: schedule nightly, logical date: ...`` (what is known), or ``""``."""
        parts = [f"Host: {self.host}"] if self.host else []
        if self.trigger:
            retry = f" of run {self.retry_of}" if self.retry_of else ""
            parts.append(f"trigger: {self.trigger}{retry}" + (" (resumed)" if self.resumed else ""))
        elif self.resumed:
            parts.append("resumed")
        if self.schedule:
            parts.append(f"schedule: {self.schedule}")
        if self.logical_date:
            parts.append(f"logical date: {self.logical_date}")
        return ", ".join(parts)


def message_for(
    event: Event, wanted: set[str], facts: RunFacts, read_tail: Callable[[str], str] | None = None
) -> Message | None:
    """dagctl's own message for an event people asked to hear about, or None. ``read_tail(log_path)``: the last
    lines of a failed task's log, for a failure message to show; None (the default): it shows none."""
    kind, run, dag = event.kind, event.run_id, event.dag_name
    where = facts.context_line()
    look = f"\nSee: dagctl show {run}"
    if kind == "dag_done":
        status = getattr(event, "status", "")
        took = f"{getattr(event, 'duration_s', 0.0):.1f}s"
        if status == "success" and "success" in wanted:
            body = _lines(f"Run {run} of {dag} succeeded in {took}.", where) + look
            return Message((f"dagctl: {dag} succeeded", body, "success"))
        if status in ("failed", "cancelled") and "failure" in wanted:
            error = getattr(event, "error", None)
            head = _lines(f"Run {run} of {dag} {status} after {took}.", f"Reason: {error}" if error else "", where)
            body = head + _failures(facts, run, read_tail) + look
            return Message((f"dagctl: {dag} {status}", body, "failure"))
    elif kind == "task_retry" and "retry" in wanted:
        task = getattr(event, "cell", None) or getattr(event, "task_id", "")
        error = getattr(event, "error", "") or "failed"
        delay = getattr(event, "delay_s", 0.0) or 0.0
        again = f"; next attempt in {delay:g}s" if delay else ""
        head = _lines(f"Attempt {getattr(event, 'attempt', '?')} of {task} failed: {error}{again}.", where)
        return Message((f"dagctl: {dag}: retrying {task}", head + f"\nLog: dagctl logs {run} {task}{look}", "warning"))
    elif kind == "approval_requested" and "approval" in wanted:
        task = getattr(event, "task_id", "")
        who = ", ".join(getattr(event, "approvers", []) or []) or "anyone"
        text = getattr(event, "message", "") or f"{task} of {dag} waits for approval"
        body = _lines(text, f"Approvers: {who}", where)
        body += f"\nApprove: dagctl approve {run} {task}\nReject: dagctl reject {run} {task} --reason ..."
        return Message((f"dagctl: {dag} waits for approval", body, "info"))
    return None


def _lines(*lines: str) -> str:
    return "\n".join(line for line in lines if line)


def _failures(facts: RunFacts, run: str, read_tail: Callable[[str], str] | None) -> str:
    """The failed tasks: each one's error, the log tail of the first few, and how to read the rest."""
    tasks = [f for f in facts.failures if not f.task.startswith("handler:")]
    handlers = [f for f in facts.failures if f.task.startswith("handler:")]
    out: list[str] = []
    if tasks:
        out.append("Failed tasks: " + ", ".join(f.task for f in tasks))
    for n, failure in enumerate(tasks[:MAX_TASKS]):
        attempt = f" (attempt {failure.attempt})" if failure.attempt and failure.attempt > 1 else ""
        out.append(f"{failure.task}{attempt}: {failure.error}")
        tail = read_tail(failure.log_path) if read_tail is not None and failure.log_path and n < MAX_TAILS else ""
        if tail:
            out.append(f"  last lines of its log (dagctl logs {run} {failure.task}):")
            out.extend(f"  | {line}" for line in tail.splitlines())
    if len(tasks) > MAX_TASKS:
        out.append(f"... and {len(tasks) - MAX_TASKS} more failed tasks")
    out.extend(f"Handler {f.task.removeprefix('handler:')} failed: {f.error}" for f in handlers)
    return ("\n" + "\n".join(out)) if out else ""


def tail_text(data: bytes, lines_wanted: int = TAIL_LINES) -> str:
    """The last ``lines_wanted`` lines of a log's last bytes, fit for a message: decoded, without terminal escapes
    or control characters, each line cut to :data:`LINE_CHARS`, ``lines_wanted`` × :data:`LINE_SHARE` characters in
    all."""
    if lines_wanted <= 0:
        return ""
    text = _CONTROL.sub("", data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    lines = [line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…" for line in lines if line.strip()]
    kept: list[str] = []
    size = 0
    for line in reversed(lines[-lines_wanted:]):
        size += len(line) + 1
        if size > lines_wanted * LINE_SHARE and kept:
            break
        kept.append(line)
    return "\n".join(reversed(kept))


def fields_of(event: Event, message: Message, facts: RunFacts) -> dict[str, Any]:
    """The values a ``title:`` / ``body:`` template reads for ``message`` (:data:`dagctl.dag.notifytext.FIELDS`)."""
    kind = event.kind
    status = {"task_retry": "retrying", "approval_requested": "waiting"}.get(kind, getattr(event, "status", ""))
    what = {"task_retry": "retry", "approval_requested": "approval"}.get(kind) or (
        "success" if status == "success" else "failure"
    )
    duration = getattr(event, "duration_s", None) if kind == "dag_done" else None
    error = getattr(event, "error", None) or ""
    task = str(getattr(event, "cell", None) or getattr(event, "task_id", "") or "")
    return {
        "dag": {"name": event.dag_name},
        "logical_date": facts.logical_date,
        "run": {
            "event": what,
            "status": status,
            "host": facts.host,
            "trigger": facts.trigger,
            "schedule": facts.schedule,
            "retry_of": facts.retry_of,
            "duration": f"{duration:.1f}s" if duration is not None else "",
            "failed_tasks": ", ".join(facts.failed_tasks),
            "error": error if kind == "dag_done" else "",
        },
        "task": {"id": task, "error": error if kind == "task_retry" else ""},
        "message": {"title": message[0], "body": message[1]},
    }


def templated(
    message: Message, event: Event, facts: RunFacts, title: str | None, body: str | None
) -> tuple[Message, str | None]:
    """``message`` with the ``title`` / ``body`` templates applied (None: dagctl's own kept), and what went wrong
    filling them (then dagctl's own text is sent: a message with a hole is worse than a plain one)."""
    if not title and not body:
        return message, None
    from dagctl.dag.templating import TemplateContext, render
    from dagctl.errors import DagctlError

    fields = fields_of(event, message, facts)
    context = TemplateContext(params=facts.params, env={}, outputs={}, run_id=event.run_id, extra=fields)
    try:
        new_title = render(title, context) if title else message[0]
        new_body = render(body, context) if body else message[1]
    except DagctlError as exc:
        return message, f"notify: the title/body template cannot be filled ({exc}); dagctl's own text is sent"
    return Message((new_title, new_body, message[2])), None
