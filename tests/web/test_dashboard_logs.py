"""The run page's log panel in a real browser: long logs, colours, matrix cells and loops."""

from __future__ import annotations

from pathlib import Path

from tests.web.browser_support import (
    attribute,
    click,
    query,
    severe_console,
    text_of,
    waiter,
)
from tests.web.conftest import dag_text

LONG = """
name: long
tasks:
  - id: chatty
    run: seq 1 30000
  - id: colours
    run: printf '\\033[1;31mred\\033[0m plain \\033[32mgreen\\033[0m\\n'
"""

UNITS = """
name: units
tasks:
  - id: cells
    matrix:
      n: [1, 2, 3]
      c: [a, b]
    run: 'echo "cell ${matrix.n}${matrix.c}"; test ${matrix.n} -ne 3 -o "${matrix.c}" != b'
  - id: loop
    run: 'echo "iter $DAGCTL_ITERATION"; echo "i=$DAGCTL_ITERATION" > "$DAGCTL_OUTPUT"'
    repeat: {until: "outputs.loop.i >= 3", max_iterations: 5}
"""


def test_a_long_log_is_shown_at_once_and_the_panel_keeps_its_end(live, web_project: Path, browser) -> None:
    (web_project / "configs" / "dags" / "long.yaml").write_text(dag_text(LONG))
    server = live()
    run_id = server.start("long")
    server.wait_for_run(run_id)
    browser.get(f"{server.url}/runs/{run_id}")
    click(browser, '#task-rows a[data-focus="row:chatty"]')
    # 30,000 lines, one by one with a scroll check each, took minutes; batched per frame, a moment
    waiter(browser, 20).until(lambda d: text_of(d, "log-state") == "(ended)")
    shown = text_of(browser, "log").splitlines()
    assert shown[-1] == "30000" and 5000 <= len(shown) <= 6000  # the end of it, not all of it
    assert shown[0] == str(30001 - len(shown))
    assert f"showing the last {len(shown):,} of 30,000 lines" in text_of(browser, "log-note")
    whole = attribute(browser, "#log-raw", "href")
    assert whole == f"/api/runs/{run_id}/logs/chatty/text?attempt=1"
    text = server.client.get(whole)
    assert text.status_code == 200 and text.text.splitlines() == [str(n) for n in range(1, 30001)]
    assert severe_console(browser) == []


def test_colours_in_a_log_are_drawn_not_shown_as_escape_codes(live, web_project: Path, browser) -> None:
    (web_project / "configs" / "dags" / "long.yaml").write_text(dag_text(LONG))
    server = live()
    run_id = server.start("long")
    server.wait_for_run(run_id)
    browser.get(f"{server.url}/runs/{run_id}")
    click(browser, '#task-rows a[data-focus="row:colours"]')
    waiter(browser).until(lambda d: text_of(d, "log-state") == "(ended)")
    assert text_of(browser, "log") == "red plain green\n"
    assert query(browser, "#log .ansi-fg-1.ansi-bold") == ["red"]
    assert query(browser, "#log .ansi-fg-2") == ["green"]


def test_a_matrix_cells_log_opens_and_its_cells_are_listed(live, web_project: Path, browser) -> None:
    (web_project / "configs" / "dags" / "units.yaml").write_text(dag_text(UNITS))
    server = live()
    run_id = server.start("units")
    server.wait_for_run(run_id)
    browser.get(f"{server.url}/runs/{run_id}")
    waiter(browser).until(lambda d: len(query(d, "#task-rows tr", "data-task")) >= 7)  # drawn by the page's script
    rows = query(browser, "#task-rows tr", "data-task")
    assert rows[:7] == ["cells", "cells:0", "cells:1", "cells:2", "cells:3", "cells:4", "cells:5"]
    failed = query(browser, '#task-rows tr[data-task="cells:5"] td')
    assert failed[0] == "cells:5 [n=3, c=b]" and failed[1] == "failed"
    click(browser, '#gantt g.lane[data-task="cells:5"]')  # the lane of a cell, as the table's row
    waiter(browser).until(lambda d: text_of(d, "log-state") == "(ended)")
    assert text_of(browser, "log") == "cell 3b\n"
    click(browser, '#task-rows a[data-focus="row:cells"]')
    waiter(browser).until(lambda d: text_of(d, "log-state") == "(no output)")
    assert "each of its 6 cells has a log of its own" in text_of(browser, "log-note")
    assert severe_console(browser) == []


def test_a_loops_log_shows_its_iterations_and_one_can_be_picked(live, web_project: Path, browser) -> None:
    (web_project / "configs" / "dags" / "units.yaml").write_text(dag_text(UNITS))
    server = live()
    run_id = server.start("units")
    server.wait_for_run(run_id)
    browser.get(f"{server.url}/runs/{run_id}")
    click(browser, '#task-rows a[data-focus="row:loop"]')
    waiter(browser).until(lambda d: text_of(d, "log-state") == "(ended)")
    assert text_of(browser, "log").splitlines() == [
        "--- iteration 1, attempt 1 ---", "iter 1",
        "--- iteration 2, attempt 1 ---", "iter 2",
        "--- iteration 3, attempt 1 ---", "iter 3",
    ]  # fmt: skip
    assert query(browser, "#log-iteration option") == ["all", "1", "2", "3"]
    browser.execute_script(
        "const s = document.getElementById('log-iteration'); s.value = '2'; s.dispatchEvent(new Event('change'));"
    )
    waiter(browser).until(lambda d: text_of(d, "log-state") == "(ended)" and "iter 2" in text_of(d, "log"))
    assert text_of(browser, "log").splitlines() == ["--- iteration 2, attempt 1 ---", "iter 2"]
    assert attribute(browser, "#log-raw", "href") == f"/api/runs/{run_id}/logs/loop/text?iteration=2&attempt=1"
