"""The fitted estimator in skops format: what serving loads instead of the pickled pyfunc.

train writes ESTIMATOR_FILE beside the pyfunc (an MLflow model artifact, so it travels
with every download and export); serving reads it with skops.io and the explicit
TRUSTED_TYPES below, so a model folder can hold data but never run code when loaded.
No MLflow here: the served wrapper offers what serving uses of a pyfunc (see
carprice.model.pyfunc.unwrap).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from carprice.errors import CarpriceError
from carprice.model.estimator import CarPriceModel, to_model_input

ESTIMATOR_ARTIFACT = "estimator"  # the key of mlflow.pyfunc.log_model(artifacts=...)
ESTIMATOR_FILE = "estimator.skops"
# Where MLflow puts it inside the logged model folder (its artifacts/ sub-folder).
ESTIMATOR_PATH = f"artifacts/{ESTIMATOR_FILE}"
MLMODEL_FILE = "MLmodel"  # MLflow's model description (YAML): our metadata, e.g. categories

# Types beyond skops' own defaults (numpy, builtins, scikit-learn estimators) that a
# CarPriceModel or its ridge subclass holds. Anything else in a file is refused, never
# instantiated. Found with skops.io.get_untrusted_types on trained models (both kinds); a
# new scikit-learn may need one more.
TRUSTED_TYPES: tuple[str, ...] = (
    "carprice.model.estimator.CarPriceModel",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # HistGradientBoostingRegressor keeps a partial of check_array as its preprocessor
    "functools.partial",
    "sklearn.utils.validation.check_array",
    # the ridge candidate (carprice.model.linear); OneHotEncoder keeps its output dtype
    "carprice.model.linear.CarPriceRidge",
    "numpy.dtype",
)


class ModelFileError(CarpriceError):
    """A model file that cannot be used: missing, of untrusted types, or not our model."""


def dump_estimator(model: CarPriceModel, path: Path) -> Path:
    """Write ``model`` to ``path`` in skops format."""
    import skops.io

    skops.io.dump(model, path)
    return path


def estimator_artifacts(model: CarPriceModel, folder: Path) -> dict[str, str]:
    """``artifacts`` for mlflow.pyfunc.log_model: the skops copy of ``model``, written in
    ``folder`` (MLflow copies it into the logged model as ESTIMATOR_PATH)."""
    return {ESTIMATOR_ARTIFACT: str(dump_estimator(model, folder / ESTIMATOR_FILE))}


def load_estimator(data: bytes) -> CarPriceModel:
    """A CarPriceModel from skops bytes; ModelFileError for any other content."""
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        # skops checks every type in the file against the list before building anything
        model = skops.io.loads(data, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        raise ModelFileError(f"{ESTIMATOR_FILE} holds untrusted types: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a corrupt file says so in one line
        raise ModelFileError(f"{ESTIMATOR_FILE} cannot be read: {exc}") from None
    if not isinstance(model, CarPriceModel):
        raise ModelFileError(f"{ESTIMATOR_FILE} holds a {type(model).__name__}, "
                             "not a CarPriceModel")
    return model


class SkopsCarPrice:
    """A CarPriceModel loaded from skops, with what serving uses of a CarPricePyfunc:
    ``predict`` (a frame, like a pyfunc), ``predict_frame``, ``predict_columns``,
    ``categories`` and ``estimator``."""

    def __init__(self, model: CarPriceModel, categories: Mapping | None = None):
        self.model = model
        self._categories = dict(categories) if categories else None

    def predict(self, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.predict_frame(model_input)

    def predict_frame(self, features: pd.DataFrame) -> pd.DataFrame:
        return self.model.predict_interval(to_model_input(features))

    def predict_columns(self, clean: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.model.interval(clean)

    @property
    def categories(self) -> dict[str, list[str]]:
        """The categories logged with the model (MLmodel metadata), else the estimator's."""
        return self._categories or self.model.categories_

    @property
    def estimator(self) -> CarPriceModel:
        return self.model


def logged_categories(mlmodel: bytes) -> dict | None:
    """The ``categories`` train logged in the MLmodel metadata (plain YAML), if any."""
    import yaml

    try:
        found = (yaml.safe_load(mlmodel) or {}).get("metadata") or {}
    except yaml.YAMLError:
        return None
    cats = found.get("categories") if isinstance(found, dict) else None
    return cats if isinstance(cats, dict) else None


def from_files(files: Mapping[str, bytes]) -> SkopsCarPrice:
    """The served model from a model folder's files (relative path -> bytes)."""
    data = files.get(ESTIMATOR_PATH)
    if data is None:
        raise ModelFileError(f"the model folder has no {ESTIMATOR_PATH} (a model logged "
                             "before models were stored in skops format: retrain it)")
    mlmodel = files.get(MLMODEL_FILE)
    return SkopsCarPrice(load_estimator(data), logged_categories(mlmodel) if mlmodel else None)
