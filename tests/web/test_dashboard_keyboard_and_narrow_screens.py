"""The dashboard with a keyboard (Enter or Space on a focused task opens its log) and on a phone's width (375 px:
wide tables scroll in their box, the page never sideways)."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.common.exceptions import TimeoutException

from tests.web.browser_support import text_of, waiter

ENTER, SPACE = "\ue007", "\ue00d"  # selenium's Keys.ENTER and Keys.SPACE


@pytest.mark.parametrize(("selector", "key"), [('#graph g.node[data-task="ok"]', ENTER),
                                               ('#gantt g.lane[data-task="bad"]', SPACE)])  # fmt: skip
def test_enter_or_space_on_a_focused_task_opens_its_log(live, browser, selector: str, key: str) -> None:
    server = live()
    run_id = server.start("flaky")
    server.wait_for_run(run_id)
    browser.get(f"{server.url}/runs/{run_id}")
    waiter(browser).until(lambda d: d.find_elements("css selector", selector))  # drawn by the page's script
    task = browser.find_element("css selector", selector)
    browser.execute_script("arguments[0].focus();", task)
    browser.switch_to.active_element.send_keys(key)
    waiter(browser).until(lambda d: text_of(d, "log-state") == "(ended)")
    assert text_of(browser, "log-task") == task.get_attribute("data-task")


def test_no_page_scrolls_sideways_on_a_phone(live, browser) -> None:
    server = live()
    run_id = server.start("flaky")
    server.wait_for_run(run_id)
    browser.set_window_size(375, 800)
    measure = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];"
    for page in ("/", f"/runs/{run_id}", "/schedules", "/tenants", "/docs"):
        browser.get(server.url + page)
        sizes: list[tuple[int, int]] = []

        def fits(driver: Any, sizes: list[tuple[int, int]] = sizes) -> bool:
            # once laid out at the phone's width: a window just resized, or a page whose script is still drawing,
            # can measure wider for a moment (seen under load); a page that scrolls sideways stays wider
            wide, shown = driver.execute_script(measure)
            sizes.append((wide, shown))
            return bool(wide <= shown)

        try:
            waiter(browser, 10).until(fits)
        except TimeoutException:
            wide, shown = sizes[-1]
            raise AssertionError(f"{page} is {wide} px wide in a {shown} px window") from None
