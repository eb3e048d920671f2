"""``when:`` conditions: a tiny, safe expression language. Pure: no IO, no globals.

An expression is parsed with ``ast.parse(expr, mode="eval")`` and checked against a whitelist; it is
then *interpreted* node by node. Nothing is ever compiled to code or passed to ``eval``/``exec``, and
values are only read with mapping and list lookups, never ``getattr``.

Allowed::

    and  or  not            (short-circuit)
    == != < <= > >= in  not in  is None  is not None     (chains like 0 < x < 10 work; numeric text is a number)
    -x  +x                  on numbers
    + - * /                 arithmetic on numbers (numeric strings count as numbers); abs(x) min(a, b, ...) max(...)
                            (with a missing value, null, the result is null: and null < 1 is false)
    "str" 'str' 12 1.5 true false null True False None   [..] (..) {..} literals of those
    params.x.y   outputs.task.key   env.NAME   run_id   logical_date
    outputs["my-task"]["key"]   params.items[0]          subscripts with a constant string or integer

Rejected with a message naming the construct: calls other than abs/min/max, lambdas, comprehensions,
f-strings, ``:=``, ``//`` ``%`` ``**`` and bit operators, conditional expressions, dict literals, slices,
attributes starting with ``_``, attribute access on anything but params/outputs/env, and any other name.
Expressions are limited to :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` levels of nesting. Newlines
count as spaces, so a folded YAML block works.

Ids with dots or dashes need a subscript: ``outputs["build.linux"].status``. In conditions an attribute
is always exactly one key (templates, which have no brackets, use longest match instead).

Missing values:
    a missing output (task skipped, or key not written) is None, so ``outputs.x.key is None`` works;
    a missing env variable is None; a missing key *inside* a param's value is None;
    a missing *param* is an error (:func:`condition_problems` reports it before the run).

Comparisons:
    numeric text (``"3"``, ``" -1.5e3 "``: an optional ``-``, digits, an optional ``.digits`` fraction and
    exponent, spaces around ignored) compares as a number with a number *or with other numeric text*, because
    ``key=value`` outputs are always text: ``"10" > "9"`` and ``"10" == 10.0`` hold. ``in``/``not in`` on a
    list, tuple or set match each item the same way (``"10" in [10, 11]``, ``10 in ["10"]``). Other text compares
    as text; booleans and None are never converted; ``<``, ``<=``, ``>``, ``>=`` with None are false; other mixed
    types (``"a" < 1``) are an error; ``x in None`` is false; a ``logical_date`` that is a date/datetime is seen
    as its ISO-8601 text, so ``logical_date >= "2024-06-01"`` works.

Truth: the result, and the operands of ``and``/``or``/``not``, use Python truthiness, except that a
*string* is refused — ``env.SKIP`` holding ``"false"`` would otherwise be true. Compare it instead:
``env.SKIP == "true"``.
"""

from __future__ import annotations

import ast
import difflib
import operator
import re
import reprlib
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, NoReturn

from dagctl.errors import TemplateError

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "ROOTS", "Condition", "compile_condition", "condition_problems"]

MAX_LENGTH = 1000
MAX_DEPTH = 32
#: Names an expression may read. params, outputs and env are mappings; run_id and logical_date are values.
ROOTS: tuple[str, ...] = ("params", "outputs", "env", "run_id", "logical_date", "previous", "iteration")
_MAPPING_ROOTS = ("params", "outputs", "env", "previous")
LOOP_ROOTS = ("previous", "iteration")
"""Only a ``repeat: until:`` condition may read these: the last iteration's outputs, and the iteration number."""
_LITERAL_NAMES: dict[str, Any] = {"true": True, "false": False, "null": None}
_CONSTANT_TYPES = (str, int, float, bool, type(None))
_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_PATH_HINT = 'read data as params.x, outputs.<task>.<key>, outputs["task-id"]["key"], env.NAME'

