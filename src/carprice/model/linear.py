"""The linear candidate: ridge regression on log price over the same features as the
boosted trees (one-hot categories, imputed and scaled numbers), with the same interface
as CarPriceModel (predict_interval and its split-conformal interval, categories_, q_log_)
and saved the same ways (pickle in the pyfunc, skops for serving)."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from carprice.contract import schema
from carprice.model.estimator import MAX_CATEGORIES, CarPriceModel
from carprice.model.fast_scorer import UNSEEN, check_agrees, probe_rows

log = logging.getLogger(__name__)


def build_ridge_pipeline(alpha: float) -> Pipeline:
    """One-hot categories (rare and unseen values share the infrequent column or none),
    numbers imputed with their median (blanks reach the model as NaN) and scaled, then
    ridge on log price: each category multiplies the price by a factor."""
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="infrequent_if_exist",
                                  max_categories=MAX_CATEGORIES, sparse_output=False),
             list(schema.CATEGORICAL)),
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
             [*schema.NUMERIC, *schema.BOOLEAN]),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("encode", encode), ("ridge", Ridge(alpha=alpha))])


class CarPriceRidge(CarPriceModel):
    """A CarPriceModel whose pipeline is ridge regression (fit, interval and loading are
    the parent's: only the pipeline differs)."""

    def __init__(self, *, alpha: float, interval_coverage: float, random_state: int = 0):
        # The boosting keys mean nothing here; they stay as attributes the parent's
        # methods never read for this pipeline.
        self.alpha = alpha
        self.interval_coverage = interval_coverage
        self.random_state = random_state

    def _build_pipeline(self) -> Pipeline:
        return build_ridge_pipeline(self.alpha)

    def compiled_pipeline(self) -> CompiledRidge | None:  # type: ignore[override]
        compiled: CompiledRidge | Literal[False] | None = self.__dict__.get("_compiled")
        if compiled is None:  # once per fitted or loaded model; False: not compilable
            compiled = self.__dict__["_compiled"] = compile_ridge(self.pipeline_) or False
        return compiled or None


class CompiledRidge:
    """predict_log of a fitted ridge pipeline without scikit-learn's per-call overheads
    (one row through the pipeline: ~6.6 ms, here well under 1 ms): a log-price
    contribution per category value, found by passing every learned category through the
    fitted encoder itself, plus the imputed, scaled numbers times their coefficients."""

    def __init__(self, pipeline: Pipeline):
        encode, ridge = pipeline.named_steps["encode"], pipeline.named_steps["ridge"]
        cat, num = encode.named_transformers_["cat"], encode.named_transformers_["num"]
        learned = [list(c) for c in cat.categories_]
        probe = probe_rows(learned, max(len(c) for c in learned) + 1)
        onehot = cat.transform(probe[list(schema.CATEGORICAL)])
        n_cat = onehot.shape[1]
        coef = np.asarray(ridge.coef_, dtype=float)
        if coef.shape != (n_cat + len(NUMBERS),):
            raise ValueError("the pipeline's columns are not the contract's features")
        widths = np.asarray(cat._n_features_outs)  # output columns of each input column
        starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
        self.lookups: list[dict] = []
        self.unseen: list[float] = []
        self.indexes: list[pd.Index] = []
        self.values: list[np.ndarray] = []
        for j, col in enumerate(schema.CATEGORICAL):
            span = slice(starts[j], starts[j] + widths[j])
            part = onehot[:, span] @ coef[span]
            by_value = dict(zip(probe[col], part.tolist(), strict=True))
            self.unseen.append(by_value.pop(UNSEEN))
            self.lookups.append(by_value)
            # for many rows: one hashed lookup per column (position -1, unseen, is last)
            self.indexes.append(pd.Index(list(by_value), dtype=object))
            self.values.append(np.append(np.fromiter(by_value.values(), dtype=float),
                                         self.unseen[-1]))
        imputer, scaler = num.steps[0][1], num.steps[1][1]
        self.medians = np.asarray(imputer.statistics_, dtype=float)
        self.weights = coef[n_cat:] / scaler.scale_
        self.offset = float(ridge.intercept_) - float(scaler.mean_ @ self.weights)

    def predict_log(self, X) -> np.ndarray:
        """X: a frame, or a mapping of contract column -> values."""
        numbers = np.column_stack([np.asarray(X[c], dtype=float) for c in NUMBERS])
        numbers = np.where(np.isnan(numbers), self.medians, numbers)
        out = self.offset + numbers @ self.weights
        for j, col in enumerate(schema.CATEGORICAL):
            if len(out) <= FEW_ROWS:  # a dict beats pandas' set-up cost on an API request
                lookup, unseen = self.lookups[j], self.unseen[j]
                out = out + np.fromiter((lookup.get(v, unseen) for v in X[col]),
                                        dtype=float, count=len(out))
            else:
                found = self.indexes[j].get_indexer(pd.Index(np.asarray(X[col], dtype=object)))
                out = out + self.values[j][found]
        return out


FEW_ROWS = 64
NUMBERS = (*schema.NUMERIC, *schema.BOOLEAN)  # the "num" part of the encoder, in order
# Scikit-learn sums the same terms in another order: the results agree to rounding.
ATOL_LOG = 1e-9


def compile_ridge(pipeline: Pipeline) -> CompiledRidge | None:
    """The compiled ridge if it predicts as the pipeline (to ATOL_LOG on probe rows, both
    ways: frame and columns); None otherwise (callers then use the pipeline)."""
    try:
        compiled = CompiledRidge(pipeline)
        encode = pipeline.named_steps["encode"]
        learned = [list(c) for c in encode.named_transformers_["cat"].categories_]
        probe = probe_rows(learned, max(len(c) for c in learned) + 1)
        check_agrees(compiled, pipeline, probe,
                     [probe, {c: probe[c].to_numpy() for c in schema.FEATURES}], ATOL_LOG)
    except Exception as exc:  # noqa: BLE001 - the pipeline itself still works
        log.warning("scoring the ridge through the scikit-learn pipeline (slower): %s", exc)
        return None
    return compiled
