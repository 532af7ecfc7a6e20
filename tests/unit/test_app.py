"""The Streamlit app (app/streamlit_app.py) through streamlit.testing.v1.AppTest.

No MLflow server here: MLflow is a closed loopback port, so the app must fall back to the
exported copy, or explain how to get a model when there is none. The app against a real
server is in tests/integration/test_app_mlflow.py.
"""

from __future__ import annotations

import json
import re

import mlflow.pyfunc
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from carprice.config import settings
from carprice.contract import catalog, schema
from carprice.contract.validation import ValidationError
from carprice.model.pyfunc import example_car
from carprice.pipeline import definition
from carprice.registry import mlflow_server
from carprice.registry.export import EXPORT_DIRNAME, EXPORT_META, EXPORT_MODEL, EXPORT_SIGNATURE
from carprice.serving.pricing import predict_one
from carprice.sources import synthetic
from tests.conftest import REPO, free_port
from tests.unit.app_model import MODEL_NAME, export_small_model

APP = str(REPO / "app" / "streamlit_app.py")
TIMEOUT = 90  # model loads take seconds; AppTest's default is 3
NUMBER_LABELS = {"year": "Year", "mileage_km": "Mileage (km)",
                 "fiscal_power_cv": "Fiscal power (CV)", "doors": "Doors"}


@pytest.fixture
def app(workdir, monkeypatch):
    """Factory of AppTests with fresh caches, MLflow 'down' and a given models dir."""
    st.cache_data.clear()
    st.cache_resource.clear()
    # A real closed port: nothing listens once the socket is closed.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv(settings.ENV_MODEL_NAME, raising=False)
    for key in mlflow_server.CLIENT_ENV_DEFAULTS:  # the app sets them; undone after the test
        monkeypatch.delenv(key, raising=False)

    def make(models_dir) -> AppTest:
        monkeypatch.setenv("CARPRICE_MODELS_DIR", str(models_dir))
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        assert not at.exception, at.exception
        return at

    yield make
    st.cache_data.clear()
    st.cache_resource.clear()


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def predict_button(at: AppTest):
    return next(b for b in at.button if b.label == "Predict price")


def test_no_model_explains_how_to_get_one(app, tmp_path):
    at = app(tmp_path / "empty")
    assert "No model to serve yet" in texts(at.warning)
    page = texts(at.markdown)
    assert definition.DAG_ID in page and "carprice run" in page
    assert "cannot be reached" in texts(at.caption)
    assert not [b for b in at.button if b.label == "Predict price"]
    assert not at.error


def test_no_tracking_uri_and_no_export_is_explained(app, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    at = app(tmp_path / "empty")
    assert "No model to serve yet" in texts(at.warning)
    assert "MLFLOW_TRACKING_URI is not set" in texts(at.caption)


def test_mlflow_down_serves_the_export_with_a_banner(app, export_dir):
    at = app(export_dir)
    banner = texts(at.warning)
    assert f"MLflow is unreachable: serving the exported copy of {MODEL_NAME} v7" in banner
    side = texts(at.sidebar.markdown)
    assert f"{MODEL_NAME} v7" in side and "exported copy" in side and "feedbeef" in side
    assert not at.metric  # nothing priced yet
    predict_button(at).click().run()
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    assert labels == ["Estimated price", "Low (80% interval)", "High (80% interval)"]
    values = [int(m.value.removesuffix(" DH").replace(" ", "")) for m in at.metric]
    assert values[1] <= values[0] <= values[2] and values[0] > 1000
    at.session_state["tab"] = "Model"  # lazy tabs: only the open one runs
    at.run()
    assert "need MLflow" in texts(at.info)  # model tab without registry
    assert not at.metric


def test_a_refused_export_leaves_the_last_good_model_and_says_why(app, tmp_path):
    models_dir = tmp_path / "models"
    export_small_model(models_dir, version="7")
    at = app(models_dir)
    assert not at.error
    meta_file = models_dir / EXPORT_DIRNAME / EXPORT_META
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "version": "8", EXPORT_SIGNATURE: None}))
    st.cache_data.clear()  # the export is read again (its TTL has passed)
    at.run()
    assert not at.exception
    shown = texts(at.error)
    assert "A newer model was refused: still serving v7" in shown
    assert "refused car-price v8: it is not signed" in shown
    predict_button(at).click().run()
    assert at.metric[0].value.endswith("DH")


def test_a_first_model_refused_is_explained(app, tmp_path, monkeypatch):
    models_dir = tmp_path / "models"
    export_small_model(models_dir, version="7")
    monkeypatch.delenv(settings.ENV_SIGNING_PUBLIC_KEY)
    monkeypatch.delenv(settings.ENV_SIGNING_KEY)
    at = app(models_dir)
    assert f"{settings.ENV_SIGNING_PUBLIC_KEY} is not set" in texts(at.caption)
    assert "No model to serve yet" in texts(at.warning)
    assert not [b for b in at.button if b.label == "Predict price"]


def test_a_dead_prediction_log_never_costs_the_user_the_price(app, export_dir, monkeypatch):
    # a real closed port: Postgres "down"; the log warns in the background, the price shows
    monkeypatch.setenv("CARPRICE_PREDLOG_DSN",
                       f"postgresql://carprice:secret@127.0.0.1:{free_port()}/predictions")
    at = app(export_dir)
    predict_button(at).click().run()
    assert not at.exception and not at.error
    assert at.metric[0].value.endswith("DH")


