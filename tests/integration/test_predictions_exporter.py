"""monitoring/postgres-exporter/predictions-queries.yaml for real: the postgres-exporter
image against a throwaway Postgres container (own network) whose drift tables hold two
reports; the exporter's /metrics must show the latest one under the contract's names.
Then a Prometheus container (basic auth, as the monitoring profile runs it) scraping that
exporter, read by the app's client (carprice.webapp.prometheus) and by the drift panels'
queries of the Grafana dashboards.

Needs a Docker engine and the images (POSTGRES_IMAGE, POSTGRES_EXPORTER_IMAGE,
PROMETHEUS_IMAGE): skipped without an engine, also under CI, where the engine runs only
for the full-stack e2e (tests/e2e/test_dashboards.py evaluates the same queries there).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from carprice.serving import drift_store
from carprice.webapp import prometheus

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "monitoring" / "postgres-exporter" / "predictions-queries.yaml"
POSTGRES_IMAGE = os.environ.get("POSTGRES_IMAGE", "postgres:15-bookworm")
EXPORTER_IMAGE = os.environ.get("POSTGRES_EXPORTER_IMAGE",
                                "quay.io/prometheuscommunity/postgres-exporter:v0.11.1")
PROMETHEUS_IMAGE = os.environ.get("PROMETHEUS_IMAGE", "prom/prometheus:v2.42.0")
PREFIX = f"h-drift-{secrets.token_hex(3)}"  # every container and the network: removed after


def docker(*args: str, check: bool = True) -> str:
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check and out.returncode:
        raise AssertionError(f"docker {args[0]}: {out.stderr.strip()}")
    return out.stdout.strip()


def engine_up() -> bool:
    return bool(shutil.which("docker")) and subprocess.run(
        ["docker", "info"], capture_output=True, timeout=30).returncode == 0


def host_port(container: str, port: int) -> int:
    return int(docker("port", container, f"{port}/tcp").splitlines()[0].rsplit(":", 1)[1])


def wait(check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - not up yet
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def bcrypt_hash(password: str) -> str:
    import warnings

    with warnings.catch_warnings():  # crypt: deprecated in 3.11, the image's bcrypt is ours
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(predictions DSN from the host, exporter /metrics URL, Prometheus URL and login)."""
    if not engine_up():
        pytest.skip("no Docker engine")
    password = secrets.token_urlsafe(16)
    net, pg, exp = f"{PREFIX}-net", f"{PREFIX}-pg", f"{PREFIX}-exporter"
    prom, prom_login = f"{PREFIX}-prometheus", ("carprice", secrets.token_urlsafe(16))
    config = tmp_path_factory.mktemp("prometheus")
    config.chmod(0o755)  # read by the image's user
    (config / "web.yml").write_text(
        f'basic_auth_users:\n  {prom_login[0]}: "{bcrypt_hash(prom_login[1])}"\n')
    (config / "prometheus.yml").write_text(
        "global: {scrape_interval: 2s, evaluation_interval: 2s}\n"
        f"scrape_configs:\n  - job_name: predictions-db\n"
        f"    static_configs: [{{targets: ['{exp}:9187']}}]\n")
    for name in ("web.yml", "prometheus.yml"):
        (config / name).chmod(0o644)
    docker("network", "create", net)
    try:
        docker("run", "-d", "--name", pg, "--network", net, "-p", "127.0.0.1::5432",
               "-e", "POSTGRES_USER=predictions", "-e", "POSTGRES_DB=predictions",
               "-e", f"POSTGRES_PASSWORD={password}", POSTGRES_IMAGE)
        docker("run", "-d", "--name", exp, "--network", net, "-p", "127.0.0.1::9187",
               "-v", f"{QUERIES}:/etc/queries.yaml:ro",
               "-e", f"DATA_SOURCE_NAME=postgresql://predictions:{password}@{pg}:5432/"
                     "predictions?sslmode=disable",
               EXPORTER_IMAGE, "--extend.query-path=/etc/queries.yaml",
               "--disable-default-metrics", "--disable-settings-metrics")
        docker("run", "-d", "--name", prom, "--network", net, "-p", "127.0.0.1::9090",
               "-v", f"{config}:/etc/h-drift:ro", PROMETHEUS_IMAGE,
               "--config.file=/etc/h-drift/prometheus.yml",
               "--web.config.file=/etc/h-drift/web.yml", "--storage.tsdb.path=/tmp/tsdb")
        dsn = f"postgresql://predictions:{password}@127.0.0.1:{host_port(pg, 5432)}/predictions"
        wait(lambda: drift_store.reports(dsn) is not None, "Postgres", timeout=90)
        yield (dsn, f"http://127.0.0.1:{host_port(exp, 9187)}/metrics",
               f"http://127.0.0.1:{host_port(prom, 9090)}", prom_login)
    finally:
        for name in (prom, exp, pg):
            docker("rm", "-f", "-v", name, check=False)
        docker("network", "rm", net, check=False)


