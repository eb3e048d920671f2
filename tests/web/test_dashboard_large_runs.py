"""Runs with more tasks than the run page draws (400): every task is still listed and counted, Retry knows about
all of them, and following such a run live costs a few refetches, not one per event."""

from __future__ import annotations

from pathlib import Path

from tests.web.browser_support import (
    attribute,
    query,
    requests_to,
    severe_console,
    text_of,
    waiter,
)

WIDE = 405
"""Tasks beside the root: more than the 400 the page draws."""


def wide_dag(name: str, failing: str | None = None, run: str = "true") -> str:
    lines = [f"name: {name}", "tasks:", "  - {id: root, run: 'true'}"]
    for n in range(WIDE):
        tid = f"t{n:04d}"
        lines.append(f"  - {{id: {tid}, run: '{'exit 3' if tid == failing else run}', depends_on: root}}")
    return "\n".join(lines) + "\n"


def test_a_failure_beyond_the_drawn_tasks_is_listed_and_can_be_retried(live, web_project: Path, browser) -> None:
    last = f"t{WIDE - 1:04d}"
    (web_project / "configs" / "dags" / "wide.yaml").write_text(wide_dag("wide", failing=last))
    server = live()
    run_id = server.start("wide")
    assert server.wait_for_run(run_id, timeout=120)["status"] == "failed"
    browser.get(f"{server.url}/runs/{run_id}")
    # the page's script draws the graph, the table and the filter after it fetched the run: wait for them
    waiter(browser).until(lambda d: f"{WIDE + 1 - 400} more tasks not drawn" in text_of(d, "graph"))
    waiter(browser).until(lambda d: len(query(d, "#task-rows tr")) == WIDE + 1)
    rows = query(browser, "#task-rows tr", "data-task")
    assert rows[-1] == last  # every task, in the DAG's order
    assert query(browser, f'#task-rows tr[data-task="{last}"] td')[1:2] == ["failed"]
    waiter(browser).until(lambda d: query(d, "#task-filter button") == ["all 406", "failed 1", "success 405"])
    browser.execute_script("document.querySelector('#task-filter button[data-focus=\"chip:failed\"]').click();")
    waiter(browser).until(lambda d: query(d, "#task-rows tr", "data-task") == [last])
    retry = browser.find_element("id", "retry-btn")
    assert retry.is_enabled() and attribute(browser, "#retry-btn", "title") == "run what failed again, as a new run"
    assert severe_console(browser) == []


def test_a_large_live_run_is_refetched_at_most_about_once_a_second(live, web_project: Path, browser) -> None:
    (web_project / "configs" / "dags" / "wide.yaml").write_text(wide_dag("wide", run="sleep 0.05"))
    server = live()
    run_id = server.start("wide")
    browser.get(f"{server.url}/runs/{run_id}")
    began = browser.execute_script("return performance.now();")
    waiter(browser, 120).until(lambda d: text_of(d, "run-status") in ("success", "failed"))
    seconds = (browser.execute_script("return performance.now();") - began) / 1000
    fetched = requests_to(browser, "/view")
    assert 1 <= fetched <= seconds + 3, f"{fetched} refetches of the view in {seconds:.1f} s"
    assert len(query(browser, "#task-rows tr")) == WIDE + 1
