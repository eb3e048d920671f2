"""Everything that draws on the terminal, in plain text and ANSI escape sequences (no rich: importing it alone
costs ~90 ms, and its tables cut numbers and statuses to fit a narrow terminal).

Lists (:func:`print_rows`) and reports (:func:`print_table`) are aligned text; on a terminal they are fitted to
its width (:func:`fit_table`, :func:`fit_report`), in a pipe they are whole. The live view
(:mod:`dagctl.cli.view`), lists, reports and the charts here draw with :class:`TermStyle`: plain ANSI escape
sequences, cheap enough for the path of ``dagctl run``, honouring ``NO_COLOR`` (no escape sequences at all)
and terminals whose locale is not UTF-8.
"""

from __future__ import annotations

import json
import os
import sys

from dagctl.report.fmt import without_escapes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

    from dagctl.report.timeline import Lane, Timeline


def echo(text: str = "") -> None:
    write(sys.stdout, text + "\n")


def echo_err(text: str) -> None:
    write(sys.stderr, text + "\n")


def echo_json(data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str, allow_nan=False) + "\n"
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:  # an output encoding that cannot hold it (latin-1, ASCII): JSON's own escapes
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=True, default=str, allow_nan=False) + "\n")


def write(stream: Any, text: str) -> None:
    """Write ``text`` to ``stream``, never failing on its encoding: what an ISO-8859-1 or ASCII terminal (or
    ``PYTHONIOENCODING``) cannot hold is written as ``?``, and a lone surrogate as ``?`` anywhere."""
    try:
        stream.write(text)
    except UnicodeEncodeError:  # raised before anything is written: the whole text is encoded first
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "replace").decode(encoding, "replace"))


def use_color() -> bool:
    return "NO_COLOR" not in os.environ and sys.stdout.isatty()


class TermStyle:
    """How to draw on one terminal: with colours or not (``NO_COLOR``, not a TTY), in Unicode or in ASCII (a
    terminal whose locale is not UTF-8, e.g. ``LC_ALL=C`` or ``LANG=en_US.ISO-8859-1``). Only ANSI escape
    sequences, no rich: the live view is on the path of ``dagctl run``, where importing rich costs ~90 ms."""

    SYMBOLS: ClassVar[dict[str, str]] = {
        "running": "▶",
        "retrying": "↻",
        "waiting": "‖",
        "failed": "✗",
        "queued": "○",
        "pending": "·",
        "success": "✓",
        "reused": "≡",
        "skipped": "–",
        "cancelled": "■",
    }
    ASCII_SYMBOLS: ClassVar[dict[str, str]] = {
        "running": ">",
        "retrying": "r",
        "waiting": "w",
        "failed": "x",
        "queued": "o",
        "pending": ".",
        "success": "+",
        "reused": "=",
        "skipped": "-",
        "cancelled": "!",
    }
    SGR: ClassVar[dict[str, str]] = {
        "running": "36",
        "retrying": "33",
        "waiting": "33",
        "failed": "1;31",
        "queued": "",
        "pending": "2",
        "success": "32",
        "reused": "2;32",
        "skipped": "2",
        "cancelled": "35",
        "abandoned": "1;35",
        "paused": "33",
        "timeout": "1;31",
        "retried": "33",
        "dim": "2",
        "bold": "1",
        "critical": "1;31",
    }

    def __init__(self, *, color: bool, unicode: bool) -> None:
        self.color = color
        self.unicode = unicode
        self.symbols = self.SYMBOLS if unicode else self.ASCII_SYMBOLS
        self.ellipsis = "…" if unicode else "~"

    @classmethod
    def of(cls, stream: Any) -> TermStyle:
        """The style for ``stream``: colours on a TTY without ``NO_COLOR``; Unicode when its encoding and the
        locale are UTF-8."""
        tty = bool(getattr(stream, "isatty", lambda: False)())
        return cls(color=tty and "NO_COLOR" not in os.environ, unicode=unicode_ok(stream))

    def symbol(self, status: str) -> str:
        return self.symbols.get(status, "?")

    def text(self, text: str) -> str:
        """``text`` with its typographic characters (· → … —) spelled in ASCII when the terminal needs it."""
        if self.unicode or text.isascii():
            return text
        for fancy, plain in (("·", "-"), ("→", "->"), ("…", "..."), ("—", "-"), ("◆", "*")):
            text = text.replace(fancy, plain)
        return text

    def clean(self, text: str) -> str:
        """``text`` as this terminal can show it: without escape sequences and control characters
        (:func:`printable`), and, on a terminal that is not UTF-8, in ASCII (:func:`ascii_text`)."""
        if not text.isprintable():
            text = printable(text)
        if not self.unicode and not text.isascii():
            text = ascii_text(self.text(text))
        return text

    def paint(self, text: str, style: str) -> str:
        sgr = self.SGR.get(style, style)
        return f"\x1b[{sgr}m{text}\x1b[0m" if self.color and sgr and text else text


