"""After the drift runs (test_day2) and the alert scenarios: the drift time series is in
the predictions database, the app's Model page charts it in Chromium, and every Grafana
panel's PromQL (monitoring/grafana/dashboards.py) returns series from the live Prometheus
(no Grafana runs on the build machines: its queries are what can break)."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest
import requests
from stack_client import read_env_file

from tests.e2e.browser import browser_available
from tests.e2e.conftest import REPO, log, psql
from tests.e2e.model_page_browser import model_page_in_browser

pytestmark = pytest.mark.e2e
SERIES_TIMEOUT = 90  # a few scrapes (10 s) after the last report and requests


def dashboards():
    spec = importlib.util.spec_from_file_location(
        "carprice_dashboards", REPO / "monitoring" / "grafana" / "dashboards.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def prometheus(stack_env) -> tuple[str, tuple[str, str]]:
    """(base URL on loopback, basic-auth login) of the monitoring profile's Prometheus."""
    settings = {**read_env_file(Path(stack_env["CARPRICE_ENV_FILE"])), **stack_env}
    return (f"http://127.0.0.1:{settings.get('PROMETHEUS_PORT', '9090')}",
            (settings.get("PROMETHEUS_USER", ""), settings.get("PROMETHEUS_PASSWORD", "")))


def series_count(url: str, auth: tuple[str, str], expr: str) -> int:
    resp = requests.get(f"{url}/api/v1/query", params={"query": expr}, auth=auth, timeout=10)
    assert resp.status_code == 200, f"{expr}: HTTP {resp.status_code} {resp.text[:300]}"
    body = resp.json()
    assert body["status"] == "success", f"{expr}: {body}"
    return len(body["data"]["result"])


def test_the_drift_runs_are_stored_as_a_time_series(stack, stack_env, facts):
    reports = int(psql(stack_env, "predictions", "SELECT count(*) FROM drift_reports"))
    assert reports >= 2, "test_day2 ran the monitoring DAG twice"
    retrains = psql(stack_env, "predictions",
                    "SELECT string_agg(retrain::text, ',' ORDER BY id) FROM drift_reports")
    assert "true" in retrains and "false" in retrains, retrains  # calm market, drifted one
    features = int(psql(stack_env, "predictions",
                        "SELECT count(DISTINCT feature) FROM drift_feature_scores"))
    assert features >= 8, features
    facts["drift_reports"] = reports


def test_the_model_page_shows_drift_over_time_in_chromium(stack, stack_env, facts, tmp_path):
    reason = browser_available()
    if reason:
        pytest.fail(f"the Model page screenshot cannot run: {reason}")
    shot = tmp_path / "model_page_drift.png"
    page = model_page_in_browser(stack.streamlit, shot)
    log(f"Model page: {page.reports} drift reports, {page.charts} charts (screenshot {shot})")
    assert page.reports >= facts.get("drift_reports", 2), page.text[:1500]
    assert page.charts == 2, page.text[:1500]  # drift share, then one per feature
    assert "Served by the API (Prometheus)" in page.text, page.text[:1500]
    assert "unreachable" not in page.text, page.text[:1500]
    assert shot.is_file() and shot.stat().st_size > 20_000


def test_every_dashboard_query_returns_series_from_prometheus(stack, stack_env):
    url, auth = prometheus(stack_env)
    assert auth[1], "PROMETHEUS_PASSWORD is not in the e2e settings file"
    queries = dashboards().queries()
    deadline = time.monotonic() + SERIES_TIMEOUT
    while True:
        empty = [(board, panel, expr) for board, panel, expr in queries
                 if series_count(url, auth, expr) == 0]
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(10)
    log(f"{len(queries) - len(empty)}/{len(queries)} dashboard queries return series")
    assert not empty, "queries with no series:\n" + "\n".join(
        f"  {board} / {panel}: {expr}" for board, panel, expr in empty)