def scrape(url: str) -> dict[str, float]:
    """{series: value} of the carprice_ metrics and pg_up (labels other than feature
    dropped)."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(carprice_\w+|pg_up)(?:\{(.*)\})? (\S+)$', line)
        if m:
            feature = re.search(r'feature="([^"]*)"', m.group(2) or "")
            out[m.group(1) + (f"[{feature.group(1)}]" if feature else "")] = float(m.group(3))
    return out


def report(share: float, retrain: bool, year: float) -> dict:
    return {"model_version": "2", "current_rows": 500, "drift_share": share,
            "dataset_drift": share >= 0.5, "retrain": retrain, "prediction": {"score": 0.7},
            "features": [{"column": "year", "score": year, "drifted": year > 0.1},
                         {"column": "brand", "score": 0.05, "drifted": False},
                         {"column": "fuel", "score": None, "drifted": False}]}


def test_no_report_yet_means_no_drift_series(stack):
    url = stack[1]
    metrics = wait(lambda: (m := scrape(url)).get("pg_up") == 1 and m, "the exporter")
    assert not any(k.startswith("carprice_drift") for k in metrics), metrics


def test_the_latest_report_is_exported_under_the_contract_names(stack):
    dsn, url = stack[:2]
    drift_store.write_report(dsn, report(0.1, False, 0.02))
    drift_store.write_report(dsn, report(0.6, True, 0.4))
    before = time.time()
    metrics = wait(lambda: (m := scrape(url)) and "carprice_drift_share" in m and m, "metrics")
    assert metrics["carprice_drift_share"] == 0.6
    assert metrics["carprice_drift_detected"] == 1
    assert metrics["carprice_drift_retrain"] == 1
    assert metrics["carprice_drift_prediction_score"] == 0.7
    assert metrics["carprice_drift_report_rows"] == 500
    assert 0 <= before - metrics["carprice_drift_report_timestamp_seconds"] < 120
    assert metrics["carprice_drift_feature_score[year]"] == 0.4
    assert metrics["carprice_drift_feature_score[brand]"] == 0.05
    assert "carprice_drift_feature_score[fuel]" not in metrics  # not compared: no series


def test_the_app_reads_prometheus_with_its_login(stack):
    """After the reports above: Prometheus scraped the exporter; the Model page's client
    reads it with the login, and a wrong password is a one-line answer, not an exception."""
    _, _, url, (user, password) = stack
    client = prometheus.Prometheus(url, user, password)
    wait(lambda: client.query("carprice_drift_share"), "Prometheus to scrape the exporter")
    assert prometheus.scalar(client.query("carprice_drift_share")) == 0.6
    years = client.query('carprice_drift_feature_score{feature="year"}')
    assert [s["value"] for s in years] == [0.4]
    health = prometheus.service_health(client)  # no API scraped here: nothing served
    assert health.problem == "" and health.served == [] and health.latency_p95_ms is None
    wrong = prometheus.service_health(prometheus.Prometheus(url, user, "wrong"))
    assert wrong.problem == (f"Prometheus at {url} answered HTTP 401 "
                             "(check PROMETHEUS_USER/PASSWORD)")


def test_the_drift_panels_of_the_model_dashboard_return_series(stack):
    from tests.unit.test_dashboards import load_generator

    gen = load_generator()  # skips without grafana-foundation-sdk, except under CI
    _, _, url, login = stack
    client = prometheus.Prometheus(url, *login)
    drift = [(panel, expr) for board, panel, expr in gen.queries() if "carprice_drift" in expr]
    assert len(drift) >= 5, drift
    wait(lambda: all(client.query(expr) for _, expr in drift), "every drift panel's series")