def test_model_choices_follow_the_brand(app, export_dir):
    at = app(export_dir)
    assert at.selectbox(key="brand").options == sorted(catalog.brand_models())
    assert at.selectbox(key="model_Dacia").value == "Logan"
    at.selectbox(key="brand").set_value("BMW").run()
    assert at.selectbox(key="model_BMW").options == catalog.brand_models()["BMW"]
    at.selectbox(key="model_BMW").set_value("X5").run()
    predict_button(at).click().run()
    assert not at.exception and at.metric[0].value.endswith("DH")


def test_closed_choices_show_accented_labels_and_price_the_code(app, export_dir):
    """The form shows the export's spelling ('Très bon'); the model gets the contract code."""
    at = app(export_dir)
    condition = at.selectbox(key="pick_condition")
    assert condition.options == [schema.label("condition", c)
                                 for c in schema.CLOSED_CATEGORIES["condition"]]
    assert "Très bon" in condition.options and "Pour Pièces" in condition.options
    assert "Tres bon" not in condition.options
    assert condition.value == example_car()["condition"] == "Tres bon"
    assert "Dédouanée" in at.selectbox(key="pick_origin").options
    assert "Fès" in at.selectbox(key="pick_city").options
    condition.set_value("Endommage")
    at.selectbox(key="pick_city").set_value("Fes")
    predict_button(at).click().run()
    assert not at.exception and not at.error
    model = mlflow.pyfunc.load_model(str(export_dir / EXPORT_DIRNAME / EXPORT_MODEL))
    price = predict_one(model, {**example_car(), "condition": "Endommage", "city": "Fes"})
    assert at.metric[0].value == f"{round(price[schema.TARGET], -2):,.0f} DH".replace(",", " ")


def test_model_unseen_in_training_is_flagged(app, export_dir):
    at = app(export_dir)
    at.selectbox(key="model_Dacia").set_value("Jogger").run()  # a "new model", not trained on
    predict_button(at).click().run()
    assert at.metric[0].value.endswith("DH")
    assert "model 'Jogger'" in texts(at.info)


def test_out_of_range_numbers_never_reach_the_model(app, export_dir):
    """The form's bounds are the contract's, and the scoring path the page calls
    (scoring.predict_one) refuses a value outside them before the model runs."""
    at = app(export_dir)
    model = mlflow.pyfunc.load_model(str(export_dir / EXPORT_DIRNAME / EXPORT_MODEL))
    for column in schema.NUMERIC:
        lo, hi = schema.RANGES[column]
        widget = next(n for n in at.number_input if n.label == NUMBER_LABELS[column])
        assert (widget.min, widget.max) == (lo, hi)
        assert predict_one(model, {**example_car(), column: hi})[schema.TARGET] > 0
        for value in (lo - 1, hi + 1):
            shown = f"{column} '{int(value)}' outside {lo:g}..{hi:g}"
            with pytest.raises(ValidationError, match=re.escape(shown)):
                predict_one(model, {**example_car(), column: value})


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.session_state["tab"] = "Price a CSV"
    at.run()
    at.file_uploader(key="upload").set_value((name, data, "text/csv"))
    at.run()
    assert not at.exception, at.exception
    return at


def test_batch_scores_valid_rows_and_lists_invalid_ones(app, export_dir):
    cars = synthetic.generate(40, seed=5).drop(columns=[schema.TARGET])
    cars.loc[2, "year"] = 1890
    at = _upload(app(export_dir), "cars.csv", cars.to_csv(index=False).encode())
    assert "cars.csv: 39 of 40 rows scored, 1 rejected" in texts(at.warning)
    scored, rejected = at.dataframe[0].value, at.dataframe[1].value
    assert len(scored) == 39 and list(scored.columns[:4]) == ["row", "price_dh", "lower_dh",
                                                               "upper_dh"]
    assert rejected["row"].tolist() == [3] and "1890" in rejected["problem"].iloc[0]
    assert not at.error


@pytest.mark.parametrize(("data", "message"), [
    (b"", "is empty"),
    ("brand;year\nDacia;2019\n".encode("utf-16"), "UTF-16 or binary"),
    (b"colour,size\nred,3\n", "none of the expected columns"),
    (b"brand,year\nDacia,2019\n", "missing columns"),
    (",".join(schema.FEATURES).encode() + b"\n", "header but no rows"),
])
def test_bad_uploads_give_a_clear_message(app, export_dir, data, message):
    at = _upload(app(export_dir), "bad.csv", data)
    assert message in texts(at.error)
    assert "Cannot score bad.csv" in texts(at.error)
    assert not at.dataframe


def test_avito_upload_is_scored(app, export_dir):
    from carprice.sources.csv_reader import to_avito

    avito = to_avito(synthetic.generate(25, seed=6))
    at = _upload(app(export_dir), "avito.csv", avito.to_csv(index=False).encode("latin1",
                                                                                  "replace"))
    assert "25 of 25 rows scored, 0 rejected" in texts(at.success)
    assert isinstance(at.dataframe[0].value, pd.DataFrame)
