"""Quoting a template value for where it lands in a shell command: :class:`ShellContext` reads literal text as
``sh`` (dash) and ``bash`` would, just enough to know whether a ``${...}`` reference sits in plain words, in
single or double quotes, or inside a construct where dagctl cannot tell how the shell will read it (refused).
Where bash would evaluate a value as arithmetic (``[[ ]]``, ``let``, ``a[i]=`` ...) it is refused too.
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
#: Constructs where bash evaluates a value as arithmetic or as a variable name, running any $( ) in an array
#: subscript of it (x[$(cmd)]), even from a quoted string: frame kind -> the construct as the docs write it.
_EVALUATED = {"dbrack": "[[ ]]", "subscript": "an array subscript name[ ]"}
_DYNAMIC = "\0"  # ends a word whose rest the shell expands ($x, $( ), a value): only its start is literal
_REDIRECT = "\1"  # among a command's words: the next word is the target of a redirection, not an argument
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[[^\0]*\0|(\[[^\0]*\])?\+?=)")  # x=, x[i]+=, x[$i
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FD = re.compile(r"[0-9]+|\{[A-Za-z_][A-Za-z0-9_]*\}")  # before a redirection operator: 2>, {fd}>
#: Words that may come before a command's name (as may assignment words).
_PREFIX = {"!", "if", "then", "elif", "else", "do", "while", "until", "time", "-p", "--", "builtin", "command"}
_PREFIX |= {"coproc"}
#: Commands whose arguments bash reads as arithmetic, as variable names (evaluating their [subscript]) or as code.
_NAME_ARGS = {"let", "declare", "typeset", "local", "read", "readarray", "mapfile", "unset"}
_INT_VARS = {"RANDOM", "SRANDOM", "OPTIND", "HISTCMD", "BASHPID"}  # bash's own integer variables
_HINT = 'pass the value through env: {{A: {src}}} and check "$A" before bash reads it: [ "$A" -eq "$A" ] || exit 1'
_DECLARE_HINT = "declare the variable first and assign the value on its own: local x; x={src} (with no -i or -n)"
_TEST_HINT = 'use [ ], which does not evaluate values: [ {src} -eq 1 ], or with env: {{A: {src}}}, [ "$A" -eq 1 ]'


def _command(words: list[str]) -> int:
    """The index of a command's name in its ``words`` (``len(words)``: still to come)."""
    k = 0
    while k < len(words) and (words[k] in _PREFIX or _ASSIGN.match(words[k])):
        k += 1
    return k


