"""``when:`` conditions as Argo ``when`` expressions. Pure.

Argo substitutes the ``{{...}}`` references of a task's ``when`` as text, then evaluates what results with
govaluate, which reads bare words as strings and parses the whole expression before it evaluates any of it.
So every value that is compared as text is quoted (a missing output, which becomes ``''``, cannot break the
expression), and only ordering comparisons leave a value bare, to compare it as a number. The condition is
parsed by :func:`dagctl.dag.conditions.compile_condition` first, so it is a valid dagctl condition; then its
syntax tree is translated::

    params.NAME                   {{workflow.parameters.NAME}}
    outputs.TASK.KEY              {{tasks.<task>.outputs.parameters.KEY}}  (the task exports KEY; see argo.py)
    outputs["t-1"]["key"]         the same
    run_id                        {{workflow.name}}
    and  or  not                  &&  ||  !
    a == b   a != b               compared as text: '{{...}}' == 'yes'; a number as its text: 3 -> '3'
    a < 3  a >= params.n ...      compared as numbers: {{...}} < 3 (one side a number, or a param whose
                                  default is a number); an output as ('{{o}}' != '' && 0{{o}} < 3)
    x in [a, b]   x not in [...]  ('{{x}}' == 'a' || '{{x}}' == 'b')  /  (... != ... && ...)
    x is None   x == null         '{{x}}' == ''      (a missing output is empty text in Argo)
    params.FLAG (a bool param)    '{{...}}' == 'true'
    true  false  1  0  null       true / false

An output compared as a number is guarded as dagctl reads a missing value (``None < 3`` is false): empty
text makes the comparison false, and ``0{{o}}`` keeps the expression one govaluate can parse when it is
empty (and the same number when it is not: ``5`` becomes ``05``, ``-2`` becomes ``0-2``). A reference to
a task that ended without outputs (skipped, omitted, errored) stays ``{{...}}`` in the text, which govaluate
cannot parse at all: when the comparison must hold for the task to run (it is not under ``or`` or ``not``),
the task's ``depends`` also asks for that upstream task's success (:attr:`ArgoWhen.requires`), which is
what dagctl decides then (the task does not run); elsewhere the condition is refused, unless the upstream
task surely succeeded before (``settled``: through ``all_success`` rules).

Anything else raises :class:`Refused` naming the construct: ``env.X`` (environment variables exist where a
task runs, while Argo decides ``when`` in its controller), ``logical_date``, arithmetic and functions, paths
deeper than a param or an output key (``params.cfg.x``), ``in`` with anything but a literal list on the
right (substring tests), ordering comparisons without a number, text containing a quote, a backslash or
``{{``, output keys that are not Argo parameter names, and a value that is not true/false where a test
needs one (text, an output or a param whose default is not a bool): dagctl fails the task then, and an
output's type is known only when its task runs.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Mapping
from typing import Any

from dagctl.records import Record

from .names import OUTPUTS_PARAM, is_param_name

_ORDER = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


class Refused(Exception):
    """The condition cannot be written as an Argo ``when``: ``what`` it is and ``hint`` how to change it."""

    def __init__(self, what: str, hint: str) -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint


class ArgoWhen(Record):
    expression: str
    outputs: frozenset[tuple[str, str]]
    """(upstream task id, output key) pairs the expression reads: those tasks must export those keys."""
    params: frozenset[str] = frozenset()
    """The params it reads (in a sub-DAG, the step that computes the params must export them)."""
    requires: frozenset[str] = frozenset()
    """Upstream task ids that must have succeeded for the expression to be one Argo can evaluate (it compares
    their outputs as numbers): the task's ``depends`` asks for their success too."""


def workflow_param(name: str) -> str:
    return f"{{{{workflow.parameters.{name}}}}}"


def argo_when(
    expr: str,
    *,
    task_names: Mapping[str, str],
    upstream: Collection[str],
    params: Mapping[str, Any],
    param_ref: Callable[[str], str] = workflow_param,
    run_id: str = "{{workflow.name}}",
    settled: Collection[str] = (),
) -> ArgoWhen:
    """Translate ``expr`` for a task whose ancestors are ``upstream`` in a DAG whose params (with their
    defaults) are ``params``; raise :class:`Refused` or TemplateError. ``param_ref`` and ``run_id`` say where
    the DAG's params and run id are (a sub-DAG's are not the workflow's); ``settled``: the upstream tasks that
    have surely succeeded when Argo evaluates the expression (their outputs exist)."""
    from dagctl.dag.conditions import compile_condition

    condition = compile_condition(expr)
    tree = ast.parse(condition.expr, mode="eval").body
    translator = _Translator(task_names, upstream, params, param_ref, run_id, settled)
    expression = translator.test(tree)
    return ArgoWhen(
        expression, frozenset(translator.outputs), frozenset(translator.read), frozenset(translator.requires)
    )


