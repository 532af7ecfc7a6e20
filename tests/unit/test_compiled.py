"""carprice.model.fast_scorer: the model's compiled scorer predicts exactly as the scikit-learn
pipeline it replaces (the path before it), falls back to the pipeline when it cannot,
and leaves the pickled model as it was."""

from __future__ import annotations

import pickle

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from carprice.contract import schema
from carprice.contract.validation import prepare_features
from carprice.model import estimator, fast_scorer
from carprice.model.estimator import LOWER, PRICE, UPPER, from_params
from carprice.model.pyfunc import CarPricePyfunc
from carprice.serving import pricing
from carprice.sources import synthetic
from tests.unit.app_model import MODEL_DEFAULTS


def _fit(monkeypatch, max_categories: int, **changes) -> estimator.CarPriceModel:
    monkeypatch.setattr(estimator, "MAX_CATEGORIES", max_categories)  # read by build_pipeline
    data = synthetic.generate(1500, seed=3)
    est = from_params(MODEL_DEFAULTS, max_iter=40, learning_rate=0.3, **changes)
    return est.fit(data.iloc[:1200], data.price_dh.iloc[:1200], data.iloc[1200:],
                   data.price_dh.iloc[1200:])


@pytest.fixture(scope="module", params=["additive", "interactions, rare values grouped"])
def fitted(request):
    with pytest.MonkeyPatch.context() as mp:
        if request.param == "additive":
            return _fit(mp, estimator.MAX_CATEGORIES)
        return _fit(mp, 8, interactions=True)  # 8: OrdinalEncoder groups infrequent values


def generated_cars(n: int, seed: int) -> list[dict]:
    """Synthetic cars, some with unseen values, blanks and absent flags."""
    rng = np.random.default_rng(seed)
    cars = synthetic.generate(n, seed=seed).drop(columns=[schema.TARGET]).to_dict("records")
    odd = {"brand": "Lada", "model": "Niva", "city": "Lagouira", "year": None,
           "mileage_km": None, "fiscal_power_cv": None, "condition": None, "origin": None}
    for car in cars:
        for col in rng.choice(list(odd), size=rng.integers(0, 3), replace=False):
            car[col] = odd[col]
        if rng.random() < 0.2:
            car.pop(str(rng.choice(schema.EQUIPMENT)))
    return cars


def clean_frame(cars: list[dict]) -> pd.DataFrame:
    clean, errors = prepare_features(pd.DataFrame(cars, columns=list(schema.FEATURES)))
    assert errors.empty
    return clean


def before(fitted, clean: pd.DataFrame) -> pd.DataFrame:
    """predict_interval as it was computed before the compiled scorer: Pipeline.predict."""
    log_pred = fitted.pipeline_.predict(clean)
    return pd.DataFrame({PRICE: np.exp(log_pred), LOWER: np.exp(log_pred - fitted.q_log_),
                         UPPER: np.exp(log_pred + fitted.q_log_)}, index=clean.index)


def test_the_fitted_pipelines_compile(fitted):
    assert fitted.compiled_pipeline() is not None
    encoder = fitted.pipeline_.named_steps["encode"].named_transformers_["cat"]
    grouped = [c for c in encoder.infrequent_categories_ if c is not None]
    assert bool(grouped) == fitted.interactions  # the second model has grouped values


@pytest.mark.parametrize("rows", [1, 24, 300,
                                  fast_scorer.THREADED_MIN_ROWS + 10])
def test_prices_are_the_pipelines_to_the_last_bit(fitted, rows):
    clean = clean_frame(generated_cars(rows, seed=rows))
    pd.testing.assert_frame_equal(fitted.predict_interval(clean), before(fitted, clean),
                                  check_exact=True)


def test_the_record_path_gives_the_frame_paths_prices(fitted, tmp_path):
    folder = tmp_path / "model"
    mlflow.pyfunc.save_model(str(folder), python_model=CarPricePyfunc(fitted))
    loaded = mlflow.pyfunc.load_model(str(folder))
    cars = generated_cars(300, seed=4)
    want = before(fitted, clean_frame(cars)).to_dict("records")
    assert pricing.price_cars(loaded, cars) == want


def test_a_scorer_that_differs_from_the_pipeline_is_not_used(fitted, monkeypatch, caplog):
    real = fast_scorer._category_codes

    def brands_unseen(encode, boost):
        codes = real(encode, boost)
        codes[schema.CATEGORICAL.index("brand")] = {}  # every brand scored as a new one
        return codes

    monkeypatch.setattr(fast_scorer, "_category_codes", brands_unseen)
    assert fast_scorer.compile_pipeline(fitted.pipeline_) is None
    assert "differs from Pipeline.predict" in caplog.text
    copy = pickle.loads(pickle.dumps(fitted))
    assert copy.compiled_pipeline() is None  # and the model predicts through the pipeline
    clean = clean_frame(generated_cars(50, seed=5))
    pd.testing.assert_frame_equal(copy.predict_interval(clean), before(fitted, clean),
                                  check_exact=True)


def test_the_pickle_is_as_before_the_compiled_scorer(fitted):
    loaded, twin = pickle.loads(pickle.dumps(fitted)), pickle.loads(pickle.dumps(fitted))
    assert "_compiled" not in loaded.__dict__
    assert loaded.compiled_pipeline() is not None  # compiled after loading, as served
    assert pickle.dumps(loaded) == pickle.dumps(twin)


def test_column_lookup_matches_per_value_lookup(fitted, monkeypatch):
    """Many rows go through one hash lookup per column (Index.get_indexer), few through a
    dict per value: the same codes, unseen values and blanks included."""
    scorer = fitted.compiled_pipeline()
    clean = clean_frame(generated_cars(300, seed=11))
    columns = {c: clean[c].to_numpy() for c in schema.FEATURES}
    assert len(clean) >= fast_scorer.VECTOR_MIN_ROWS
    vector = scorer.design(clean), scorer.design(columns)
    monkeypatch.setattr(fast_scorer, "VECTOR_MIN_ROWS", len(clean) + 1)
    per_value = scorer.design(clean), scorer.design(columns)
    for got, want in zip(vector, per_value, strict=True):
        np.testing.assert_array_equal(got, want)


def test_thread_limit_of_the_caller_reaches_the_trees(fitted, monkeypatch):
    """threadpool_limits (evaluate's permutation importance) must bound the trees'
    explicit n_threads: a count cached at compile time would bypass it."""
    from threadpoolctl import threadpool_limits

    scorer = fitted.compiled_pipeline()
    seen = []
    predictor_type = type(scorer.predictors[0])
    real = predictor_type.predict
    monkeypatch.setattr(predictor_type, "predict",
                        lambda self, X, b, f, n: seen.append(n) or real(self, X, b, f, n))
    X = np.zeros((fast_scorer.THREADED_MIN_ROWS, len(scorer.columns)))
    with threadpool_limits(limits=1, user_api="openmp"):
        scorer.raw_by_tree(X)
    assert set(seen) == {1}
