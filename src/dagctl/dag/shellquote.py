"""Quoting a template value for where it lands in a shell command: :class:`ShellContext` reads literal text as
``sh`` (dash) and ``bash`` would, just enough to know whether a ``${...}`` reference sits in plain words, in
single or double quotes, or inside a construct where dagctl cannot tell how the shell will read it (refused).
Pure. Used by :mod:`dagctl.dag.templating` (``shell_quote=True`` renders and the checks of ``run:`` commands).
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Protocol

from dagctl.errors import TemplateError


class Reference(Protocol):
    """What quoting needs of a ``${...}`` reference (:class:`dagctl.dag.templating.Reference`)."""

    @property
    def source(self) -> str: ...

    @property
    def start(self) -> int: ...


_WORD_BREAK = frozenset(" \t\n;&|()<>")
_ARITH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ \t+-*/%<>=!&|^~?:,.[]#")
_HEREDOC_DELIMITER = re.compile(r"[A-Za-z0-9_.,:+=@%/-]+")
#: Constructs a reference may not be inside (quoting rules differ there, or differ between sh and bash):
#: frame kind -> (the construct as the docs write it, what ends it).
_OPAQUE: dict[str, tuple[str, str]] = {
    "arith": ("$(( ))", "the )) that ends it"),
    "dparen": ("(( ))", "the )) that ends it"),
    "ansi": ("$'...'", "the ' that ends it"),
    "array": ("a bash array assignment =( )", "the ) that ends it"),
    "heredoc": ("a here-document (<<)", "the line {} that ends it"),
}


class ShellContext:
    """Tracks how ``sh`` (dash) and ``bash`` would read literal text, just enough to quote a value for where it
    lands.

    It models quotes, backslashes, comments, ``$( )`` and simple ``${NAME}``, and follows ``$(( ))``, ``(( ))``,
    ``$'...'``, bash arrays ``x=( )`` and here-documents to their end (matching parentheses, the closing quote,
    the delimiter line), refusing a reference inside them but quoting as usual after them. Where the two shells
    could read the text differently (a ``\\'`` in ``$'...'``, a ``$( )`` or a backslash-newline in a
    here-document's body, ...) or where it cannot follow the shell at all (backticks, ``case`` inside ``$( )``,
    ``<<<``), it gives up, and every later reference is refused instead of guessed at.
    """

    def __init__(self) -> None:
        # frames are [kind, open parens]; kinds: plain sub sq dq brace comment, and those of _OPAQUE
        self.stack: list[list[Any]] = [["plain", 0]]
        self.escaped = False
        self.prev = ""
        self.lost: str | None = None
        # here-documents (delimiter, <<- strips tabs, quoted) waiting for, or in, their body (a "heredoc" frame),
        # all written at stack depth heredoc_depth: the next newline token there starts the bodies
        self.heredocs: list[tuple[str, bool, bool]] = []
        self.heredoc_depth = 0
        self.line: list[str] = []  # the here-document line read so far

    def _lose(self, what: str) -> None:
        self.lost = what

    def feed(self, s: str) -> None:
        i = 0
        while i < len(s) and self.lost is None:
            c = s[i]
            kind = self.stack[-1][0]
            if self.escaped:
                self.escaped = False
            elif kind == "heredoc":
                i = self._body(s, i)
            elif kind == "sq":
                if c == "'":
                    self.stack.pop()
            elif kind == "ansi":  # bash ends $'...' at the first unescaped ', sh (dash) at the first '
                if c == "\\":
                    if s[i + 1 : i + 2] == "'":
                        self._lose("\\' inside $'...' (bash and sh end it at different quotes)")
                    i = min(i + 1, len(s) - 1)
                elif c == "'":
                    self.stack.pop()
            elif kind == "comment":
                if c == "\n":
                    self.stack.pop()
                    self._newline()
            elif kind == "brace":
                if c == "}":
                    self.stack.pop()
                elif c in "'\"`$\\":
                    self._lose("quoting inside a shell ${...}")
                elif c in "()" and self.stack[-2][0] == "arith":
                    self._lose("a parenthesis inside a shell ${...} inside $(( ))")
                elif c == "\n":
                    self._newline()
            elif kind == "dq":
                if c == "\\":
                    self.escaped = True
                elif c == '"':
                    self.stack.pop()
                elif c == "`":
                    self._lose("a backtick")
                elif c == "$":
                    i = self._dollar(s, i)
            elif kind == "arith":
                i = self._arith(s, i)
            else:  # plain sub array dparen: unquoted text
                i = self._unquoted(s, i)
            self.prev = s[i]
            i += 1

    def _unquoted(self, s: str, i: int) -> int:
        """Handle ``s[i]`` in unquoted text; return the index of the last character consumed."""
        c, nxt = s[i], s[i + 1 : i + 2]
        frame = self.stack[-1]
        kind = frame[0]
        at_word_start = self.prev == "" or self.prev in _WORD_BREAK
        if c == "\\":
            self.escaped = True
        elif c == "'":
            self.stack.append(["sq", 0])
        elif c == '"':
            self.stack.append(["dq", 0])
        elif c == "`":
            self._lose("a backtick")
        elif c == "$":
            return self._dollar(s, i)
        elif c == "\n":
            self._newline()
        elif c == "#" and at_word_start:
            if kind == "dparen":  # bash reads it as arithmetic, sh as a comment
                self._lose("# inside (( ))")
            else:
                self.stack.append(["comment", 0])
        elif c == "<" and nxt == "<":
            if kind in ("array", "dparen"):
                self._lose(f"<< inside {_OPAQUE[kind][0]}")
            elif s[i + 2 : i + 3] == "<":
                self._lose("a here-string (<<<)")
            else:
                return self._heredoc(s, i)
        elif kind == "array":
            if c == ")":
                self.stack.pop()
            elif c in "(;&|<>":
                self._lose(f"{c!r} inside a bash array assignment =( )")
        elif kind == "dparen":
            return self._paren(s, i)
        elif c == "(" and self.prev == "=":
            self.stack.append(["array", 0])
        elif c == "(" and nxt == "(" and at_word_start:  # bash: arithmetic; sh: two subshells
            self.stack.append(["dparen", 0])
            return i + 1
        elif kind == "sub":
            if at_word_start and s.startswith("case", i) and s[i + 4 : i + 5] in ("", *_WORD_BREAK):
                self._lose("'case' inside $( )")
            elif c == "(":
                frame[1] += 1
            elif c == ")":
                if frame[1] == 0:
                    self.stack.pop()
                    if self.heredocs and len(self.stack) < self.heredoc_depth:
                        self._lose("a here-document (<<) inside $( ) that ends before its body")
                else:
                    frame[1] -= 1
        return i

    def _paren(self, s: str, i: int) -> int:
        """A parenthesis in ``$(( ))`` or ``(( ))``: counted, and ``))`` at depth 0 ends the construct."""
        frame = self.stack[-1]
        if s[i] == "(":
            frame[1] += 1
        elif s[i] == ")":
            if frame[1]:
                frame[1] -= 1
            elif s[i + 1 : i + 2] == ")":
                self.stack.pop()
                return i + 1
            else:  # bash would read it again as $( (...) ), sh as arithmetic
                self._lose(f"{_OPAQUE[frame[0]][0]} that is not ended by ))")
        return i

    def _arith(self, s: str, i: int) -> int:
        """Handle ``s[i]`` inside ``$(( ))``: operators, names, numbers, ``$x``, ``${x}`` and ``$( )``."""
        c = s[i]
        if c == "$":
            return self._dollar(s, i)
        if c in "()":
            return self._paren(s, i)
        if c == "\n":
            self._newline()
        elif c not in _ARITH_CHARS:
            self._lose(f"{c!r} inside $(( ))")
        return i

    def _dollar(self, s: str, i: int) -> int:
        """Handle a ``$`` at ``s[i]``; return the index of the last character consumed."""
        nxt = s[i + 1 : i + 2]
        if nxt and nxt in "$?#!-@*0123456789":  # a special parameter such as $$ or $#: one token
            return i + 1
        if nxt == "(":
            if s[i + 2 : i + 3] == "(":
                self.stack.append(["arith", 0])
                return i + 2
            self.stack.append(["sub", 0])
            return i + 1
        if nxt == "{":
            self.stack.append(["brace", 0])
            return i + 1
        if nxt == "'" and self.stack[-1][0] not in ("dq", "arith"):
            self.stack.append(["ansi", 0])
            return i + 1
        return i

    def _heredoc(self, s: str, i: int) -> int:
        """Read the ``<<WORD`` or ``<<-WORD`` at ``s[i]``; its body starts after the next newline token here."""
        j = i + 3 if s[i + 2 : i + 3] == "-" else i + 2
        strip = j == i + 3
        while j < len(s) and s[j] in " \t":
            j += 1
        word: list[str] = []
        quoted = False
        while j < len(s) and s[j] not in _WORD_BREAK:
            c = s[j]
            end = s.find(c, j + 1) if c in "'\"" else -1
            if end > 0 and not (c == '"' and any(x in s[j + 1 : end] for x in "\\$`")):
                word.append(s[j + 1 : end])
                quoted, j = True, end + 1
            elif c == "\\" and j + 1 < len(s):
                word.append(s[j + 1])
                quoted, j = True, j + 2
            else:
                word.append(c)  # an unclosed quote, $ or ` fails the delimiter check below
                j += 1
        delimiter = "".join(word)
        if j >= len(s) or not _HEREDOC_DELIMITER.fullmatch(delimiter):  # at j == len(s) a reference may follow
            self._lose("a here-document (<<) with a delimiter dagctl cannot read")
        elif self.heredocs and self.heredoc_depth != len(self.stack):
            self._lose("a here-document (<<) inside another command that has one")
        else:
            self.heredocs.append((delimiter, strip, quoted))
            self.heredoc_depth = len(self.stack)
            return j - 1
        return i + 1

    def _newline(self) -> None:
        """A newline token: the bodies of the here-documents written on its line start after it."""
        if not self.heredocs:
            return
        if len(self.stack) == self.heredoc_depth and self.stack[-1][0] in ("plain", "sub"):
            self.stack.append(["heredoc", 0])
            self.line = []
        else:
            self._lose("a line break inside a command that has a here-document (<<)")

    def _body(self, s: str, i: int) -> int:
        """Handle ``s[i]`` in a here-document's body; a line equal to the delimiter ends it."""
        delimiter, strip, quoted = self.heredocs[0]
        c, nxt = s[i], s[i + 1 : i + 2]
        if c == "\n":
            line = "".join(self.line)
            self.line = []
            if (line.lstrip("\t") if strip else line) == delimiter:
                self.heredocs.pop(0)
                if not self.heredocs:
                    self.stack.pop()
            elif line.strip(" \t)") == delimiter:  # 'EOF)' ends it in some bash versions: stop following
                self._lose(f"a here-document line {line!r} that nearly ends it (write the delimiter alone on its line)")
            return i
        if not quoted:  # the body is expanded: the shell parses $( ), ${ } and ` in it
            if c == "\\" and nxt == "\n":
                self._lose("a backslash at the end of a here-document line (sh and bash join lines differently)")
            elif c == "\\":
                self.line.append(s[i : i + 2])
                return min(i + 1, len(s) - 1)
            elif c == "`" or (c == "$" and nxt == "("):
                self._lose("a command substitution inside a here-document (<<)")
            elif c == "$" and nxt == "{":
                end = s.find("}", i + 2)
                if end < 0 or any(x in s[i + 2 : end] for x in "\n'\"`$\\{"):
                    self._lose("a shell ${...} in a here-document that dagctl cannot read")
                else:
                    self.line.append(s[i : end + 1])
                    return end
        self.line.append(c)
        return i

    def problem(self, ref: Reference) -> TemplateError | None:
        """Why a value cannot be quoted here (None: it can); depends only on the text fed so far."""
        problem = None
        inside = next((frame[0] for frame in reversed(self.stack) if frame[0] in _OPAQUE), None)
        if self.lost is not None:
            problem = f"it comes after {self.lost}"
        elif inside is not None:
            what, end = _OPAQUE[inside]
            problem = f"it comes after {what}, before {end.format(self.heredocs[0][0] if self.heredocs else '')}"
        elif self.escaped:
            problem = "it follows a backslash"
        elif self.heredocs and self.stack[-1][0] == "comment":  # a newline in the value would start the body
            problem = "it is in a comment on the line of a here-document (<<)"
        elif self.stack[-1][0] == "brace":
            problem = "it is inside a shell ${...}"
        if problem is None:
            return None
        return TemplateError(
            f"cannot shell-quote {ref.source} at column {ref.start + 1}: {problem}, "
            "where dagctl cannot tell how the shell will read it",
            hint='move the reference out of it, or pass the value through env: and use "$NAME"',
        )

    def quote(self, value: str, ref: Reference) -> str:
        kind = self.stack[-1][0]
        problem = self.problem(ref)
        if problem is not None:
            raise problem
        self.prev = "x"
        if kind == "comment":  # a newline in the value would end the comment: keep every line commented
            return shlex.quote(value).replace("\n", "\n# ")
        if kind == "sq":
            return value.replace("'", "'\\''")
        if kind == "dq":
            return re.sub(r'([\\"$`])', r"\\\1", value)
        return shlex.quote(value)


# ---------------------------------------------------------------------------------------------- rendering
