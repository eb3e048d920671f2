"""The dashboard in a real browser: headless Chromium from the distribution (never downloaded), driven by
selenium through the system's chromedriver.

Opens the dashboard, starts a run through the API, watches its page turn every task green without a reload,
tails a task's log, presses Cancel on a second run, approves a gate of a third, and takes a screenshot (kept
in the test's tmp dir; set ``DAGCTL_SCREENSHOT=PATH`` to keep a copy there too, as docs/images/run-page.png
was made).
"""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium (pip install -e '.[dev]')")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.web.browser_support import pytestmark  # noqa: F401  (skipped where there is no browser)
from tests.web.conftest import NEVER_STARTED, killed_run

PIPELINE = """
name: pipeline
tenant_id: acme
params: {rows: 1000}
tasks:
  - id: extract
    run: echo "extracting ${params.rows} rows"; sleep 0.6; echo extracted
  - id: clean
    run: sleep 0.8; echo cleaned
    depends_on: extract
  - id: enrich
    run: echo "attempt $DAGCTL_ATTEMPT"; sleep 0.3; test "$DAGCTL_ATTEMPT" -gt 1
    depends_on: extract
    retries: 1
    retry_delay: 0.3s
  - id: load
    run: sleep 0.5; echo loaded
    depends_on: [clean, enrich]
  - id: report
    run: echo "report ready"
    depends_on: load
"""


GATE = """name: gate
tasks:
  - {id: build, run: "true"}
  - id: ok
    depends_on: build
    approval: {message: "Deploy?", approvers: [ana, li]}
"""


def _classes(driver, task: str) -> str:
    """The classes of a task's node, read in one script call (the page redraws the SVG as events arrive)."""
    script = "const n = document.querySelector(`#graph g.node[data-task='${arguments[0]}']`);"
    return str(driver.execute_script(script + " return n ? n.getAttribute('class') : '';", task))


def _query(driver, selector: str, attribute: str) -> list[str]:
    script = "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]) || '');"
    return list(driver.execute_script(script, selector, attribute))


def _click(driver, selector: str) -> None:
    driver.execute_script("document.querySelector(arguments[0]).dispatchEvent(new MouseEvent('click'));", selector)


def test_the_dashboard_follows_runs_live_and_cancels_them(live, web_project: Path, browser, tmp_path: Path) -> None:
    (web_project / "configs" / "dags" / "pipeline.yaml").write_text(textwrap.dedent(PIPELINE).lstrip())
    server = live()
    wait = WebDriverWait(browser, 40, poll_frequency=0.1)

    browser.get(server.url + "/")
    assert browser.title.startswith("Runs")
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#start-form option")]
    assert "dag:pipeline" in options

    run_id = server.start("pipeline")
    browser.get(f"{server.url}/runs/{run_id}")
    browser.execute_script("window.__sameDocument = 42;")
    tasks = ["extract", "clean", "enrich", "load", "report"]
    wait.until(lambda d: "st-running" in _classes(d, "extract") or "st-success" in _classes(d, "extract"))
    wait.until(lambda d: all("st-success" in _classes(d, t) for t in tasks))
    assert browser.execute_script("return window.__sameDocument") == 42  # updated in place, never reloaded
    wait.until(lambda d: d.find_element(By.ID, "run-status").text == "success")
    assert _query(browser, "#gantt g.lane", "data-task") == tasks
    bars = _query(browser, '#gantt g.lane[data-task="enrich"] rect.bar', "class")
    assert {"retried", "success"} <= {c for b in bars for c in b.split()}
    browser.execute_script("window.scrollTo(0, 0);")
    shot = tmp_path / "run-page.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    keep = os.environ.get("DAGCTL_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)
    _click(browser, '#graph g.node[data-task="extract"]')
    wait.until(lambda d: "extracted" in d.find_element(By.ID, "log").text)
    assert d_text(browser, "log").startswith("extracting 1000 rows")

    second = server.start("slow", seconds=60)
    browser.get(f"{server.url}/runs/{second}")
    wait.until(lambda d: "st-running" in _classes(d, "wait"))
    _click(browser, '#graph g.node[data-task="wait"]')
    wait.until(lambda d: "waiting" in d.find_element(By.ID, "log").text)  # tailing a task that still runs
    browser.find_element(By.ID, "cancel-btn").click()
    wait.until(lambda d: d.find_element(By.ID, "run-status").text == "cancelled")
    wait.until(lambda d: "st-cancelled" in _classes(d, "wait"))
    assert server.client.get(f"/api/runs/{second}").json()["status"] == "cancelled"

    (web_project / "configs" / "dags" / "gate.yaml").write_text(GATE)
    third = server.start("gate")
    browser.get(f"{server.url}/runs/{third}")
    wait.until(lambda d: d.find_element(By.ID, "gates").is_displayed())
    browser.find_element(By.ID, "decider").send_keys("ana")
    browser.find_element(By.CSS_SELECTOR, '#gate-list li[data-task="ok"] button.primary').click()
    wait.until(lambda d: d.find_element(By.ID, "run-status").text == "success")
    assert server.client.get(f"/api/runs/{third}").json()["tasks"]["ok"]["approval"]["decision"] == "approved"
    browser.get(server.url + "/")
    wait.until(lambda d: second in d.find_element(By.ID, "run-rows").text)
    for page in ("/schedules", "/tenants", "/docs"):
        browser.get(server.url + page)
        assert browser.find_element(By.TAG_NAME, "h1").text
    console = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert console == [], console  # no script errors, nothing blocked by the content security policy


