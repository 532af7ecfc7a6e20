"""Grafana dashboards as code (grafana-foundation-sdk): "CarPrice service health" and
"CarPrice model", written as JSON into monitoring/grafana/dashboards/ (committed; the
grafana service provisions them from there).

    python monitoring/grafana/dashboards.py write    # regenerate the JSON files
    python monitoring/grafana/dashboards.py check    # exit 1 if a file is stale
    python monitoring/grafana/dashboards.py queries  # every panel's PromQL, tab-separated

Queries use fixed rate windows (not $__rate_interval): the e2e evaluates each one as is
against the live Prometheus (tests/e2e/test_dashboards.py). Metric names: the API's
carprice.api.metrics, the postgres-exporter query files, MLflow, Flower and `up`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement
from grafana_foundation_sdk.models.dashboard import DataSourceRef

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DATASOURCE_UID = "carprice-prometheus"  # = provisioning/datasources/prometheus.yaml
DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
W = "5m"  # rate window
REQ = "carprice_api_requests_total"
LAT = "carprice_api_request_duration_seconds_bucket"


@dataclass(frozen=True)
class Q:
    expr: str
    legend: str = ""


def _targets(panel, queries: list[Q], instant: bool):
    panel = panel.datasource(DATASOURCE)
    for ref, q in zip("ABCDEFGH", queries, strict=False):
        target = (Dataquery().expr(q.expr).legend_format(q.legend or "__auto").ref_id(ref)
                  .datasource(DATASOURCE))
        panel = panel.with_target(target.instant() if instant else target.range())
    return panel


def series(pid: int, title: str, unit: str, queries: list[Q], width: int = 12,
           description: str = "") -> Timeseries:
    legend = (VizLegendOptions().show_legend(True).display_mode(LegendDisplayMode.LIST)
              .placement(LegendPlacement.BOTTOM).calcs([]))
    return _targets(Timeseries().id(pid).title(title).description(description).unit(unit)
                    .span(width).height(8).legend(legend), queries, instant=False)


def stat(pid: int, title: str, unit: str, queries: list[Q], width: int = 6,
         description: str = "") -> Stat:
    return _targets(Stat().id(pid).title(title).description(description).unit(unit)
                    .span(width).height(4)
                    .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False)),
                    queries, instant=True)


def quantile(q: float, by: str = "") -> str:
    labels = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) (rate({LAT}[{W}])))"


def service_health() -> Dashboard:
    errors = (f'(sum by (route) (rate({REQ}{{status=~"5.."}}[{W}])) '
              f"or sum by (route) (rate({REQ}[{W}])) * 0) / sum by (route) (rate({REQ}[{W}]))")
    return (
        Dashboard("CarPrice service health").uid("carprice-service-health")
        .tags(["carprice"]).refresh("30s").time("now-3h", "now").timezone("utc")
        .with_row(Row("Prediction API").id(90))
        .with_panel(stat(1, "API up", "none", [Q('up{job="api"}', "api")]))
        .with_panel(stat(2, "Model source (1 = serving)", "none",
                         [Q("max by (version, source) (carprice_api_model)",
                            "v{{version}} {{source}}")], width=6,
                         description="registry: from MLflow; export: the fallback copy"))
        .with_panel(stat(3, "Model ready", "none", [Q("carprice_api_model_ready", "ready")]))
        .with_panel(stat(4, "Prediction log up", "none",
                         [Q("carprice_predlog_enabled", "enabled"),
                          Q("carprice_predlog_queued", "queued")]))
        .with_panel(series(5, "Request rate by route", "reqps",
                           [Q(f"sum by (route) (rate({REQ}[{W}]))", "{{route}}")]))
        .with_panel(series(6, "Error rate (5xx) by route", "percentunit", [Q(errors, "{{route}}")]))
        .with_panel(series(7, "Latency p50 by route", "s",
                           [Q(quantile(0.5, "route"), "{{route}}")]))
        .with_panel(series(8, "Latency p95 by route", "s",
                           [Q(quantile(0.95, "route"), "{{route}}")]))
        .with_row(Row("Platform").id(91))
        .with_panel(stat(9, "MLflow up", "none", [Q('up{job="mlflow"}', "mlflow")]))
        .with_panel(stat(10, "Postgres up (exporters)", "none", [Q("pg_up", "{{job}}")]))
        .with_panel(stat(11, "Celery: Flower up, workers online", "none",
                         [Q('up{job="flower"}', "flower"),
                          Q("sum(flower_worker_online)", "workers online")]))
        .with_panel(stat(12, "Scrape targets up", "none", [Q("sum by (job) (up)", "{{job}}")]))
        .with_panel(series(13, "DAG runs by state", "none",
                           [Q("sum by (dag_id, state) (carprice_airflow_dag_runs_count)",
                              "{{dag_id}} {{state}}")]))
        .with_panel(series(14, "Latest finished DAG run failed (1) / succeeded (0)", "none",
                           [Q("carprice_airflow_dag_latest_failed", "{{dag_id}}"),
                            Q("carprice_airflow_dag_latest_duration_seconds / 60",
                              "{{dag_id}} minutes")]))
    )


def model() -> Dashboard:
    prices = "carprice_api_predicted_price_dh_bucket"
    return (
        Dashboard("CarPrice model").uid("carprice-model")
        .tags(["carprice"]).refresh("1m").time("now-7d", "now").timezone("utc")
        .with_row(Row("Predictions").id(190))
        .with_panel(series(101, "Cars priced per second", "none",
                           [Q(f"sum by (source) (rate(carprice_api_predictions_total[{W}]))",
                              "{{source}}")], description="by the source of the served model"))
        .with_panel(series(102, "Predicted price distribution (quantiles, 15 min)", "none",
                           [Q(f"histogram_quantile({q}, sum by (le) (rate({prices}[15m])))",
                              f"p{int(q * 100)}") for q in (0.1, 0.5, 0.9)]))
        .with_panel(series(103, "Served version over time", "none",
                           [Q("max by (version, source) (carprice_api_model)",
                              "v{{version}} {{source}}")],
                           description="1 while that version is served from that source"))
        .with_row(Row("Drift (latest report of the monitoring DAG)").id(191))
        .with_panel(series(104, "Share of drifted features", "percentunit",
                           [Q("carprice_drift_share", "drift share"),
                            Q("carprice_drift_detected", "dataset drift (0/1)"),
                            Q("carprice_drift_retrain", "retrain asked (0/1)")]))
        .with_panel(series(105, "Drift score per feature", "none",
                           [Q("carprice_drift_feature_score", "{{feature}}")],
                           description="normed Wasserstein (numbers), Jensen-Shannon (labels)"))
        .with_panel(series(106, "Predicted price drift score", "none",
                           [Q("carprice_drift_prediction_score", "predicted price")]))
        .with_panel(stat(107, "Latest drift report age", "s",
                         [Q("time() - carprice_drift_report_timestamp_seconds", "age")]))
    )


DASHBOARDS = {"service-health.json": service_health, "model.json": model}


def render(build) -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(build().build()) + "\n"


def panels(doc: dict) -> list[dict]:
    """The panels of a dashboard JSON, rows left out (they hold no query)."""
    return [p for p in doc.get("panels", []) if p.get("type") != "row"]


def queries() -> list[tuple[str, str, str]]:
    """(dashboard title, panel title, PromQL) of every panel target."""
    out = []
    for build in DASHBOARDS.values():
        doc = json.loads(render(build))
        for p in panels(doc):
            out.extend((doc["title"], p["title"], t["expr"]) for t in p.get("targets", []))
    return out


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "write"
    if command == "queries":
        for row in queries():
            print("\t".join(row))
        return 0
    stale = [name for name, build in DASHBOARDS.items()
             if not (OUT / name).is_file() or (OUT / name).read_text() != render(build)]
    if command == "check":
        for name in stale:
            print(f"{OUT / name} is stale: run python {Path(__file__).name} write")
        return 1 if stale else 0
    if command != "write":
        print(f"unknown command {command!r}: write, check or queries", file=sys.stderr)
        return 2
    OUT.mkdir(exist_ok=True)
    for name, build in DASHBOARDS.items():
        (OUT / name).write_text(render(build))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
