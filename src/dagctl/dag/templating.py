"""``${...}`` references in task ``run`` commands, ``params``, ``env`` and ``cwd``. Pure: no IO, no globals.

Grammar::

    template  := ( literal | "$${" | reference )*
    reference := "${" name [ ":-" default ] "}"
    name      := segment ( "." segment )*          segment := [A-Za-z0-9_-]+
    default   := any text up to the first "}"; it may not contain "${"

``$${`` always renders a literal ``${``. A ``$`` not followed by ``{`` is plain text, so ``$HOME``,
``$1`` and ``$$`` reach the shell untouched. No spaces are allowed inside ``${...}``.

Namespaces (the first segment of the name)::

    ${params.x}        a DAG param; ${params.cfg.sub} walks nested mappings, ${params.items.0} indexes a list
    ${env.NAME}        an environment variable (everything after "env." is the variable name)
    ${outputs.T.K}     output K of task T (a task id and at least one key are required)
    ${run_id}          TemplateContext.run_id
    ${logical_date} ${attempt} ${dag.name} ${task.id}
                       looked up in TemplateContext.extra, flat ({"dag.name": ...}) or nested
                       ({"dag": {"name": ...}}); other keys of ``extra`` are accepted at render time

Ids with dots: task ids and keys may contain ``.``, so a name is resolved by *longest match*. For
``${outputs.a.b.c}`` the task is the longest prefix (``a.b`` before ``a``) that is a task with outputs,
leaving at least one segment for the key; then, at every mapping, the longest run of remaining segments
that is a key wins. :func:`reference_problems` applies the same rule to the known task ids.

Defaults: ``${env.X:-text}`` renders ``text`` when the value is missing, None or ``""`` (as ``:-`` does in
sh). It works in every namespace; the default is literal text and is quoted like any value.

Values as text: str as is; bool ``true``/``false``; None ``""`` (use a default to say otherwise); int and
float ``str()``; dict/list/tuple as JSON; date/datetime ``isoformat()``; anything else ``str()``.
:func:`render_value` keeps the type when a string is exactly one reference (``"${params.n}"`` -> ``5``).

Shell quoting (``render(..., shell_quote=True)``): every substituted value is quoted for the place it lands
in, so a value can never become shell syntax. Outside quotes it is ``shlex.quote``d; inside single quotes
each ``'`` becomes ``'\\''``; inside double quotes the backslash, double quote, dollar and backtick are
backslash-escaped (a plain ``shlex.quote`` there would let ``$(...)`` run); inside a comment every line of
the value stays commented. Where dagctl cannot tell how the shell will read the text (inside ``$(( ))``,
``(( ))``, ``$'...'``, a here-document's body or a bash array ``x=( )``; after a backtick, ``$[``, ``<<<`` or
``case`` inside ``$( )``; inside a shell ``${...}``, or right after a backslash) rendering fails with a
TemplateError rather than guess; so it does where bash evaluates even a quoted value as arithmetic or as a
variable name, running a ``$( )`` in an array subscript of it (inside ``[[ ]]`` or ``a[...]``, in the arguments
of ``let``, ``declare``, ``read``, ``printf -v``, ...). The scanner follows ``$(( ))``, ``(( ))``, ``$'...'``,
``[[ ]]``, arrays and here-documents to their end and quotes as usual after it, unless sh (dash) and bash could
disagree on where that end is; then it refuses every later reference (see
:class:`~dagctl.dag.shellquote.ShellContext`). This depends
only on the literal text before the reference, never on a value, so :func:`reference_problems` with
``shell=True`` reports every such reference when the DAG is validated, not when the task runs. Quoting
protects one level of parsing: a command that parses its arguments again (``eval``, ``sh -c``,
``ssh host ...``) must get the value through ``env:`` instead.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from dagctl.errors import TemplateError

from .shellquote import ShellContext as _ShellContext

__all__ = [
    "NAMESPACES",
    "Reference",
    "TemplateContext",
    "find_references",
    "format_value",
    "reference_problems",
    "render",
    "render_argv",
    "render_value",
]

#: Namespaces a DAG file may use, with the keys allowed under the context ones (``()`` = none).
NAMESPACES: tuple[str, ...] = (
    "params",
    "env",
    "outputs",
    "run_id",
    "logical_date",
    "attempt",
    "dag",
    "task",
    "matrix",
    "iteration",
)
_CONTEXT_KEYS: dict[str, tuple[str, ...]] = {
    "run_id": (),
    "logical_date": (),
    "attempt": (),
    "dag": ("name",),
    "task": ("id",),
}
_NAME_RE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_SYNTAX_HINT = "write ${params.name}, ${env.NAME}, ${outputs.<task>.<key>} or ${run_id}; $${ is a literal ${"


@dataclass(frozen=True)
class TemplateContext:
    """Everything a reference can read. ``extra`` holds logical_date, dag.name, task.id, attempt, ..."""

    params: Mapping[str, Any]
    env: Mapping[str, str]
    outputs: Mapping[str, Mapping[str, Any]]
    run_id: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """One ``${...}`` in a text: ``text[start:end] == ref.source``."""

    namespace: str
    path: tuple[str, ...]
    start: int
    end: int
    default: str | None = None

    @property
    def name(self) -> str:
        return ".".join((self.namespace, *self.path))

    @property
    def source(self) -> str:
        tail = "" if self.default is None else ":-" + self.default
        return "${" + self.name + tail + "}"


class _Missing(TemplateError):
    """A value that is not there; a ``:-`` default replaces it."""


class MissingOutputs(_Missing):
    """``${outputs.TASK.KEY}`` of a task that has given no outputs here (``task``: the id it most likely names)."""

    def __init__(self, message: str, *, hint: str | None, task: str, reference: str) -> None:
        super().__init__(message, hint=hint)
        self.task = task
        self.reference = reference


# ----------------------------------------------------------------------------------------------- parsing


def _snippet(text: str, start: int, limit: int = 40) -> str:
    piece = text[start : start + limit]
    return piece + ("…" if len(text) > start + limit else "")


def _parse(text: str) -> list[str | Reference]:
    """Split ``text`` into literal strings (escapes already resolved, adjacent ones merged) and references."""
    parts: list[str | Reference] = []
    buf: list[str] = []
    i = 0
    while True:
        j = text.find("$", i)
        if j < 0:
            buf.append(text[i:])
            break
        buf.append(text[i:j])
        if text.startswith("$${", j):
            buf.append("${")
            i = j + 3
        elif text.startswith("${", j):
            close = text.find("}", j + 2)
            if close < 0:
                raise TemplateError(
                    f"unclosed reference at column {j + 1}: {_snippet(text, j)!r}",
                    hint="close it with '}', or write $${ for a literal ${",
                )
            ref = _make_reference(text, j, close + 1)
            if any(buf):
                parts.append("".join(buf))
            buf = []
            parts.append(ref)
            i = close + 1
        else:
            buf.append("$")
            i = j + 1
    if any(buf):
        parts.append("".join(buf))
    return parts


def _make_reference(text: str, start: int, end: int) -> Reference:
    body = text[start + 2 : end - 1]
    where = f"{text[start:end]!r} at column {start + 1}"
    if not body:
        raise TemplateError(f"empty reference {where}", hint=_SYNTAX_HINT)
    name, sep, default = body.partition(":-")
    if sep and "${" in default:
        raise TemplateError(f"nested reference in the default of {where}", hint="a default is literal text")
    if not _NAME_RE.fullmatch(name):
        hint = "a default is written ${env.X:-value}" if ":" in name else _SYNTAX_HINT
        raise TemplateError(f"malformed reference {where}", hint=hint)
    namespace, *path = name.split(".")
    return Reference(namespace, tuple(path), start, end, default if sep else None)


def find_references(text: str) -> list[Reference]:
    """Every ``${...}`` in ``text``, in order. Raises TemplateError on a malformed or unclosed one."""
    return [part for part in _parse(text) if isinstance(part, Reference)]


# ---------------------------------------------------------------------------------------------- resolving


def _known(keys: Collection[Any], limit: int = 20) -> str:
    names = sorted(str(k) for k in keys)
    if not names:
        return "(none)"
    return ", ".join(names[:limit]) + (", …" if len(names) > limit else "")


def _did_you_mean(word: str, choices: Collection[Any]) -> str | None:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1)
    return f"did you mean '{close[0]}'?" if close else None


def _walk(value: Any, segments: Sequence[str], where: str, src: str, first_miss: str | None = None) -> Any:
    """Follow ``segments`` into ``value`` with longest-match keys; ``first_miss`` words a miss at the top."""
    i = 0
    while i < len(segments):
        if isinstance(value, Mapping):
            for j in range(len(segments), i, -1):
                key = ".".join(segments[i:j])
                if key in value:
                    value, where, i = value[key], f"{where}.{key}", j
                    break
            else:
                seg = segments[i]
                if i == 0 and first_miss:
                    shown = ".".join(segments) if where == "context" else seg
                    message = f"{first_miss} '{shown}' in {src}; known: {_known(value)}"
                else:
                    message = f"no key '{seg}' under {where} in {src}; it has: {_known(value)}"
                raise _Missing(message, hint=_did_you_mean(seg, value))
        elif isinstance(value, (list, tuple)) and segments[i].isdigit():
            index = int(segments[i])
            if index >= len(value):
                raise _Missing(f"{where} has {len(value)} items, no item {index}, in {src}")
            value, where, i = value[index], f"{where}.{index}", i + 1
        else:
            kind = "a list: index it with a number" if isinstance(value, (list, tuple)) else type(value).__name__
            raise _Missing(f"{where} is not a mapping ({kind}), so it has no key '{segments[i]}', in {src}")
    return value


def _resolve(ref: Reference, ctx: TemplateContext) -> Any:
    src, ns, path = ref.source, ref.namespace, ref.path
    if ns == "params":
        if not path:
            raise TemplateError(f"{src} needs a param name", hint="write ${params.<name>}")
        return _walk(ctx.params, path, "params", src, first_miss="unknown param")
    if ns == "env":
        if not path:
            raise TemplateError(f"{src} needs a variable name", hint="write ${env.NAME}")
        name = ".".join(path)
        if name not in ctx.env:
            raise _Missing(
                f"environment variable '{name}' is not set, in {src}",
                hint=f"set it, or give a default: ${{env.{name}:-value}}",
            )
        return ctx.env[name]
    if ns == "outputs":
        if len(path) < 2:
            raise TemplateError(f"{src} needs a task id and an output key", hint="write ${outputs.<task>.<key>}")
        for j in range(len(path) - 1, 0, -1):
            task = ".".join(path[:j])
            if task in ctx.outputs:
                return _walk(ctx.outputs[task], path[j:], f"outputs.{task}", src, f"task '{task}' has no output")
        guess = ".".join(path[:-1])
        raise MissingOutputs(
            f"no outputs from task '{guess}' in {src}; tasks with outputs: {_known(ctx.outputs)}",
            hint=_did_you_mean(guess, ctx.outputs) or "put the task in depends_on and make it write outputs",
            task=guess,
            reference=src,
        )
    if ns == "run_id" and not path:
        return ctx.run_id
    if ns in NAMESPACES or any(str(k).split(".", 1)[0] == ns for k in ctx.extra):
        return _walk(ctx.extra, (ns, *path), "context", src, first_miss="no value for")
    raise TemplateError(
        f"unknown namespace '{ns}' in {src}; known: {', '.join(NAMESPACES)}",
        hint=_did_you_mean(ns, NAMESPACES) or _SYNTAX_HINT,
    )


def _lookup(ref: Reference, ctx: TemplateContext) -> Any:
    try:
        value = _resolve(ref, ctx)
    except _Missing:
        if ref.default is None:
            raise
        return ref.default
    if ref.default is not None and (value is None or (isinstance(value, str) and not value)):
        return ref.default
    return value


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime, time)) else str(value)


def format_value(value: Any) -> str:
    """The text a value renders as (see the module docstring)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    return str(value)


