"""A small real model for the app's and the serving modules' unit tests.

Trained in a second or two on synthetic rows, then either saved exactly the way the
promote_production stage exports one (``<models_dir>/production/{model/,meta.json}``), or
logged and registered on the session's real MLflow server (tests/conftest.py).
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import mlflow
import mlflow.pyfunc
from mlflow.models import infer_signature

from carprice.config.params import load_params
from carprice.contract import schema
from carprice.model.estimator import CarPriceModel, from_params
from carprice.model.pyfunc import CarPricePyfunc, to_model_input
from carprice.model.skops_model import estimator_artifacts
from carprice.registry import signing
from carprice.registry.export import (
    EXPORT_DIRNAME,
    EXPORT_META,
    EXPORT_MODEL,
    EXPORT_SIGNATURE,
)
from carprice.sources import synthetic
from tests.conftest import REPO

MODEL_DEFAULTS = load_params(REPO / "params.yaml")["model"]

# The registered model name, as the pipeline and the app read it.
MODEL_NAME = str(load_params(REPO / "params.yaml")["registry"]["model_name"])
UNIT_EXPERIMENT = "unit-tests"


@functools.cache
def train_small(rows: int = 2000, seed: int = 7) -> CarPriceModel:
    data = synthetic.generate(rows, seed=seed)
    cut = int(rows * 0.8)
    train, calib = data.iloc[:cut], data.iloc[cut:]
    model = from_params(MODEL_DEFAULTS, max_iter=60, max_leaf_nodes=8, learning_rate=0.3)
    return model.fit(train, train[schema.TARGET], calib, calib[schema.TARGET])


def _pyfunc_args(folder: Path) -> dict:
    """What train.py hands to mlflow.pyfunc.log_model, for the small model (its skops
    copy written in ``folder``)."""
    model = train_small()
    example = to_model_input(synthetic.generate(5, seed=1))
    return {"python_model": CarPricePyfunc(model),
            "artifacts": estimator_artifacts(model, folder),
            "signature": infer_signature(example, model.predict_interval(example)),
            "input_example": example, "pip_requirements": ["scikit-learn", "pandas"],
            "metadata": {"categories": model.categories_, "interval_coverage": 0.8}}


def export_small_model(models_dir: Path, version: str = "7") -> Path:
    """Write <models_dir>/production/{model/, meta.json}, signed with the session's key
    as promote_production exports a promoted version; return the model folder."""
    folder = models_dir / EXPORT_DIRNAME / EXPORT_MODEL
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.pyfunc.save_model(str(folder), **_pyfunc_args(Path(tmp)))
    meta = {"model_name": MODEL_NAME, "version": version,
            "metrics": {"rmse_log": 0.2, "mape": 0.15, "r2": 0.9, "coverage": 0.8},
            "gate": {"passed": True, "label": "passed", "reasons": ["ok: unit test model"]},
            "pipeline_run_id": "unit-test", "data_hash": "feedbeef"}
    (models_dir / EXPORT_DIRNAME / EXPORT_META).write_text(json.dumps(meta))
    sign_export(models_dir)
    return folder


def sign_export(models_dir: Path) -> dict:
    """(Re-)sign the export in ``models_dir`` for the model name and version its
    meta.json says, with the session's key; return the meta written."""
    meta_file = models_dir / EXPORT_DIRNAME / EXPORT_META
    meta = json.loads(meta_file.read_text())
    files = signing.read_folder(models_dir / EXPORT_DIRNAME / EXPORT_MODEL)
    signature = signing.sign(files, meta["model_name"], meta["version"], signing.signing_key())
    meta[EXPORT_SIGNATURE] = signature.as_tags()
    meta_file.write_text(json.dumps(meta))
    return meta


def register_small_model(uri: str, name: str, tags: dict[str, str], *,
                         signed: bool = True) -> str:
    """Log the small model to the MLflow server at ``uri`` (the session's, which
    MLFLOW_TRACKING_URI names), register it as a new version of ``name`` with ``tags``,
    signed with the session's key as promote_staging signs (unless not ``signed``);
    return the version."""
    assert mlflow.get_tracking_uri() == uri, "log_model/register_model use the process URI"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name(UNIT_EXPERIMENT)
    exp_id = exp.experiment_id if exp else client.create_experiment(UNIT_EXPERIMENT)
    with mlflow.start_run(experiment_id=exp_id), tempfile.TemporaryDirectory() as tmp:
        info = mlflow.pyfunc.log_model(name="model", **_pyfunc_args(Path(tmp)))
    version = str(mlflow.register_model(info.model_uri, name).version)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if signed:
        signing.sign_version(client, name, version)
    return version
