"""ingest: read the configured source into raw.parquet; skip if data and params
are unchanged since a completed pipeline run (unless run.force)."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from carprice import sources
from carprice.pipeline import run_folder
from carprice.pipeline.runner import StageContext, StageSkipped, params_hash
from carprice.registry import tags
from carprice.request_errors import redact_source
from carprice.sources import dvc_data

COMPLETED = ("promoted", "refused")


def data_hash(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256(",".join(frame.columns).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def previous_run_with(fingerprint: str, experiment_id: str) -> str | None:
    """An earlier pipeline run that completed on the same data and params."""
    from mlflow import MlflowClient

    runs = MlflowClient().search_runs(
        [experiment_id], filter_string=f"tags.`{tags.RUN_FINGERPRINT}` = '{fingerprint}'",
        max_results=50)
    done = [r for r in runs if r.data.tags.get(tags.RUN_OUTCOME) in COMPLETED]
    return done[0].data.tags.get(tags.RUN_PIPELINE_RUN_ID) if done else None


def run(ctx: StageContext) -> dict:
    import mlflow  # in the stage only: importing this module must stay cheap

    data = ctx.params.data
    raw = sources.load(data.model_dump())
    raw.to_parquet(ctx.path(run_folder.RAW), index=False)
    info: dict[str, Any] = {"source": data.source, "rows": len(raw), "columns": len(raw.columns),
            "data_hash": data_hash(raw), "params_hash": params_hash(ctx.params),
            "raw_dvc_md5": dvc_data.file_md5(ctx.path(run_folder.RAW))}
    if data.source == "synthetic":
        info["noise_sigma"] = data.noise_sigma
    else:
        info["csv_uri"] = redact_source(data.csv_uri)  # a URL's token must not be stored
    fingerprint = f"{info['data_hash']}-{info['params_hash']}"
    info["fingerprint"] = fingerprint
    client = mlflow.MlflowClient()
    parent = ctx.run_info["parent_run_id"]
    client.set_tag(parent, tags.RUN_FINGERPRINT, fingerprint)
    client.set_tag(parent, tags.RUN_DATA_HASH, info["data_hash"])
    mlflow.log_params({"source": data.source, "rows": len(raw), **info})
    ctx.write_json(run_folder.INGEST_INFO, info)  # read by later stages even when skipped here
    earlier = previous_run_with(fingerprint, ctx.run_info["experiment_id"])
    if earlier and earlier != ctx.run_id and not ctx.params.run.force:
        raise StageSkipped(f"data and params unchanged since pipeline run {earlier} "
                           "(trigger with force=true to retrain)")
    return info
