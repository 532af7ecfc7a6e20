"""Drive the Streamlit app in a real headless Chromium: Debian's `chromium` package
through Python Playwright (never `playwright install`: no browser downloads here).

    predict_in_browser("http://127.0.0.1:8501", Path("tests/artifacts/app.png"))

Used by tests/e2e/test_app_browser.py (local app process) and by the full-stack e2e.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PREDICT_BUTTON = "Predict price"
METRIC_VALUE = "[data-testid='stMetricValue']"


class BrowserUnavailable(RuntimeError):
    """No chromium binary or no playwright package on this machine."""


def chromium_path() -> str:
    """$CHROMIUM_PATH, else /usr/bin/chromium, else chromium on PATH."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium",
                      shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise BrowserUnavailable("chromium not found: apt-get install -y chromium")


def browser_available() -> str | None:
    """None when a browser test can run, else the reason it cannot."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright==1.65.2)"
    try:
        chromium_path()
    except BrowserUnavailable as exc:
        return str(exc)
    return None


def home_trusting(ca_file: Path, home: Path) -> Path:
    """A HOME whose NSS database (~/.pki/nssdb, what Chromium on Linux reads) trusts
    ``ca_file`` as a root for websites: certutil from libnss3-tools."""
    if not shutil.which("certutil"):
        raise BrowserUnavailable("certutil not found: apt-get install -y libnss3-tools")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    for args in (["-N", "--empty-password"],
                 ["-A", "-t", "C,,", "-n", "carprice-test-ca", "-i", str(ca_file)]):
        subprocess.run(["certutil", "-d", f"sql:{nssdb}", *args], check=True,
                       capture_output=True, timeout=60)
    return home


def launch(pw, home: Path | None = None):
    """Headless Chromium; with ``home``, that HOME (e.g. home_trusting's)."""
    env = {**os.environ, "HOME": str(home)} if home else None
    return pw.chromium.launch(executable_path=chromium_path(), headless=True,
                              args=CHROMIUM_ARGS, env=env)


def _visible_or_explain(page, locator, problem: str) -> None:
    """Wait for ``locator``; on timeout raise AssertionError with what the page shows."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        locator.wait_for(state="visible")
    except PlaywrightError as exc:
        body = page.locator("body").inner_text(timeout=5000)
        raise AssertionError(f"{problem}; page says: {body[:800]}") from exc


def predict_in_browser(base_url: str, screenshot_path: Path, timeout_s: float = 180,
                       home: Path | None = None, login: tuple[str, str] | None = None) -> str:
    """Open the app, press "Predict price" with the form's defaults, return the price text.
    ``home``: Chromium's HOME (home_trusting); ``login``: (user, password) for HTTP basic auth.

    Waits up to ``timeout_s`` for the form (the first visit loads the model). Saves a
    full-page screenshot to ``screenshot_path`` whatever happens, so a failure shows
    what the page looked like. Raises AssertionError with the page's text when the app
    shows no form (no model yet) or no price.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    screenshot_path = Path(screenshot_path)
    screenshot_path.parent.mkdir(parents=True, exist_ok=True)
    timeout_ms = timeout_s * 1000
    with sync_playwright() as pw:
        browser = launch(pw, home)
        try:
            credentials = {"username": login[0], "password": login[1]} if login else None
            page = browser.new_page(viewport={"width": 1400, "height": 1000},
                                    http_credentials=credentials)
            page.set_default_timeout(timeout_ms)
            try:
                page.goto(base_url, wait_until="domcontentloaded")
                button = page.get_by_role("button", name=PREDICT_BUTTON)
                try:
                    button.wait_for(state="visible", timeout=timeout_ms / 2)
                except PlaywrightError:  # seen once on a loaded machine: a page that never mounted
                    page.reload(wait_until="domcontentloaded")
                _visible_or_explain(page, button, f"no '{PREDICT_BUTTON}' button on {base_url} "
                                    f"after {timeout_s:.0f} s")
                button.click()
                value = page.locator(METRIC_VALUE).first
                _visible_or_explain(page, value, f"no price shown after '{PREDICT_BUTTON}'")
                page.wait_for_timeout(500)  # let the interval metrics finish rendering
                return value.inner_text().strip()
            finally:
                with contextlib.suppress(PlaywrightError):  # a crashed page: keep the error
                    page.screenshot(path=str(screenshot_path), full_page=True)
        finally:
            browser.close()


UPLOAD_INPUT = "[data-testid='stFileUploaderDropzoneInput']"
# What Streamlit's uploader shows for a file past server.maxUploadSize (checked in the
# browser; the server answers 413 to a client that sends it anyway).
TOO_LARGE = r"must be [\d.]+ ?MB or smaller"


def upload_in_browser(base_url: str, path: Path, screenshot_path: Path, tab: str | None = None,
                      timeout_s: float = 180) -> str:
    """Open the app (then ``tab``), choose ``path`` in its file uploader, return the one
    line the page shows about it (the refusal of a file that is too large). Screenshot
    saved whatever happens; AssertionError with the page's text if no refusal shows."""
    import re

    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    screenshot_path = Path(screenshot_path)
    screenshot_path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(timeout_s * 1000)
            try:
                page.goto(base_url, wait_until="domcontentloaded")
                if tab:
                    chosen = page.get_by_role("tab", name=tab)
                    _visible_or_explain(page, chosen, f"no '{tab}' tab on {base_url}")
                    chosen.click()
                field = page.locator(UPLOAD_INPUT).first
                field.wait_for(state="attached")
                field.set_input_files(str(path))
                refusal = page.get_by_text(re.compile(TOO_LARGE, re.I)).first
                _visible_or_explain(page, refusal, f"no refusal of {path.name} shown")
                return refusal.inner_text().strip()
            finally:
                with contextlib.suppress(PlaywrightError):
                    page.screenshot(path=str(screenshot_path), full_page=True)
        finally:
            browser.close()


@contextlib.contextmanager
def streamlit_app(env: dict[str, str], workdir: Path, log_path: Path) -> Iterator[str]:
    """`streamlit run app/streamlit_app.py` on a free loopback port, as the app's image runs
    it; yields its URL once healthy, stops it (and prints its log's tail) afterwards."""
    from tests.conftest import REPO, free_port, wait_http

    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "app" / "streamlit_app.py"),
             "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={port}",
             "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/_stcore/health", 90, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(log_path.read_text()[-2000:])
