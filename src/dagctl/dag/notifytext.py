"""The ``title:`` and ``body:`` of ``notify:``: templates of a message, written with the DAG's ``${...}`` syntax
(:mod:`dagctl.dag.templating`) over the fields of the run, checked when a DAG or ``dagctl.yaml`` is read (an unknown
field is reported at its ``FILE:LINE:COL``, not found in the middle of the night). Pure: the values are filled by
:mod:`dagctl.run.notify_message` when a message is made.

``${env.NAME}`` is refused: a message leaves the machine, and the environment is where secrets are. For the same
reason a failure message shows no lines of the failed tasks' logs unless ``log_lines:`` asks for them
(:func:`log_lines_problem`): a log may hold values that are not declared ``secrets:``, and only those are masked.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection

FIELDS: dict[str, str] = {
    "dag.name": "the DAG's name",
    "run_id": "the run's id",
    "logical_date": "the slot a scheduled run is for (empty otherwise)",
    "params.NAME": "a param of the run",
    "run.event": "what the message is about: failure, success, retry or approval",
    "run.status": "failed, cancelled or success; retrying (a retry message) or waiting (an approval)",
    "run.host": "the host the run ran on",
    "run.trigger": "manual, schedule, retry, backfill, queue, ...",
    "run.schedule": "the schedule's id (empty when not scheduled)",
    "run.retry_of": "the run this one retries (empty otherwise)",
    "run.duration": "how long the run took, such as 4.2s (empty before its end)",
    "run.failed_tasks": "the failed tasks, comma separated",
    "run.error": "why the run failed or was cancelled, when the run says",
    "task.id": "the task a retry or approval message is about",
    "task.error": "that task's error (a retry message)",
    "message.title": "dagctl's own title of this message",
    "message.body": "dagctl's own text of this message (errors, host, ...; log tails with log_lines:)",
}
"""What a template may read, with what it holds (docs/dag-format.md has the same list; a test keeps it so)."""

MAX_LOG_LINES = 50
"""The most lines of each failed task's log a failure message may show (``notify: {log_lines: N}``)."""

KNOWN = tuple(name for name in FIELDS if not name.endswith(".NAME"))
HINT = "use ${run.status}, ${dag.name}, ${params.NAME}, ${message.body}, ... (docs/dag-format.md, Notifications)"


def template_problem(text: str, params: Collection[str] | None = None) -> str | None:
    """What is wrong with the template ``text`` (None: nothing), with how to fix it after `` — ``; the caller
    says where. ``params``: the DAG's declared params (None: not known there, as in a project's dagctl.yaml)."""
    from dagctl.errors import TemplateError

    from .templating import find_references

    try:
        refs = find_references(text)
    except TemplateError as err:
        return f"{err.message} — {err.hint or HINT}"
    for ref in refs:
        if ref.namespace == "env":
            return (
                f"{ref.source} cannot be used in a message (it would carry the environment, where "
                "secrets are) — put what the message needs in params:, or use a field such as ${run.host}"
            )
        if ref.namespace == "params":
            if not ref.path:
                return f"{ref.source} needs a param name — write ${{params.NAME}}"
            if params is not None and not any(".".join(ref.path[:j]) in params for j in range(len(ref.path), 0, -1)):
                known = ", ".join(sorted(params)) or "none"
                what = f"unknown param '{ref.path[0]}' in {ref.source}; known: {known}"
                return f"{what} — declare it under params:"
            continue
        if ref.name not in KNOWN:
            import difflib

            close = difflib.get_close_matches(ref.name, KNOWN, n=1)
            hint = f"did you mean ${{{close[0]}}}?" if close else HINT
            return f"unknown field {ref.source} — {hint}"
    return None


def log_lines_problem(value: object) -> str | None:
    """What is wrong with ``notify: {log_lines: N}`` (None: nothing), with how to fix it after `` — ``: a whole
    number from 0 (no log lines, the default) to :data:`MAX_LOG_LINES`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LOG_LINES:
        return (
            f"{value!r} is not a number of lines from 0 to {MAX_LOG_LINES} — write e.g. log_lines: 10 "
            "(the last lines of each failed task's log in a failure message; 0, the default, shows none)"
        )
    return None
