"""monitor: compare the production model's training rows with current rows and say
whether to retrain (``retrain`` and ``reason`` in the last JSON line, read by the DAG).

Reference: ``train.parquet`` of the pipeline run that trained the production version
(its ``pipeline_run_id`` tag). Current rows: params ``monitor.source`` (see
``current_rows``), or any frame handed to ``check``. Writes ``drift.json`` (the summary
of carprice.monitoring.drift, with the decision) and ``drift_report.html`` (Evidently's
report) to the run folder and logs both to a run of the ``monitor.experiment`` MLflow
experiment tagged with the model version. It writes nothing to the registry (it runs as the
trainer account, which only reads the served model): that run holds the verdict.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from carprice import registry
from carprice.config import settings
from carprice.config.params import MonitorParams
from carprice.contract import schema
from carprice.contract.validation import ValidationError, parse_number, prepare_features
from carprice.model import metrics
from carprice.model.estimator import PRICE
from carprice.model.pyfunc import to_model_input
from carprice.monitoring import drift
from carprice.pipeline import definition, run_folder
from carprice.pipeline.runner import StageContext, StageFailed, StageSkipped
from carprice.registry import tags
from carprice.registry.aliases import version_for_alias
from carprice.serving import drift_store, prediction_log
from carprice.sources import safe_read
from carprice.sources.csv_reader import read_csv
from carprice.sources.safe_read import read_source
from carprice.sources.synthetic import Drift, generate

MAX_ROWS = 50_000  # per side: more rows cost time and add no information to the distances
SAMPLE_SEED = 0


def current_rows(ctx: StageContext) -> tuple[pd.DataFrame, dict]:
    """(rows, where they came from) for params monitor.source (definition.MONITOR_SOURCES)."""
    m = ctx.params.monitor
    source = m.source
    if source == "synthetic":
        data = ctx.params.data
        knobs = Drift(**data.drift.model_dump())
        frame = generate(m.synthetic_rows, seed=m.synthetic_seed,
                         noise_sigma=data.noise_sigma, drift=knobs)
        return frame, {"source": source, "seed": m.synthetic_seed,
                       "drift": vars(knobs)}
    if source == "predictions":
        return logged_inputs(m.synthetic_rows, m.window_days)
    return read_current_file(m.current_uri.strip())  # source "file"


def logged_inputs(limit: int, days: int) -> tuple[pd.DataFrame, dict]:
    """What the API and the app priced lately (the prediction log)."""
    dsn = prediction_log.configured_dsn()
    if not dsn:
        raise StageFailed(f"monitor.source is 'predictions' but {settings.ENV_PREDLOG_DSN} "
                          "is not set")
    since = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=days)
    try:
        logged = prediction_log.recent_inputs(dsn, limit=limit, since=since.to_pydatetime())
    except Exception as exc:  # noqa: BLE001 - the database is infrastructure: retried
        raise StageFailed(f"cannot read the prediction log at {prediction_log.describe_dsn(dsn)}: "
                          f"{prediction_log.scrub(exc, dsn)}") from None
    clean, errors = prepare_features(logged[list(schema.FEATURES)])
    return clean, {"source": "predictions", "window_days": days, "rows": len(logged),
                   "invalid_rows": len(errors)}


def read_current_file(uri: str) -> tuple[pd.DataFrame, dict]:
    """Recent model inputs from parquet or CSV, cleaned as the app cleans them; a price
    column, when present, is kept for the error check."""
    if not uri:
        raise StageFailed("monitor.source is 'file' but monitor.current_uri is empty")
    # From the inbox only (or an allowed URL): the form's value is untrusted.
    raw = read_parquet(uri) if uri.lower().endswith(".parquet") else read_csv(uri)
    clean, errors = prepare_features(raw)
    if schema.TARGET in raw:
        price = parse_number(raw.loc[clean.index, schema.TARGET])
        lo, hi = schema.RANGES[schema.TARGET]
        clean[schema.TARGET] = price.where(price.between(lo, hi))
    return clean, {"source": "file", "uri": uri, "invalid_rows": len(errors)}


def read_parquet(uri: str) -> pd.DataFrame:
    # the footer is checked against the stage's memory limit before any column is read
    return safe_read.read_parquet(read_source(uri), uri)


def production(client: MlflowClient, name: str) -> ModelVersion:
    version = version_for_alias(client, name, registry.PRODUCTION_ALIAS)
    if version is None:
        raise StageSkipped(f"no {registry.PRODUCTION_ALIAS} version of {name!r} to monitor yet")
    return version


def reference_rows(ctx: StageContext, version: ModelVersion) -> pd.DataFrame:
    """The training rows of ``version``, from the run folder of the run that trained it."""
    label = f"{version.name} v{version.version}"
    run_id = version.tags.get(tags.PIPELINE_RUN_ID)
    if not run_id:
        raise StageFailed(f"{label} has no pipeline_run_id tag: its training data is unknown")
    path = ctx.run_dir.parent / definition.safe_name(run_id) / run_folder.SPLITS["train"]
    if not path.is_file():
        raise StageFailed(f"training data of {label} is gone: {path} (pipeline run "
                          f"{run_id}) is missing; retrain to monitor again")
    return safe_read.read_parquet(path, f"training data of {label}")


def _sample(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) > MAX_ROWS:
        frame = frame.sample(MAX_ROWS, random_state=SAMPLE_SEED)
    return frame.reset_index(drop=True)


def error_check(version: ModelVersion, current: pd.DataFrame, pred: pd.DataFrame,
                monitor: MonitorParams) -> dict | None:
    """Error on the labelled current rows vs the version's test error, when both exist."""
    baseline = version.tags.get(tags.TEST_METRIC_PREFIX + "rmse_log")
    if schema.TARGET not in current or not baseline:
        return None
    labelled = current[schema.TARGET].notna().to_numpy()
    if labelled.sum() < monitor.min_current_rows:
        return None
    rmse = metrics.regression_metrics(current.loc[labelled, schema.TARGET],
                                      pred.loc[labelled])["rmse_log"]
    return drift.error_check(rmse, float(baseline), monitor.max_rmse_log_increase)


