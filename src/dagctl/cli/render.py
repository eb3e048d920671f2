"""Everything that draws on the terminal. The only module that imports rich (lazily)."""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def echo(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def echo_err(text: str) -> None:
    sys.stderr.write(text + "\n")


def echo_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def use_color() -> bool:
    return "NO_COLOR" not in os.environ and sys.stdout.isatty()


def console(stderr: bool = False):  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False)


class LiveView:
    """A live table of task states for a terminal. Call ``start()``/``stop()`` around the run."""

    MAX_ROWS = 18

    def __init__(self, dag_name: str, total: int) -> None:
        import threading

        from rich.live import Live

        self.dag_name = dag_name
        self.total = total
        self.rows: dict[str, list[str]] = {}
        self.counts = {"success": 0, "failed": 0, "skipped": 0, "cancelled": 0}
        self._lock = threading.Lock()
        self._live = Live(
            self._render(),
            console=console(stderr=True),
            refresh_per_second=8,
            transient=False,
            get_renderable=self._render,
        )

    def start(self) -> None:
        self._live.start()

    def stop(self) -> None:
        self._live.stop()

    def emit(self, event: Any) -> None:
        kind = event.kind
        tid = getattr(event, "task_id", None)
        if not tid:
            return
        with self._lock:
            if kind == "task_start":
                self.rows[tid] = ["running", str(event.attempt), "", ""]
            elif kind == "task_ok":
                self.rows[tid] = ["success", str(event.attempt), f"{event.duration_s:.2f}s", ""]
                self.counts["success"] += 1
            elif kind == "task_retry":
                self.rows[tid] = ["retrying", str(event.attempt), "", f"in {event.delay_s:.1f}s: {event.error}"]
            elif kind == "task_fail":
                self.rows[tid] = ["failed", str(event.attempt), f"{event.duration_s:.2f}s", str(event.error)]
                self.counts["failed"] += 1
            elif kind == "task_skip":
                self.rows[tid] = ["skipped" if event.status != "success" else "reused", "", "", event.reason]
                self.counts["skipped" if event.status != "success" else "success"] += 1
            elif kind == "task_cancel":
                self.rows[tid] = ["cancelled", str(event.attempt or ""), "", event.reason]
                self.counts["cancelled"] += 1

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _render(self) -> Any:
        from rich.table import Table

        styles = {
            "running": "cyan",
            "success": "green",
            "failed": "bold red",
            "retrying": "yellow",
            "skipped": "dim",
            "reused": "dim green",
            "cancelled": "magenta",
        }
        with self._lock:
            done = sum(self.counts.values())
            table = Table(
                title=f"{self.dag_name}: {done}/{self.total} done, {self.counts['success']} ok, "
                f"{self.counts['failed']} failed, {self.counts['skipped']} skipped",
                title_justify="left",
                expand=False,
            )
            for col in ("task", "status", "try", "time", "note"):
                table.add_column(col, overflow="ellipsis", no_wrap=True, max_width=60 if col == "note" else None)
            items = list(self.rows.items())
            active = [i for i in items if i[1][0] in ("running", "retrying", "failed")]
            rest = [i for i in items if i[1][0] not in ("running", "retrying", "failed")]
            shown = (active + rest[-max(0, self.MAX_ROWS - len(active)) :])[: self.MAX_ROWS]
            for tid, (status, attempt, took, note) in shown:
                table.add_row(tid, f"[{styles.get(status, '')}]{status}[/]", attempt, took, note)
            hidden = len(items) - len(shown)
            if hidden > 0:
                table.caption = f"{hidden} more finished tasks not shown"
        return table


def print_rows(
    title: str | None,
    headers: list[str],
    rows: list[list[Any]],
    *,
    styles: dict[str, str] | None = None,
    caption: str | None = None,
) -> None:
    """A table on stdout: rich on a terminal, aligned plain text otherwise (pipes, cron mail, CI logs).

    ``styles`` maps a cell's text (e.g. a status word) to a rich style.
    """
    cells = [["" if c is None else str(c) for c in row] for row in rows]
    if sys.stdout.isatty():
        from rich.table import Table

        table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
        for h in headers:
            table.add_column(h, overflow="fold")
        for row in cells:
            table.add_row(*[f"[{styles[c]}]{c}[/]" if styles and c in styles else c for c in row])
        console().print(table)
        return
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    if title:
        echo(title)
    echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
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
}


# --------------------------------------------------------------------------------------------- tables


def print_table(
    title: str,
    columns: list[tuple[str, str]],
    rows: list[list[str]],
    *,
    status_column: int | None = None,
    caption: str | None = None,
) -> None:
    """A titled table on stdout with aligned columns: rich on a terminal, plain text otherwise.

    ``columns`` are ``(header, "left"|"right")``; cells are plain text (never read as markup); the cells
    of ``status_column`` are coloured by :data:`STATUS_STYLES` on a terminal.
    """
    if not sys.stdout.isatty():
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, (h, _) in enumerate(columns)]

        def line(cells: list[str]) -> str:
            return "  ".join(
                c.rjust(w) if j == "right" else c.ljust(w) for c, w, (_, j) in zip(cells, widths, columns, strict=False)
            ).rstrip()

        echo(title)
        echo(line([h.upper() for h, _ in columns]))
        for row in rows:
            echo(line(row))
        if caption:
            echo(caption)
        echo()
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for header, justify in columns:
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(
            *[Text(cell, style=STATUS_STYLES.get(cell, "") if i == status_column else "") for i, cell in enumerate(row)]
        )
    console().print(table)