def unicode_ok(stream: Any) -> bool:
    """Can ``stream`` show Unicode symbols? Its encoding must be UTF-8 and so must the locale, when one is set:
    Python writes UTF-8 under ``LC_ALL=C`` (its UTF-8 mode), which such a terminal shows as garbage."""
    encoding = (getattr(stream, "encoding", None) or "ascii").lower().replace("-", "").replace("_", "")
    if encoding != "utf8":
        return False
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(name)
        if value:
            value = value.lower().replace("-", "")
            return "utf8" in value
    return True


def text_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide East Asian characters count 2; combining marks, joiners
    (U+200D) and escape sequences 0 (it is measured as :func:`printable` has it).

    Text that is not ASCII is measured character by character, once: the live view measures the same symbols
    and bars on every frame (a bounded memo keeps the answers)."""
    if text.isascii() and text.isprintable():
        return len(text)
    width = _WIDTHS.get(text)
    if width is None:
        shown = text if text.isprintable() else printable(text)  # as it is shown: escape sequences take no column
        if shown != text:
            width = text_width(shown)
        elif text.translate(_NARROW).isascii():  # ASCII and the views' own symbols: one column each
            width = len(text)
        else:
            import unicodedata

            width = 0
            for ch in text:
                if unicodedata.combining(ch) or unicodedata.category(ch) in _ZERO_WIDTH:
                    continue
                width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if len(_WIDTHS) >= 4096:
            _WIDTHS.clear()
        _WIDTHS[text] = width
    return width


_WIDTHS: dict[str, int] = {}
_NARROW = str.maketrans(dict.fromkeys("✓▶↻‖✗○·≡–■━─…→—◆", "x"))
"""The symbols, bars and punctuation the views draw (all one column wide, none combining), as ASCII."""
_ZERO_WIDTH = ("Mn", "Me", "Cf")
"""Unicode categories that take no column: non-spacing and enclosing marks (variation selectors too), and
format characters (the joiners :func:`printable` keeps)."""


def clip(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to ``width`` columns, ending with ``ellipsis`` when cut (and :func:`printable`)."""
    if width <= 0:
        return ""
    if not text.isprintable():  # never cut inside an escape sequence, nor count it
        text = printable(text)
    if text_width(text) <= width:
        return text
    if text.isascii():
        return text[: max(width - len(ellipsis), 0)] + ellipsis[:width]
    out, used = [], text_width(ellipsis)
    for ch in text:
        w = text_width(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out) + ellipsis


