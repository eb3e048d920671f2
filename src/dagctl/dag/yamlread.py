"""Safe YAML reading that remembers where every value came from.

Only safe loading, ever: the document is *composed* into nodes (no object construction), then walked
here with an allowlist of tags. The walk also catches what PyYAML lets through silently: duplicate
keys, tabs in indentation, several documents in one file, alias bombs (node count and depth caps),
non-UTF-8 bytes and oversized files. Values stay strict JSON data: NaN and infinite numbers (``.nan``,
``.inf``, ``1e999``), integers too long to print, and NUL characters (``"\\0"``, which no command line,
environment or file name can hold) are refused where they are written. Every problem carries
``line:column`` (1-based) and is one line of text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dagctl.errors import Problem, SpecError

from .source import MAX_BYTES as MAX_BYTES  # re-exported: the cap is the reader's
from .source import read_source

try:  # the C composer is several times faster and keeps marks
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_NODES = 1_000_000
MAX_DEPTH = 64

Path_ = tuple[str | int, ...]

_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_T + "str", _T + "int", _T + "float", _T + "bool", _T + "null", _T + "timestamp"}
_TYPE_WORDS = {
    _T + "int": "the integer",
    _T + "float": "the number",
    _T + "bool": "the boolean",
    _T + "null": "null",
    _T + "timestamp": "a date",
}


@dataclass
class Document:
    """Plain data (dicts, lists, scalars) plus the position of each value and each mapping key."""

    file: str
    data: Any
    marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    coerced: dict[Path_, tuple[str, str]] = field(default_factory=dict)
    """Plain scalars YAML turned into non-strings: path -> (source text, what it became)."""

    def position(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Best known position for ``path``: the key (if asked and known), else the nearest value."""
        if key and path in self.key_marks:
            return self.key_marks[path]
        p = tuple(path)
        while p:
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), (1, 1))

    def problem(self, path: Path_, message: str, hint: str = "", *, key: bool = False) -> Problem:
        line, col = self.position(path, key=key)
        return Problem(self.file, line, col, one_line(message), one_line(hint))


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``), so a problem that quotes
    a value the user wrote stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _short(tag: str) -> str:
    return "!!" + tag[len(_T) :] if tag.startswith(_T) else tag


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _decode(raw: bytes, file: str) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            [
                Problem(
                    file, line, col, f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})", "save the file as UTF-8"
                )
            ]
        ) from None
    return text


def _tab_problems(text: str, file: str) -> list[Problem]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)]
        if "\t" in indent and stripped and not stripped.startswith("#"):
            problems.append(
                Problem(
                    file,
                    number,
                    indent.index("\t") + 1,
                    "tab character used for indentation",
                    "YAML indentation must use spaces; replace the tab with spaces",
                )
            )
    return problems


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    """A character YAML does not allow in a file (a control character), at its line and column."""
    line = text.count("\n", 0, exc.position) + 1
    col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return Problem(
        file,
        line,
        col,
        f"invalid YAML: control character {repr(char)[1:-1]} (U+{ord(char):04X}) is not allowed",
        "remove it; YAML files hold printable text only",
    )


def _yaml_error(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    what = (exc.problem or exc.context or "invalid YAML").strip()
    hint = "fix the YAML syntax at this position"
    if "alias" in (exc.context or "") or "found character '*'" in what:
        hint = 'a value starting with * is read as a YAML alias: quote it, e.g. cron: "*/5 * * * *"'
    elif "found character '\\t'" in what:
        hint = "YAML indentation must use spaces; replace the tab with spaces"
    elif "mapping values are not allowed" in what:
        hint = 'quote the value if it contains ": ", or check the indentation'
    return Problem(file, line, col, one_line(f"invalid YAML: {what}"), hint)


def _check_size(root: Node) -> None:
    """Refuse alias bombs and deep nesting before expanding anything: O(distinct nodes).

    Aliases are the same node object, so expanded size and height are memoised over children.
    """
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
    open_nodes: set[int] = set()  # entered, children not finished: meeting one again means a loop
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in memo:
            continue
        children = _children(node)
        if not done:
            if key in open_nodes:
                raise _Abort(
                    node, "an alias refers to the value that contains it", "remove the recursive alias (*name)"
                )
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in memo)
            continue
        open_nodes.discard(key)
        size = 1 + sum(memo[id(c)][0] for c in children)
        height = 1 + max((memo[id(c)][1] for c in children), default=0)
        if height > MAX_DEPTH:
            raise _Abort(node, f"document nests deeper than {MAX_DEPTH} levels", "flatten the structure")
        if size > MAX_NODES:
            raise _Abort(
                node,
                f"document expands to more than {MAX_NODES:,} values",
                "remove repeated anchors/aliases (*name); an alias repeats the whole anchored value",
            )
        memo[key] = (size, height)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


