"""carprice.model.skops_model: serving's model, read from skops with a trusted-type list,
prices identical to the last bit to the pickled pyfunc's, and no pickle ever opened."""

from __future__ import annotations

import json
import pickle

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.linear_model import LinearRegression

from carprice.contract.schema import TARGET
from carprice.contract.validation import prepare_features
from carprice.model import pyfunc
from carprice.model.estimator import OUTPUT_COLUMNS
from carprice.model.linear import CarPriceRidge
from carprice.model.skops_model import (
    ESTIMATOR_PATH,
    TRUSTED_TYPES,
    ModelFileError,
    SkopsCarPrice,
    from_files,
    load_estimator,
)
from carprice.registry import signing
from carprice.registry.export import EXPORT_DIRNAME, EXPORT_MODEL
from carprice.serving import model_source
from carprice.serving.pricing import predict_one
from carprice.sources import synthetic
from tests.unit.app_model import export_small_model, sign_export

CARS = 1000


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(pickled pyfunc, skops model through serving's verified loader) of one export."""
    models_dir = tmp_path_factory.mktemp("models")
    folder = export_small_model(models_dir)
    res = model_source.export_resolution("car-price", models_dir, "MLflow down")
    return mlflow.pyfunc.load_model(str(folder)), model_source.load_model(res)


@pytest.fixture(scope="module")
def cars() -> pd.DataFrame:
    clean, errors = prepare_features(synthetic.generate(CARS, seed=2024))
    assert errors.empty and len(clean) == CARS
    return clean


def test_serving_loads_the_skops_model_not_the_pyfunc(models):
    pickled, served = models
    assert isinstance(served, SkopsCarPrice) and pyfunc.unwrap(served) is served
    assert pyfunc.unwrap(pickled) is not None and pyfunc.unwrap(pickled) is not served
    assert pyfunc.model_categories(served) == pyfunc.model_categories(pickled)
    assert served.estimator.compiled_pipeline() is not None  # prepared for serving


def test_1000_cars_get_identical_prices_to_the_last_bit(models, cars):
    pickled, served = models
    for enforce in (True, False):
        a = pyfunc.predict_frame(pickled, cars, enforce_schema=enforce)
        b = pyfunc.predict_frame(served, cars, enforce_schema=enforce)
        assert list(a.columns) == list(b.columns) == list(OUTPUT_COLUMNS)
        for col in OUTPUT_COLUMNS:
            assert a[col].to_numpy().tobytes() == b[col].to_numpy().tobytes(), col
    columns = {c: cars[c].to_numpy() for c in cars.columns}
    a_cols, b_cols = pyfunc.predict_columns(pickled, columns), pyfunc.predict_columns(served,
                                                                                      columns)
    for col in OUTPUT_COLUMNS:
        assert a_cols[col].tobytes() == b_cols[col].tobytes(), col
    # scikit-learn's own path too (not the compiled scorer): the fitted state is the same
    raw_a = pyfunc.unwrap(pickled).estimator.pipeline_.predict(cars)
    raw_b = served.estimator.pipeline_.predict(cars)
    assert raw_a.tobytes() == raw_b.tobytes()
    assert pyfunc.smoke_check(served) == pyfunc.smoke_check(pickled)


def test_the_pickle_in_the_folder_is_never_opened(tmp_path, cars):
    """A python_model.pkl that would run code when unpickled: serving loads anyway
    (from skops), so nothing in it ever runs."""
    export_small_model(tmp_path)
    folder = tmp_path / EXPORT_DIRNAME / EXPORT_MODEL
    marker = tmp_path / "pwned"
    (folder / "python_model.pkl").write_bytes(
        b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    sign_export(tmp_path)  # even signed: the loader has no pickle to open
    model = model_source.load_model(
        model_source.export_resolution("car-price", tmp_path, "test"))
    assert predict_one(model, pyfunc.example_car())["price_dh"] > 0
    assert not marker.exists()
    pickle.loads((folder / "python_model.pkl").read_bytes())  # what unpickling would do
    assert marker.exists()


def test_untrusted_types_are_refused_before_anything_is_built():
    class Payload:
        pass

    with pytest.raises(ModelFileError, match="untrusted types: .*Payload"):
        load_estimator(skops.io.dumps({"x": Payload()}))


def test_a_file_of_another_model_or_garbage_is_refused():
    X = np.arange(10, dtype=float).reshape(-1, 1)
    with pytest.raises(ModelFileError, match="holds a LinearRegression, not a CarPriceModel"):
        load_estimator(skops.io.dumps(LinearRegression().fit(X, X.ravel())))
    with pytest.raises(ModelFileError, match="cannot be read"):
        load_estimator(b"not a zip file")


def test_a_folder_without_the_skops_file_says_retrain():
    with pytest.raises(ModelFileError, match=f"no {ESTIMATOR_PATH}.*retrain"):
        from_files({"MLmodel": b"flavors: {}\n", "python_model.pkl": b""})


def test_the_trusted_list_is_what_trained_models_need_and_no_more(models, ridge):
    """If scikit-learn adds a type to its fitted models, this says which to trust: the
    boosted trees and the ridge candidate together need exactly the list."""
    _, served = models
    needed = {t for model in (served.estimator, ridge)
              for t in skops.io.get_untrusted_types(data=skops.io.dumps(model))}
    assert needed == set(TRUSTED_TYPES)


@pytest.fixture(scope="module")
def ridge() -> CarPriceRidge:
    listings = synthetic.generate(CARS, seed=7)
    train, calib = listings.iloc[:800], listings.iloc[800:]
    return CarPriceRidge(alpha=1.0, interval_coverage=0.8).fit(
        train, train[TARGET], calib, calib[TARGET])


def test_the_ridge_candidate_loads_from_skops_with_the_same_prices(ridge, cars):
    loaded = load_estimator(skops.io.dumps(ridge))
    assert isinstance(loaded, CarPriceRidge) and loaded.q_log_ == ridge.q_log_ > 0
    assert loaded.categories_ == ridge.categories_
    served = SkopsCarPrice(loaded)
    pd.testing.assert_frame_equal(served.predict_frame(cars), ridge.predict_interval(cars))


def test_categories_come_from_the_logged_metadata(tmp_path):
    folder = export_small_model(tmp_path)
    files = signing.read_folder(folder)
    model = from_files(files)
    mlmodel = (folder / "MLmodel").read_text()
    assert "categories" in mlmodel
    assert model.categories == model.estimator.categories_
    logged = {"brand": ["Dacia"]}  # the MLmodel metadata wins over the estimator
    edited = {**files, "MLmodel": json.dumps({"metadata": {"categories": logged}}).encode()}
    assert from_files(edited).categories == logged
    without = {**files, "MLmodel": json.dumps({"flavors": {}}).encode()}
    assert from_files(without).categories == model.estimator.categories_
