"""The runs list page: its filters answer as a page whatever is typed in them, DAG files that do not load are
listed (not startable) with their problem, and its refresh leaves the keyboard focus alone."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support import wait_until
from tests.web.browser_support import needs_browser, requests_to, waiter

PAGE = {"Accept": "text/html"}


def test_the_filters_answer_as_a_page_whatever_is_in_them(live) -> None:
    server = live()
    run_id = server.start("quick")
    server.wait_for_run(run_id)
    cleared = server.client.get("/?limit=&since=&dag=", headers=PAGE)  # "Show" emptied, then Filter
    assert cleared.status_code == 200 and run_id in cleared.text
    too_many = server.client.get("/?limit=5000", headers=PAGE)
    assert too_many.status_code == 422 and too_many.headers["content-type"].startswith("text/html")
    assert "show: 5000 is not a number of runs from 1 to 1000" in too_many.text
    rows = server.client.get("/?limit=abc&fragment=rows", headers=PAGE)
    assert rows.status_code == 422 and "show: abc is not a number of runs" in rows.text
    hours = server.client.get("/?since=24", headers=PAGE)  # a bare number is hours, as on the Tenants page
    assert hours.status_code == 200 and run_id in hours.text
    bad = server.client.get("/?since=soon", headers=PAGE)
    assert bad.status_code == 422 and "since: soon is not a duration (e.g. 24h, 90m or 7d" in bad.text


def test_dag_files_that_do_not_load_are_listed_with_their_problem(live, web_project: Path) -> None:
    (web_project / "configs" / "dags" / "broken.yaml").write_text(
        "name: broken\ntasks:\n  - {id: a, run: 'true', depends_on: nope}\n"
    )
    server = live()
    page = server.client.get("/", headers=PAGE).text
    group = page[page.index('<optgroup label="DAG files that do not load">') :]
    option = group[: group.index("</option>")]
    assert "<option disabled" in option and "broken: broken.yaml:3:" in option and "nope" in option
    assert 'value="dag:broken"' not in page  # listed, not startable


@needs_browser
def test_the_runs_list_refresh_keeps_the_keyboard_focus(live, browser) -> None:
    server = live()
    run_id = server.start("quick")
    server.wait_for_run(run_id)
    browser.get(f"{server.url}/")
    browser.execute_script("document.querySelector(`#run-rows a[href='/runs/${arguments[0]}']`).focus();", run_id)
    waiter(browser).until(lambda d: requests_to(d, "fragment=rows") >= 2)  # refreshed twice since
    focused = browser.execute_script("return document.activeElement.getAttribute('href');")
    assert focused == f"/runs/{run_id}"


def test_a_pruned_run_this_server_started_is_unknown_not_never_started(live, web_project: Path) -> None:
    server = live()
    run_id = server.start("quick")
    server.wait_for_run(run_id)
    shutil.rmtree(web_project / "logs" / "runs" / run_id)  # dagctl prune
    # its process may still be exiting after it wrote its end (the run reads as starting until then)
    shown = wait_until(lambda: (r := server.client.get(f"/api/runs/{run_id}")).status_code == 404 and r, 30, "404")
    assert shown.status_code == 404
    assert shown.json()["error"] == f"unknown run '{run_id}': it ran, but its folder is gone (pruned?)"
    page = server.client.get(f"/runs/{run_id}", headers=PAGE)
    assert page.status_code == 404 and "pruned?" in page.text
    assert server.client.post(f"/api/runs/{run_id}/retry").status_code == 404
