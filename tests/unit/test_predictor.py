"""carprice.predictor: alias resolution and fallback, form choices, input checks, scoring."""

from __future__ import annotations

import io
from types import SimpleNamespace

import mlflow.pyfunc
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from carprice import catalog, predictor, schema
from carprice.serving import smoke_examples, to_model_input
from carprice.sources import synthetic
from carprice.sources.csv_source import CsvError, to_avito
from carprice.validation import ValidationError, prepare_features
from tests.unit.app_model import export_small_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    models_dir = tmp_path_factory.mktemp("models")
    folder = export_small_model(models_dir)
    return models_dir, mlflow.pyfunc.load_model(str(folder))


@pytest.fixture
def model(exported):
    return exported[1]


# ---------------------------------------------------------------- resolution


def _version(version="4", **tags):
    base = {"test_rmse_log": "0.12", "test_mape": "0.09", "trained_at": "2026-01-01T00:00:00",
            "data_hash": "abc", "train_rows": "3500", "pipeline_run_id": "manual__1",
            "gate_decision": "passed", "gate_reasons": "ok: a | ok: b"}
    return SimpleNamespace(version=version, run_id="r1", tags={**base, **tags})


class FakeClient:
    def __init__(self, alias_result=None, error: Exception | None = None):
        self.alias_result, self.error, self.calls = alias_result, error, []

    def get_model_version_by_alias(self, name, alias):
        self.calls.append((name, alias))
        if self.error:
            raise self.error
        if self.alias_result is None:
            raise MlflowException("no alias", error_code=INVALID_PARAMETER_VALUE)
        return self.alias_result


def test_alias_resolves_to_a_pinned_version_with_its_provenance(tmp_path):
    client = FakeClient(_version("4"))
    res = predictor.resolve_production("car-price", "http://mlflow:5000", tmp_path,
                                       client_factory=lambda uri: client)
    assert client.calls == [("car-price", "production")]
    assert (res.source, res.version, res.model_uri) == ("registry", "4", "models:/car-price/4")
    assert res.cache_key == "models:/car-price/4"
    assert res.info["metrics"] == {"rmse_log": 0.12, "mape": 0.09}
    assert res.info["data_hash"] == "abc" and res.info["gate_decision"] == "passed"
    assert res.problem is None


def test_reachable_registry_without_production_means_no_model_even_with_an_export(exported):
    models_dir, _ = exported
    res = predictor.resolve_production("car-price", "http://mlflow:5000", models_dir,
                                       client_factory=lambda uri: FakeClient(None))
    assert res.source == "none" and res.model_uri is None
    assert "no model 'car-price@production'" in res.problem


def test_unreachable_registry_falls_back_to_the_export(exported):
    models_dir, _ = exported
    down = FakeClient(error=MlflowException("API request failed: Connection refused"))
    res = predictor.resolve_production("car-price", "http://mlflow:5000", models_dir,
                                       client_factory=lambda uri: down)
    assert res.source == "export" and res.version == "7"
    assert res.model_uri == str(models_dir / "production" / "model")
    assert "cannot be reached" in res.problem and "Connection refused" in res.problem
    assert res.info["gate_decision"] == "passed" and res.info["data_hash"] == "feedbeef"
    assert res.cache_key.startswith(res.model_uri + "@")


def test_any_client_error_is_a_value_not_an_exception(tmp_path):
    down = FakeClient(error=RuntimeError("boom\nsecond line"))
    res = predictor.resolve_production("car-price", "http://x", tmp_path,
                                       client_factory=lambda uri: down)
    assert res.source == "none"
    assert "boom second line" in res.problem and "no exported copy" in res.problem


def test_no_tracking_uri_uses_the_export_without_touching_mlflow(exported, monkeypatch):
    models_dir, _ = exported
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def refuse(uri):
        raise AssertionError("no client without a tracking URI")

    res = predictor.resolve_production("car-price", None, models_dir, client_factory=refuse)
    assert res.source == "export"
    assert "MLFLOW_TRACKING_URI is not set" in res.problem


