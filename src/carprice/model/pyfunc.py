"""The served model: an MLflow pyfunc wrapping CarPriceModel, plus what every consumer
of a loaded model shares (the app, a prediction service, the evaluate and
validate_staging stages): unwrapping it, casting input, scoring raw rows, the example
car and the smoke check."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel

from carprice.contract import schema
from carprice.contract.validation import ValidationError, prepare_features
from carprice.model.estimator import (
    LOWER,
    OUTPUT_COLUMNS,
    PRICE,
    UPPER,
    CarPriceModel,
    to_model_input,
)
from carprice.model.skops_model import SkopsCarPrice


class CarPricePyfunc(PythonModel):
    """The registered model: PRICE, LOWER, UPPER for contract-typed rows.

    Code holding the loaded pyfunc reaches this object through ``unwrap`` and uses only
    ``predict_frame``, ``predict_columns``, ``categories`` and ``estimator``, which
    skops_model.SkopsCarPrice (what serving loads) offers too.
    """

    def __init__(self, model: CarPriceModel):
        # The attribute name is part of every pickle already registered: keep it.
        self.model = model

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.predict_frame(model_input)

    def predict_frame(self, features: pd.DataFrame) -> pd.DataFrame:
        """OUTPUT_COLUMNS for contract features (e.g. validation.finalize's output), same
        index. No pyfunc schema enforcement: it costs more than the model on one row."""
        return self.model.predict_interval(to_model_input(features))

    def predict_columns(self, clean: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """OUTPUT_COLUMNS -> values for clean contract columns (validate_records' output):
        no frame at all, for the single-car path."""
        return self.model.interval(clean)

    @property
    def categories(self) -> dict[str, list[str]]:
        """Category values per column the model learned in training."""
        return self.model.categories_

    @property
    def estimator(self) -> CarPriceModel:
        """The fitted scikit-learn estimator (e.g. for permutation importance)."""
        return self.model


def prepare(model) -> None:
    """Compile our model's scorer now (carprice.model.fast_scorer), not in the first
    prediction; nothing for any other pyfunc."""
    inner = unwrap(model)
    if inner is not None:
        inner.estimator.compiled_pipeline()


def unwrap(model) -> CarPricePyfunc | SkopsCarPrice | None:
    """Our model: the CarPricePyfunc inside a loaded pyfunc, or the skops-loaded model
    itself (serving); None for any other kind of model."""
    if isinstance(model, SkopsCarPrice):
        return model
    try:
        inner = model.unwrap_python_model()
    except (AttributeError, MlflowException):
        return None
    return inner if isinstance(inner, CarPricePyfunc) else None


def model_categories(model) -> dict[str, list[str]]:
    """Category values the loaded model learned: its logged metadata, else the model."""
    meta = getattr(getattr(model, "metadata", None), "metadata", None) or {}
    cats = meta.get("categories")
    if not cats:
        inner = unwrap(model)
        cats = inner.categories if inner is not None else {}
    return {str(k): [str(v) for v in vs] for k, vs in cats.items()}


def predict_frame(model, clean: pd.DataFrame, *, enforce_schema: bool) -> pd.DataFrame:
    """OUTPUT_COLUMNS for clean contract rows (e.g. validation.finalize's), like-indexed.

    Our own model is called directly (CarPricePyfunc.predict_frame). With
    ``enforce_schema``, or for any other pyfunc, the rows go through the pyfunc's predict
    and its signature checks, as any MLflow client would call the registered model.
    """
    inner = None if enforce_schema else unwrap(model)
    if inner is not None:
        return inner.predict_frame(clean)  # already OUTPUT_COLUMNS on clean's index
    pred = model.predict(to_model_input(clean))
    return pd.DataFrame(pred, columns=list(OUTPUT_COLUMNS)).set_axis(clean.index)


def predict_columns(model, clean: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """OUTPUT_COLUMNS -> values for clean contract columns (validation.validate_records').
    Our own model is called directly; any other pyfunc gets a frame through predict_frame."""
    inner = unwrap(model)
    if inner is not None:
        return inner.predict_columns(clean)
    frame = pd.DataFrame(clean).astype({c: schema.DTYPES[c] for c in schema.FEATURES})
    pred = predict_frame(model, frame, enforce_schema=True)
    return {c: pred[c].to_numpy() for c in OUTPUT_COLUMNS}


def score(model, raw: pd.DataFrame, *,
          enforce_schema: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw rows (contract or Avito columns, any text) -> (scored valid rows, row errors).

    Invalid rows are reported in the errors frame (row, problem); valid rows are scored
    (see predict_frame for ``enforce_schema``).
    """
    clean, errors = prepare_features(raw)
    if clean.empty:
        return clean.assign(**{c: pd.Series(dtype=float) for c in OUTPUT_COLUMNS}), errors
    return clean.join(predict_frame(model, clean, enforce_schema=enforce_schema)), errors


def example_car() -> dict:
    """A common car, valid under the contract: the form's defaults, the smoke check's base."""
    return {
        "brand": "Dacia", "model": "Logan", "year": 2018, "mileage_km": 90_000,
        "fuel_type": "Diesel", "gearbox": "Manuelle", "fiscal_power_cv": 6, "doors": 5,
        "origin": "WW au Maroc", "first_owner": True, "condition": "Tres bon",
        "city": "Casablanca",
        **{c: c in {"air_conditioning", "abs", "electric_windows"} for c in schema.EQUIPMENT},
    }


def smoke_examples() -> pd.DataFrame:
    """Fixed cars whose prices must be finite, positive and ordered sensibly."""
    base = example_car()
    rows = [
        base,
        {**base, "year": base["year"] - 10, "mileage_km": 230_000},  # older, more used
        {**base, "brand": "Mercedes-Benz", "model": "Classe E", "fiscal_power_cv": 11,
         "gearbox": "Automatique", **{c: True for c in schema.EQUIPMENT}},
    ]
    return pd.DataFrame(rows)


def smoke_check(model) -> dict:
    """Score smoke_examples and raise ValidationError if the answers are not sane."""
    scored, errors = score(model, smoke_examples(), enforce_schema=True)
    if len(errors):
        raise ValidationError(f"smoke examples rejected: {errors['problem'].iloc[0]}")
    p = scored[PRICE].to_numpy()
    problems = []
    if not np.all(np.isfinite(p)) or np.any(p <= 0):
        problems.append("non-positive or non-finite price")
    if not np.all((scored[LOWER] <= p) & (p <= scored[UPPER])):
        problems.append("price outside its own interval")
    if not p[1] < p[0]:
        problems.append("an older, more used car is not cheaper")
    if not p[2] > p[0]:
        problems.append("a Mercedes Classe E is not dearer than a Dacia Logan")
    if problems:
        raise ValidationError("smoke check failed: " + "; ".join(problems))
    return {"smoke_prices_dh": [round(float(v)) for v in p]}
