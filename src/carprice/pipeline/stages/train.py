"""train: fit ONE candidate of params.yaml's ``candidates`` (``--candidate``; the DAG maps
this stage over them, each in its own container and MLflow run) on train, calibrate its
interval on valid, and log it to MLflow (a logged model, with a signature and an input
example).

It does not register it: train runs as the trainer account, which cannot write the served
model. ``train_info/<candidate>.json`` names the candidate's logged model and validation
error for evaluate (which picks the best), and the version tags that promote_staging sets
when it registers the chosen one."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from carprice.contract import schema
from carprice.model import metrics
from carprice.model.estimator import from_candidate
from carprice.model.pyfunc import CarPricePyfunc, to_model_input
from carprice.model.skops_model import estimator_artifacts
from carprice.pipeline import run_folder
from carprice.pipeline.runner import StageContext
from carprice.registry import tags
from carprice.request_errors import redact_source
from carprice.sources import safe_read


def pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("scikit-learn", "pandas", "numpy", "pyarrow",
                                           "mlflow-skinny")]


def run(ctx: StageContext) -> dict:
    from threadpoolctl import threadpool_limits

    name = ctx.candidate
    info_path = ctx.path(run_folder.train_info(name))
    # A failed try (or a failed rerun of a reused run id) leaves no info: evaluate never
    # picks a model this run did not train.
    info_path.unlink(missing_ok=True)
    info_path.parent.mkdir(exist_ok=True)
    train = safe_read.read_parquet(ctx.path(run_folder.SPLITS["train"]))
    valid = safe_read.read_parquet(ctx.path(run_folder.SPLITS["valid"]))
    model_params = ctx.params.candidate(name)
    model = from_candidate(model_params, random_state=ctx.params.split.seed)
    # One OpenMP thread: the candidates train side by side on a few cores, where thread
    # teams spin against each other (alone, the default fit is ~0.1 s slower).
    with threadpool_limits(limits=1, user_api="openmp"):
        model.fit(train, train[schema.TARGET], valid, valid[schema.TARGET])

    pred = model.predict_interval(valid)
    ingest_info = ctx.read_json(run_folder.INGEST_INFO)
    sigma = ingest_info.get("noise_sigma")
    valid_metrics = metrics.regression_metrics(valid[schema.TARGET], pred, sigma)
    mlflow.log_params({"candidate": name, **{f"model.{k}": v for k, v in model_params.items()}})
    mlflow.log_params({"train_rows": len(train), "valid_rows": len(valid)})
    mlflow.log_metrics({f"valid_{k}": v for k, v in valid_metrics.items()})
    mlflow.log_metric("conformal_q_log", model.q_log_)

    example = to_model_input(valid.head(5))
    with tempfile.TemporaryDirectory(prefix="carprice-train-") as tmp:
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=CarPricePyfunc(model),
            # the same estimator in skops format: what serving loads (no unpickling)
            artifacts=estimator_artifacts(model, Path(tmp)),
            signature=infer_signature(example, model.predict_interval(example)),
            input_example=example,
            pip_requirements=pip_requirements(),
            metadata={"categories": model.categories_,
                      "interval_coverage": model.interval_coverage},
        )
    version_tags = {
        **ctx.version_tags(), tags.DATA_HASH: ingest_info["data_hash"],
        tags.DATA_SOURCE: redact_source(ingest_info.get("csv_uri") or ingest_info["source"]),
        tags.DATA_DVC_MD5: ingest_info.get("raw_dvc_md5", ""),
        tags.TRAIN_ROWS: len(train), tags.CANDIDATE: name,
        tags.VALID_RMSE_LOG: round(valid_metrics["rmse_log"], 5),
        tags.TRAINED_AT: pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")}
    summary = {"candidate": name, "estimator": model_params["estimator"],
               "model_name": ctx.model_name, "model_uri": info.model_uri,
               "model_id": info.model_id, "mlflow_run_id": info.run_id,
               "valid_rmse_log": round(valid_metrics["rmse_log"], 5),
               "conformal_q_log": round(model.q_log_, 5)}
    ctx.write_json(run_folder.train_info(name), {
        **summary, "valid_metrics": {k: round(v, 5) for k, v in valid_metrics.items()},
        "version_tags": {k: str(v) for k, v in version_tags.items()}})
    return summary
