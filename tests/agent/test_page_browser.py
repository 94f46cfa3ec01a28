"""The status page in a real headless browser (Debian's chromium and chromium-driver, driven by Selenium
with the system's chromedriver: Selenium Manager never runs) over a real agent process on its embedded store.

One browser session serves the module. Screenshots are kept in the test's tmp dir and named in its output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from confagent.testing import AgentProcess, Processes, free_port, until
from tests.agent.processes import agent_with_store, text_of
from tests.agent.support import DEADLINE_S, resource_toml, write_confdir

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FOLDED = "#history li:first-child summary, #keys summary"


@pytest.fixture(scope="module")
def browser(subprocesses: None) -> Iterator[webdriver.Chrome]:
    """Headless chromium through the system's chromedriver, offline (no Selenium Manager)."""
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1200,900", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: webdriver.Chrome, condition: Callable[[webdriver.Chrome], object], what: str) -> None:
    """A bounded wait on the page (polled), failing with ``what`` and the page's text."""
    try:
        WebDriverWait(driver, DEADLINE_S, poll_frequency=0.05).until(condition)
    except Exception as error:
        raise AssertionError(f"waited for {what}; page: {driver.find_element(By.TAG_NAME, 'body').text}") \
            from error


def _text(driver: webdriver.Chrome, css: str) -> str:
    """Every matching element's text, shown or folded away (textContent)."""
    return "\n".join(str(element.get_attribute("textContent"))
                     for element in driver.find_elements(By.CSS_SELECTOR, css))


def _screenshot(driver: webdriver.Chrome, path: Path) -> None:
    assert driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def _put(processes: Processes, endpoint: str, key: str, value: str, agent: AgentProcess) -> None:
    done = processes.confagent("kv", "put", "--endpoints", endpoint, key, value)
    assert done.returncode == 0, done.stderr + agent.log.read_text()


def test_the_page_shows_state_and_follows_a_put_live_masking_the_secret(
        browser: webdriver.Chrome, processes: Processes, tmp_path: Path) -> None:
    template = 'url={{ getv("/app/url", "none") }}\npassword={{ getv("/app/db_password", "") }}\n'
    write_confdir(tmp_path, {"a.toml": resource_toml("a.tmpl", tmp_path / "a.out", '["/app"]')},
                  {"a.tmpl": template})
    listen = f"127.0.0.1:{free_port()}"
    config = f'[agent]\nlisten = "{listen}"\n[fleet]\npublish = true\nname = "web-1"\n'
    with agent_with_store(processes, tmp_path, config) as (agent, keys):
        until(lambda: text_of(tmp_path / "a.out") == "url=none\npassword=\n", "the first pass", agent.log)
        browser.get(f"http://{listen}/")
        _wait(browser, lambda d: _text(d, "#live") == "live", "the event stream")
        _wait(browser, lambda d: "ok" in _text(d, '#resources tr[data-resource="a.toml"]'), "a.toml's state")
        assert str(tmp_path / "a.out") in _text(browser, '#resources tr[data-resource="a.toml"]')
        _screenshot(browser, tmp_path / "page-first.png")

        _put(processes, str(keys.client.base_url), "/app/db_password", "hunter2", agent)
        _put(processes, str(keys.client.base_url), "/app/url", "db1:5432", agent)
        until(lambda: text_of(tmp_path / "a.out") == "url=db1:5432\npassword=hunter2\n", "the render",
              agent.log)
        _wait(browser, lambda d: "+url=db1:5432" in _text(d, "#history pre.diff"), "the live diff")
        _wait(browser, lambda d: "db1:5432" in _text(d, '#keys tr[data-key="/app/url"]'), "the key's value")
        assert "+password=****" in _text(browser, "#history pre.diff")
        assert _text(browser, '#keys tr[data-key="/app/db_password"]') == "/app/db_password****"
        assert "hunter2" not in browser.page_source
        _wait(browser, lambda d: "yes" in _text(d, '#fleet tr[data-host="web-1"]'), "the fleet's row, live")
        for summary in browser.find_elements(By.CSS_SELECTOR, FOLDED):
            summary.click()  # unfold the newest record and the keys for the screenshot
        _screenshot(browser, tmp_path / "page-after-put.png")
        browser.set_window_size(390, 844)  # a phone
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        _screenshot(browser, tmp_path / "page-phone.png")
        browser.set_window_size(1200, 900)
        assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
