"""The monitor stage as a process against a real MLflow server and the promoted model:
the same market asks for nothing, a drifted one asks for a retrain (Evidently's report and
the JSON summary logged); file input; skips and failures in one line."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from carprice.pipeline import run_folder
from carprice.pipeline.definition import SKIP_EXIT_CODE
from carprice.registry import PRODUCTION_ALIAS
from carprice.sources.csv_reader import to_avito
from carprice.sources.synthetic import Drift, generate

pytestmark = pytest.mark.integration
NAME = "car-price"
HEAVY = ("monitor.source=synthetic", "data.drift.mileage_shift=0.5",
         "data.drift.price_inflation=0.3",
         "data.drift.new_models_share=0.3")


def production(client) -> str:
    return str(client.get_model_version_by_alias(NAME, PRODUCTION_ALIAS).version)


def monitoring_run(client, run_id: str):
    exp = client.get_experiment_by_name("car-price-monitoring")
    runs = client.search_runs([exp.experiment_id], f"tags.`carprice.pipeline_run_id` = '{run_id}'")
    assert len(runs) == 1, runs
    return runs[0]


def test_the_same_market_asks_for_no_retrain(promoted_model):
    ws, client = promoted_model["workspace"], MlflowClient()
    code, summary, stderr = ws.stage("monitor", "it-monitor-same", "monitor.source=synthetic")
    assert code == 0, stderr
    assert summary["status"] == "ok" and summary["retrain"] is False, summary
    assert summary["reason"].startswith("no drift: share of drifted features")
    assert summary["model_version"] == production(client)
    assert summary["drifted_features"] == [] and summary["current_rows"] == 10_000

    folder = ws.data_dir / "runs" / "it-monitor-same"
    saved = json.loads((folder / run_folder.DRIFT).read_text())
    assert saved["retrain"] is False and saved["error"]["worse"] is False
    assert saved["source"] == {"source": "synthetic", "seed": 7, "drift": {
        "price_inflation": 0.0, "mileage_shift": 0.0, "new_models_share": 0.0}}
    assert saved["engine"].startswith("Evidently ")
    assert "Dataset Drift is NOT detected" in (folder / run_folder.DRIFT_REPORT).read_text()

    run = monitoring_run(client, "it-monitor-same")
    assert run.info.status == "FINISHED"
    assert run.data.tags["carprice.model_version"] == summary["model_version"]
    assert run.data.tags["carprice.retrain"] == "false"
    assert run.data.metrics["drift_share"] == 0
    assert run.data.metrics["prediction_drift_score"] < saved["thresholds"][
        "prediction_threshold"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "drift")}
    assert artifacts == {f"drift/{run_folder.DRIFT}", f"drift/{run_folder.DRIFT_REPORT}"}
    # The monitor runs as the trainer: its verdict is on its run, never on the version.
    tags = client.get_model_version(NAME, summary["model_version"]).tags
    assert not {"drift_retrain", "drift_checked_at", "drift_share"} & set(tags)


def test_a_drifted_market_asks_for_a_retrain(promoted_model):
    ws, client = promoted_model["workspace"], MlflowClient()
    code, summary, stderr = ws.stage("monitor", "it-monitor-drift", *HEAVY)
    assert code == 0, stderr
    assert summary["retrain"] is True, summary
    assert summary["reason"].startswith("share of drifted features ")
    assert {"model", "year", "mileage_km"} <= set(summary["drifted_features"])
    assert "predicted price drifted" in summary["reason"]
    assert "rmse_log on labelled current rows" in summary["reason"], "prices 30% up"
    folder = ws.data_dir / "runs" / "it-monitor-drift"
    saved = json.loads((folder / run_folder.DRIFT).read_text())
    assert saved["error"]["worse"] and saved["target"]["drifted"]
    assert "Dataset Drift is detected" in (folder / run_folder.DRIFT_REPORT).read_text()
    assert monitoring_run(client, "it-monitor-drift").data.tags["carprice.retrain"] == "true"


def test_retrain_false_reports_drift_but_never_asks(promoted_model):
    ws = promoted_model["workspace"]
    code, summary, _ = ws.stage("monitor", "it-monitor-noretrain", *HEAVY, "monitor.retrain=false")
    assert code == 0 and summary["retrain"] is False
    assert summary["reason"].startswith("monitor.retrain is false; drift: share")


@pytest.mark.parametrize("fmt", ["parquet", "avito-csv"])
def test_recent_inputs_from_a_file(promoted_model, fmt):
    ws = promoted_model["workspace"]
    inbox = ws.data_dir / "inbox"  # files come from the data inbox only
    inbox.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":  # logged inputs: features only, no price
        path = inbox / "inputs.parquet"
        generate(600, seed=11).drop(columns="price_dh").to_parquet(path)
    else:  # a drifted batch of listings, with prices, as the Avito export writes it
        path = inbox / "batch.csv"
        to_avito(generate(2000, seed=12, drift=Drift(0.3, 0.5, 0.3))).to_csv(
            path, index=False, sep=";", encoding="latin1")
    code, summary, stderr = ws.stage("monitor", f"it-monitor-{fmt}", "monitor.source=file",
                                     f"monitor.current_uri=inbox/{path.name}")
    assert code == 0, stderr
    saved = json.loads((ws.data_dir / "runs" / f"it-monitor-{fmt}" / run_folder.DRIFT).read_text())
    assert saved["source"]["uri"] == f"inbox/{path.name}" and saved["source"]["invalid_rows"] == 0
    if fmt == "parquet":
        assert summary["retrain"] is False and saved["error"] is None and "target" not in saved
        assert summary["current_rows"] == 600
    else:
        assert summary["retrain"] is True and saved["error"]["worse"]
        assert "model" in summary["drifted_features"]


@pytest.mark.parametrize("sets, code, status, message", [
    (("monitor.source=synthetic", "monitor.synthetic_rows=50"), SKIP_EXIT_CODE, "skipped",
     "50 current rows < monitor.min_current_rows 200: too few to judge drift"),
    (("monitor.source=synthetic", "registry.model_name=car-price-unknown"), SKIP_EXIT_CODE,
     "skipped",
     "no production version of 'car-price-unknown' to monitor yet"),
    (("monitor.source=file",), 1, "failed",
     "monitor.source is 'file' but monitor.current_uri is empty"),
    (("monitor.source=file", "monitor.current_uri=/etc/passwd.parquet"), 2, "failed",
     "csv_uri '/etc/passwd.parquet' is outside the data inbox"),
    (("monitor.source=kafka",), 2, "failed",
     "params: monitor.source must be 'predictions', 'synthetic' or 'file', got 'kafka'"),
    (("monitor.drift_share=1.5",), 2, "failed",
     "params: monitor.drift_share must be <= 1, got '1.5'"),
    (("monitor.source=predictions",), 1, "failed",
     "monitor.source is 'predictions' but CARPRICE_PREDLOG_DSN is not set"),
])
def test_skips_and_failures_say_why_in_one_line(promoted_model, sets, code, status, message):
    ws = promoted_model["workspace"]
    got, summary, stderr = ws.stage("monitor", f"it-monitor-{code}-{len(message)}", *sets)
    assert got == code and summary["status"] == status
    assert summary["reason"].startswith(message)
    assert "Traceback" not in stderr


def test_missing_training_data_fails_with_one_line(promoted_model, tmp_path, monkeypatch):
    ws, client = promoted_model["workspace"], MlflowClient()
    monkeypatch.setitem(ws.env, "CARPRICE_DATA_DIR", str(tmp_path / "elsewhere"))
    code, summary, stderr = ws.stage("monitor", "it-monitor-nodata", "monitor.source=synthetic")
    version = client.get_model_version(NAME, production(client))
    assert code == 1 and "Traceback" not in stderr
    assert summary["reason"].startswith(f"training data of {NAME} v{version.version} is gone: ")
    assert summary["reason"].endswith(f"(pipeline run {version.tags['pipeline_run_id']}) is "
                                      "missing; retrain to monitor again")
