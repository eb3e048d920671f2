"""What the dashboard's browser tests share: headless Chromium from the distribution (never downloaded), driven by
selenium through the system's chromedriver, and a few reads of the page in one script call each (the page
redraws while it is read).

A test module takes the ``browser`` fixture (``conftest.py``: Chromium is started only for the tests that ask for
it) and skips itself where there is no browser with ``from tests.web.browser_support import pytestmark`` (a module
that has other tests too marks its browser tests ``@needs_browser``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

try:
    from selenium import webdriver
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the dev extra is not installed: the browser tests are skipped
    webdriver = None

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    webdriver is None or CHROMIUM is None or CHROMEDRIVER is None,
    reason="no headless browser here: install selenium (pip install -e '.[dev]') and Debian's chromium and "
    "chromium-driver (.ci/run does)",
)
pytestmark = needs_browser
"""For a module of browser tests only: ``from tests.web.browser_support import pytestmark``."""


def waiter(driver: Any, timeout: float = 40) -> Any:
    """A ``WebDriverWait`` polling every 50 ms."""
    return WebDriverWait(driver, timeout, poll_frequency=0.05)


def text_of(driver: Any, element_id: str) -> str:
    """An element's text as the page has it (``textContent``: hidden parts too), "" when it is not there."""
    script = "const n = document.getElementById(arguments[0]); return n ? n.textContent : '';"
    return str(driver.execute_script(script, element_id))


def attribute(driver: Any, selector: str, name: str) -> str | None:
    script = "const n = document.querySelector(arguments[0]); return n ? n.getAttribute(arguments[1]) : null;"
    value = driver.execute_script(script, selector, name)
    return None if value is None else str(value)


def query(driver: Any, selector: str, what: str = "textContent") -> list[str]:
    """``what`` (a property, or an attribute when the property is not there) of every element matching."""
    script = (
        "return [...document.querySelectorAll(arguments[0])]"
        ".map(e => String(e[arguments[1]] ?? e.getAttribute(arguments[1]) ?? ''));"
    )
    return [str(v) for v in driver.execute_script(script, selector, what)]


def click(driver: Any, selector: str) -> None:
    """A click on the first element matching (dispatched: SVG nodes and hidden rows too)."""
    driver.execute_script("document.querySelector(arguments[0]).dispatchEvent(new MouseEvent('click'));", selector)


def requests_to(driver: Any, part: str) -> int:
    """How many requests the page has made whose URL has ``part`` in it (the browser's resource timing)."""
    script = "return performance.getEntriesByType('resource').filter(e => e.name.includes(arguments[0])).length;"
    return int(driver.execute_script(script, part))


def severe_console(driver: Any, allowed: tuple[str, ...] = ()) -> list[str]:
    """The page's script errors (and anything the content security policy blocked), but those expected."""
    entries = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    return [m for m in entries if not any(a in m for a in allowed)]


def start_browser(profile: str) -> Iterator[Any]:
    """Headless Chromium with its own profile folder, quit afterwards; the test is skipped where it cannot start."""
    from selenium.common.exceptions import WebDriverException

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    except WebDriverException as exc:
        pytest.skip(f"chromium could not start here: {exc.msg}")
    try:
        yield driver
    finally:
        driver.quit()  # ends chromedriver and the browser it started
