"""Errors as the API answers them: ``{"error": what, "location": where, "hint": how to fix}`` with a 4xx code.

The messages are the library's own (the same words as the CLI's); this module only picks the status code and
says where: ``file:line:column`` for a problem in a DAG, the part of the request (``params.rows``, ``body.dag``)
when the route knows it, else the request's path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagctl.errors import DagctlError, EnvironmentProblem, SpecError, StateError

from .sse import TooManyStreams


class NotFound(DagctlError):
    """No such run, task, template or page (404)."""


class Conflict(DagctlError):
    """The request does not fit the current state: cancel a finished run, create a template that exists (409)."""


class PayloadTooLarge(DagctlError):
    """The request body is larger than ``--max-body`` (413)."""


class Unauthorized(DagctlError):
    """No valid token (401)."""


class Forbidden(DagctlError):
    """A cross-site request, or a Host this server does not answer (403)."""


def status_of(exc: DagctlError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, PayloadTooLarge):
        return 413
    if isinstance(exc, Unauthorized):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, TooManyStreams):
        return 503
    if isinstance(exc, StateError):
        if exc.message.startswith(("unknown run", "no runs found")) or "has no events yet" in exc.message:
            return 404
        return 422 if exc.message.startswith("run id prefix") else 409  # 409: e.g. cancel a finished run
    if isinstance(exc, EnvironmentProblem):
        return 503
    return 422  # SpecError, UsageError, TemplateError: the request's content is wrong


def error_body(exc: DagctlError, default_location: str) -> dict[str, Any]:
    body: dict[str, Any] = {"error": exc.message, "location": getattr(exc, "location", None) or default_location}
    if exc.hint:
        body["hint"] = exc.hint
    if isinstance(exc, SpecError):
        body["problems"] = [problem_dict(p) for p in exc.problems]
        if exc.problems:
            first = exc.problems[0]
            body["error"] = first.message
            body["hint"] = first.hint or None
            body["location"] = f"{first.file}:{first.line}:{first.column}"
    return body


def problem_dict(problem: Any) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "message": problem.message,
        "hint": problem.hint,
        "text": str(problem),
    }


@contextmanager
def located(where: str) -> Iterator[None]:
    """Errors raised inside say they are about ``where`` (``params``, ``body.dag``) unless they know better."""
    try:
        yield
    except DagctlError as exc:
        if not getattr(exc, "location", None):
            exc.location = where  # type: ignore[attr-defined]
        raise