def check(ctx: StageContext, current: pd.DataFrame, source: dict) -> dict:
    """Drift of ``current`` against the production model's training rows; the decision."""
    m = ctx.params.monitor
    limits = drift.Thresholds.from_params(m.model_dump())
    client, name = MlflowClient(), ctx.model_name
    prod = production(client, name)
    version = str(prod.version)
    mlflow.set_tags({tags.RUN_MODEL_NAME: name, tags.RUN_MODEL_VERSION: version})
    if len(current) < m.min_current_rows:
        raise StageSkipped(f"{len(current)} current rows < monitor.min_current_rows "
                           f"{m.min_current_rows}: too few to judge drift")
    reference, current = _sample(reference_rows(ctx, prod)), _sample(current)

    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    ref_pred = model.predict(to_model_input(reference))
    cur_pred = model.predict(to_model_input(current))
    try:
        summary = drift.compare(reference, current, limits, ref_pred[PRICE].to_numpy(),
                                cur_pred[PRICE].to_numpy(),
                                report_path=ctx.path(run_folder.DRIFT_REPORT))
    except drift.DriftError as exc:
        raise StageFailed(str(exc)) from exc
    error = error_check(prod, current, cur_pred, m)
    retrain, reason = drift.decide(summary, m.retrain, error)
    summary.update(model_name=name, model_version=version, source=source, error=error,
                   retrain=retrain, reason=reason)

    ctx.write_json(run_folder.DRIFT, summary)
    for fname in (run_folder.DRIFT, run_folder.DRIFT_REPORT):
        mlflow.log_artifact(str(ctx.path(fname)), run_folder.DRIFT_ARTIFACTS)
    mlflow.log_params({f"monitor.{k}": v for k, v in m.model_dump().items()})
    pred_score = summary["prediction"]["score"]  # None: no prediction to compare
    mlflow.log_metrics({
        "drift_share": summary["drift_share"], "drifted_features": len(summary["drifted_features"]),
        "reference_rows": len(reference), "current_rows": len(current),
        "retrain": int(retrain),
        **({"prediction_drift_score": pred_score} if pred_score is not None else {}),
        **{f"drift_score_{f['column']}": f["score"] for f in summary["features"]
           if f["score"] is not None},
        **({"current_rmse_log": error["rmse_log"]} if error else {}),
    })
    mlflow.set_tags({tags.RUN_RETRAIN: str(retrain).lower(), tags.RUN_REASON: reason[:5000]})
    report_id = store(summary)
    return {"model_name": name, "model_version": version, "retrain": retrain, "reason": reason,
            "drift_share": summary["drift_share"],
            "drifted_features": summary["drifted_features"],
            "prediction_drift_score": pred_score, "current_rows": len(current),
            "reference_rows": len(reference), "source": source["source"],
            "report": str(ctx.path(run_folder.DRIFT_REPORT)), "drift_report_id": report_id}


def store(summary: dict) -> int | None:
    """The report's id in the drift tables; None when no database is configured."""
    dsn = prediction_log.configured_dsn()
    if not dsn:
        return None
    try:
        return drift_store.write_report(dsn, summary)
    except drift_store.StoreError as exc:  # the database is infrastructure: retried
        raise StageFailed(str(exc)) from None


def run(ctx: StageContext) -> dict:
    try:
        current, source = current_rows(ctx)
    except ValidationError as exc:
        raise StageFailed(f"current rows: {exc}") from exc
    return check(ctx, current, source)
