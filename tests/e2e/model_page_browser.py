"""The app's Model page in a real headless Chromium: open the "Model" tab, wait for the
"Drift over time" section and its charts, screenshot the page, return what it says.

    model_page_in_browser("http://127.0.0.1:8501", Path("/tmp/model.png"))

Used by tests/e2e/test_model_page_browser.py (local app process) and by the full-stack
e2e (tests/e2e/test_dashboards.py).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

from carprice.webapp.monitoring_view import DRIFT_CHART_KEYS, DRIFT_CHART_TITLE
from tests.e2e.browser import _visible_or_explain, launch

MODEL_TAB = "Model"
CHART = "[data-testid='stVegaLiteChart']"
REPORTS = re.compile(r"Share of drifted features: (\d+) drift reports")


@dataclass(frozen=True)
class ModelPage:
    reports: int  # drift reports the page says it charts
    charts: int  # drift charts rendered (drift share, per feature): 0 to 2
    text: str  # the page's text, for messages


def model_page_in_browser(base_url: str, screenshot_path: Path, timeout_s: float = 180,
                          login: tuple[str, str] | None = None) -> ModelPage:
    """Open the Model tab, wait for the drift charts; a full-page screenshot is saved to
    ``screenshot_path`` whatever happens. AssertionError with the page's text when the
    tab or the drift section never shows."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    screenshot_path = Path(screenshot_path)
    screenshot_path.parent.mkdir(parents=True, exist_ok=True)
    timeout_ms = timeout_s * 1000
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            credentials = {"username": login[0], "password": login[1]} if login else None
            # tall: Streamlit scrolls inside its own container, so a "full page"
            # screenshot is the viewport: make every drift chart fit in it
            page = browser.new_page(viewport={"width": 1400, "height": 2400},
                                    http_credentials=credentials)
            page.set_default_timeout(timeout_ms)
            try:
                page.goto(base_url, wait_until="domcontentloaded")
                tab = page.get_by_role("tab", name=MODEL_TAB)
                _visible_or_explain(page, tab, f"no '{MODEL_TAB}' tab on {base_url}")
                tab.click()
                heading = page.get_by_text(DRIFT_CHART_TITLE, exact=True)
                _visible_or_explain(page, heading, f"no '{DRIFT_CHART_TITLE}' section")
                summary = page.get_by_text(REPORTS)
                _visible_or_explain(page, summary, "no drift report charted")
                charts = page.locator(", ".join(f".st-key-{k} {CHART}" for k in DRIFT_CHART_KEYS))
                _visible_or_explain(page, charts.last, "no drift chart rendered")
                heading.scroll_into_view_if_needed()  # the drift section at the top
                page.wait_for_timeout(1500)  # let Vega finish drawing before the screenshot
                text = page.locator("body").inner_text()
                found = REPORTS.search(text)
                return ModelPage(int(found.group(1)) if found else 0, charts.count(), text)
            finally:
                with contextlib.suppress(PlaywrightError):  # a crashed page: keep the error
                    page.screenshot(path=str(screenshot_path), full_page=True)
        finally:
            browser.close()
