"""The fitted pipeline's prediction without its per-call overheads, for serving.

Pipeline.predict has a fixed cost whatever the row count: the ColumnTransformer encodes
the categories (OrdinalEncoder), then HistGradientBoosting encodes its input a second time
with its own internal OrdinalEncoder, both behind pandas and input-validation layers. Both
encodings are fixed maps of a category value, so here they are folded into one dict per
column, found by passing every learned category through the fitted transformers
themselves. The trees are then summed with the boosting model's own per-tree predictors,
in its order: the result is the pipeline's to the last bit.

This reads private attributes of HistGradientBoostingRegressor (scikit-learn is pinned in
pyproject.toml): `compile_pipeline` checks its result against Pipeline.predict on probe
rows, both ways, and returns None (callers then use the pipeline) on any difference or
error.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from carprice.contract import schema
from carprice.contract.validation import Columns

log = logging.getLogger(__name__)
UNSEEN = "\x00unseen"  # a probe value no training set holds
THREADED_MIN_ROWS = 2_000  # below this, OpenMP's start-up per tree costs more than it saves
VECTOR_MIN_ROWS = 64  # below this, a dict lookup per value beats building a hash lookup


class CompiledPipeline:
    """predict_log of a fitted build_pipeline() pipeline from contract columns."""

    def __init__(self, pipeline: Pipeline):
        encode, boost = pipeline.named_steps["encode"], pipeline.named_steps["boost"]
        names = list(encode.get_feature_names_out())
        n_cat = len(schema.CATEGORICAL)
        if names != list(schema.FEATURES) or list(boost.is_categorical_) != [
                i < n_cat for i in range(len(names))]:
            raise ValueError("the pipeline's columns are not the contract's features")
        self.columns = names
        self.n_cat = n_cat
        self.lookups = _category_codes(encode, boost)
        # The same maps for whole columns: position in index -> code; -1 (absent) -> NaN.
        self.index = [pd.Index(list(lookup), dtype=object) for lookup in self.lookups]
        self.codes = [np.append(np.fromiter(lookup.values(), dtype=np.float64, count=len(lookup)),
                                np.nan) for lookup in self.lookups]
        self.predictors = [p for per_iteration in boost._predictors for p in per_iteration]
        if len(self.predictors) != len(boost._predictors):
            raise ValueError("more than one tree per iteration")
        self.bitsets, self.f_idx_map = boost._bin_mapper.make_known_categories_bitsets()
        self.baseline = float(np.ravel(boost._baseline_prediction)[0])
        self.inverse_link = boost._loss.link.inverse

    def design(self, columns: Columns) -> np.ndarray:
        """The boosting model's input: category codes, then numbers and flags as floats."""
        n = len(columns[self.columns[0]])
        X = np.empty((n, len(self.columns)), dtype=np.float64)
        for j, col in enumerate(self.columns):
            values = columns[col]
            if j < self.n_cat and n >= VECTOR_MIN_ROWS:  # one hash lookup for the column
                X[:, j] = self.codes[j][self.index[j].get_indexer(values)]
            elif j < self.n_cat:
                get, nan = self.lookups[j].get, np.nan
                X[:, j] = [get(v, nan) for v in values]
            else:
                X[:, j] = np.asarray(values, dtype=np.float64)
        return X

    def predict_log(self, columns: Columns) -> np.ndarray:
        """Pipeline.predict for a frame or a mapping of column -> values."""
        X = self.design(columns)
        return self.inverse_link(self.raw_by_tree(X))

    def raw_by_tree(self, X: np.ndarray) -> np.ndarray:
        # Read per call, not once at compile time: a caller's threadpool_limits (evaluate's
        # permutation importance runs one thread) must reach the trees' explicit n_threads.
        threads = _openmp_effective_n_threads() if len(X) >= THREADED_MIN_ROWS else 1
        raw = np.full(len(X), self.baseline)
        for predictor in self.predictors:  # in order: the sum is HGB's own, bit for bit
            raw += predictor.predict(X, self.bitsets, self.f_idx_map, threads)
        return raw


def _category_codes(encode, boost) -> list[dict]:
    """Per categorical column: value -> the code the boosting model sees (absent: NaN)."""
    learned = encode.named_transformers_["cat"].categories_
    rows = max(len(c) for c in learned)
    probe = probe_rows(learned, rows)
    codes = boost._preprocessor.transform(encode.transform(probe))
    cat_codes = codes[:, :len(learned)]
    known = cat_codes[~np.isnan(cat_codes)]
    if len(known) and not (np.all(known == np.round(known)) and known.min() >= 0
                           and known.max() < 255):
        raise ValueError("category codes outside 0..254")  # the trees' bitsets hold uint8
    return [{value: float(codes[r, j]) for r, value in enumerate(cats)}
            for j, cats in enumerate(learned)]


def probe_rows(learned: list, rows: int) -> pd.DataFrame:
    """Every learned category (cycled), an unseen one, and numbers across their ranges
    with some blanks: the rows compile_pipeline checks itself on."""
    out: dict[str, Any] = {}
    for j, col in enumerate(schema.CATEGORICAL):
        values = [*learned[j], UNSEEN]
        out[col] = [str(values[r % len(values)]) for r in range(rows)]
    for k, col in enumerate(schema.NUMERIC):
        lo, hi = schema.RANGES[col]
        numbers = np.linspace(lo, hi, rows)
        numbers[k::7] = np.nan
        out[col] = numbers
    for k, col in enumerate(schema.BOOLEAN):
        out[col] = (np.arange(rows) + k) % 3 == 0
    return pd.DataFrame(out).astype({c: schema.DTYPES[c] for c in schema.FEATURES})


def compile_pipeline(pipeline: Pipeline) -> CompiledPipeline | None:
    """The compiled pipeline if it predicts exactly as the pipeline; None otherwise."""
    try:
        compiled = CompiledPipeline(pipeline)
        encode = pipeline.named_steps["encode"]
        learned = encode.named_transformers_["cat"].categories_
        probe = probe_rows(learned, max(len(c) for c in learned) + 1)
        check_agrees(compiled, pipeline, probe, [probe])
    except Exception as exc:  # noqa: BLE001 - the pipeline itself still works
        log.warning("scoring through the scikit-learn pipeline (slower): %s", exc)
        return None
    return compiled


def check_agrees(compiled, pipeline: Pipeline, probe, inputs, atol: float = 0.0) -> None:
    """ValueError unless ``compiled.predict_log`` of each of ``inputs`` (the probe rows, as
    a frame or as columns) gives ``pipeline.predict(probe)``: exactly, or to ``atol``."""
    want = pipeline.predict(probe)
    for X in inputs:
        got = compiled.predict_log(X)
        same = (np.array_equal(got, want) if atol == 0
                else np.allclose(got, want, rtol=0, atol=atol))
        if not same:
            raise ValueError(f"differs from Pipeline.predict by up to "
                             f"{np.nanmax(np.abs(got - want)):.3g}")
