"""The price model: one scikit-learn pipeline (encoding + gradient boosting on log
price) plus a split-conformal prediction interval calibrated on held-out rows."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils.validation import check_is_fitted

from carprice.contract import schema
from carprice.model.fast_scorer import CompiledPipeline, compile_pipeline

# Native categorical support in HGB takes at most 255 bins; rarer values share one code.
MAX_CATEGORIES = 250

# Domain knowledge the gate's behaviour checks (model/behaviour.py) enforce: a newer car is
# never cheaper, more km never make it dearer. As constraints, a small or noisy sample
# cannot bend them.
MONOTONE: dict[str, int] = {"year": 1, "mileage_km": -1}

# What the model returns. The price has the target's name: a prediction of price_dh.
PRICE = schema.TARGET
LOWER = "lower_dh"  # bounds of the split-conformal interval
UPPER = "upper_dh"
OUTPUT_COLUMNS: tuple[str, ...] = (PRICE, LOWER, UPPER)
# The prediction beside the actual price (PRICE) in evaluation tables.
PREDICTED = "predicted_dh"


def build_pipeline(learning_rate: float, max_iter: int, max_leaf_nodes: int,
                   min_samples_leaf: int, l2_regularization: float, interactions: bool,
                   random_state: int) -> Pipeline:
    """Encoding + boosting on log price. Without interactions every tree uses one
    feature, an additive model in log price, i.e. price = product of factors."""
    encode = ColumnTransformer(
        [
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                   max_categories=MAX_CATEGORIES), list(schema.CATEGORICAL)),
            ("num", "passthrough", [*schema.NUMERIC, *schema.BOOLEAN]),
        ],
        verbose_feature_names_out=False,
    )
    n_cat = len(schema.CATEGORICAL)
    n_all = len(schema.FEATURES)
    boost = HistGradientBoostingRegressor(
        learning_rate=learning_rate, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes,
        min_samples_leaf=min_samples_leaf, l2_regularization=l2_regularization,
        categorical_features=[i < n_cat for i in range(n_all)],
        # encoded order: categorical, then numeric and boolean as in the contract
        monotonic_cst=[MONOTONE.get(c, 0) for c in (*schema.CATEGORICAL, *schema.NUMERIC,
                                                      *schema.BOOLEAN)],
        interaction_cst=None if interactions else "no_interactions",
        early_stopping=False, random_state=random_state,
    )
    return Pipeline([("encode", encode), ("boost", boost)])


def conformal_quantile(abs_residuals: np.ndarray, coverage: float) -> float:
    """Split-conformal radius: the k-th smallest |residual|, k = ceil((n+1)c)."""
    n = len(abs_residuals)
    if n == 0:
        raise ValueError("no calibration rows for the prediction interval")
    k = min(n, math.ceil((n + 1) * coverage))
    return float(np.partition(np.asarray(abs_residuals, dtype=float), k - 1)[k - 1])


class CarPriceModel(RegressorMixin, BaseEstimator):
    """Predicts PRICE; ``predict_interval`` adds the conformal interval (LOWER, UPPER)."""

    # No defaults here: params.yaml's model section is the one set of default values
    # (from_params, or carprice.config.params for a typed copy).
    def __init__(self, *, learning_rate: float, max_iter: int, max_leaf_nodes: int,
                 min_samples_leaf: int, l2_regularization: float, interactions: bool,
                 interval_coverage: float, random_state: int = 0):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.interactions = interactions
        self.interval_coverage = interval_coverage
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: pd.Series, X_calib: pd.DataFrame | None = None,
            y_calib: pd.Series | None = None) -> CarPriceModel:
        """Fit on (X, y); calibrate the interval on (X_calib, y_calib), never on X."""
        if (np.asarray(y) <= 0).any():
            raise ValueError("prices must be positive to model log(price)")
        self.__dict__.pop("_compiled", None)  # compiled from the previous fit
        self.pipeline_ = self._build_pipeline()
        self.pipeline_.fit(X[list(schema.FEATURES)], np.log(np.asarray(y, dtype=float)))
        self.q_log_ = 0.0
        if X_calib is not None and y_calib is not None:
            residuals = np.log(np.asarray(y_calib, dtype=float)) - self._predict_log(X_calib)
            self.q_log_ = conformal_quantile(np.abs(residuals), self.interval_coverage)
        self.categories_ = {
            col: [str(v) for v in cats]
            for col, cats in zip(schema.CATEGORICAL,
                                 self.pipeline_.named_steps["encode"].named_transformers_["cat"]
                                 .categories_, strict=True)
        }
        return self

    def _build_pipeline(self) -> Pipeline:
        """The unfitted pipeline; steps "encode" (a ColumnTransformer whose "cat" part
        learns categories_) then the regressor, on log price."""
        return build_pipeline(
            self.learning_rate, self.max_iter, self.max_leaf_nodes, self.min_samples_leaf,
            self.l2_regularization, self.interactions, self.random_state)

    def __getstate__(self) -> dict:
        # The compiled scorer is rebuilt after loading: pickles stay as they were.
        state = super().__getstate__()
        return {k: v for k, v in state.items() if k != "_compiled"}

    def compiled_pipeline(self) -> CompiledPipeline | None:
        compiled: CompiledPipeline | Literal[False] | None = self.__dict__.get("_compiled")
        if compiled is None:  # once per fitted or loaded model; False: not compilable
            compiled = self._compiled = compile_pipeline(self.pipeline_) or False
        return compiled or None

    def _predict_log(self, X) -> np.ndarray:
        """X: a frame, or a mapping of contract column -> values (serving's records)."""
        check_is_fitted(self, "pipeline_")
        compiled = self.compiled_pipeline()
        if compiled is not None:
            return compiled.predict_log(X)
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame({c: X[c] for c in schema.FEATURES})
        if tuple(X.columns) != schema.FEATURES:  # a column selection is a copy: only if needed
            X = X[list(schema.FEATURES)]
        return self.pipeline_.predict(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.exp(self._predict_log(X))

    def interval(self, X) -> dict[str, np.ndarray]:
        """OUTPUT_COLUMNS -> values, for a frame or a mapping of column -> values."""
        log_pred = self._predict_log(X)
        return {PRICE: np.exp(log_pred), LOWER: np.exp(log_pred - self.q_log_),
                UPPER: np.exp(log_pred + self.q_log_)}

    def predict_interval(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.interval(X), index=X.index)


_DTYPES = {c: pd.Series(dtype=t).dtype for c, t in schema.DTYPES.items()}


def to_model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """Contract features with the signature's dtypes (a pyfunc refuses int/float mixes)."""
    # Select and cast only when needed: each costs a millisecond or so on one row.
    if tuple(frame.columns) != schema.FEATURES:
        frame = frame[list(schema.FEATURES)]
    wrong = {c: schema.DTYPES[c] for c in schema.FEATURES if frame[c].dtype != _DTYPES[c]}
    return frame.astype(wrong) if wrong else frame


MODEL_PARAMS = ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf",
                "l2_regularization", "interactions", "interval_coverage")


def from_params(model_params: dict, random_state: int = 0, **changes) -> CarPriceModel:
    """The model of params.yaml's ``model`` section, with ``changes`` on top."""
    return CarPriceModel(**{k: changes.get(k, model_params[k]) for k in MODEL_PARAMS},
                         random_state=random_state)


def from_candidate(settings: dict, random_state: int = 0) -> CarPriceModel:
    """The model of one candidate (``Params.candidate(name)``: its estimator and keys)."""
    if settings["estimator"] == "ridge":
        from carprice.model.linear import CarPriceRidge

        return CarPriceRidge(alpha=settings["alpha"],
                             interval_coverage=settings["interval_coverage"],
                             random_state=random_state)
    return from_params(settings, random_state)
