"""Alerts that really fire (issue 17 item 4), on the e2e stack's `monitoring` profile:
every Prometheus target up; promtool's checks inside the live Prometheus; then four real
faults, each reaching a test webhook (Apprise json://, tests/e2e/webhook_receiver.py) as
FIRING within the rule's `for:` plus the scrape, evaluation and Alertmanager waits, and as
RESOLVED once fixed: the API stopped, a bad CSV (a failed run), MLflow stopped (the API
serves the export) and drifted traffic. Each prints its figures ([e2e] lines)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import requests
from stack_client import read_env_file

from carprice.pipeline import definition
from carprice.sources.synthetic import Drift, generate
from tests.e2e.conftest import (
    PROJECT,
    REPO,
    WEBHOOK_ALIAS,
    compose,
    log,
    run_pipeline,
)
from tests.e2e.test_day2 import INBOX, post_cars

pytestmark = pytest.mark.e2e
WEBHOOK = f"{PROJECT}-alert-webhook"
# Waits after the fault (alerts.yml `for:`, 10 s scrape + 10 s evaluation, Alertmanager's
# group_wait 5 s / group_interval 15 s), with room for a busy 2-core machine.
API_DOWN_FIRES, EXPORT_FIRES, PIPELINE_FIRES, RESOLVES = 75, 180, 60, 90
NO_RETRAIN = {"retrain": False}  # the monitor reports drift but starts no training


class Prometheus:
    def __init__(self, env: dict):
        settings = read_env_file(Path(env["CARPRICE_ENV_FILE"]))
        self.url = f"http://127.0.0.1:{env['PROMETHEUS_PORT']}"
        self.auth = (settings.get("PROMETHEUS_USER", "admin"), settings["PROMETHEUS_PASSWORD"])

    def get(self, path: str, **params) -> dict:
        resp = requests.get(f"{self.url}{path}", params=params, auth=self.auth, timeout=30)
        resp.raise_for_status()
        return resp.json()["data"]

    def firing(self, alertname: str) -> bool:
        alerts = self.get("/api/v1/alerts")["alerts"]
        return any(a["labels"]["alertname"] == alertname and a["state"] == "firing"
                   for a in alerts)


class Webhook:
    """The notifications the test webhook received, in order."""

    def messages(self) -> list[dict]:
        out = subprocess.run(["docker", "logs", WEBHOOK], capture_output=True, text=True,
                             check=True)
        return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]

    def mark(self) -> int:
        return len(self.messages())

    def wait(self, alertname: str, status: str, since: int, started: float,
             timeout: float) -> float:
        """Seconds from ``started`` (Unix time) until a notification '<alertname> is
        <status>' arrived, after the first ``since`` ones; fails after ``timeout``."""
        want = f"{alertname} is {status}"
        while True:
            for msg in self.messages()[since:]:
                if want in msg.get("message", ""):
                    return msg["at"] - started
            if time.time() - started > timeout:
                pytest.fail(f"no '{want}' notification within {timeout:.0f} s; received: "
                            f"{[m.get('title') for m in self.messages()[since:]]}")
            time.sleep(2)


@pytest.fixture(scope="module")
def webhook(stack, stack_env):
    subprocess.run(["docker", "rm", "-f", WEBHOOK], capture_output=True, check=False)
    subprocess.run(
        ["docker", "run", "-d", "--name", WEBHOOK, "--network", f"{PROJECT}-net",
         "--network-alias", WEBHOOK_ALIAS, "-v",
         f"{REPO / 'tests/e2e/webhook_receiver.py'}:/receiver.py:ro",
         "--entrypoint", "python", "carprice-base:latest", "/receiver.py"],
        capture_output=True, check=True)
    yield Webhook()
    subprocess.run(["docker", "rm", "-f", WEBHOOK], capture_output=True, check=False)


@pytest.fixture(scope="module")
def prometheus(stack, stack_env) -> Prometheus:
    return Prometheus(stack_env)


def test_every_target_is_up_and_promtool_passes_in_the_live_prometheus(prometheus, stack_env):
    deadline, down = time.monotonic() + 90, ["?"]
    while time.monotonic() < deadline:
        targets = prometheus.get("/api/v1/targets")["activeTargets"]
        down = [(t["labels"]["job"], t["lastError"]) for t in targets if t["health"] != "up"]
        if targets and not down:
            break
        time.sleep(5)
    assert not down, f"targets not up: {down}"
    jobs = sorted({t["labels"]["job"] for t in targets})
    for args in (["promtool", "check", "config", "/tmp/carprice/prometheus.yml"],
                 ["promtool", "check", "rules", "/etc/carprice/alerts.yml"],
                 ["sh", "-c", "cd /etc/carprice && promtool test rules alerts_test.yml"]):
        out = compose(stack_env, "exec", "-T", "prometheus", *args)
        assert out.returncode == 0, (args, out.stdout[-2000:], out.stderr[-2000:])
    # the series the alerts read are there
    for metric in ("carprice_api_model_ready", "carprice_airflow_dag_latest_failed",
                   "carprice_disk_free_bytes", "carprice_drift_detected"):
        assert prometheus.get("/api/v1/query", query=metric)["result"], metric
    log(f"Prometheus: {len(targets)} targets up ({', '.join(jobs)}); promtool config, "
        "rules and rule tests pass inside it")


