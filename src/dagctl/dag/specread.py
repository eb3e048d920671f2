"""A parsed DAG document -> DagSpec, with every problem reported at its ``file:line:column``.

:func:`dag_from_document` validates the models (pydantic errors turned into positioned problems), the graph,
and then runs the checks it is given. :mod:`dagctl.dag.loader` reads files and adds the default checks.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from dagctl.errors import Problem, SpecError

from .names import CALLABLE_PATTERN, NAME_PATTERN, NAME_RE
from .notifyurls import EXAMPLE
from .plan import graph_issues
from .spec import ENV_NAME_PATTERN, MATRIX_KEY_PATTERN, DagSpec, KeyProblem
from .yamlread import Document

Checker = Callable[[Document, DagSpec], Iterable[Problem]]
"""A check: the parsed document (for positions) and the typed spec in, problems out."""


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last element of ``loc`` (for did-you-mean on unknown keys)."""
    current: type[BaseModel] = model
    keyed = False  # the part before was a mapping of models (handlers:, secrets:): this part is one of its keys
    for part in loc[:-1]:
        if isinstance(part, int) or keyed:
            keyed = False
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        inner = _nested_model(field.annotation)
        if inner is None:
            return None
        current = inner
        keyed = _is_mapping(field.annotation)
    return current


def _is_mapping(annotation: Any) -> bool:
    """Is ``annotation`` a ``dict[...]`` (perhaps optional, or annotated)?"""
    from typing import get_origin

    if get_origin(annotation) is dict:
        return True
    return any(_is_mapping(arg) for arg in getattr(annotation, "__args__", ()) or () if not isinstance(arg, str))


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _clean_loc(doc: Document, loc: tuple[Any, ...], *, missing: bool = False) -> tuple[Any, ...]:
    """Map a pydantic ``loc`` onto a document path, dropping union tags such as ``'str'``."""
    out: list[Any] = []
    node: Any = doc.data
    for n, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif missing and n == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str):
            out.append(part)  # the missing key (never a union's tag such as 'InlineDag'): kept, to be named
    return tuple(out)


def _describe(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "file"


def _field_label(doc: Document, loc: tuple[Any, ...]) -> str:
    """Human name for a location: ``task 'build' retries`` rather than ``tasks[3].retries``, ``handler failure
    run`` rather than ``handlers.failure.run``."""
    if len(loc) >= 2 and loc[0] == "handlers":
        rest = _describe(loc[2:])
        return f"handler {loc[1]} {rest}".strip() if rest != "file" else f"handler {loc[1]}"
    if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
        task = doc.data["tasks"][loc[1]] if isinstance(doc.data.get("tasks"), list) else None
        tid = task.get("id") if isinstance(task, dict) else None
        who = f"task '{tid}'" if isinstance(tid, str) else f"task #{loc[1] + 1}"
        rest = _describe(loc[2:])
        return f"{who} {rest}".strip() if rest != "file" else who
    return _describe(loc)


def _models(model: type[BaseModel], found: dict[str, type[BaseModel]] | None = None) -> dict[str, type[BaseModel]]:
    """Every model ``model`` is made of (itself included), by class name."""
    found = {} if found is None else found
    if model.__name__ not in found:
        found[model.__name__] = model
        for field in model.model_fields.values():
            for inner in _inner_models(field.annotation):
                _models(inner, found)
    return found


def _inner_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) or () for m in _inner_models(arg)]


def _shape(model: type[BaseModel], class_name: str) -> str:
    """What a user writes where pydantic wanted the model ``class_name``: its ``SHAPE`` (never the class name)."""
    owner = _models(model).get(class_name)
    return str(getattr(owner, "SHAPE", None) or "a mapping (key: value lines)")


def _shown_input(doc: Document, loc: tuple[Any, ...], value: Any) -> str:
    if loc in doc.coerced:
        return doc.coerced[loc][0]
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _union_noise(errors: list[Any], doc: Document) -> set[int]:
    """Errors of a union member the value was plainly not written for: ``dag: {tasks: [5]}`` is no string, so
    only what is wrong inside the mapping is worth saying. A member's error whose location (without the union
    tag) holds another member's deeper error is left out."""
    cleaned = [_clean_loc(doc, tuple(err["loc"]), missing=err["type"] == "missing") for err in errors]
    noise = set()
    for i, err in enumerate(errors):
        if not str(err["type"]).endswith("_type") or len(cleaned[i]) == len(err["loc"]):
            continue  # not a union member's type error: a location of the document
        if any(
            j != i and len(c) > len(cleaned[i]) and c[: len(cleaned[i])] == cleaned[i] for j, c in enumerate(cleaned)
        ):
            noise.add(i)
    return noise