def test_broken_export_meta_is_reported(tmp_path):
    (tmp_path / "production").mkdir()
    (tmp_path / "production" / "meta.json").write_text("{not json")
    res = predictor.export_resolution("car-price", tmp_path, "MLflow down")
    assert res.source == "none" and "unreadable" in res.problem


def test_loading_the_export_leaves_the_process_mlflow_settings_alone(exported, monkeypatch):
    models_dir, _ = exported
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    res = predictor.export_resolution("car-price", models_dir, "MLflow down")
    assert predictor.predict_one(predictor.load_model(res), predictor.default_car())
    import os

    assert "MLFLOW_REGISTRY_URI" not in os.environ


def test_load_model_refuses_an_empty_resolution():
    with pytest.raises(ValueError, match="nothing to load"):
        predictor.load_model(predictor.Resolution("none", "car-price", problem="no model"))


def test_client_defaults_are_short_but_never_override(monkeypatch):
    for key in predictor.CLIENT_ENV_DEFAULTS:  # restored after the test
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "11")
    predictor.apply_client_defaults()
    import os

    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "11"


def test_ttl_and_model_name_come_from_the_environment(monkeypatch, workdir):
    monkeypatch.setenv(predictor.ENV_ALIAS_TTL, "2")
    assert predictor.alias_ttl() == 2.0
    monkeypatch.setenv(predictor.ENV_ALIAS_TTL, "soon")
    assert predictor.alias_ttl() == predictor.DEFAULT_ALIAS_TTL
    assert predictor.model_name() == "car-price"  # params.yaml
    monkeypatch.setenv(predictor.ENV_MODEL_NAME, "other")
    assert predictor.model_name() == "other"


# ---------------------------------------------------------------- form choices


def test_choices_come_from_the_contract():
    choices = predictor.form_choices()
    assert choices.brands == sorted(catalog.brand_models())
    assert choices.models_by_brand["Dacia"] == catalog.brand_models()["Dacia"]
    assert choices.cities == list(schema.OPEN_CATEGORIES["city"])
    assert choices.closed == {k: list(v) for k, v in schema.CLOSED_CATEGORIES.items()}
    car = predictor.default_car()
    assert set(car) == set(schema.FEATURES)
    assert car["model"] in choices.models_by_brand[car["brand"]]


def test_choices_add_what_the_model_learned_and_flag_unseen_values(model):
    learned = predictor.model_categories(model)
    assert "Dacia" in learned["brand"]
    choices = predictor.form_choices({**learned, "brand": [*learned["brand"], "Lada"],
                                      "model": [*learned["model"], "Niva"],
                                      "city": [*learned["city"], "Lagouira"]})
    assert "Lada" in choices.brands and choices.models_by_brand["Lada"] == ["Niva"]
    assert choices.cities[-1] == "Lagouira"
    assert choices.unseen({**predictor.default_car(), "model": "Niva"}) == []
    assert choices.unseen({**predictor.default_car(), "model": "Atlantis"}) == [
        "model 'Atlantis'"]


# ---------------------------------------------------------------- single car


def test_predict_one_gives_a_price_inside_its_interval(model):
    pred = predictor.predict_one(model, predictor.default_car())
    assert set(pred) == {"price_dh", "lower_dh", "upper_dh"}
    assert 0 < pred["lower_dh"] <= pred["price_dh"] <= pred["upper_dh"]


def test_fast_path_matches_the_pyfunc_with_schema_enforcement(model):
    cars = smoke_examples()
    fast = [predictor.predict_one(model, row) for row in cars.to_dict("records")]
    slow = model.predict(to_model_input(cars))
    assert [round(p["price_dh"], 6) for p in fast] == [round(v, 6) for v in slow["price_dh"]]


@pytest.mark.parametrize("car", [
    predictor.default_car(),
    {**predictor.default_car(), "condition": "très bon", "city": None, "mileage_km": None,
     "brand": "Lada", "model": "", "first_owner": False},
    *smoke_examples().to_dict("records"),
])
def test_single_car_path_equals_the_batch_contract_path(car):
    """check_car (typed form values) == validation.prepare_features (raw text rows)."""
    fast = predictor.check_car(car)
    raw = pd.DataFrame([{k: ("" if v is None else str(v)) for k, v in car.items()}])
    slow, errors = prepare_features(raw)
    assert errors.empty
    pd.testing.assert_frame_equal(fast, slow.reset_index(drop=True))


