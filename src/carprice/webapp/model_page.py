"""The registry history of a model and the evaluation of a version, shaped for display."""

from __future__ import annotations

import tempfile

import pandas as pd

from carprice.pipeline import definition, run_folder
from carprice.registry import tags
from carprice.serving import drift_store
from carprice.serving.model_source import mlflow_client, version_info

# What the app says while no model is served.
HOW_TO_GET_A_MODEL = (
    f"Trigger the DAG `{definition.DAG_ID}` in Airflow (http://localhost:8080), or train "
    "locally with `carprice run --run-id demo` (or `dvc repro`) against the same MLflow "
    "server. This page picks up the new production model by itself within a minute."
)

EVALUATION_FILES = (run_folder.TEST_PREDICTIONS, run_folder.ERROR_BY_BRAND,
                    run_folder.ERROR_BY_PRICE_BAND)


# Test-set metrics with a bootstrap interval (carprice.model.metrics.metric_intervals),
# as the model page names them.
INTERVAL_METRICS = {"r2": "R² (price)", "r2_log": "R² (log price)", "mape": "MAPE",
                    "median_ape": "Median APE", "rmse_log": "RMSE (log)"}
# The gate's reference on the same rows (carprice.registry.judge).
BASELINE_METRICS = {"baseline_rmse_log": "Baseline RMSE (log)",
                    "baseline_ratio": "RMSE (log) / baseline's"}


def metric_table(metrics: dict[str, float]) -> pd.DataFrame:
    """One row per metric a version has: its value on the test set and, when evaluate
    logged one, its paired bootstrap interval (low, high); the baseline's error after."""
    rows = []
    for key, label in {**INTERVAL_METRICS, **BASELINE_METRICS}.items():
        if key not in metrics:
            continue
        rows.append({"metric": label, "value": metrics[key],
                     "low": metrics.get(f"{key}_lo"), "high": metrics.get(f"{key}_hi")})
    return pd.DataFrame(rows, columns=["metric", "value", "low", "high"])


