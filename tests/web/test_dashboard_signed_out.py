"""A dashboard whose session ends (the token rotated with SIGHUP, a stale cookie): the pages say so, with a way to
sign in again, instead of showing the login page inside the runs table or stopping without a word; a script's
request gets a 401, only a page load goes to the login page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from tests.support import wait_until
from tests.web.browser_support import (
    attribute,
    click,
    needs_browser,
    query,
    text_of,
    waiter,
)
from tests.web.conftest import Live

TOKEN = "s3cret-token-0123456789abcdef"


def test_a_script_without_a_session_gets_a_401_and_a_page_load_the_login_page(live) -> None:
    server = live(token=TOKEN)
    page = server.client.get("/", headers={"Accept": "text/html", "Sec-Fetch-Mode": "navigate"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2F"
    fetched = server.client.get("/?fragment=rows", headers={"Accept": "text/html", "Sec-Fetch-Mode": "cors"})
    assert fetched.status_code == 401 and fetched.json()["error"] == "missing or wrong token"


def _rotate(server: Live, token_file: Path, new: str) -> None:
    token_file.write_text(new + "\n")
    assert server.ctx.reload_token()
    server.client.headers["Authorization"] = f"Bearer {new}"


def _sign_in(driver, server: Live, token: str, next_url: str) -> None:  # type: ignore[no-untyped-def]
    driver.get(f"{server.url}/login?next={quote(next_url, safe='')}")
    driver.find_element("name", "token").send_keys(token)
    driver.find_element("css selector", "form.login button").click()
    waiter(driver).until(lambda d: d.current_url.endswith(next_url))


@needs_browser
def test_pages_say_signed_out_when_the_token_changes(live, browser, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    server = live(token=TOKEN, token_file=token_file)
    server.client.headers["Authorization"] = f"Bearer {TOKEN}"
    run_id = server.start("slow", seconds=60)
    wait = waiter(browser)

    _sign_in(browser, server, TOKEN, "/")
    _rotate(server, token_file, "second-token-" * 3)
    wait.until(lambda d: "sign in again" in text_of(d, "signed-out"))  # the rows' refresh was refused
    assert attribute(browser, "#signed-out a", "href") == "/login?next=%2F"
    assert not query(browser, "#run-rows form")  # never the login page inside the table
    assert run_id in text_of(browser, "run-rows")

    _sign_in(browser, server, "second-token-" * 3, f"/runs/{run_id}")
    wait.until(lambda d: query(d, '#task-rows tr[data-task="wait"] td')[1:2] == ["running"])
    click(browser, '#task-rows a[data-focus="row:wait"]')
    wait.until(lambda d: "waiting" in text_of(d, "log"))
    _rotate(server, token_file, "third-token-" * 3)  # the open streams end, and may not come back
    wait.until(lambda d: "sign in again" in text_of(d, "signed-out"))
    wait.until(lambda d: text_of(d, "log-state").startswith("stopped: signed out"))
    wait.until(lambda d: "signed out" in text_of(d, "conn-message"))
    browser.find_element("id", "cancel-btn").click()
    wait.until(lambda d: "sign in again" in text_of(d, "action-message"))
    assert "Bearer" not in text_of(browser, "action-message")
    server.client.post(f"/api/runs/{run_id}/cancel")
    wait_until(lambda: server.client.get(f"/api/runs/{run_id}").json()["status"] == "cancelled", 30)
