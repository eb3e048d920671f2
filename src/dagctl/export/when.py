"""``when:`` conditions as Argo ``when`` expressions. Pure.

Argo substitutes the ``{{...}}`` references of a task's ``when`` as text, then evaluates what results with
govaluate, which reads bare words as strings. So every value that is compared as text is quoted (a
missing output, which becomes ``''``, cannot break the expression), and only ordering comparisons leave
a value bare, to compare it as a number. The condition is parsed by :func:`dagctl.dag.conditions.
compile_condition` first, so it is a valid dagctl condition; then its syntax tree is translated::

    params.NAME                   {{workflow.parameters.NAME}}
    outputs.TASK.KEY              {{tasks.<task>.outputs.parameters.KEY}}  (the task exports KEY; see argo.py)
    outputs["t-1"]["key"]         the same
    run_id                        {{workflow.name}}
    and  or  not                  &&  ||  !
    a == b   a != b               compared as text: '{{...}}' == 'yes'; a number as its text: 3 -> '3'
    a < 3  a >= params.n ...      compared as numbers: {{...}} < 3 (one side a number, or a param whose
                                  default is a number)
    x in [a, b]   x not in [...]  ('{{x}}' == 'a' || '{{x}}' == 'b')  /  (... != ... && ...)
    x is None   x == null         '{{x}}' == ''      (a missing output is empty text in Argo)
    x  (a bare value as a test)   '{{x}}' == 'true'  (true/false outputs are the text true/false)

Anything else raises :class:`Refused` naming the construct: ``env.X`` (environment variables exist where a
task runs, while Argo decides ``when`` in its controller), ``logical_date``, arithmetic and functions, paths
deeper than a param or an output key (``params.cfg.x``), ``in`` with anything but a literal list on the
right (substring tests), ordering comparisons without a number, text containing a quote, a backslash or
``{{``, and output keys that are not Argo parameter names.
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
) -> ArgoWhen:
    """Translate ``expr`` for a task whose ancestors are ``upstream`` in a DAG whose params (with their
    defaults) are ``params``; raise :class:`Refused` or TemplateError. ``param_ref`` and ``run_id`` say where
    the DAG's params and run id are (a sub-DAG's are not the workflow's)."""
    from dagctl.dag.conditions import compile_condition

    condition = compile_condition(expr)
    tree = ast.parse(condition.expr, mode="eval").body
    translator = _Translator(task_names, upstream, params, param_ref, run_id)
    expression = translator.test(tree)
    return ArgoWhen(expression, frozenset(translator.outputs), frozenset(translator.read))


class _Translator:
    def __init__(
        self,
        task_names: Mapping[str, str],
        upstream: Collection[str],
        params: Mapping[str, Any],
        param_ref: Callable[[str], str],
        run_id: str,
    ) -> None:
        self.task_names = task_names
        self.upstream = upstream
        self.params = params
        self.param_ref = param_ref
        self.run_id = run_id
        self.outputs: set[tuple[str, str]] = set()
        self.read: set[str] = set()

    # ------------------------------------------------------------------ boolean positions
    def test(self, node: ast.expr) -> str:
        if isinstance(node, ast.BoolOp):
            joiner = " && " if isinstance(node.op, ast.And) else " || "
            return "(" + joiner.join(self.test(value) for value in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"!({self.test(node.operand)})"
        if isinstance(node, ast.Compare):
            parts = []
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                parts.append(self.compare(left, op, right))
                left = right
            return parts[0] if len(parts) == 1 else "(" + " && ".join(parts) + ")"
        constant = _constant(node)
        if constant is not _NOT_CONSTANT:
            return "true" if constant and not isinstance(constant, str) else "false"
        return f"{self.text(node)} == 'true'"

    def compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> str:
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
        return f"{self.number(left)} {symbol} {self.number(right)}"

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

    def number(self, node: ast.expr) -> str:
        """The value bare, for a comparison as numbers."""
        constant = _constant(node)
        if constant is _NOT_CONSTANT:
            return self.reference(node)
        if isinstance(constant, (int, float)) and not isinstance(constant, bool):
            return repr(constant)
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
