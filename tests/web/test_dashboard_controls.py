"""The run page's and runs list's buttons in a real browser: Resume follows the run on, a resume from elsewhere is
noticed, a double click starts one run, and sub-DAG runs link to each other."""

from __future__ import annotations

from pathlib import Path

from tests.support import wait_until
from tests.web.browser_support import (
    attribute,
    click,
    query,
    severe_console,
    text_of,
    waiter,
)
from tests.web.conftest import Live, dag_text

HELD = """
name: held
tasks:
  - id: first
    run: sleep 1; echo first
  - id: second
    run: echo second
    depends_on: first
"""

PARENT = """
name: parent
tasks:
  - id: before
    run: echo before
  - id: child
    dag: sub/child.yaml
    depends_on: before
"""

CHILD = """
name: child
tasks:
  - id: inner
    run: echo inner
"""


def paused_run(server: Live, project: Path) -> str:
    """A run of HELD paused while its first task runs (the run looks for a pause four times a second): ``second``
    has not started."""
    (project / "configs" / "dags" / "held.yaml").write_text(dag_text(HELD))
    run_id = server.start("held")
    wait_until(lambda: "first" in (server.client.get(f"/api/runs/{run_id}").json().get("tasks") or {}), 30)
    assert server.client.post(f"/api/runs/{run_id}/pause").status_code == 202
    server.wait_for_run(run_id, status="paused")
    return run_id


def test_resume_on_the_page_follows_the_run_to_its_end(live, web_project: Path, browser) -> None:
    server = live()
    run_id = paused_run(server, web_project)
    browser.get(f"{server.url}/runs/{run_id}")
    wait = waiter(browser)
    assert text_of(browser, "run-status") == "paused"
    browser.find_element("id", "resume-btn").click()
    wait.until(lambda d: text_of(d, "run-status") == "success")  # followed on, without a reload
    wait.until(lambda d: query(d, '#task-rows tr[data-task="second"] td')[1:2] == ["success"])
    assert not browser.find_element("id", "resume-btn").is_enabled()
    assert severe_console(browser) == []


def test_a_run_resumed_elsewhere_is_noticed_by_its_open_page(live, web_project: Path, browser) -> None:
    server = live()
    run_id = paused_run(server, web_project)
    browser.get(f"{server.url}/runs/{run_id}")
    assert text_of(browser, "run-status") == "paused"
    assert server.client.post(f"/api/runs/{run_id}/resume").status_code == 202  # another tab, or dagctl resume
    waiter(browser).until(lambda d: text_of(d, "run-status") == "success")


def test_a_double_click_on_start_run_starts_one_run(live, browser) -> None:
    server = live()
    browser.get(f"{server.url}/")
    browser.execute_script("document.querySelector('#start-form select').value = 'dag:quick';")
    browser.execute_script(  # two clicks in a row, before the first request has been answered
        "const b = document.querySelector('#start-form button[type=submit]'); b.click(); b.click();"
    )
    waiter(browser).until(lambda d: "/runs/" in d.current_url)
    assert [la.kind for la in server.ctx.launcher.launches()] == ["run"]


def test_a_double_click_on_retry_starts_one_retry(live, browser) -> None:
    server = live()
    failed = server.start("flaky")
    server.wait_for_run(failed)
    browser.get(f"{server.url}/runs/{failed}")
    browser.execute_script("const b = document.getElementById('retry-btn'); b.click(); b.click();")
    waiter(browser).until(lambda d: failed not in d.current_url)
    assert [la.kind for la in server.ctx.launcher.launches()] == ["run", "retry"]


def test_sub_dag_runs_link_to_each_other(live, web_project: Path, browser) -> None:
    dags = web_project / "configs" / "dags"
    (dags / "sub").mkdir()
    (dags / "sub" / "child.yaml").write_text(dag_text(CHILD))
    (dags / "parent.yaml").write_text(dag_text(PARENT))
    server = live()
    parent = server.start("parent")
    child = server.wait_for_run(parent)["tasks"]["child"]["child_run_id"]
    browser.get(f"{server.url}/runs/{parent}")
    link = '#task-rows tr[data-task="child"] a[href^="/runs/"]'  # drawn by the page's script once it fetched the run
    waiter(browser).until(lambda d: attribute(d, link, "href") == f"/runs/{child}")
    click(browser, '#task-rows tr[data-task="child"] a[href^="/runs/"]')
    waiter(browser).until(lambda d: d.current_url.endswith(f"/runs/{child}"))
    assert query(browser, "#run-meta dd")[2] == f"parent (sub-DAG run of {parent}, task child)"
    assert attribute(browser, "#run-meta dd a", "href") == f"/runs/{parent}"
    assert severe_console(browser) == []


def test_a_resume_that_fails_says_why_on_the_page(live, web_project: Path, browser, tmp_path: Path) -> None:
    server = live()
    run_id = paused_run(server, web_project)
    refusing = tmp_path / "python-that-refuses"
    refusing.write_text("#!/bin/sh\necho 'dagctl: error: the run folder is locked — try again later' >&2\nexit 3\n")
    refusing.chmod(0o755)
    server.ctx.launcher.python = str(refusing)  # the `dagctl resume` it starts ends at once, with an error
    browser.get(f"{server.url}/runs/{run_id}")
    browser.find_element("id", "resume-btn").click()
    wait = waiter(browser)
    wait.until(lambda d: "resume failed: the run folder is locked" in text_of(d, "action-message"))
    assert text_of(browser, "run-status") == "paused"
    assert browser.find_element("id", "resume-btn").is_enabled()  # it can be pressed again