@pytest.mark.parametrize(("change", "message"), [
    ({"year": 1890}, "year '1890' outside 1970..2027"),
    ({"mileage_km": -5}, "mileage_km '-5' outside 0.."),
    ({"doors": 9}, "doors '9' outside 2..5"),
    ({"fuel_type": "Kerosene"}, "fuel_type 'Kerosene' not one of Diesel"),
    ({"year": "two thousand"}, "year must be a number, got 'two thousand'"),
    ({"year": float("nan")}, "year must be a finite number"),
    ({"colour": "red"}, "unknown field(s): colour"),
])
def test_bad_single_inputs_give_one_clear_line(model, change, message):
    with pytest.raises(ValidationError) as info:
        predictor.predict_one(model, {**predictor.default_car(), **change})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_labels_are_folded_and_blanks_allowed(model):
    car = {**predictor.default_car(), "condition": "très BON", "city": "", "mileage_km": None}
    clean = predictor.check_car(car)
    assert clean["condition"].iloc[0] == "Tres bon"
    assert clean["city"].iloc[0] == schema.MISSING_CATEGORY
    assert pd.isna(clean["mileage_km"].iloc[0])
    assert predictor.predict_one(model, car)["price_dh"] > 0


# ---------------------------------------------------------------- batch


def _csv(frame: pd.DataFrame, **kw) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, **kw)
    return buf.getvalue().encode(kw.pop("encoding", "utf-8"))


def test_batch_scores_valid_rows_and_reports_invalid_ones_by_row(model):
    cars = synthetic.generate(50, seed=3).drop(columns=[schema.TARGET])
    cars.loc[4, "year"] = 1890
    cars.loc[9, "fuel_type"] = "Kerosene"
    seen = []
    result = predictor.score_upload(model, _csv(cars), "cars.csv", chunk_rows=20,
                                    progress=lambda done, total: seen.append((done, total)))
    assert seen == [(20, 50), (40, 50), (50, 50)]
    assert result.rows_in == 50 and len(result.scored) == 48
    assert result.errors["row"].tolist() == [5, 10]  # 1-based data rows
    assert "year '1890' outside" in result.errors["problem"].iloc[0]
    assert 5 not in result.scored["row"].tolist() and result.scored["row"].iloc[0] == 1
    assert (result.scored["lower_dh"] <= result.scored["price_dh"]).all()
    assert result.summary == "48 of 50 rows scored, 2 rejected"
    out = pd.read_csv(io.BytesIO(predictor.results_csv(result)))
    assert {"row", "brand", "price_dh", "lower_dh", "upper_dh"} <= set(out.columns)
    assert len(out) == 48


def test_batch_reads_the_avito_format_in_latin1(model):
    cars = synthetic.generate(30, seed=4)
    data = to_avito(cars).to_csv(index=False).encode("latin1", errors="replace")
    result = predictor.score_upload(model, data, "avito.csv")
    assert len(result.scored) == 30 and result.errors.empty


@pytest.mark.parametrize(("data", "error", "message"), [
    (b"", CsvError, "is empty"),
    (b"   \n  ", CsvError, "is empty"),
    ("brand,year\nDacia,2019\n".encode("utf-16"), CsvError, "UTF-16 or binary"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", CsvError, "UTF-16 or binary"),
    (b"foo,bar\n1,2\n", CsvError, "none of the expected columns"),
    (",".join(schema.FEATURES).encode() + b"\n", CsvError, "header but no rows"),
    (b'brand,year\n"Dacia,2019\n', CsvError, "not a valid CSV"),
    (b"brand,year\nDacia,2019\n", ValidationError, "missing columns: city"),
])
def test_unreadable_uploads_give_one_clear_line(model, data, error, message):
    with pytest.raises(error, match=message) as info:
        predictor.score_upload(model, data, "upload.csv")
    assert "\n" not in str(info.value)