class _Translator:
    def __init__(
        self,
        task_names: Mapping[str, str],
        upstream: Collection[str],
        params: Mapping[str, Any],
        param_ref: Callable[[str], str],
        run_id: str,
        settled: Collection[str],
    ) -> None:
        self.task_names = task_names
        self.upstream = upstream
        self.params = params
        self.param_ref = param_ref
        self.run_id = run_id
        self.settled = settled
        self.outputs: set[tuple[str, str]] = set()
        self.read: set[str] = set()
        self.requires: set[str] = set()

    # ------------------------------------------------------------------ boolean positions
    def test(self, node: ast.expr, needed: bool = True) -> str:
        """``node`` as a boolean expression. ``needed``: the task runs only if it is true (it is the condition,
        or joined to it by ``and``), so a missing value that makes it false may instead skip the task."""
        if isinstance(node, ast.BoolOp):
            both = isinstance(node.op, ast.And)
            joiner = " && " if both else " || "
            return "(" + joiner.join(self.test(value, needed and both) for value in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"!({self.test(node.operand, False)})"
        if isinstance(node, ast.Compare):
            parts = []
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                parts.append(self.compare(left, op, right, needed))
                left = right
            return parts[0] if len(parts) == 1 else "(" + " && ".join(parts) + ")"
        constant = _constant(node)
        if constant is not _NOT_CONSTANT:
            if isinstance(constant, str):
                raise Refused(
                    f"{ast.unparse(node)} is the string {constant!r}, not true/false (dagctl fails the task)",
                    'write true or false, or compare a value: params.mode == "full"',
                )
            return "true" if constant else "false"
        return self.flag(node)

    def flag(self, node: ast.expr) -> str:
        """A value tested as true/false: only a param whose default is a bool, as its text ``true``."""
        shown = ast.unparse(node)
        path = _path(node)
        self.reference(node)  # what cannot be read at all is named as such first
        if path is not None and path[0] == "params":
            default = self.params.get(str(path[1]))
            if isinstance(default, bool):
                return f"{self.text(node)} == 'true'"
            what = f"{shown} is tested as true/false, but its default {default!r} is not a bool"
        else:
            what = (
                f"{shown} is tested as true/false: dagctl fails the task when the value is text, and Argo "
                "cannot tell text from true/false"
            )
        raise Refused(what, f'compare it: {shown} == true, or {shown} == "yes"')

    def compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr, needed: bool = True) -> str:
        for side in (left, right):  # what cannot be read at all is named first
            if _constant(side) is _NOT_CONSTANT and not isinstance(side, (ast.List, ast.Tuple, ast.Set)):
                self.reference(side)
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, (ast.List, ast.Tuple, ast.Set)):
                raise Refused(
                    f"'{ast.unparse(op_node(left, op, right))}' tests membership in a value",
                    "Argo's when has no substring or list-value test; compare with == / in [...] of literals",
                )
            value = self.text(left)
            items = [self.text(item) for item in right.elts]
            if isinstance(op, ast.In):
                return "(" + " || ".join(f"{value} == {item}" for item in items) + ")" if items else "false"
            return "(" + " && ".join(f"{value} != {item}" for item in items) + ")" if items else "true"
        if isinstance(op, (ast.Is, ast.IsNot)):  # the checker allows them only with None
            return f"{self.text(left)} {'==' if isinstance(op, ast.Is) else '!='} ''"
        if isinstance(op, (ast.Eq, ast.NotEq)):
            return f"{self.text(left)} {'==' if isinstance(op, ast.Eq) else '!='} {self.text(right)}"
        symbol = _ORDER[type(op)]
        if not (self.numeric(left) or self.numeric(right)):
            raise Refused(
                f"'{ast.unparse(op_node(left, op, right))}' compares without a number",
                "Argo compares with < <= > >= only as numbers: put a number (or a param whose default is a "
                "number) on one side, or use == / in [...]",
            )
        (lhs, left_guard), (rhs, right_guard) = self.number(left, needed), self.number(right, needed)
        guards = [guard for guard in (left_guard, right_guard) if guard is not None]
        comparison = f"{lhs} {symbol} {rhs}"
        return "(" + " && ".join([*dict.fromkeys(guards), comparison]) + ")" if guards else comparison

    # ------------------------------------------------------------------ values
    def numeric(self, node: ast.expr) -> bool:
        """A number, or a param whose default is a number."""
        if _is_number(node):
            return True
        path = _path(node)
        if path is None or len(path) != 2 or path[0] != "params":
            return False
        default = self.params.get(str(path[1]))
        return isinstance(default, (int, float)) and not isinstance(default, bool)

    def text(self, node: ast.expr) -> str:
        """The value as quoted text."""
        constant = _constant(node)
        if constant is _NOT_CONSTANT:
            return f"'{self.reference(node)}'"
        if constant is None:
            return "''"
        if isinstance(constant, bool):
            return "'true'" if constant else "'false'"
        if isinstance(constant, str):
            if "'" in constant or "\\" in constant or "{{" in constant:
                raise Refused(
                    f"the text {constant!r} holds a quote, a backslash or '{{{{'",
                    "Argo's when cannot compare with such text; compute a plain word in a task and compare that",
                )
            return f"'{constant}'"
        if isinstance(constant, (int, float)):
            return f"'{constant!r}'"
        raise Refused(f"the value {ast.unparse(node)} cannot be compared in Argo", "compare single values")

    def number(self, node: ast.expr, needed: bool) -> tuple[str, str | None]:
        """The value bare, for a comparison as numbers, and for an output the guard that makes the comparison
        false when it is missing (``None < 3`` is false in dagctl): ``0{{o}}`` parses when ``{{o}}`` is empty."""
        constant = _constant(node)
        if constant is _NOT_CONSTANT:
            reference = self.reference(node)
            path = _path(node)
            if path is None or path[0] != "outputs":
                return reference, None
            task = str(path[1])
            if task not in self.settled:
                if not needed:
                    raise Refused(
                        f"{ast.unparse(node)} is compared as a number where task '{task}' may have ended without "
                        "outputs (skipped or failed), and Argo cannot parse a comparison with a missing value",
                        f"make the comparison one the task needs (joined by and, not under or / not), or run this "
                        f"task only after '{task}' succeeded (trigger_rule: all_success)",
                    )
                self.requires.add(task)
            return f"0{reference}", f"'{reference}' != ''"
        if isinstance(constant, (int, float)) and not isinstance(constant, bool):
            return _positional(constant), None
        raise Refused(
            f"{ast.unparse(node)} is not a number", "compare with < <= > >= only against numbers in Argo's when"
        )

    def reference(self, node: ast.expr) -> str:
        """``params.x`` / ``outputs.t.k`` / ``run_id`` as an Argo ``{{...}}`` reference."""
        if isinstance(node, (ast.BinOp, ast.Call)):
            raise Refused(
                f"{ast.unparse(node)} computes a value (arithmetic, abs, min, max)",
                "Argo's when compares values as they are: compute the value in a task and compare its output",
            )
        path = _path(node)
        if path is None:
            raise Refused(f"{ast.unparse(node)} cannot be read in Argo's when", "compare params and outputs")
        root, keys = path[0], path[1:]
        shown = ast.unparse(node)
        if root == "run_id" and not keys:
            return self.run_id
        if root == "params" and len(keys) == 1 and isinstance(keys[0], str):
            name = keys[0]
            if not is_param_name(name):
                raise Refused(f"param '{name}' has no Argo parameter name", "rename it: letters, digits, _ and -")
            self.read.add(name)
            return self.param_ref(name)
        if root == "outputs" and len(keys) == 2 and all(isinstance(k, str) for k in keys):
            task, key = str(keys[0]), str(keys[1])
            if task not in self.upstream or task not in self.task_names:
                raise Refused(f"{shown} reads a task that is not upstream", f"add '{task}' to depends_on")
            if not is_param_name(key) or key == OUTPUTS_PARAM:
                raise Refused(
                    f"output key '{key}' of task '{task}' cannot be an Argo parameter name",
                    f"name the output with letters, digits, _ and - (not {OUTPUTS_PARAM})",
                )
            self.outputs.add((task, key))
            return f"{{{{tasks.{self.task_names[task]}.outputs.parameters.{key}}}}}"
        if root == "env":
            raise Refused(
                f"{shown} reads an environment variable",
                "Argo decides when: in its controller, where the task's environment does not exist; "
                "pass the value as a param instead",
            )
        if root == "logical_date":
            raise Refused("logical_date cannot be read in Argo's when", "compare a param instead")
        raise Refused(
            f"{shown} goes deeper than a param or an output key",
            "Argo passes params and outputs as text: compare params.NAME or outputs.TASK.KEY",
        )


