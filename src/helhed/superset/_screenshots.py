"""Open dashboards in headless Chromium and save screenshots. Runs in ``.venv-superset``.

Superset's own dependencies include Selenium, and Debian's ``chromium`` and
``chromium-driver`` packages provide the browser (``make deps`` installs them), so nothing is
added to either environment. ``helhed.superset.screenshots`` starts this script and passes
the job on stdin (a session cookie is a credential: it never goes on the command line):

    {"base_url": ..., "cookies": {name: value}, "timeout": seconds,
     "jobs": [{"url": ..., "path": ..., "charts": <number of charts>}, ...]}

and reads one JSON object per job from stdout: {"path", "charts", "rendered", "errors",
"empty", "seconds"}. A dashboard counts as loaded when it shows as many chart holders as it
has charts and no loading indicator is left.
"""

from __future__ import annotations

import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = os.environ.get("HELHED_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HELHED_CHROMEDRIVER", "/usr/bin/chromedriver")
WIDTH = 1600
TALL = 6000
ERROR_SELECTORS = '[data-test="error-tooltip"], .ant-alert-error, [role="alert"].alert-danger'
EMPTY_TEXT = "No results were returned for this query"


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={WIDTH},{TALL}", "--lang=da-DK", "--hide-scrollbars"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def settle(driver: webdriver.Chrome, charts: int, timeout: float) -> int:
    """Wait until every chart holder is there and nothing is loading; return the holders seen."""
    deadline = time.monotonic() + timeout
    holders = 0
    while time.monotonic() < deadline:
        holders = len(driver.find_elements(By.CSS_SELECTOR, '[data-test="dashboard-component-chart-holder"]'))
        loading = driver.find_elements(By.CSS_SELECTOR, '[data-test="loading-indicator"], .loading')
        if holders >= charts and not loading:
            time.sleep(1.0)  # let ECharts finish its entry animation before the screenshot
            return holders
        time.sleep(0.5)
    return holders


def content_bottom(driver: webdriver.Chrome) -> int:
    """The bottom of the lowest chart or text on the page (not the window's), in pixels."""
    return int(driver.execute_script(
        "return Math.max(0, ...Array.from(document.querySelectorAll("
        "'[data-test=\"dashboard-component-chart-holder\"], .dashboard-markdown'))"
        ".map(e => e.getBoundingClientRect().bottom + window.scrollY))"))


def crop(driver: webdriver.Chrome) -> None:
    """Shrink the window to the dashboard's content; the layout can reflow when the window
    changes, so measure again until the content fits."""
    for _ in range(3):
        bottom = content_bottom(driver)
        height = driver.execute_script("return window.innerHeight")
        if bottom + 20 <= height <= bottom + 120:
            return
        driver.set_window_size(WIDTH, max(min(bottom + 80 + (driver.get_window_size()["height"] - height), TALL), 800))
        time.sleep(0.7)  # ECharts redraws on resize


def shoot(driver: webdriver.Chrome, job: dict, timeout: float) -> dict:
    began = time.monotonic()
    driver.set_window_size(WIDTH, TALL)  # tall enough that every chart is in view and renders
    driver.get(job["url"])
    rendered = settle(driver, job["charts"], timeout)
    crop(driver)
    errors = [e.text.strip() or e.get_attribute("aria-label") or "chart error"
              for e in driver.find_elements(By.CSS_SELECTOR, ERROR_SELECTORS)]
    empty = driver.page_source.count(EMPTY_TEXT)
    driver.save_screenshot(job["path"])
    return {"path": job["path"], "charts": job["charts"], "rendered": rendered, "errors": errors, "empty": empty,
            "seconds": round(time.monotonic() - began, 1)}


def main() -> None:
    request = json.load(sys.stdin)
    driver = browser()
    try:
        driver.get(request["base_url"] + "/health")
        for name, value in request["cookies"].items():
            driver.add_cookie({"name": name, "value": value, "path": "/"})
        for job in request["jobs"]:
            print(json.dumps(shoot(driver, job, request["timeout"]), ensure_ascii=False), flush=True)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
