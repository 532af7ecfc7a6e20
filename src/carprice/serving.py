"""The served model: an MLflow pyfunc wrapping CarPriceModel, plus the helpers the
app and the validate_staging stage share to load it and score raw input."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from carprice import schema
from carprice.model import OUTPUT_COLUMNS, CarPriceModel
from carprice.validation import ValidationError, prepare_features


class CarPricePyfunc(mlflow.pyfunc.PythonModel):
    """Returns price_dh, lower_dh, upper_dh for contract-typed rows."""

    def __init__(self, model: CarPriceModel):
        self.model = model

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.model.predict_interval(to_model_input(model_input))


_DTYPES = {c: pd.Series(dtype=t).dtype for c, t in schema.DTYPES.items()}


def to_model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """Contract features with the signature's dtypes (pyfunc refuses int/float mixes)."""
    frame = frame[list(schema.FEATURES)]
    # Cast only what differs: astype on every column costs milliseconds per call.
    wrong = {c: schema.DTYPES[c] for c in schema.FEATURES if frame[c].dtype != _DTYPES[c]}
    return frame.astype(wrong) if wrong else frame


def score(model, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw rows (contract or Avito columns, any text) -> (scored valid rows, row errors).

    Invalid rows are reported in the errors frame (row, problem); valid rows are scored.
    """
    clean, errors = prepare_features(raw)
    if clean.empty:
        return clean.assign(**{c: pd.Series(dtype=float) for c in OUTPUT_COLUMNS}), errors
    pred = model.predict(to_model_input(clean))
    pred = pd.DataFrame(pred, columns=list(OUTPUT_COLUMNS)).set_axis(clean.index)
    return clean.join(pred), errors


def smoke_examples() -> pd.DataFrame:
    """Fixed cars whose prices must be finite, positive and ordered sensibly."""
    base = {
        "city": "Casablanca", "brand": "Dacia", "model": "Logan", "fuel_type": "Diesel",
        "gearbox": "Manuelle", "origin": "WW au Maroc", "condition": "Tres bon",
        "year": 2019, "mileage_km": 80_000, "fiscal_power_cv": 6, "doors": 5,
        "first_owner": True, **{c: False for c in schema.EQUIPMENT},
    }
    rows = [
        base,
        {**base, "year": 2009, "mileage_km": 230_000},  # same car, ten years older
        {**base, "brand": "Mercedes-Benz", "model": "Classe E", "fiscal_power_cv": 11,
         "gearbox": "Automatique", **{c: True for c in schema.EQUIPMENT}},
    ]
    return pd.DataFrame(rows)


def smoke_check(model) -> dict:
    """Score smoke_examples and raise ValidationError if the answers are not sane."""
    scored, errors = score(model, smoke_examples())
    if len(errors):
        raise ValidationError(f"smoke examples rejected: {errors['problem'].iloc[0]}")
    p = scored["price_dh"].to_numpy()
    problems = []
    if not np.all(np.isfinite(p)) or np.any(p <= 0):
        problems.append("non-positive or non-finite price")
    if not np.all((scored["lower_dh"] <= p) & (p <= scored["upper_dh"])):
        problems.append("price outside its own interval")
    if not p[1] < p[0]:
        problems.append("an older, more used car is not cheaper")
    if not p[2] > p[0]:
        problems.append("a Mercedes Classe E is not dearer than a Dacia Logan")
    if problems:
        raise ValidationError("smoke check failed: " + "; ".join(problems))
    return {"smoke_prices_dh": [round(float(v)) for v in p]}