_FORBIDDEN: dict[type, tuple[str, str]] = {
    ast.Call: ("function calls are not allowed", "the only functions are abs(), min() and max()"),
    ast.Lambda: ("lambda is not allowed", "write the comparison directly"),
    ast.ListComp: ("comprehensions are not allowed", "write a literal list, or compare with in"),
    ast.SetComp: ("comprehensions are not allowed", "write a literal list, or compare with in"),
    ast.DictComp: ("comprehensions are not allowed", "write a literal list, or compare with in"),
    ast.GeneratorExp: ("comprehensions are not allowed", "write a literal list, or compare with in"),
    ast.JoinedStr: ("f-strings are not allowed", 'use a plain "string"'),
    ast.NamedExpr: ("the walrus operator := is not allowed", "conditions cannot assign"),
    ast.BinOp: ("this operator is not allowed", "arithmetic is + - * / only"),
    ast.IfExp: ("conditional expressions (x if c else y) are not allowed", "combine tests with and / or"),
    ast.Dict: ("dict literals are not allowed", "use a list: x in ['a', 'b']"),
    ast.Starred: ("* unpacking is not allowed", "list the values"),
    ast.Slice: ("slices are not allowed", 'use a single key or index: outputs["task"]["key"], x[0]'),
    ast.Await: ("await is not allowed", "conditions are plain expressions"),
    ast.Yield: ("yield is not allowed", "conditions are plain expressions"),
    ast.YieldFrom: ("yield is not allowed", "conditions are plain expressions"),
}
_ARITHMETIC: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
}
_FUNCTIONS: dict[str, tuple[int, int]] = {"abs": (1, 1), "min": (1, 16), "max": (1, 16)}
"""The only calls: name -> (fewest, most) arguments."""
_COMPARE: dict[type, str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

Path = tuple[str | int, ...]


def _column(text: str, node: ast.AST) -> int:
    """1-based character column of ``node`` (ast offsets count UTF-8 bytes)."""
    offset = getattr(node, "col_offset", 0)
    return len(text.encode("utf-8")[:offset].decode("utf-8", errors="ignore")) + 1


def _source(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or ast.unparse(node)


@dataclass(frozen=True)
class Condition:
    """A checked ``when:`` expression, ready to evaluate any number of times.

    ``names`` holds the (root, first key) pairs it reads, e.g. ("outputs", "check"), with None as the key
    for a bare root such as ``run_id``; ``paths`` holds every full path, e.g. ("params", "cfg", "tiers", 0).
    """

    expr: str
    names: frozenset[tuple[str, str | None]]
    paths: tuple[Path, ...]
    _tree: ast.expr = field(repr=False, compare=False)
    _columns: tuple[int, ...] = field(repr=False, compare=False, default=())

    def evaluate(self, scope: Mapping[str, Any]) -> bool:
        """True if the task should run. ``scope`` maps the ROOTS (missing ones are empty/None)."""
        interpreter = _Interpreter(self.expr, scope)
        return interpreter.truth(interpreter.eval(self._tree), self._tree)


# ------------------------------------------------------------------------------------------- checking


class _Checker:
    """Walks a parsed expression, refuses anything off the whitelist, and collects the data paths."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.paths: list[Path] = []
        self.columns: list[int] = []

    def fail(self, node: ast.AST, what: str, hint: str) -> NoReturn:
        raise TemplateError(f"when: {self.text}: {what} at column {_column(self.text, node)}", hint=hint)

    def check(self, node: ast.AST, depth: int = 1) -> None:
        if depth > MAX_DEPTH:
            self.fail(node, f"expression is nested more than {MAX_DEPTH} levels deep", "simplify it")
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.check(value, depth + 1)
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Invert):
                self.fail(node, "operator ~ is not allowed", "use not")
            self.check(node.operand, depth + 1)
        elif isinstance(node, ast.Compare):
            self.check(node.left, depth + 1)
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, (ast.Is, ast.IsNot)) and not _is_none(right):
                    self.fail(right, f"'{_COMPARE[type(op)]}' only works with None", "use == or != for values")
                self.check(right, depth + 1)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, _CONSTANT_TYPES):
                kind = type(node.value).__name__
                self.fail(node, f"{kind} literals are not allowed", "use strings, numbers, true/false or null")
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for element in node.elts:
                self.check(element, depth + 1)
        elif isinstance(node, ast.Name):
            if node.id in ROOTS:
                self._record((node.id,), node)
            elif node.id not in _LITERAL_NAMES:
                self._unknown_name(node)
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            self._record(self._path(node, depth), node)
        elif isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            self.check(node.left, depth + 1)
            self.check(node.right, depth + 1)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
            fewest, most = _FUNCTIONS[node.func.id]
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                self.fail(node, f"{node.func.id}() takes plain arguments", f"write {node.func.id}(a, b)")
            if not fewest <= len(node.args) <= most:
                self.fail(node, f"{node.func.id}() takes {fewest} to {most} arguments", "")
            for arg in node.args:
                self.check(arg, depth + 1)
        else:
            what, hint = _FORBIDDEN.get(type(node), (f"{type(node).__name__} expressions are not allowed", ""))
            self.fail(node, what, hint or "see the list of allowed operators in the docs")

    def _record(self, path: Path, node: ast.AST) -> None:
        self.paths.append(path)
        self.columns.append(_column(self.text, node))

    def _unknown_name(self, node: ast.Name) -> NoReturn:
        close = difflib.get_close_matches(node.id, [*ROOTS, *_LITERAL_NAMES], n=1)
        hint = f"did you mean '{close[0]}'?" if close else f'{_PATH_HINT}; quote text: "{node.id}"'
        self.fail(node, f"unknown name '{node.id}'", hint)

    def _path(self, node: ast.expr, depth: int) -> Path:
        keys: list[str | int] = []
        current: ast.expr = node
        while isinstance(current, (ast.Attribute, ast.Subscript)):
            if isinstance(current, ast.Attribute):
                if current.attr.startswith("_"):
                    self.fail(
                        current,
                        f"attribute '{current.attr}' is not allowed (names starting with '_' are private)",
                        f'if it really is a key, write ...["{current.attr}"]',
                    )
                keys.append(current.attr)
            else:
                keys.append(self._key(current.slice))
            current = current.value
        if depth + len(keys) > MAX_DEPTH:
            self.fail(node, f"expression is nested more than {MAX_DEPTH} levels deep", "simplify it")
        if not isinstance(current, ast.Name):
            self.check(current, depth + len(keys))  # a forbidden base (a call, ...) is named as such
            self.fail(current, "'.' and [...] only work on params, outputs and env", _PATH_HINT)
        if current.id not in _MAPPING_ROOTS:
            if current.id in ROOTS or current.id in _LITERAL_NAMES:
                self.fail(current, f"'{current.id}' is a single value; it has no keys", _PATH_HINT)
            self._unknown_name(current)
        keys.reverse()
        if isinstance(keys[0], int):
            self.fail(
                node,
                f"{current.id}[{keys[0]}]: keys of {current.id} are names",
                f'write {current.id}["name"]',
            )
        return (current.id, *keys)

    def _key(self, key: ast.expr) -> str | int:
        value = _constant_key(key)
        if value is not None:
            return value
        if isinstance(key, ast.Slice):
            self.fail(key, *_FORBIDDEN[ast.Slice])
        self.fail(key, "a subscript must be a constant string or integer", 'write outputs["my-task"]["key"]')


def _constant_key(key: ast.expr) -> str | int | None:
    """The key of ``x["k"]``, ``x[0]`` or ``x[-1]``; None for anything else."""
    if isinstance(key, ast.Constant) and isinstance(key.value, (str, int)) and not isinstance(key.value, bool):
        return key.value
    if (
        isinstance(key, ast.UnaryOp)
        and isinstance(key.op, ast.USub)
        and isinstance(key.operand, ast.Constant)
        and type(key.operand.value) is int
    ):
        return -key.operand.value
    return None


def _is_none(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and node.value is None) or (isinstance(node, ast.Name) and node.id == "null")


def _syntax_error(text: str, err: SyntaxError) -> TemplateError:
    what = (err.msg or "invalid syntax").removesuffix("?")
    column = err.offset or 0
    if column < 1 or column > len(text):  # Python reports 0 when the input ends too early
        what, column = "unexpected end of expression", len(text) + 1
    hint = 'check quotes and brackets; compare with ==, combine with and/or/not; text needs "quotes"'
    if text[column - 1 : column] == "=" and text[column : column + 1] != "=":
        hint = "compare with == (a single = assigns, which conditions cannot do)"
    return TemplateError(f"when: {text}: {what} at column {column}", hint=hint)


def compile_condition(expr: str) -> Condition:
    """Parse and check ``expr``; raise TemplateError("when: <expr>: <what> at column N — <how to fix>")."""
    if not isinstance(expr, str):
        raise TemplateError(f"when: {expr!r}: must be a string", hint='quote it: when: "params.x == 1"')
    text = expr.replace("\r", " ").replace("\n", " ").strip()
    if not text:
        raise TemplateError("when: empty condition", hint='write one, such as params.env == "prod", or remove when:')
    control = next((i for i, ch in enumerate(text) if ch < " " and ch != "\t"), None)
    if control is not None:
        raise TemplateError(
            f"when: {text!r}: control character {text[control]!r} at column {control + 1}",
            hint="remove it; conditions are one line of text",
        )
    if len(text) > MAX_LENGTH:
        raise TemplateError(
            f"when: {text[:60]}…: longer than {MAX_LENGTH} characters",
            hint="compute the decision in a task and compare its output",
        )
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" and friends: not for the user's terminal
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise _syntax_error(text, err) from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise TemplateError(f"when: {text[:60]}: cannot be parsed ({err})", hint="simplify it") from None
    checker = _Checker(text)
    checker.check(tree.body)
    names = frozenset((str(p[0]), p[1] if len(p) > 1 and isinstance(p[1], str) else None) for p in checker.paths)
    return Condition(text, names, tuple(checker.paths), tree.body, tuple(checker.columns))


# ------------------------------------------------------------------------------------------ evaluation


def _as_number(value: Any) -> Any:
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value.strip()):
        text = value.strip()
        try:
            return int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:  # an integer of more than 4300 digits: compare it as a float
            return float(text)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """Both operands as numbers when each is a number or numeric text (``"10"``, ``" -1.5e3 "``); else as given.

    So ``"10" > "9"`` and ``"10" == 10`` compare numbers, while ``"10" == "ten"`` or ``"b" > "a"`` compare text.
    Booleans and None are never converted (``true == "1"`` is false).
    """
    if not (isinstance(left, str) or isinstance(right, str)):
        return left, right
    as_left, as_right = _as_number(left), _as_number(right)
    if _is_number(as_left) and _is_number(as_right):
        return as_left, as_right
    return left, right


def _member(item: Any, container: Any) -> bool:
    """``item in container``, where an item of a list, tuple or set matches as ``==`` does (with numeric text)."""
    if isinstance(container, (list, tuple, set, frozenset)):
        return any(operator.eq(*_coerce(item, element)) for element in container)
    return item in container


class _Interpreter:
    def __init__(self, text: str, scope: Mapping[str, Any]) -> None:
        self.text = text
        self.scope = scope

    def fail(self, node: ast.AST, what: str, hint: str | None = None) -> NoReturn:
        raise TemplateError(f"when: {self.text}: {what} at column {_column(self.text, node)}", hint=hint)

    def truth(self, value: Any, node: ast.AST) -> bool:
        if isinstance(value, str):
            source = _source(self.text, node)
            self.fail(
                node,
                f"{source} is the string {reprlib.repr(value)}, not true/false",
                f'compare it: {source} == "true"',
            )
        return bool(value)

    def eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in _LITERAL_NAMES:
                return _LITERAL_NAMES[node.id]
            return self.root(node.id)
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            return self.lookup(node)
        if isinstance(node, ast.BoolOp):
            want = isinstance(node.op, ast.Or)
            value: Any = None
            for operand in node.values:
                value = self.eval(operand)
                if self.truth(value, operand) is want:
                    return value
            return value
        if isinstance(node, ast.UnaryOp):
            value = self.eval(node.operand)
            if isinstance(node.op, ast.Not):
                return not self.truth(value, node.operand)
            value = _as_number(value)
            if not _is_number(value):
                sign = "-" if isinstance(node.op, ast.USub) else "+"
                self.fail(node, f"unary {sign} needs a number, got {reprlib.repr(value)}")
            return -value if isinstance(node.op, ast.USub) else +value
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self.eval(right_node)
                if not self.compare(_COMPARE[type(op)], left, right, right_node):
                    return False
                left = right
            return True
        if isinstance(node, ast.List):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.eval(e) for e in node.elts)
        if isinstance(node, ast.BinOp):
            return self.arithmetic(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Set):
            items = [self.eval(e) for e in node.elts]
            try:
                return frozenset(items)
            except TypeError:
                self.fail(node, "a {...} set can only hold strings, numbers, true/false and null", "use [...]")
        self.fail(node, f"{type(node).__name__} cannot be evaluated")  # unreachable after checking

    def number(self, node: ast.expr, what: str) -> Any:
        value = _as_number(self.eval(node))
        if value is None:
            return None
        if not _is_number(value):
            self.fail(node, f"{what} needs numbers, got {reprlib.repr(value)} from {_source(self.text, node)}")
        return value

    def arithmetic(self, node: ast.BinOp) -> Any:
        symbol, apply = _ARITHMETIC[type(node.op)]
        left = self.number(node.left, symbol)
        right = self.number(node.right, symbol)
        if left is None or right is None:  # a missing value (no previous iteration yet ...) stays missing
            return None
        if symbol == "/" and right == 0:
            self.fail(node, "division by zero", "check the divisor first: x != 0 and y / x > 1")
        value = apply(left, right)
        if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
            self.fail(node, "the result is not a finite number")
        return value

    def call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        values = [self.number(arg, f"{name}()") for arg in node.args]
        if any(v is None for v in values):
            return None
        if name == "abs":
            return abs(values[0])
        return min(values) if name == "min" else max(values)

    def compare(self, op: str, left: Any, right: Any, node: ast.AST) -> bool:
        if op in ("is", "is not"):
            return (left is None) is (op == "is")
        if op in ("in", "not in"):
            if right is None:
                return op == "not in"
            try:
                found = _member(left, right)
            except TypeError:
                self.fail(node, f"cannot test {reprlib.repr(left)} in {type(right).__name__} {reprlib.repr(right)}")
            return found is (op == "in")
        left, right = _coerce(left, right)
        if op == "==":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if left is None or right is None:
            return False
        try:
            return bool(_ORDER[op](left, right))
        except TypeError:
            self.fail(
                node,
                f"cannot compare {type(left).__name__} {reprlib.repr(left)} {op} "
                f"{type(right).__name__} {reprlib.repr(right)}",
                "compare values of the same kind (numbers with numbers, text with text)",
            )

    def root(self, name: str) -> Any:
        value = self.scope.get(name)
        if name in _MAPPING_ROOTS:
            return {} if value is None else value
        if isinstance(value, (date, datetime, time)):
            return value.isoformat()
        return value

    def lookup(self, node: ast.Attribute | ast.Subscript) -> Any:
        keys: list[Any] = []
        current: ast.expr = node
        while isinstance(current, (ast.Attribute, ast.Subscript)):
            if isinstance(current, ast.Attribute):
                keys.append(current.attr)
            else:
                keys.append(_constant_key(current.slice))
            current = current.value
        assert isinstance(current, ast.Name)
        keys.reverse()
        root = current.id
        value = self.root(root)
        where = root
        for depth, key in enumerate(keys):
            if value is None:
                return None
            if isinstance(value, Mapping):
                if key not in value:
                    if root == "params" and depth == 0:
                        known = ", ".join(sorted(map(str, value))) or "(none)"
                        self.fail(node, f"unknown param '{key}' (known: {known})", "declare it under params:")
                    return None
                value = value[key]
            elif isinstance(value, (list, tuple)) and isinstance(key, int):
                value = value[key] if -len(value) <= key < len(value) else None
            else:
                self.fail(node, f"{where} is {type(value).__name__} {reprlib.repr(value)}; it has no key {key!r}")
            where = f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]"
        return value


# ------------------------------------------------------------------------------------------ validation


def _tested(node: ast.expr) -> list[ast.expr]:
    """The parts of a condition whose truth is taken: the whole, the operands of ``and``/``or``/``not``, and
    the test and branches of ``x if c else y``."""
    if isinstance(node, ast.BoolOp):
        return [found for value in node.values for found in _tested(value)]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _tested(node.operand)
    if isinstance(node, ast.IfExp):
        return [*_tested(node.test), *_tested(node.body), *_tested(node.orelse)]
    return [node]


def condition_problems(
    expr: str, *, params: Collection[str], upstream: Collection[str], loop: str | None = None
) -> list[str]:
    """What is wrong with a ``when:`` expression (syntax, forbidden constructs, unknown params, outputs of
    tasks that are not upstream), one message per problem; empty when it is fine.

    ``loop`` names the task whose ``repeat: until:`` this is: it may read its own outputs, ``previous`` and
    ``iteration``; any other condition may not."""
    try:
        condition = compile_condition(expr)
    except TemplateError as err:
        return [str(err)]
    problems: list[str] = []
    seen: set[Path] = set()
    text = condition.expr
    for node in _tested(condition._tree):  # a quoted word where a truth is tested: it fails every run
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            problems.append(
                f"when: {text}: {_source(text, node)} at column {_column(text, node)} is the string "
                f"{reprlib.repr(node.value)}, not true/false — write true or false without quotes, or compare it"
            )
    if loop is not None:
        upstream = {*upstream, loop}
    for path, column in zip(condition.paths, condition._columns, strict=True):
        if path[0] in LOOP_ROOTS and loop is None and ("loop",) not in seen:
            seen.add(("loop",))
            problems.append(
                f"when: {text}: '{path[0]}' at column {column} is only known in a repeat: until: condition"
                " — use outputs.<task> of an upstream task"
            )
            continue
        if path[0] == "previous" and len(path) > 1 and path[1] != loop:
            problems.append(f"when: {text}: previous.{path[1]} at column {column} — write previous.{loop}")
            continue
        if len(path) < 2 or not isinstance(path[1], str) or path[:2] in seen:
            continue
        seen.add(path[:2])
        root, key = path[0], path[1]
        if root == "params" and key not in params:
            close = difflib.get_close_matches(key, list(params), n=1)
            tip = f"did you mean '{close[0]}'?" if close else "declare it under params:"
            known = ", ".join(sorted(params)) or "(none)"
            problems.append(f"when: {text}: unknown param '{key}' at column {column} (known: {known}) — {tip}")
        elif root == "outputs" and key not in upstream:
            joined = [".".join(map(str, path[1:j])) for j in range(len(path), 2, -1)]
            dotted = next((task for task in joined if task in upstream), None)
            if dotted is not None:
                rest = "".join(f'["{k}"]' for k in path[1 + dotted.count(".") + 1 :])
                tip = f'task ids with dots need brackets: outputs["{dotted}"]{rest}'
            else:
                tip = f"add '{key}' to depends_on"
            problems.append(
                f"when: {text}: reads outputs of task '{key}' at column {column}, "
                f"which is not upstream of this task — {tip}"
            )
    return problems
