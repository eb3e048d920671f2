"""Errors as the API answers them: ``{"error": what, "location": where, "hint": how to fix}`` with a 4xx code.

The messages are the library's own (the same words as the CLI's); this module only picks the status code and
says where: ``file:line:column`` for a problem in a DAG, the part of the request (``params.rows``, ``body.dag``)
when the route knows it, else the request's path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from dagctl.errors import DagctlError, EnvironmentProblem, SpecError, StateError, UsageError

from .sse import TooManyStreams


class NotFound(DagctlError):
    """No such run, task, template or page (404)."""


class Conflict(DagctlError):
    """The request does not fit the current state: cancel a finished run, create a template that exists (409)."""


class Unauthorized(DagctlError):
    """No valid token (401)."""


class Forbidden(DagctlError):
    """A cross-site request, or a Host this server does not answer (403)."""


def status_of(exc: DagctlError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
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


E = TypeVar("E", bound=DagctlError)


def at(where: str, exc: E) -> E:
    """``exc``, saying it is about ``where`` (``query.before``, ``body.params.who``)."""
    exc.location = where  # type: ignore[attr-defined]
    return exc


@contextmanager
def located(where: str) -> Iterator[None]:
    """Errors raised inside say they are about ``where`` (``params``, ``body.dag``) unless they know better."""
    try:
        yield
    except DagctlError as exc:
        if not getattr(exc, "location", None):
            exc.location = where  # type: ignore[attr-defined]
        raise


def check_unicode(value: Any, where: str) -> None:
    """Refuse (422 at ``where.KEY...``) a string in ``value`` (JSON data) that holds a lone UTF-16 surrogate.

    JSON's ``\\ud800`` escapes let one in, and no file, command line or answer can be written with it in UTF-8:
    it is bad input, said where it is (``body.params.who``), never a server error later."""
    from collections import deque

    queue: deque[tuple[str, Any]] = deque([(where, value)])  # in order: the first bad string is the one named
    while queue:
        where_, item = queue.popleft()
        if isinstance(item, str):
            bad = _lone_surrogate(item)
            if bad is not None:
                message = f"{where_}: text is not valid Unicode (a lone surrogate \\u{ord(bad):04x})"
                hint = "send UTF-8 text: a \\uD800-\\uDFFF escape must be one half of a pair"
                raise at(where_, UsageError(message, hint=hint))
        elif isinstance(item, dict):
            for key, inner in item.items():
                queue.append((where_, str(key)))  # a key is text too
                queue.append((f"{where_}.{key}", inner))
        elif isinstance(item, (list, tuple)):
            queue.extend((f"{where_}.{n}", inner) for n, inner in enumerate(item))


def _lone_surrogate(text: str) -> str | None:
    """The first UTF-16 surrogate in ``text`` (Python strings never pair them: any one is alone), None if none."""
    if text.isascii():
        return None
    return next((c for c in text if "\ud800" <= c <= "\udfff"), None)


JSON_HINT = "send one JSON object with Content-Type: application/json (/docs shows what each request takes)"


def invalid_request(errors: Sequence[Any], content_type: str, path: str) -> dict[str, Any]:
    """The answer to a request FastAPI could not read into its model (pure): ``{"error", "location", "hint",
    "problems"}``, saying in words what is wrong with the body (not JSON, sent as text, not an object) instead
    of the validator's codes."""
    problems = [{"location": _where(e.get("loc", ())), "message": e.get("msg")} for e in errors]
    first: dict[str, Any] = dict(errors[0]) if errors else {"loc": (), "msg": "invalid request"}
    loc = tuple(first.get("loc", ()))
    kind = first.get("type")
    media = content_type.split(";")[0].strip().lower()
    hint: str | None = None
    if kind == "json_invalid":
        at = loc[1] if len(loc) > 1 else None
        error = "the request body is not valid JSON" + (f" (at character {at})" if at is not None else "")
        detail = (first.get("ctx") or {}).get("error")
        hint = f"{detail}: {JSON_HINT}" if detail else JSON_HINT
        where = "body"
    elif loc == ("body",) and kind in ("model_attributes_type", "dict_type", "missing"):
        where = "body"
        if kind == "missing":
            error = "the request has no body: it needs a JSON object"
            hint = JSON_HINT
        elif media != "application/json" and not media.endswith("+json"):
            sent = f"was sent as {media}" if media else "has no Content-Type"
            error = f"the request body {sent}, so it is not read as JSON"
            hint = "send it with Content-Type: application/json"
        else:
            got = first.get("input")
            error = f"the request body must be a JSON object, not {_json_kind(got)}"
            hint = JSON_HINT
    else:
        where = _where(loc)
        error = f"{where or 'request'}: {first.get('msg')}"
    body: dict[str, Any] = {"error": error, "location": where or path}
    if hint:
        body["hint"] = hint
    body["problems"] = problems
    return body


def _where(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else "that"