def test_the_run_page_lists_the_tasks_a_killed_run_never_started(live, web_project: Path, browser) -> None:
    server = live()
    wait = WebDriverWait(browser, 40, poll_frequency=0.1)
    with killed_run(server, web_project) as run_id:
        browser.get(f"{server.url}/runs/{run_id}")
        wait.until(lambda d: d.find_element(By.ID, "run-status").text == "abandoned")
        row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#task-rows tr[data-task="after"]'))
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        assert cells[0] == "after" and cells[1] == "not started" and cells[-1] == NEVER_STARTED["note"]
        assert "st-not-started" in _classes(browser, "after").split()  # drawn grey, as a pending task is
        script = "return document.querySelector(arguments[0]).textContent;"
        title = browser.execute_script(script, '#graph g.node[data-task="after"] title')
        assert title == f"after: not started — {NEVER_STARTED['note']}"
    console = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert console == [], console


def d_text(driver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def test_retry_is_offered_only_where_it_applies_and_says_why_not(live, browser) -> None:
    server = live()
    wait = WebDriverWait(browser, 40, poll_frequency=0.1)
    succeeded, failed = server.start("quick"), server.start("flaky")
    server.wait_for_run(succeeded)
    server.wait_for_run(failed)
    browser.get(f"{server.url}/runs/{succeeded}")
    wait.until(lambda d: d.find_element(By.ID, "run-status").text == "success")
    button = browser.find_element(By.ID, "retry-btn")
    assert not button.is_enabled() and button.get_attribute("title") == "every task succeeded: nothing to retry"
    browser.execute_script("document.getElementById('retry-btn').disabled = false;")  # pressed anyway: the API says no
    button.click()
    wait.until(lambda d: "nothing to retry" in d.find_element(By.ID, "action-message").text)
    assert "error" in (browser.find_element(By.ID, "action-message").get_attribute("class") or "")
    browser.get(f"{server.url}/runs/{failed}")
    wait.until(lambda d: d.find_element(By.ID, "run-status").text == "failed")
    browser.find_element(By.ID, "retry-btn").click()  # enabled: it goes to the new run's page
    wait.until(lambda d: "/runs/" in d.current_url and failed not in d.current_url)
    new_id = browser.current_url.rsplit("/", 1)[1]
    assert server.wait_for_run(new_id)["parent_run_id"] == failed
