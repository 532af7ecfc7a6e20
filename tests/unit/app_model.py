"""A small real model saved as an exported production copy, for the app's unit tests.

Trained in a second or two on synthetic rows and saved exactly the way the
promote_production stage exports one (``<models_dir>/production/{model/,meta.json}``),
so the app and carprice.predictor can be tested without an MLflow server.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
from mlflow.models import infer_signature

from carprice import schema
from carprice.model import CarPriceModel
from carprice.registry import EXPORT_DIRNAME, EXPORT_META
from carprice.serving import CarPricePyfunc, to_model_input
from carprice.sources import synthetic


def train_small(rows: int = 2000, seed: int = 7) -> CarPriceModel:
    data = synthetic.generate(rows, seed=seed)
    cut = int(rows * 0.8)
    train, calib = data.iloc[:cut], data.iloc[cut:]
    model = CarPriceModel(max_iter=60, max_leaf_nodes=8, learning_rate=0.3)
    return model.fit(train, train[schema.TARGET], calib, calib[schema.TARGET])


def export_small_model(models_dir: Path, version: str = "7") -> Path:
    """Write <models_dir>/production/{model/, meta.json}; return the model folder."""
    model = train_small()
    example = to_model_input(synthetic.generate(5, seed=1))
    folder = models_dir / EXPORT_DIRNAME / "model"
    mlflow.pyfunc.save_model(
        str(folder), python_model=CarPricePyfunc(model),
        signature=infer_signature(example, model.predict_interval(example)),
        input_example=example, pip_requirements=["scikit-learn", "pandas"],
        metadata={"categories": model.categories_, "interval_coverage": 0.8})
    meta = {"model_name": "car-price", "version": version,
            "metrics": {"rmse_log": 0.2, "mape": 0.15, "r2": 0.9, "coverage": 0.8},
            "gate": {"passed": True, "label": "passed", "reasons": ["ok: unit test model"]},
            "pipeline_run_id": "unit-test", "data_hash": "feedbeef"}
    (models_dir / EXPORT_DIRNAME / EXPORT_META).write_text(json.dumps(meta))
    return folder
