"""The Grafana dashboards as code (monitoring/grafana/dashboards.py): the committed JSON is
what the generator writes, and every panel can show data from the provisioned Prometheus
datasource. (Each query is evaluated against the live Prometheus in
tests/e2e/test_dashboards.py: no Grafana runs on the build machines.)"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import in_ci

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "monitoring" / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yaml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "carprice.yaml"


def load_generator():
    try:
        import grafana_foundation_sdk  # noqa: F401
    except ImportError:
        if in_ci():
            raise
        pytest.skip("grafana-foundation-sdk is not installed (dev extra)")
    spec = importlib.util.spec_from_file_location("carprice_dashboards", GRAFANA / "dashboards.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return load_generator()


@pytest.fixture(scope="module")
def committed(gen) -> dict[str, dict]:
    return {name: json.loads((gen.OUT / name).read_text()) for name in gen.DASHBOARDS}


def test_the_committed_json_is_what_the_generator_writes(gen):
    for name, build in gen.DASHBOARDS.items():
        assert (gen.OUT / name).read_text() == gen.render(build), (
            f"{name} is stale: run python monitoring/grafana/dashboards.py write")
    assert gen.main(["check"]) == 0
    assert sorted(p.name for p in gen.OUT.glob("*.json")) == sorted(gen.DASHBOARDS)


def test_two_dashboards_with_unique_uids_and_unique_panel_ids(committed):
    titles = {d["title"] for d in committed.values()}
    assert titles == {"CarPrice service health", "CarPrice model"}
    assert len({d["uid"] for d in committed.values()}) == 2
    for doc in committed.values():
        ids = [p["id"] for p in doc["panels"]]
        assert len(ids) == len(set(ids)), f"{doc['title']}: duplicate panel ids {ids}"


def test_every_panel_queries_the_provisioned_prometheus(gen, committed):
    provisioned = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert [d["type"] for d in provisioned] == ["prometheus"]
    uid = provisioned[0]["uid"]
    for doc in committed.values():
        panels = gen.panels(doc)
        assert len(panels) >= 7, doc["title"]
        for panel in panels:
            where = f"{doc['title']} / {panel['title']}"
            assert panel["datasource"] == {"type": "prometheus", "uid": uid}, where
            assert panel["targets"], f"{where}: no target"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid, where
                assert target["expr"].strip(), f"{where}: empty expr"
                assert "$" not in target["expr"], f"{where}: Grafana variables cannot be " \
                                                  "evaluated by the e2e"
            assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), where


def test_what_the_issue_asks_is_on_the_dashboards(gen):
    exprs = "\n".join(expr for _, _, expr in gen.queries())
    for metric in ("carprice_api_requests_total", "carprice_api_request_duration_seconds_bucket",
                   'up{job="api"}', 'up{job="mlflow"}', "pg_up", "flower_worker_online",
                   "carprice_airflow_dag_runs_count", "carprice_api_model",
                   "carprice_api_predictions_total", "carprice_api_predicted_price_dh_bucket",
                   "carprice_drift_share", "carprice_drift_feature_score",
                   "carprice_drift_prediction_score"):
        assert metric in exprs, metric
    assert re.search(r"histogram_quantile\(0\.95, .*route", exprs)
    assert re.search(r"histogram_quantile\(0\.5, .*route", exprs)


def test_the_queries_listing_names_every_target(gen, committed, capsys):
    listed = gen.queries()
    targets = sum(len(p["targets"]) for d in committed.values() for p in gen.panels(d))
    assert len(listed) == targets
    assert gen.main(["queries"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == targets


def test_provisioning_holds_no_secret_and_reads_the_generated_folder():
    source = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]
    assert source["basicAuth"] is True and source["basicAuthUser"] == "$PROMETHEUS_USER"
    assert source["secureJsonData"] == {"basicAuthPassword": "$PROMETHEUS_PASSWORD"}
    provider = yaml.safe_load(PROVIDERS.read_text())["providers"][0]
    compose = yaml.safe_load((ROOT / "docker-compose-full.yml").read_text())
    grafana = compose["services"]["grafana"]
    assert grafana["profiles"] == ["grafana"]
    assert f"./monitoring/grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    assert grafana["ports"] == ["${BIND_ADDRESS:-127.0.0.1}:${GRAFANA_PORT:-3000}:3000"]
