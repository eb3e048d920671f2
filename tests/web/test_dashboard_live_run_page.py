"""A run page while its run goes on: elapsed times that keep counting between events, the keyboard focus kept
through redraws, and the run's facts in the words and units the rest of dagctl uses."""

from __future__ import annotations

import re
from pathlib import Path

from tests.web.browser_support import (
    query,
    requests_to,
    severe_console,
    text_of,
    waiter,
)
from tests.web.conftest import dag_text

STEPS = """
name: steps
tasks:
  - {id: a, run: "sleep 0.4"}
  - {id: b, run: "sleep 0.4", depends_on: a}
  - {id: c, run: "sleep 0.4", depends_on: b}
  - {id: d, run: "sleep 0.4", depends_on: c}
"""


def test_elapsed_times_grow_while_a_task_runs_without_new_events(live, browser) -> None:
    server = live()
    run_id = server.start("slow", seconds=30)
    browser.get(f"{server.url}/runs/{run_id}")
    wait = waiter(browser)
    wait.until(lambda d: query(d, '#task-rows tr[data-task="wait"] td')[1:2] == ["running"])
    fetched = requests_to(browser, "/view")
    took: set[str] = set()
    task_took: set[str] = set()

    def counted_on(d) -> bool:  # type: ignore[no-untyped-def]
        took.add(text_of(d, "meta-took"))
        task_took.add(query(d, '#task-rows tr[data-task="wait"] td')[4])
        return len(took) >= 3 and len(task_took) >= 3

    wait.until(counted_on)  # the page counts on by itself: `wait` sleeps, and nothing is written meanwhile
    assert query(browser, "#gantt line.now")  # the timeline marks now, and its running bar reaches it
    assert requests_to(browser, "/view") <= fetched + 1  # without asking the server (one may have been on its way)
    server.client.post(f"/api/runs/{run_id}/cancel")
    server.wait_for_run(run_id)


def test_the_keyboard_focus_stays_where_it_was_while_the_page_redraws(live, web_project: Path, browser) -> None:
    (web_project / "configs" / "dags" / "steps.yaml").write_text(dag_text(STEPS))
    server = live()
    run_id = server.start("steps")
    browser.get(f"{server.url}/runs/{run_id}")
    wait = waiter(browser)
    wait.until(lambda d: query(d, '#task-rows tr[data-task="d"] a'))
    browser.execute_script("document.querySelector('#task-rows a[data-focus=\"row:d\"]').focus();")
    redraws = requests_to(browser, "/view")
    wait.until(lambda d: text_of(d, "run-status") == "success")
    assert requests_to(browser, "/view") > redraws  # the table was drawn again, d's row with it ...
    focused = browser.execute_script("return document.activeElement.dataset.focus || document.activeElement.tagName;")
    assert focused == "row:d"  # ... and the focus is on it still


def test_durations_read_the_same_on_the_runs_list_and_the_run_page(live, browser) -> None:
    server = live()
    run_id = server.start("quick")
    server.wait_for_run(run_id)
    browser.get(f"{server.url}/")
    listed = query(browser, f'#run-rows tr:has(a[href="/runs/{run_id}"]) td')[4]
    browser.get(f"{server.url}/runs/{run_id}")
    assert text_of(browser, "meta-took") == listed and re.fullmatch(r"\d+ms|[\d.]+s", listed)
    assert severe_console(browser) == []


def test_a_starting_run_has_no_undefined_facts(live, browser, tmp_path: Path) -> None:
    slow_start = tmp_path / "python-that-waits"
    slow_start.write_text("#!/bin/sh\nexec sleep 60\n")  # a run that stays `starting`
    slow_start.chmod(0o755)
    server = live(python=str(slow_start))
    run_id = server.start("quick")
    browser.get(f"{server.url}/runs/{run_id}")
    assert text_of(browser, "run-status") == "starting"
    facts = text_of(browser, "run-meta")
    assert "undefined" not in facts and "null" not in facts and "trigger" in facts
