"""The stack's doors (issue 16 item 4), on the e2e stack started with the proxy profile
(conftest: COMPOSE_PROFILES has "proxy", PROXY_BIND_ADDRESS=127.0.0.1 here):
  * every service but the proxy publishes on 127.0.0.1 only, and the start script refuses
    BIND_ADDRESS=0.0.0.0 in one line;
  * the API over HTTPS (the generated CA as the only trust): 401 without the key, 200 with
    it, 429 with Retry-After past the per-client rate limit;
  * a real Chromium trusting that CA through an NSS database (no certificate errors
    ignored): Streamlit asks for a login, then prices a car; Airflow shows its login page
    over HTTPS and lets the admin in.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from carprice.model import pyfunc
from tests.e2e.browser import browser_available, home_trusting, launch, predict_in_browser
from tests.e2e.conftest import PROJECT, REPO, compose, log

pytestmark = pytest.mark.e2e
ARTIFACTS = REPO / "tests" / "artifacts"
HOST = "localhost"  # PROXY_HOSTNAMES' default: the name the certificates are for
# Behind the proxy; the proxy itself publishes on PROXY_BIND_ADDRESS.
LOOPBACK_ONLY = {"api": 8000, "streamlit": 8501, "airflow-apiserver": 8080, "mlflow": 5000}


def proxy_url(env: dict, key: str) -> str:
    return f"https://{HOST}:{env[key]}"


@pytest.fixture(scope="module")
def ca_file(stack) -> Path:
    """The local CA's root, copied out by docker-start-full.sh."""
    path = REPO / "proxy" / f"{PROJECT}-root-ca.crt"
    assert path.is_file(), f"docker-start-full.sh did not copy the proxy's CA to {path}"
    assert path.read_text().startswith("-----BEGIN CERTIFICATE-----")
    return path


@pytest.fixture(scope="module")
def settings_file(stack_env) -> dict[str, str]:
    out = {}
    for line in Path(stack_env["CARPRICE_ENV_FILE"]).read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            out[key] = value
    return out


def test_only_the_proxy_is_published_and_a_network_bind_is_refused(stack, stack_env):
    for service, port in LOOPBACK_ONLY.items():
        out = compose(stack_env, "port", service, str(port))
        assert out.returncode == 0 and out.stdout.strip().startswith("127.0.0.1:"), \
            (service, out.stdout, out.stderr)
    config = json.loads(compose(stack_env, "config", "--format", "json").stdout)
    for name, svc in config["services"].items():
        expected = stack_env["PROXY_BIND_ADDRESS"] if name == "proxy" else "127.0.0.1"
        assert {p.get("host_ip") for p in svc.get("ports", [])} <= {expected}, name
    # Refused before anything is touched: the running stack stays as it is.
    started = time.monotonic()
    proc = subprocess.run([str(REPO / "docker-start-full.sh"), "--no-build"], cwd=REPO,
                          env={**stack_env, "BIND_ADDRESS": "0.0.0.0"}, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and lines, proc.stdout[-500:]
    assert lines[-1].startswith("[carprice] ERROR: BIND_ADDRESS=0.0.0.0 would publish"), lines
    assert "proxy" in lines[-1]
    log(f"BIND_ADDRESS=0.0.0.0 refused in {time.monotonic() - started:.1f} s: {lines[-1]}")
    assert compose(stack_env, "port", "api", "8000").stdout.strip().startswith("127.0.0.1:")


def test_the_api_over_https_wants_its_key_and_limits_each_client(stack, stack_env, ca_file):
    url = f"{proxy_url(stack_env, 'PROXY_API_PORT')}/predict"
    car = pyfunc.example_car()
    # verify= on every call: a Session's verify loses to REQUESTS_CA_BUNDLE when that is set
    ca = str(ca_file)  # the generated CA, nothing else
    with requests.Session() as http:
        assert http.get(f"{proxy_url(stack_env, 'PROXY_API_PORT')}/health", verify=ca,
                        timeout=30).status_code == 200
        for headers in ({}, {"X-API-Key": "not-the-key"}):
            refused = http.post(url, json=car, headers=headers, verify=ca, timeout=30)
            assert refused.status_code == 401, refused.text[:200]
            assert refused.json() == {"message": "missing or wrong X-API-Key header"}
        priced = http.post(url, json=car, headers=stack.api_headers, verify=ca, timeout=30)
        assert priced.status_code == 200, priced.text[:300]
        assert priced.json()["predictions"][0]["price_dh"] > 0
        # plain HTTP on the loopback port asks for the key too
        assert requests.post(f"{stack.api_url}/predict", json=car,
                             timeout=30).status_code == 401
    refused = hammer(url, car, stack.api_headers, ca_file)
    wait = int(refused.headers["Retry-After"])
    log(f"429 after the rate limit: {refused.json()['message']} (Retry-After {wait})")
    assert 1 <= wait <= 60 and refused.json()["message"].startswith("rate limit ")
    time.sleep(wait + 1)  # the client's allowance comes back (later files use the API)
    again = requests.post(url, json=car, headers=stack.api_headers, verify=str(ca_file),
                          timeout=30)
    assert again.status_code == 200, again.text[:200]


def hammer(url: str, car: dict, headers: dict, ca_file: Path) -> requests.Response:
    """Priced requests from 8 threads until the first 429. The default limit
    (20/second;600/minute per client) refuses the 601st request of a minute at the latest:
    bounded at 700 requests and 90 s."""
    stop, lock = threading.Event(), threading.Lock()
    seen: list[requests.Response] = []
    sent = [0]

    def client() -> None:
        with requests.Session() as http:
            deadline = time.monotonic() + 90
            while not stop.is_set() and time.monotonic() < deadline:
                with lock:
                    if sent[0] >= 700:
                        return
                    sent[0] += 1
                resp = http.post(url, json=car, headers=headers, verify=str(ca_file),
                                 timeout=30)
                assert resp.status_code in (200, 429), (resp.status_code, resp.text[:200])
                if resp.status_code == 429:
                    seen.append(resp)
                    stop.set()

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(client) for _ in range(8)]:
            future.result()
    assert seen, f"no 429 after {sent[0]} requests in {time.monotonic() - started:.0f} s"
    log(f"rate limit reached after {sent[0]} requests in {time.monotonic() - started:.1f} s")
    return seen[0]