class _Walker:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.constructor = SafeConstructor()
        self.problems: list[Problem] = []

    def fail(self, node: Node, message: str, hint: str) -> None:
        line, col = _mark(node)
        self.problems.append(Problem(self.doc.file, line, col, one_line(message), one_line(hint)))

    def walk(self, node: Node, path: Path_, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _Abort(node, f"document nests deeper than {MAX_DEPTH} levels", "flatten the structure")
        self.doc.marks[path] = _mark(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _T + "seq":
                self.fail(
                    node, f"unsupported YAML tag {_short(node.tag)}", "remove the tag; dagctl reads plain YAML only"
                )
                return None
            return [self.walk(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != _T + "map":
                self.fail(
                    node, f"unsupported YAML tag {_short(node.tag)}", "remove the tag; dagctl reads plain YAML only"
                )
                return None
            return self.mapping(node, path, depth)
        raise AssertionError(node)  # pragma: no cover

    def scalar(self, node: ScalarNode, path: Path_, *, key: bool = False) -> Any:
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            self.fail(
                node,
                f"unsupported YAML tag {_short(tag)}",
                "dagctl loads YAML safely and never builds objects from tags; remove the tag",
            )
            return None
        if tag == _T + "str":
            if "\x00" in node.value:
                self.fail(
                    node,
                    "text holds a NUL character (\\0)",
                    "remove it: commands, environment variables, names and file names cannot hold NUL",
                )
            return node.value
        if tag == _T + "timestamp":
            value: Any = node.value  # dates stay text; params are JSON
        else:
            try:
                value = self.constructor.construct_object(node, deep=True)
            except ValueError:  # an integer of more than 4300 digits
                self.fail(node, f"number {node.value[:20]}... has too many digits", "quote it if it is text")
                return None
            if isinstance(value, float) and not math.isfinite(value):
                self.fail(
                    node,
                    f"{node.value} is {'not a number' if math.isnan(value) else 'infinite'}, which is not JSON",
                    f'give a finite number, or quote it if it is text: "{node.value}"',
                )
                return None
        if not node.style and not key:  # a key is not the value at ``path``
            shown = "" if value is None else " " + (str(value).lower() if isinstance(value, bool) else str(value))
            self.doc.coerced[path] = (node.value, _TYPE_WORDS[tag] + shown)
        return value

    def mapping(self, node: MappingNode, path: Path_, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        seen: dict[Any, tuple[int, int]] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _T + "merge":
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for src in sources:
                    value = self.walk(src, (*path, "<<"), depth + 1)
                    if isinstance(value, dict):
                        for k, v in value.items():
                            merged.setdefault(k, v)
                    else:
                        self.fail(src, "<< merge needs a mapping", "merge an anchored mapping: <<: *defaults")
                continue
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, "mapping key is not a plain value", "use a plain string as key")
                continue
            if key_node.tag == _T + "str":
                key = key_node.value
                if "\x00" in key:
                    self.fail(key_node, "key holds a NUL character (\\0)", "remove it")
                    continue
            else:
                key = self.scalar(key_node, path, key=True)
            if key in seen:
                line, _ = seen[key]
                self.fail(
                    key_node,
                    f"duplicate key '{key}' (first defined on line {line})",
                    "remove one of them; YAML would silently keep only the last",
                )
                continue
            seen[key] = _mark(key_node)
            key_path = (*path, key)
            self.doc.key_marks[key_path] = _mark(key_node)
            result[key] = self.walk(value_node, key_path, depth + 1)
        for k, v in merged.items():
            result.setdefault(k, v)
        return result


class _Abort(Exception):
    def __init__(self, node: Node, message: str, hint: str) -> None:
        super().__init__(message)
        self.node, self.message, self.hint = node, message, hint


def read_text(path: Path | str, raw: bytes | None = None) -> str:
    """Read a config file with the size cap and UTF-8 check (:func:`~dagctl.dag.source.read_source`); ``raw``:
    its bytes, when they have been read already."""
    if raw is None:
        raw, _ = read_source(path)
    return _decode(raw, str(path))


def parse_document(text: str, file: str, *, empty_hint: str = "write a DAG: at least name: and tasks:") -> Document:
    """Parse one YAML document from ``text``; raise SpecError listing every problem found (``empty_hint``: what
    to write in an empty file)."""
    tabs = _tab_problems(text, file)
    if tabs:
        raise SpecError(tabs)
    doc = Document(file=file, data=None)
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.composer.ComposerError as exc:
        if "expected a single document" in str(exc):
            mark = exc.problem_mark
            line = mark.line + 1 if mark else 1
            raise SpecError(
                [
                    Problem(
                        file,
                        line,
                        1,
                        "file holds more than one YAML document (---)",
                        "keep one DAG per file; split the documents into separate files",
                    )
                ]
            ) from None
        raise SpecError([_yaml_error(exc, file)]) from None
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_yaml_error(exc, file)]) from None
    except yaml.reader.ReaderError as exc:
        raise SpecError([_reader_error(exc, text, file)]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every other error carries a mark
        raise SpecError([Problem(file, 1, 1, one_line(f"invalid YAML: {exc}"), "fix the YAML syntax")]) from None
    if root is None:
        raise SpecError([Problem(file, 1, 1, "file is empty", empty_hint)])
    walker = _Walker(doc)
    try:
        if "&" in text:  # without anchors there are no aliases: size is bounded by the file size
            _check_size(root)
        doc.data = walker.walk(root, (), 0)
    except _Abort as abort:
        line, col = _mark(abort.node)
        raise SpecError([Problem(file, line, col, abort.message, abort.hint)]) from None
    if walker.problems:
        raise SpecError(walker.problems)
    return doc


_PLAIN_WORDS = {"true", "false"}
_YAML11_NUMBER = re.compile(r"[-+]?(0[0-7_]+|0b[01_]+|[0-9_]*:[0-9:._]*|[0-9.]*_[0-9._eE+-]*)")
"""Integers and floats only YAML 1.1 reads as numbers: octal ``0755``, binary ``0b101``, sexagesimal ``1:30``,
with underscores ``1_000``."""


def yaml11_surprises(doc: Document) -> list[Problem]:
    """Plain scalars that YAML 1.1 (PyYAML) reads otherwise than they look to most people, and than YAML 1.2 reads
    them: ``no``, ``on``, ``yes`` the booleans, ``0755`` the integer 493, ``1:30`` the integer 90. For a file whose
    values have no declared type (a params file), where a DAG file's models cannot tell whether text was meant."""
    problems = []
    for path, (text, became) in doc.coerced.items():
        boolean = became.startswith(_TYPE_WORDS[_T + "bool"])
        if boolean and text.lower() in _PLAIN_WORDS:
            continue
        if not boolean and not (became.startswith(("the integer", "the number")) and _YAML11_NUMBER.fullmatch(text)):
            continue
        plain = became.rpartition(" ")[2]
        label = "".join(f"[{p}]" if type(p) is int else f".{p}" for p in path).lstrip(".") or "value"
        problems.append(
            doc.problem(
                path,
                f"{label}: YAML reads unquoted {text} as {became}",
                f'quote it if it is text ("{text}"), or write {plain}',
            )
        )
    return problems


def read_document(path: Path | str, *, empty_hint: str = "write a DAG: at least name: and tasks:") -> Document:
    return parse_document(read_text(path), str(path), empty_hint=empty_hint)