class ShellContext:
    """Tracks how ``sh`` (dash) and ``bash`` would read literal text, just enough to quote a value for where it
    lands.

    It models quotes, backslashes, comments, ``$( )`` and simple ``${NAME}``, and follows ``$(( ))``, ``(( ))``,
    ``$'...'``, bash arrays ``x=( )`` and here-documents to their end (matching parentheses, the closing quote,
    the delimiter line), refusing a reference inside them but quoting as usual after them. Where the two shells
    could read the text differently (a ``\\'`` in ``$'...'``, a ``$( )`` or a backslash-newline in a
    here-document's body, ...) or where it cannot follow the shell at all (backticks, ``case`` inside ``$( )``,
    ``<<<``, ``$[ ]``), it gives up, and every later reference is refused instead of guessed at.

    It also keeps the words of each command (their literal start), to refuse a reference where bash evaluates
    even a quoted value as arithmetic or as a variable name, running any ``$( )`` in an array subscript of it:
    inside ``[[ ]]`` or ``name[ ]``, in the arguments of ``let``, ``declare``, ``read``, ``printf -v``, ...
    """

    def __init__(self) -> None:
        # frames are [kind, open parens, words, word]; kinds: plain sub sq dq brace comment, those of _OPAQUE and
        # _EVALUATED. plain and sub keep their command's words (literal starts) and the current one (None: none)
        self.stack: list[list[Any]] = []
        self._push("plain")
        self.escaped = False
        self.prev = ""
        self.lost: str | None = None
        self.attributes: str | None = None  # a declare -i/-n seen: later assignments may be evaluated
        # here-documents (delimiter, <<- strips tabs, quoted) waiting for, or in, their body (a "heredoc" frame),
        # all written at stack depth heredoc_depth: the next newline token there starts the bodies
        self.heredocs: list[tuple[str, bool, bool]] = []
        self.heredoc_depth = 0
        self.line: list[str] = []  # the here-document line read so far

    def _lose(self, what: str) -> None:
        self.lost = what

    def _push(self, kind: str) -> None:
        self.stack.append([kind, 0, [], None])

    def feed(self, s: str) -> None:
        i = 0
        while i < len(s) and self.lost is None:
            c = s[i]
            kind = self.stack[-1][0]
            if self.escaped:
                self.escaped = False
                if c != "\n":  # a backslash-newline joins the lines
                    self._word(c)
            elif kind == "heredoc":
                i = self._body(s, i)
            elif kind == "sq":
                if c == "'":
                    self.stack.pop()
                else:
                    self._word(c)
            elif kind == "ansi":  # bash ends $'...' at the first unescaped ', sh (dash) at the first '
                if c == "\\":
                    if s[i + 1 : i + 2] == "'":
                        self._lose("\\' inside $'...' (bash and sh end it at different quotes)")
                    i = min(i + 1, len(s) - 1)
                elif c == "'":
                    self.stack.pop()
                else:
                    self._word(c)
            elif kind == "comment":
                if c == "\n":
                    self.stack.pop()
                    self.stack[-1][2:] = [[], None]
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
                else:
                    self._word(c)
            elif kind == "arith":
                i = self._arith(s, i)
            else:  # plain sub array dparen dbrack subscript: unquoted text
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
        elif c in "'\"":
            self._word("")
            self._push("sq" if c == "'" else "dq")
        elif c == "`":
            self._lose("a backtick")
        elif c == "$":
            return self._dollar(s, i)
        elif c == "\n":
            self._command_break(frame, c, nxt)
            self._newline()
        elif c == "#" and at_word_start:
            if kind == "dparen":  # bash reads it as arithmetic, sh as a comment
                self._lose("# inside (( ))")
            else:
                self._push("comment")
        elif c == "<" and nxt == "<":
            if kind in ("array", "dparen", *_EVALUATED):
                self._lose(f"<< inside {_OPAQUE[kind][0] if kind in _OPAQUE else _EVALUATED[kind]}")
            elif s[i + 2 : i + 3] == "<":
                self._lose("a here-string (<<<)")
            else:
                self._command_break(frame, c, nxt)  # drops an fd number (2<<EOF), as for any redirection
                frame[2].pop()  # and _heredoc reads the delimiter word
                return self._heredoc(s, i)
        elif kind == "array":
            if c == ")":
                self.stack.pop()
            elif c in "(;&|<>":
                self._lose(f"{c!r} inside a bash array assignment =( )")
        elif kind == "dparen":
            return self._paren(s, i)
        elif kind == "dbrack":  # ends at a ]] word (an unmatched ) in it keeps an enclosing $( ) open: refused)
            if at_word_start and s.startswith("]]", i) and s[i + 2 : i + 3] in _WORD_BREAK:
                self.stack.pop()
                return i + 1
        elif kind == "subscript":  # ends at the matching ]
            self._word(c)
            if c == "]" and not frame[1]:
                self.stack.pop()
            frame[1] += {"[": 1, "]": -1}.get(c, 0)
        elif c == "(" and self.prev == "=":
            self._word(_DYNAMIC)
            self._push("array")
        elif c == "(" and nxt == "(" and at_word_start:  # bash: arithmetic; sh: two subshells
            self._push("dparen")
            return i + 1
        elif c == "[" and nxt == "[" and at_word_start and s[i + 2 : i + 3] in ("", *_WORD_BREAK):
            self._push("dbrack")  # bash's conditional command (in sh a command named [[)
            return i + 1
        elif c == "[" and _NAME.fullmatch(frame[3] or ""):  # name[: an array subscript, in an assignment
            self._word(c)
            self._push("subscript")
        elif kind == "sub" and at_word_start and s.startswith("case", i) and s[i + 4 : i + 5] in ("", *_WORD_BREAK):
            self._lose("'case' inside $( )")
        elif kind == "sub" and c == ")" and not frame[1]:
            self.stack.pop()
            if self.heredocs and len(self.stack) < self.heredoc_depth:
                self._lose("a here-document (<<) inside $( ) that ends before its body")
        elif c not in _WORD_BREAK:
            self._word(c)
        else:
            if kind == "sub" and c in "()":
                frame[1] += 1 if c == "(" else -1
            self._command_break(frame, c, nxt)
        return i

    def _word(self, c: str) -> None:
        """Literal text ``c`` in the current word (_DYNAMIC: text the shell expands, ending its literal start)."""
        for frame in self.stack[::-1]:  # the word's plain or sub frame: under quotes and subscripts only
            if frame[0] in ("plain", "sub"):
                if not (frame[3] or "").endswith(_DYNAMIC):
                    frame[3] = (frame[3] or "") + c
                return
            if frame[0] not in ("sq", "dq", "ansi", "subscript"):
                return

    def _end_word(self, frame: list[Any]) -> None:
        word, frame[3] = frame[3], None
        words = frame[2]
        if word is None:
            return
        if words and words[-1] == _REDIRECT:  # a redirection's target is no argument
            words.pop()
        elif word == "{":  # a group or a function's body: a command starts
            words.clear()
        else:
            words.append(word)
            k = _command(words)
            option = word.startswith(("-", "+")) and ("i" in word or "n" in word)
            unknown = word.endswith(_DYNAMIC) and not _ASSIGN.match(word)
            if k < len(words) - 1 and words[k] in ("declare", "typeset", "local") and (option or unknown):
                self.attributes = f"{words[k]} {word.rstrip(_DYNAMIC)}"

    def _command_break(self, frame: list[Any], c: str, nxt: str) -> None:
        """An unquoted blank, operator or newline ``c``: it ends a word, and ; & | ( ) or a newline the command."""
        adjacent = frame[3] is not None
        self._end_word(frame)
        words = frame[2]
        if c in "<>":  # a redirection: its fd number (2>) and its target are not arguments
            if adjacent and words and _FD.fullmatch(words[-1]):
                words.pop()
            if not words or words[-1] != _REDIRECT:
                words.append(_REDIRECT)
        elif c in ";&|()\n" and not (c in "&|" and self.prev in "<>") and not (c == "&" and nxt == ">"):
            frame[2] = []

    def _evaluated(self) -> tuple[str, str] | None:
        """Where bash would evaluate a value substituted here as arithmetic or as a name: (why, hint), or None."""
        for frame in self.stack:
            if frame[0] in _EVALUATED:
                return f"it is inside {_EVALUATED[frame[0]]}", _TEST_HINT if frame[0] == "dbrack" else _HINT
            why = self._argument(frame[2], frame[3] or "") if frame[0] in ("plain", "sub") else None
            if why is not None:  # declare x=VALUE evaluates VALUE if x is an array: x=VALUE does not
                return why, _DECLARE_HINT if why.endswith(("declare", "typeset", "local")) else _HINT
        return None

    def _argument(self, words: list[str], word: str) -> str | None:
        """Why bash would evaluate a value in ``word``, the current word of a command (None: it would not)."""
        words = [w for w in words if w != _REDIRECT]
        k = _command(words)
        name, target = words[k] if k < len(words) else "", _ASSIGN.match(word)
        loop = words[k + 1] if name in ("for", "select") and len(words) > k + 1 else ""
        if target is not None and name in ("", "export", "readonly"):
            if target[1] in _INT_VARS or self.attributes:
                why = "an integer" if target[1] in _INT_VARS else f"after {self.attributes}"
                return f"it is assigned to {target[1]} ({why})"
        elif name in ("export", "readonly"):
            return f"it is in a variable name of {name}"
        if name in _NAME_ARGS or (name == "printf" and any(w.startswith("-v") for w in (*words[k:], word))):
            return f"it is an argument of {name}" + (" -v" if name == "printf" else "")
        if name in ("[", "test") and (words[-1] == "-v" or words[-1].endswith(_DYNAMIC)):
            return f"it follows {'-v' if words[-1] == '-v' else 'an expansion (maybe -v)'} in {name}"
        if loop in _INT_VARS or (loop and self.attributes):
            return f"it is assigned to the loop variable {loop}"
        return None

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
        if nxt == "'" and self.stack[-1][0] not in ("dq", "arith"):
            self._word("")
            self._push("ansi")
            return i + 1
        self._word(_DYNAMIC)
        if nxt and nxt in "$?#!-@*0123456789":  # a special parameter such as $$ or $#: one token
            return i + 1
        if nxt == "(":
            if s[i + 2 : i + 3] == "(":
                self._push("arith")
                return i + 2
            self._push("sub")
            return i + 1
        if nxt == "{":
            self._push("brace")
            return i + 1
        if nxt == "[":  # bash: arithmetic up to the matching ]; sh: text
            self._lose("$[ ] (bash's old $(( )))")
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
            self._push("heredoc")
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
        problem: str | None = None
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
        if problem is not None:
            tail = "where dagctl cannot tell how the shell will read it"
            env = 'pass the value through env: and use "$NAME"'
            hint = f"move the reference out of it, or {env}"
            if inside in ("arith", "dparen"):
                hint = f'bash evaluates even "$NAME" here, so check it ([ "$NAME" -eq "$NAME" ] || exit 1), {env}'
        elif (evaluated := self._evaluated()) is not None:
            problem, hint = evaluated
            tail = "where bash evaluates a value as arithmetic or as a name, running any $( ) in it (as in x[$(cmd)])"
        else:
            return None
        message = f"cannot shell-quote {ref.source} at column {ref.start + 1}: {problem}, {tail}"
        return TemplateError(message, hint=hint.format(src=ref.source))

    def substitute(self) -> None:
        """Account for a value substituted here (:meth:`quote` does): it is part of the current word."""
        self._word(_DYNAMIC)
        self.prev = "x"

    def quote(self, value: str, ref: Reference) -> str:
        kind = self.stack[-1][0]
        problem = self.problem(ref)
        if problem is not None:
            raise problem
        self.substitute()
        if kind == "comment":  # a newline in the value would end the comment: keep every line commented
            return shlex.quote(value).replace("\n", "\n# ")
        if kind == "sq":
            return value.replace("'", "'\\''")
        if kind == "dq":
            return re.sub(r'([\\"$`])', r"\\\1", value)
        return shlex.quote(value)


# ---------------------------------------------------------------------------------------------- rendering