def _pydantic_problems(doc: Document, error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    errors = error.errors(include_url=False)
    noise = _union_noise(errors, doc)
    # for a mapping or a list written where a union takes text or a mapping (dag:, precondition:), the union's
    # "a mapping such as ..." says more than its "a valid string": first, so it is the one kept for that value
    ordered = sorted(
        (err for i, err in enumerate(errors) if i not in noise),
        key=lambda err: not (err["type"] == "model_type" and isinstance(err.get("input"), (dict, list))),
    )
    for err in ordered:
        kind = err["type"]
        cause = (err.get("ctx") or {}).get("error")
        words = _PATTERNS.get(str((err.get("ctx") or {}).get("pattern"))) if kind == "string_pattern_mismatch" else None
        if kind == "value_error" and isinstance(cause, KeyProblem):  # reported at its key (or that key's value)
            loc = _clean_loc(doc, (*err["loc"], *cause.key))
            what, _, hint = str(cause).partition(" — ")
            if not what.startswith(_NAMED):  # "depends_on: does not apply to a handler": say whose
                what = f"{_field_label(doc, loc[:-1])}: {what}"
            problems.append(doc.problem(loc, what, hint or "fix the value", key=not cause.at_value))
            continue
        if kind == "invalid_key" and err["loc"]:  # a key of a model (top level, task) that is not text
            loc = (*_clean_loc(doc, tuple(err["loc"][:-1])), err.get("input"))
            problems.append(_key_problem(doc, loc, str(err["msg"])))
            continue
        if err["loc"] and err["loc"][-1] == "[key]":  # a mapping key, not its value, is wrong
            loc = _clean_loc(doc, tuple(err["loc"][:-1]))
            if loc and loc not in seen:
                seen.add(loc)
                if kind == "literal_error":  # handlers: {exitt: ...}
                    problems.append(_unknown_key(doc, loc, str((err.get("ctx") or {}).get("expected", ""))))
                elif words is not None:  # matrix: {bad-key: [1]}
                    where = "the top level" if len(loc) == 1 else _field_label(doc, loc[:-1])
                    problems.append(doc.problem(loc, f"{where}: key {loc[-1]!r} {words[0]}", words[1], key=True))
                else:
                    problems.append(_key_problem(doc, loc, str(err["msg"])))
                continue
        loc = _clean_loc(doc, tuple(err["loc"]), missing=kind == "missing")
        if kind not in ("missing", "extra_forbidden"):
            if loc in seen:  # one message per value, not one per member of a union
                continue
            seen.add(loc)
        label = _field_label(doc, loc)
        msg = str(err["msg"])
        if msg.startswith(("Value error, ", "Assertion failed, ")):
            msg = msg.split(", ", 1)[1]
        if kind == "extra_forbidden":
            key = str(loc[-1]) if loc else "?"
            owner = _model_at(model, loc)
            known = [k for k in owner.model_fields if k not in getattr(owner, "REFUSED", ())] if owner else []
            hint = key_hint(key, known)
            where = "top level" if len(loc) == 1 else _field_label(doc, loc[:-1])
            problems.append(doc.problem(loc, f"unknown key '{key}' in {where}", hint, key=True))
            continue
        if kind == "model_type":  # "Input should be a valid dictionary or instance of RepeatSpec"
            shape = _shape(model, str((err.get("ctx") or {}).get("class_name")))
            problems.append(
                doc.problem(
                    loc,
                    f"{label}: must be {shape}, got {_shown_input(doc, loc, err.get('input'))}",
                    "write the value in that form",
                )
            )
            continue
        if kind == "missing":
            field = str(loc[-1]) if loc else "?"
            parent = loc[:-1]
            where = "the top level" if not parent else _field_label(doc, parent)
            problems.append(doc.problem(parent, f"missing required key '{field}' in {where}", f"add {field}:"))
            continue
        if loc in doc.coerced and (kind in _EXPECTED or kind.startswith("string")):
            text, became = doc.coerced[loc]
            if kind.startswith("string"):
                problems.append(
                    doc.problem(
                        loc, f"{label}: YAML reads unquoted {text} as {became}, not text", f'quote it: "{text}"'
                    )
                )
            else:
                problems.append(
                    doc.problem(
                        loc,
                        f"{label}: expected {_EXPECTED[kind]}, got {text} (YAML reads it as {became})",
                        _type_hint(kind),
                    )
                )
            continue
        if kind in _EXPECTED:
            problems.append(
                doc.problem(loc, f"{label}: expected {_EXPECTED[kind]}, got {err.get('input')!r}", _type_hint(kind))
            )
            continue
        if loc and loc[-1] == "run" and kind in ("string_type", "list_type"):
            problems.append(
                doc.problem(
                    loc,
                    f"{label}: expected a command string or a list of arguments",
                    'write run: "make build" or run: [make, build]',
                )
            )
            continue
        if words is not None:  # what the text must be, never the regex itself
            text, hint = err.get("input"), words[1]
            if isinstance(text, str) and "," in text and "depends_on" in loc:  # depends_on: a, b
                parts = [p.strip() for p in text.split(",")]
                if all(NAME_RE.fullmatch(p) for p in parts):
                    hint = f"a list is written in brackets: depends_on: [{', '.join(parts)}]"
            problems.append(doc.problem(loc, f"{label}: {text!r} {words[0]}", hint))
            continue
        if kind == "too_short":  # an empty list where one item at least is needed
            wanted = (err.get("ctx") or {}).get("min_length", 1)
            what = "is empty" if not err.get("input") else f"has fewer than {wanted} items"
            hint = "give at least one" if wanted == 1 else f"give at least {wanted}"
            problems.append(doc.problem(loc, f"{label}: {what}", _TOO_SHORT.get(loc[-1] if loc else "", hint)))
            continue
        if " — " in msg:
            what, hint = msg.split(" — ", 1)
            own = not loc or what.startswith(_NAMED)
            problems.append(doc.problem(loc, what if own else f"{label}: {what}", hint))
            continue
        problems.append(doc.problem(loc, f"{label}: {msg[0].lower() + msg[1:]}", "fix the value"))
    return problems


FOREIGN_KEYS = {
    "command": "run",
    "cmd": "run",
    "script": "run",
    "bash_command": "run",
    "shell_command": "run",
    "steps": "tasks",
    "jobs": "tasks",
    "depends": "depends_on",
    "dependencies": "depends_on",
    "needs": "depends_on",
    "upstream": "depends_on",
    "retry": "retries",
    "max_retries": "retries",
    "execution_timeout": "timeout",
    "timeout_seconds": "timeout",
    "environment": "env",
    "envs": "env",
    "working_dir": "cwd",
    "dir": "cwd",
    "condition": "when",
    "if": "when",
}
"""Keys of other tools (Dagu, Airflow, GitHub Actions, Prefect) and what dagctl calls them: the hint names dagctl's
key, where a guess from the spelling would point somewhere else (``cmd`` is not ``cwd``)."""

SCHEDULE_HINT = (
    "a schedule lives in a file of its own under configs/schedules/: - {id: nightly, cron: '0 2 * * *', dag: THIS_FILE}"
    " (docs/scheduling.md)"
)


def key_hint(key: str, known: list[str]) -> str:
    """The hint for an unknown ``key`` where ``known`` are allowed: dagctl's name for another tool's key, a close
    spelling, or the keys there are. Pure."""
    if key in ("schedule", "cron", "schedule_interval") and "schedule" not in known:
        return SCHEDULE_HINT
    ours = FOREIGN_KEYS.get(key.lower())
    if ours is not None and ours in known:
        return f"dagctl's key for this is '{ours}'"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "known keys: " + ", ".join(known) if known else "remove it"


def _unknown_key(doc: Document, loc: tuple[Any, ...], expected: str) -> Problem:
    """A key of a mapping whose keys are a fixed few (``handlers:``), given pydantic's ``'a', 'b' or 'c'``."""
    import re

    known = re.findall(r"'([^']*)'", expected)
    key = str(loc[-1])
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else "known keys: " + ", ".join(known)
    where = "top level" if len(loc) == 1 else _field_label(doc, loc[:-1])
    return doc.problem(loc, f"unknown key '{key}' in {where}", hint, key=True)


def _key_problem(doc: Document, loc: tuple[Any, ...], msg: str) -> Problem:
    key = loc[-1]
    where = "the top level" if len(loc) == 1 else _field_label(doc, loc[:-1])
    if not isinstance(key, str):
        shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
        return doc.problem(loc, f"key {shown} in {where} is not text", f'quote it: "{shown}"', key=True)
    msg = msg.split(", ", 1)[1] if msg.startswith(("Value error, ", "Assertion failed, ")) else msg
    what, _, hint = msg.partition(" — ")
    return doc.problem(loc, f"{where}: {what}", hint or "rename the key", key=True)


_PATTERNS = {
    NAME_PATTERN: ("is not a valid name", "use 1-64 letters, digits, '_', '.' or '-'"),
    CALLABLE_PATTERN: ("is not module:function", "write it as package.module:function"),
    MATRIX_KEY_PATTERN: ("is not a valid key", "use 1-64 letters, digits and '_', not starting with a digit"),
    ENV_NAME_PATTERN: ("is not an environment variable name", "use letters, digits and '_', not starting with a digit"),
}
"""What a text that does not match one of the patterns of the models must be, in words (never the regex)."""

_TOO_SHORT = {"urls": EXAMPLE, "tasks": "add a task: - {id: hello, run: echo hello}"}
"""How to fill a list that is empty, by key, where more can be said than "give at least one"."""


_NAMED = ("task '", "param '", "handler ")
"""How a message that already says whose problem it is begins (it gets no ``task 'x' key:`` label)."""

_EXPECTED = {
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "a mapping (key: value lines)",
    "list_type": "a list",
}


def _type_hint(kind: str) -> str:
    return {
        "int_type": "write a whole number, e.g. retries: 2",
        "float_type": "write a number, e.g. backoff: 2.0",
        "bool_type": "write true or false",
        "dict_type": "write key: value pairs indented under this key",
        "list_type": "write a list: [a, b] or one '- item' per line",
    }.get(kind, "fix the value")


def _graph_problems(doc: Document) -> list[Problem]:
    tasks = doc.data.get("tasks") if isinstance(doc.data, dict) else None
    if not isinstance(tasks, list):
        return []
    nodes = [(t.get("id"), _names(t.get("depends_on"))) if isinstance(t, dict) else (None, []) for t in tasks]
    return [doc.problem(i.path, i.message, i.hint) for i in graph_issues(nodes)]


def _names(depends_on: Any) -> Any:
    """``depends_on`` as written, less what cannot be a task id (``tâche``: reported as such, not also as an unknown
    task)."""
    if isinstance(depends_on, str):
        return depends_on if NAME_RE.fullmatch(depends_on) else []
    if isinstance(depends_on, list):
        return [d if not isinstance(d, str) or NAME_RE.fullmatch(d) else None for d in depends_on]
    return depends_on or []


def dag_from_document(doc: Document, checks: Iterable[Checker] = ()) -> DagSpec:
    """Validate parsed YAML as a DAG; raise SpecError with all problems."""
    if not isinstance(doc.data, dict):
        if isinstance(doc.data, list):  # a schedule file is a list, but not of these
            hint = "a DAG file is a mapping with name: and tasks:; a schedule file is a list of '- id: ... cron: ...'"
            raise SpecError([doc.problem((), "top level is a list, not a mapping", hint)])
        kind = f"a single value ({type(doc.data).__name__})"
        hint = "a DAG file starts with keys such as name: and tasks:"
        raise SpecError([doc.problem((), f"top level is {kind}, not a mapping", hint)])
    problems = _graph_problems(doc)
    spec: DagSpec | None = None
    data = {k: v for k, v in doc.data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    try:
        spec = DagSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(doc, exc, DagSpec))
    if spec is not None and not problems:
        for check in checks:
            problems.extend(check(doc, spec))
    if problems:
        raise SpecError(problems)
    assert spec is not None
    spec._source = doc.file
    return spec