def printable(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (a task's output, or its error, may have
    both): escape sequences go; a tab, ``\\r``, a newline and other controls become a space; lone surrogates
    ``?``. Joiners (U+200C, U+200D) stay, so an emoji sequence is not broken up by spaces."""
    if text.isprintable():
        return text
    text = without_escapes(text)
    return "".join(ch if ch.isprintable() or ch in _JOINERS else _unprintable(ch) for ch in text)


_JOINERS = "\u200c\u200d"


def _unprintable(ch: str) -> str:
    return "?" if "\ud800" <= ch <= "\udfff" else " "


def ascii_text(text: str) -> str:
    """``text`` in ASCII, for a terminal that is not UTF-8: accents and joiners dropped (``café`` → ``cafe``),
    compatibility forms spelled plainly (``ＡＢＣ`` → ``ABC``), anything else ``?`` (one column each)."""
    if text.isascii():
        return text
    import unicodedata

    plain = "".join(
        ch
        for ch in unicodedata.normalize("NFKD", text)
        if not unicodedata.combining(ch) and unicodedata.category(ch) not in _ZERO_WIDTH
    )
    return plain.encode("ascii", "replace").decode("ascii")


def compose(pieces: list[tuple[str, str]], width: int, style: TermStyle) -> str:
    """One line of ``(text, style)`` pieces, each made fit for the terminal (:meth:`TermStyle.clean`), cut to
    ``width`` columns, painted when the style has colours."""
    out, left, unicode = [], width, style.unicode
    for text, sgr in pieces:
        if left <= 0:
            break
        if not (text.isprintable() and (unicode or text.isascii())):  # what a task wrote: never an escape sequence
            text = style.clean(text)
        w = len(text) if text.isascii() else text_width(text)  # printable by now: ASCII is a column a character
        if w > left:
            text, w = clip(text, left, style.ellipsis), left
        out.append(style.paint(text, sgr))
        left -= w
    return "".join(out)


RUN_ID_SHORT = 6
"""Characters of a run id shown where the whole id does not fit: its random tail (``f97d2f``), which every
command accepts in place of the id (:meth:`dagctl.store.history.History.resolve`)."""


def short_run_id(run_id: str) -> str:
    return run_id[-RUN_ID_SHORT:] if len(run_id) > RUN_ID_SHORT else run_id


def clip_start(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut at its start to ``width`` columns (a path keeps its file name)."""
    if text_width(text) <= width:
        return text
    keep = max(width - text_width(ellipsis), 0)
    return ellipsis + (text[-keep:] if keep else "")


def fit_table(
    headers: list[str], rows: list[list[str]], kinds: list[str], width: int | None
) -> tuple[list[str], list[list[str]], bool]:
    """Cells that fit ``width`` columns (two spaces between columns): pure, so it is tested at any width.

    ``kinds`` per column: ``fixed`` is never cut (dates, statuses, numbers, job ids), ``run`` holds run ids
    (shortened to their tail, :func:`short_run_id`, when the table is too wide), ``path`` is cut at its start,
    ``text`` at its end; the widest cuttable column gives way first, down to 6 to 8 columns (its header's width).
    Returns the headers, the rows and whether run ids were shortened. ``width`` None: no limit (a pipe).
    """
    n = len(headers)
    cells = [[printable(c) for c in row] + [""] * (n - len(row)) for row in rows]

    def natural() -> list[int]:
        return [max([text_width(headers[i])] + [text_width(r[i]) for r in cells]) for i in range(n)]

    widths = natural()
    total = sum(widths) + 2 * (n - 1)
    shortened = False
    if width is None or total <= width:
        return headers, cells, shortened
    if "run" in kinds:
        cells = [[short_run_id(c) if kinds[i] == "run" else c for i, c in enumerate(r)] for r in cells]
        shortened = True
        widths = natural()
        total = sum(widths) + 2 * (n - 1)
    cut = ("text", "path")
    floors = [max(6, min(text_width(headers[i]), 8)) if kinds[i] in cut else widths[i] for i in range(n)]
    while total > width:
        room = [i for i in range(n) if widths[i] > floors[i]]
        if not room:
            break  # as narrow as it goes: the terminal wraps what is left
        widest = max(room, key=lambda i: widths[i] - floors[i])
        others = sorted((widths[i] for i in room if i != widest), reverse=True)
        step = max(1, min(total - width, widths[widest] - max(floors[widest], others[0] if others else 0)))
        widths[widest] -= step
        total -= step
    out = [
        [clip_start(c, widths[i]) if kinds[i] == "path" else clip(c, widths[i]) if kinds[i] == "text" else c
         for i, c in enumerate(r)]
        for r in cells
    ]  # fmt: skip
    return [clip(h, widths[i]) for i, h in enumerate(headers)], out, shortened


def terminal_columns() -> int | None:
    """The width to fit tables to: the terminal's when stdout is one; None for pipes and files."""
    if not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def print_rows(
    title: str | None,
    headers: list[str],
    rows: list[list[Any]],
    *,
    styles: dict[str, str] | None = None,
    caption: str | None = None,
    kinds: list[str] | None = None,
    width: int | None = None,
) -> None:
    """A table on stdout, aligned, two spaces between columns; on a terminal fitted to its width
    (:func:`fit_table`, ``kinds`` per column, ``text`` by default) and its status words coloured.

    Cells whose text is a key of ``styles`` (status words: :data:`STATUS_STYLES`) are painted in that
    status's colour (:attr:`TermStyle.SGR`).
    """
    width = width if width is not None else terminal_columns()
    text_rows = [["" if c is None else str(c) for c in row] for row in rows]
    kinds = kinds or ["text"] * len(headers)
    heads, cells, shortened = fit_table([h.upper() for h in headers], text_rows, kinds, width)
    style = TermStyle.of(sys.stdout)
    widths = [max([text_width(heads[i])] + [text_width(r[i]) for r in cells]) for i in range(len(heads))]

    def line(row: list[str], paint: bool) -> str:
        out = []
        for c, w in zip(row, widths, strict=False):
            pad = " " * (w - text_width(c))
            painted = style.paint(c, c) if paint and styles and c in styles and c in style.SGR else c
            out.append(painted + pad)
        return "  ".join(out).rstrip()

    if title:
        echo(title)
    echo(line(heads, False))
    for row in cells:
        echo(line(row, True))
    if shortened:
        echo(f"(run ids shortened to their last {RUN_ID_SHORT} characters; every command accepts them)")
    if caption:
        echo(caption)


STATUS_STYLES = {
    "success": "green",
    "failed": "bold red",
    "running": "cyan",
    "cancelled": "magenta",
    "abandoned": "bold magenta",
    "skipped": "dim",
    "retrying": "yellow",
    "timeout": "bold red",
    "waiting": "yellow",
    "paused": "yellow",
}


# --------------------------------------------------------------------------------------------- tables


def fit_report(
    headers: list[str], rows: list[list[str]], kinds: list[str], width: int | None, *, drop: tuple[int, ...] = ()
) -> tuple[list[int], list[str], list[list[str]], bool]:
    """A report's columns and cells that fit ``width`` columns: pure, so it is tested at any width.

    What gives way, in this order, until the table fits: run ids are shortened to their tail
    (:func:`short_run_id`); columns are left out: first those with nothing in them (every cell empty or
    ``-``), then those of ``drop`` (column indexes, the first left out first); last, ``text`` and ``path``
    columns are cut (:func:`fit_table`). Numbers, statuses and dates (``fixed``) are never cut.
    Returns the indexes of the columns kept, their headers, the rows (kept columns only) and whether run ids
    were shortened. ``width`` None: no limit (a pipe), everything whole.
    """
    n = len(headers)
    cells = [[printable(c) for c in row] + [""] * (n - len(row)) for row in rows]
    keep = list(range(n))

    def total() -> int:
        widths = [max([text_width(headers[i])] + [text_width(r[i]) for r in cells]) for i in keep]
        return sum(widths) + 2 * (len(keep) - 1)

    if width is None or total() <= width:
        return keep, list(headers), cells, False
    shortened = any(kinds[i] == "run" and short_run_id(c) != c for r in cells for i, c in enumerate(r))
    cells = [[short_run_id(c) if kinds[i] == "run" else c for i, c in enumerate(r)] for r in cells]
    empty = [i for i in range(n) if cells and all(r[i] in ("", "-") for r in cells)]
    for i in [*empty, *(i for i in drop if i not in empty)]:
        if total() <= width or len(keep) == 1:
            break
        keep.remove(i)
    heads, out, _ = fit_table(
        [headers[i] for i in keep], [[r[i] for i in keep] for r in cells], [kinds[i] for i in keep], width
    )
    return keep, heads, out, shortened


def print_table(
    title: str,
    columns: list[tuple[str, str]],
    rows: list[list[str]],
    *,
    status_column: int | None = None,
    caption: str | None = None,
    kinds: list[str] | None = None,
    drop: tuple[int, ...] = (),
    width: int | None = None,
) -> None:
    """A titled report on stdout: aligned columns, two spaces apart, a blank line after it.

    ``columns`` are ``(header, "left"|"right")``; cells are plain text. On a terminal the table is fitted to
    its width (:func:`fit_report`: ``kinds`` per column as :func:`fit_table` has them, ``fixed`` by default;
    ``drop``, the columns that may be left out, least useful first), lines under it say what gave way, a title
    too long for it wraps, and the title and the statuses of ``status_column`` are painted (:class:`TermStyle`:
    nothing under ``NO_COLOR``). In a pipe or a file nothing is cut, wrapped or painted.
    """
    width = width if width is not None else terminal_columns()
    style = TermStyle.of(sys.stdout)
    kinds = kinds or ["fixed"] * len(columns)
    headers = [h.upper() for h, _ in columns]
    keep, heads, cells, shortened = fit_report(headers, rows, kinds, width, drop=drop)
    right = [columns[i][1] == "right" for i in keep]
    status = keep.index(status_column) if status_column in keep else None
    widths = [max([text_width(heads[j])] + [text_width(r[j]) for r in cells]) for j in range(len(keep))]

    def line(row: list[str], paint: bool) -> str:
        out = []
        for j, c in enumerate(row):
            pad = " " * (widths[j] - text_width(c))
            painted = style.paint(c, c) if paint and j == status and c in style.SGR else c
            out.append(pad + painted if right[j] else painted + pad)
        return "  ".join(out).rstrip()

    title = style.text(title)
    if width is not None and text_width(title) > width:  # a long headline (a trend's) wraps at a word
        import textwrap

        title = "\n".join(textwrap.wrap(title, width, break_long_words=False, break_on_hyphens=False))
    echo("\n".join(style.paint(part, "bold") for part in title.split("\n")))
    echo(line(heads, False))
    for row in cells:
        echo(line(row, True))
    if shortened:
        echo(f"(run ids shortened to their last {RUN_ID_SHORT} characters; every command accepts them)")
    if len(keep) < len(columns):
        left_out = ", ".join(headers[i] for i in range(len(columns)) if i not in keep)
        echo(f"(left out to fit: {left_out}; --json has them)")
    if caption:
        echo(caption)
    echo()


# --------------------------------------------------------------------------------------------- charts

GANTT_CELLS = {
    "success": ("█", "#"),
    "retried": ("▒", "r"),
    "failed": ("▓", "X"),
    "timeout": ("▚", "T"),
    "cancelled": ("╳", "C"),
    "running": ("▸", ">"),
    "queued": ("░", "."),
    "retry_wait": ("┄", "~"),
    "approval": ("‖", "w"),
    "group": ("═", "="),
    "paused": ("╱", "/"),
}
"""A chart cell's character (Unicode, ASCII) by what happens there; each reads without colours too."""
GANTT_STYLES = {
    "queued": "dim",
    "retry_wait": "retrying",
    "approval": "waiting",
    "retried": "retried",
    "running": "running",
    "group": "dim",
    "paused": "paused",
}
GANTT_LEGEND = (
    ("success", "ok"),
    ("retried", "failed, retried"),
    ("failed", "failed"),
    ("timeout", "timed out"),
    ("cancelled", "cancelled"),
    ("running", "running"),
    ("queued", "queued"),
    ("retry_wait", "retry wait"),
    ("approval", "wait for approval"),
    ("group", "matrix cells"),
    ("paused", "run paused"),
)


def gantt_lines(timeline: Timeline, width: int, style: TermStyle) -> list[str]:
    """A run's timeline as a terminal chart ``width`` columns wide: a line per task, time left to right, the
    critical path marked with a diamond, each task's duration at its end (as ``dagctl show`` formats it). The
    scaling is :func:`dagctl.report.timeline.columns`'."""
    from dagctl.dag.durations import format_duration
    from dagctl.report.timeline import columns, details, ticks

    width = max(width - 1, 40)
    lanes = timeline.lanes
    mark = "◆" if style.unicode else "*"

    def name_of(lane: Lane) -> str:
        return ("  " if lane.parent is not None else "") + lane.task_id

    took = {lane.task_id: format_duration(d) for lane in lanes if (d := lane.duration_s) is not None}
    for lane in lanes:  # a gate skipped or cancelled before its decision: no attempt says how it ended
        if lane.task_id in took and not lane.attempts and lane.group is None and lane.status != "waiting":
            took[lane.task_id] += f" {lane.status}"
    took_w = 1 + max((len(text) for text in took.values()), default=5)  # a space, then the longest duration
    label_w = min(max((text_width(name_of(lane)) for lane in lanes), default=4), max(width // 3, 8))
    chart_w = max(width - label_w - 3 - 2 - took_w, 10)  # marker and spaces, the chart's two borders, durations
    span = timeline.span_s if timeline.span_s > 0 else 1.0
    edge = "│" if style.unicode else "|"
    out = [
        compose([(fit_headline(timeline, width, style.ellipsis), "bold")], width, style),
        compose([(style.text(details(timeline)), "dim")], width, style),
    ]
    axis = [" "] * chart_w
    for tick in ticks(span, chart_w, min_gap=9):
        at = min(int(tick.position), chart_w - 1)
        label = tick.label
        if at + len(label) > chart_w:
            at = chart_w - len(label)
        if at < 0 or any(c != " " for c in axis[max(at - 1, 0) : at + len(label) + 1]):
            continue
        axis[at : at + len(label)] = label
    out.append(compose([(" " * (label_w + 4) + "".join(axis).rstrip(), "dim")], width, style))
    for lane in lanes:
        cells = columns(lane, span, chart_w, timeline.pauses)
        pieces: list[tuple[str, str]] = [
            (f"{mark} " if lane.critical else "  ", "critical"),
            (clip(name_of(lane), label_w, style.ellipsis).ljust(label_w) + " ", "critical" if lane.critical else ""),
            (edge, "dim"),
        ]
        if not lane.attempts and lane.group is None and lane.waiting is None:
            note = clip(style.clean(lane.status + (f": {lane.note}" if lane.note else "")), chart_w, style.ellipsis)
            pieces.append((note + " " * (chart_w - text_width(note)), "dim"))
        else:
            i = 0
            while i < chart_w:
                j = i
                while j < chart_w and cells[j] == cells[i]:
                    j += 1
                code = cells[i]
                char = GANTT_CELLS[code][0 if style.unicode else 1] if code else " "
                pieces.append((char * (j - i), GANTT_STYLES.get(code, code)))
                i = j
        pieces.append((edge, "dim"))
        pieces.append((f" {took[lane.task_id]}" if lane.task_id in took else "", "dim"))
        out.append(compose(pieces, width, style).rstrip())
    legend: list[list[tuple[str, str]]] = []
    seen = {c for lane in lanes for c in columns(lane, span, chart_w, timeline.pauses) if c}
    for code, words in GANTT_LEGEND:
        if code in seen:
            legend.append(
                [(GANTT_CELLS[code][0 if style.unicode else 1], GANTT_STYLES.get(code, code)), (f" {words}", "dim")]
            )
    if timeline.critical_path:
        legend.append([(f"{mark} critical path", "critical")])
    out.extend(compose(line, width, style) for line in wrap_items(legend, width, gap=2))
    return out


def fit_headline(timeline: Timeline, width: int, ellipsis: str = "…") -> str:
    """A timeline's headline (``name · run ID: success in 3.4s``, :func:`dagctl.report.timeline.headline`) in
    ``width`` columns: the run id gives way first, shortened to its tail (:func:`short_run_id`), then left out;
    then the DAG's name is cut. The outcome and the time stay."""
    from dagctl.report.timeline import headline

    text = headline(timeline)
    if text_width(text) <= width or not timeline.run_id:
        return text
    long = f" · run {timeline.run_id}"
    for shorter in (f" · run {short_run_id(timeline.run_id)}", ""):
        fitted = text.replace(long, shorter, 1)
        if text_width(fitted) <= width:
            return fitted
    name, verb = fitted.rsplit(": ", 1) if ": " in fitted else (fitted, "")
    if not verb:
        return fitted
    return clip(name, max(width - text_width(verb) - 2, 4), ellipsis) + ": " + verb  # a long name: cut, not the time


def wrap_items(items: list[list[tuple[str, str]]], width: int, gap: int = 2) -> list[list[tuple[str, str]]]:
    """Items of ``(text, style)`` pieces laid out on lines of at most ``width`` columns, ``gap`` spaces apart, an
    item never split (one wider than the line is cut where it is drawn)."""
    lines: list[list[tuple[str, str]]] = []
    used = 0
    for item in items:
        w = sum(text_width(t) for t, _ in item)
        if lines and used + gap + w <= width:
            lines[-1].append((" " * gap, ""))
            lines[-1].extend(item)
            used += gap + w
        else:
            lines.append(list(item))
            used = w
    return lines