def registry_history(name: str, uri: str) -> pd.DataFrame:
    """One row per registered version, newest first: aliases, metrics, gate, provenance."""
    client = mlflow_client(uri)
    aliases: dict[str, list[str]] = {}
    for alias, version in (client.get_registered_model(name).aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    rows = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        info = version_info(mv)
        m = info["metrics"]
        rows.append({
            "version": int(mv.version),
            "aliases": ", ".join(sorted(aliases.get(str(mv.version), []))),
            "gate": info[tags.GATE_DECISION] or "",
            "rmse_log": m.get("rmse_log"), "mape": m.get("mape"),
            "median_ape": m.get("median_ape"), "r2": m.get("r2"), "r2_log": m.get("r2_log"),
            "coverage": m.get("coverage"), "mae_dh": m.get("mae"),
            "baseline_ratio": m.get("baseline_ratio"),
            "trained_at": info[tags.TRAINED_AT] or "",
            "train_rows": info[tags.TRAIN_ROWS] or "",
            "data_hash": info[tags.DATA_HASH] or "",
            "pipeline_run": info[tags.PIPELINE_RUN_ID] or "",
            "gate_reasons": info[tags.GATE_REASONS] or "",
        })
    frame = pd.DataFrame(rows)
    return frame.sort_values("version", ascending=False, ignore_index=True) if rows else frame


def find_evaluate_run(client, mv_run_id: str, pipeline_run_id: str | None = None) -> str | None:
    """The evaluate stage's run of the pipeline run that trained a version."""
    train_run = client.get_run(mv_run_id)
    exp = train_run.info.experiment_id
    parent = train_run.data.tags.get(tags.RUN_PARENT)
    pipeline_run_id = pipeline_run_id or train_run.data.tags.get(tags.RUN_PIPELINE_RUN_ID)
    filters = []
    if parent:
        filters.append(f"tags.`{tags.RUN_PARENT}` = '{parent}'")
    if pipeline_run_id:
        filters.append(f"tags.`{tags.RUN_PIPELINE_RUN_ID}` = '{pipeline_run_id}'")
    for flt in filters:
        runs = client.search_runs([exp], f"{flt} and tags.`{tags.RUN_STAGE}` = 'evaluate'",
                                  order_by=["attributes.start_time DESC"], max_results=1)
        if runs:
            return runs[0].info.run_id
    return None


def evaluation_tables(name: str, version: str, uri: str) -> dict[str, pd.DataFrame]:
    """The evaluation CSVs of one version ({file name: frame}); empty if none were logged."""
    from mlflow.artifacts import download_artifacts

    client = mlflow_client(uri)
    mv = client.get_model_version(name, str(version))
    run_id = find_evaluate_run(client, mv.run_id, (mv.tags or {}).get(tags.PIPELINE_RUN_ID))
    if run_id is None:
        return {}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fname in EVALUATION_FILES:
            try:
                path = download_artifacts(
                    run_id=run_id, artifact_path=f"{run_folder.EVALUATION_ARTIFACTS}/{fname}",
                    dst_path=tmp, tracking_uri=uri)
            except Exception:  # noqa: BLE001 - a missing table just isn't shown
                continue
            out[fname] = pd.read_csv(path)
    return out


def latest_drift(name: str, version: str, uri: str, experiment: str) -> dict | None:
    """The last monitoring run of a version: its metrics, decision, reason and the run's
    id (its Evidently HTML report is the artifact ``drift/drift_report.html``); None if
    never checked."""
    client = mlflow_client(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return None
    runs = client.search_runs(
        [exp.experiment_id],
        f"tags.`{tags.RUN_MODEL_NAME}` = '{name}' and tags.`{tags.RUN_MODEL_VERSION}` = "
        f"'{version}' and tags.`{tags.RUN_STAGE}` = 'monitor'",
        order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        return None
    run = runs[0]
    return {"run_id": run.info.run_id, "experiment_id": exp.experiment_id,
            "retrain": run.data.tags.get(tags.RUN_RETRAIN) == "true",
            "reason": run.data.tags.get(tags.RUN_REASON, ""),
            "drift_share": run.data.metrics.get("drift_share"),
            "prediction_drift_score": run.data.metrics.get("prediction_drift_score"),
            "report": f"{run_folder.DRIFT_ARTIFACTS}/{run_folder.DRIFT_REPORT}"}


def drift_history(dsn: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every stored drift report (carprice.serving.drift_store), oldest first:
    (reports, feature scores in long format)."""
    return drift_store.reports(dsn), drift_store.feature_scores(dsn)


def drift_share_series(reports: pd.DataFrame) -> pd.DataFrame:
    """One row per report for the drift-share chart: time, share, version, decision."""
    out = reports[["created_at", "drift_share", "model_version", "retrain"]].copy()
    out["created_at"] = pd.to_datetime(out["created_at"], utc=True)
    out["model_version"] = "v" + out["model_version"].astype(str)
    return out.sort_values("created_at", ignore_index=True)


def feature_series(scores: pd.DataFrame) -> pd.DataFrame:
    """Per feature, its score over time (long format for one small chart per feature);
    features never compared (score always missing) left out, features ordered by their
    latest score, largest first."""
    out = scores.dropna(subset=["score"])[["created_at", "feature", "score", "drifted"]].copy()
    out["created_at"] = pd.to_datetime(out["created_at"], utc=True)
    out["score"] = out["score"].astype(float)
    latest = out.sort_values("created_at").groupby("feature")["score"].last()
    order = {f: i for i, f in enumerate(latest.sort_values(ascending=False).index)}
    return (out.assign(_order=out["feature"].map(order))
            .sort_values(["_order", "created_at"], ignore_index=True).drop(columns="_order"))