def test_api_down_and_a_failed_run_are_told_then_resolved(stack, stack_env, webhook,
                                                           prometheus):
    """Two faults at once (they do not touch each other): the API stopped, and a bad CSV."""
    if prometheus.firing("CarpriceDagRunFailed"):  # an earlier scenario left a red run
        run_pipeline(stack, stack_env)
    since = webhook.mark()
    assert compose(stack_env, "stop", "api").returncode == 0
    stopped = time.time()
    try:
        INBOX.mkdir(parents=True, exist_ok=True)
        (INBOX / "e2e-alert-bad.csv").write_text("brand,model,price_dh\nDacia,Logan,1\n")
        run_pipeline(stack, stack_env, {"source": "csv", "csv_uri": "inbox/e2e-alert-bad.csv",
                                        "force": True}, expect="failed")
        failed = time.time()
        api_fired = webhook.wait("CarpriceApiDown", "firing", since, stopped, API_DOWN_FIRES)
        run_fired = webhook.wait("CarpriceDagRunFailed", "firing", since, failed,
                                 PIPELINE_FIRES)
    finally:
        assert compose(stack_env, "start", "api").returncode == 0
    restarted, since = time.time(), webhook.mark()
    api_resolved = webhook.wait("CarpriceApiDown", "resolved", since, restarted,
                                RESOLVES + 60)
    # the same DAG green again: a run of unchanged data and params (its stages skip)
    run_pipeline(stack, stack_env)
    green = time.time()
    run_resolved = webhook.wait("CarpriceDagRunFailed", "resolved", since, green, RESOLVES)
    log(f"API stopped: told after {api_fired:.0f} s (for: 20s), resolved {api_resolved:.0f} s "
        f"after its restart; bad CSV: told {run_fired:.0f} s after the red run ended, "
        f"resolved {run_resolved:.0f} s after a green one")


def test_mlflow_down_the_export_serves_and_it_is_told(stack, stack_env, webhook, prometheus):
    since = webhook.mark()
    assert compose(stack_env, "stop", "mlflow").returncode == 0
    stopped = time.time()
    try:
        fired = webhook.wait("CarpriceServingFromExport", "firing", since, stopped,
                             EXPORT_FIRES)
        # the API is up and pricing cars from the export meanwhile
        model = requests.get(f"{stack.api_url}/model", timeout=30).json()
        assert model["source"] == "export", model
        assert requests.get(f"{stack.api_url}/health", timeout=30).status_code == 200
        assert not prometheus.firing("CarpriceApiDown")
    finally:
        assert compose(stack_env, "start", "mlflow").returncode == 0
    restarted, since = time.time(), webhook.mark()
    # MLflow's own start (schema check, accounts) counts in: up to ~2 minutes
    resolved = webhook.wait("CarpriceServingFromExport", "resolved", since, restarted, 300)
    log(f"MLflow stopped: the API served the export, told after {fired:.0f} s (for: 1m; the "
        f"API notices within its alias TTL); resolved {resolved:.0f} s after MLflow's restart")


def test_drifted_traffic_is_told_then_resolved(stack, stack_env, webhook, prometheus):
    monitor = definition.MONITOR_DAG_ID
    clean = {"monitor_source": "synthetic", **NO_RETRAIN}
    if prometheus.firing("CarpriceDriftDetected"):  # test_day2 left a drifted report
        since = webhook.mark()
        run_pipeline(stack, stack_env, clean, dag_id=monitor)
        webhook.wait("CarpriceDriftDetected", "resolved", since, time.time(), RESOLVES)
    since = webhook.mark()
    post_cars(stack, generate(8000, seed=33, drift=Drift(0.3, 0.5, 0.3)))
    run_pipeline(stack, stack_env, {"monitor_source": "predictions", "drift_share": 0.05,
                                    **NO_RETRAIN}, dag_id=monitor)
    reported = time.time()
    fired = webhook.wait("CarpriceDriftDetected", "firing", since, reported, PIPELINE_FIRES)
    since = webhook.mark()
    run_pipeline(stack, stack_env, clean, dag_id=monitor)
    cleaned = time.time()
    resolved = webhook.wait("CarpriceDriftDetected", "resolved", since, cleaned, RESOLVES)
    log(f"drifted traffic: told {fired:.0f} s after the drifted report, resolved "
        f"{resolved:.0f} s after a clean one")