def render(text: str, ctx: TemplateContext, *, shell_quote: bool = False) -> str:
    """Substitute every reference in ``text``; with ``shell_quote`` each value is quoted for ``sh``."""
    if "$" not in text:
        return text
    shell = _ShellContext() if shell_quote else None
    out: list[str] = []
    for part in _parse(text):
        if isinstance(part, str):
            out.append(part)
            if shell is not None:
                shell.feed(part)
        else:
            value = format_value(_lookup(part, ctx))
            out.append(shell.quote(value, part) if shell is not None else value)
    return "".join(out)


def render_argv(argv: Sequence[str], ctx: TemplateContext) -> list[str]:
    """Render each argument verbatim (no quoting): one element stays exactly one argument."""
    if isinstance(argv, str):
        raise TypeError("render_argv() takes a list of arguments; use render() for a command string")
    return [render(arg, ctx) for arg in argv]


def render_value(value: Any, ctx: TemplateContext) -> Any:
    """Render strings inside dicts/lists/tuples (values, not keys).

    A string that is exactly one reference keeps the referenced value's type (``"${params.n}"`` -> ``5``);
    any other string is interpolated as text. Non-string scalars are returned unchanged.
    """
    if isinstance(value, str):
        if "$" not in value:
            return value
        parts = _parse(value)
        if len(parts) == 1 and isinstance(parts[0], Reference):
            return copy.deepcopy(_lookup(parts[0], ctx))
        return "".join(p if isinstance(p, str) else format_value(_lookup(p, ctx)) for p in parts)
    if isinstance(value, Mapping):
        return {key: render_value(item, ctx) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(render_value(item, ctx) for item in value)
    return value


# --------------------------------------------------------------------------------------------- validation


def _longest_task(path: Sequence[str], task_ids: Collection[str]) -> str | None:
    for j in range(len(path) - 1, 0, -1):
        task = ".".join(path[:j])
        if task in task_ids:
            return task
    return None


def _shell_problems(text: str) -> list[str]:
    """The references :func:`render` with ``shell_quote=True`` would refuse, whatever their values: the first
    one (every later one in the same text fails for the same reason)."""
    shell = _ShellContext()
    for part in _parse(text):
        if isinstance(part, str):
            shell.feed(part)
            continue
        problem = shell.problem(part)
        if problem is not None:
            return [str(problem)]
        shell.substitute()  # as quote() does
    return []


def reference_problems(
    text: str,
    *,
    params: Collection[str],
    upstream: Collection[str],
    task_ids: Collection[str],
    shell: bool = False,
    matrix: Collection[str] | None = None,
    loop: bool = False,
) -> list[str]:
    """What is wrong with the references in ``text``, one message per problem (empty when all is well).

    ``params`` are the declared param names, ``upstream`` the ancestors of the task that owns ``text`` and
    ``task_ids`` every task in the DAG. ``matrix`` are the keys of the task's ``matrix:`` (None: not a matrix
    task, so ``${matrix.*}`` is a problem); ``loop`` allows ``${iteration}``. Output keys and env variables are
    only known at run time. With
    ``shell`` (a ``run:`` command string), a reference where it cannot be shell-quoted (in a here-document,
    after a backtick, ...: see the module docstring) is a problem too, so ``render(..., shell_quote=True)``
    of a text without problems never fails for that reason.
    """
    try:
        refs = find_references(text)
    except TemplateError as err:
        return [str(err)]
    problems: list[str] = _shell_problems(text) if shell and refs else []
    for ref in refs:
        src, ns, path = ref.source, ref.namespace, ref.path
        where = f"{src} at column {ref.start + 1}"
        if ns == "params":
            if not path:
                problems.append(f"{where} needs a param name — write ${{params.<name>}}")
            elif not any(".".join(path[:j]) in params for j in range(len(path), 0, -1)):
                tip = _did_you_mean(path[0], params) or "declare it under params:"
                problems.append(f"unknown param '{path[0]}' in {where}; known: {_known(params)} — {tip}")
        elif ns == "env":
            if not path:
                problems.append(f"{where} needs a variable name — write ${{env.NAME}}")
        elif ns == "outputs":
            if len(path) < 2:
                problems.append(f"{where} needs a task id and an output key — write ${{outputs.<task>.<key>}}")
                continue
            task = _longest_task(path, {*task_ids, *upstream})
            if task is None:
                guess = ".".join(path[:-1])
                tip = _did_you_mean(guess, task_ids) or "check the task id"
                problems.append(f"unknown task '{guess}' in {where} — {tip}")
            elif task not in upstream:
                problems.append(
                    f"{where} reads outputs of task '{task}', which is not upstream of this task "
                    f"— add '{task}' to depends_on"
                )
        elif ns == "matrix":
            if matrix is None:
                problems.append(f"{where} is only known in a task with matrix: — add matrix: or remove it")
            elif len(path) != 1 or path[0] not in matrix:
                tip = _did_you_mean(path[0] if path else "", matrix) or "use a key of this task's matrix:"
                problems.append(f"unknown matrix key in {where}; known: {_known(matrix)} — {tip}")
        elif ns == "iteration":
            if not loop or path:
                problems.append(f"{where} is only known in a task with repeat: — write ${{iteration}} there")
        elif ns in _CONTEXT_KEYS:
            allowed = _CONTEXT_KEYS[ns]
            if path != allowed:
                spelled = "${" + ".".join((ns, *allowed)) + "}"
                problems.append(f"unknown reference {where} — did you mean {spelled}?")
        else:
            close = _did_you_mean(ns, NAMESPACES)
            suffix = f" — {close}" if close else ""
            problems.append(f"unknown namespace '{ns}' in {where}; known: {', '.join(NAMESPACES)}{suffix}")
    return problems