@pytest.fixture(scope="module")
def trusting_home(ca_file, tmp_path_factory) -> Path:
    reason = browser_available()
    if reason:
        pytest.fail(f"the proxy's browser test cannot run: {reason}")
    return home_trusting(ca_file, tmp_path_factory.mktemp("browser-home"))


def test_streamlit_over_https_asks_for_a_login_then_prices_a_car(stack_env, settings_file,
                                                                  trusting_home, ca_file):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    url = proxy_url(stack_env, "PROXY_STREAMLIT_PORT")
    with sync_playwright() as pw:
        browser = launch(pw, trusting_home)
        try:
            page = browser.new_page()
            try:  # no credentials: Chromium gives up on the 401's basic-auth challenge
                status = page.goto(url).status
            except PlaywrightError as exc:
                assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc), exc
                status = 401
            assert status == 401
            wrong = browser.new_page(http_credentials={
                "username": settings_file["STREAMLIT_USER"], "password": "wrong"})
            # Chromium retries the challenge once, then fails on the bare 401
            with pytest.raises(PlaywrightError,
                               match="ERR_INVALID_AUTH_CREDENTIALS|ERR_HTTP_RESPONSE_CODE_FAILURE"):
                wrong.goto(url)
        finally:
            browser.close()
    # the statuses behind those errors, over the same TLS
    user = settings_file["STREAMLIT_USER"]
    assert requests.get(url, verify=str(ca_file), timeout=30).status_code == 401
    assert requests.get(url, auth=(user, "wrong"), verify=str(ca_file),
                        timeout=30).status_code == 401
    assert requests.get(url, auth=(user, settings_file["STREAMLIT_PASSWORD"]),
                        verify=str(ca_file), timeout=30).status_code == 200
    login = (settings_file["STREAMLIT_USER"], settings_file["STREAMLIT_PASSWORD"])
    price = predict_in_browser(url, ARTIFACTS / "proxy_streamlit.png", home=trusting_home,
                               login=login)
    log(f"price through the proxy: {price}")
    assert re.fullmatch(r"[\d ]+ DH", price), price


def test_airflow_login_page_over_https_lets_the_admin_in(stack_env, settings_file,
                                                         trusting_home):
    from playwright.sync_api import sync_playwright

    url = proxy_url(stack_env, "PROXY_AIRFLOW_PORT")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch(pw, trusting_home)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            try:
                page.goto(url, wait_until="domcontentloaded")
                # the UI sends an anonymous visitor to the login form, on the proxy's origin
                page.wait_for_url(re.compile(r".*/auth/login.*"))
                assert page.url.startswith(f"{url}/"), page.url
                page.locator("input[name='username']").fill(settings_file["AIRFLOW_ADMIN_USER"])
                password = page.locator("input[name='password']")
                password.fill(settings_file["AIRFLOW_ADMIN_PASSWORD"])
                password.press("Enter")
                page.wait_for_url(lambda u: "/auth/login" not in u and u.startswith(url))
                page.wait_for_load_state("networkidle")
            finally:
                page.screenshot(path=str(ARTIFACTS / "proxy_airflow.png"), full_page=True)
        finally:
            browser.close()
