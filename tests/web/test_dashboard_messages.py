"""What the pages tell their user when something goes wrong: the page's own words for the command line's hints,
and a stream that lost its server says so instead of "following…" for ever."""

from __future__ import annotations

from pathlib import Path

from tests.web.browser_support import click, query, text_of, waiter
from tests.web.conftest import dag_text

GATE = """
name: gate
tasks:
  - {id: build, run: "true"}
  - id: ok
    depends_on: build
    approval: {message: "Deploy?", approvers: [ana, li]}
"""

TYPED = """
name: typed
params:
  rows: {type: int, default: 5, max: 10}
tasks:
  - {id: a, run: "echo ${params.rows}"}
"""


def test_hints_are_in_the_pages_words_not_the_command_lines(live, web_project: Path, browser) -> None:
    (web_project / "configs" / "dags" / "gate.yaml").write_text(dag_text(GATE))
    (web_project / "configs" / "dags" / "typed.yaml").write_text(dag_text(TYPED))
    server = live()
    wait = waiter(browser)
    browser.get(f"{server.url}/")
    browser.execute_script("document.querySelector('#start-form select').value = 'dag:typed';")
    browser.find_element("name", "params").send_keys('{"rows": 50}')
    browser.find_element("css selector", "#start-form button[type=submit]").click()
    wait.until(lambda d: "rows" in text_of(d, "start-message"))
    said = text_of(browser, "start-message")
    assert '{"rows": 10} in params or less' in said and "-p" not in said
    run_id = server.start("gate")
    server.wait_for_run(run_id, status="waiting")
    browser.get(f"{server.url}/runs/{run_id}")
    wait.until(lambda d: d.find_element("id", "gates").is_displayed())
    browser.find_element("id", "decider").send_keys("zed")
    click(browser, '#gate-list li[data-task="ok"] button.primary')
    wait.until(lambda d: "not an approver" in text_of(d, "action-message"))
    said = text_of(browser, "action-message")
    assert "write one of their names under “Deciding as”" in said and "--as" not in said


def test_a_log_that_lost_its_server_says_so(live, browser) -> None:
    server = live()
    run_id = server.start("slow", seconds=60)
    browser.get(f"{server.url}/runs/{run_id}")
    wait = waiter(browser)
    wait.until(lambda d: query(d, '#task-rows tr[data-task="wait"] td')[1:2] == ["running"])
    click(browser, '#task-rows a[data-focus="row:wait"]')
    wait.until(lambda d: "waiting" in text_of(d, "log"))
    server.server.request_stop()  # the server goes away; the run goes on
    wait.until(lambda d: text_of(d, "log-state") == "lost contact with the server, retrying…")
    wait.until(lambda d: text_of(d, "conn-message") == "lost contact with the server, retrying…")
    launch = server.ctx.launcher.by_run_id(run_id)
    assert launch is not None and not launch.done.is_set()