def op_node(left: ast.expr, op: ast.cmpop, right: ast.expr) -> ast.Compare:
    return ast.Compare(left=left, ops=[op], comparators=[right])


_NOT_CONSTANT = object()
_LITERAL_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


def _constant(node: ast.expr) -> object:
    """The value of a literal (``-3`` included), or :data:`_NOT_CONSTANT`."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
        return _LITERAL_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _constant(node.operand)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner if isinstance(node.op, ast.USub) else inner
    return _NOT_CONSTANT


def _positional(number: float) -> str:
    """A number as govaluate reads one: digits and a point, never an exponent (``1e-05`` -> ``0.00001``)."""
    from decimal import Decimal

    return format(Decimal(repr(number)), "f")


def _is_number(node: ast.expr) -> bool:
    value = _constant(node)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _path(node: ast.expr) -> tuple[str | int, ...] | None:
    """``outputs["a"].b`` -> ("outputs", "a", "b"); None for anything but a name with keys."""
    keys: list[str | int] = []
    current = node
    while isinstance(current, (ast.Attribute, ast.Subscript)):
        if isinstance(current, ast.Attribute):
            keys.append(current.attr)
        else:
            key = _constant(current.slice)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                return None
            keys.append(key)
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    keys.reverse()
    return (current.id, *keys)
