"""The prediction API in-process (FastAPI TestClient), serving an exported model.

No MLflow here (MLFLOW_TRACKING_URI unset), so the API serves the exported copy and says
so; the API against a real MLflow server is in tests/integration/test_api_mlflow.py.
"""

from __future__ import annotations

import json

import mlflow.pyfunc
import pytest
from fastapi.testclient import TestClient

from carprice.api import create_app
from carprice.api.schemas import MAX_BODY_BYTES, MAX_CARS
from carprice.api.service import SOURCE_HEADER, VERSION_HEADER, field_of
from carprice.contract import schema
from carprice.model import pyfunc
from carprice.serving import model_source, pricing
from carprice.sources import synthetic
from tests.conftest import API_HEADERS

CAR = pyfunc.example_car()


@pytest.fixture
def client(api_env, export_dir):
    api_env.setenv("CARPRICE_MODELS_DIR", str(export_dir))
    with TestClient(create_app(), headers=API_HEADERS) as c:
        yield c


@pytest.fixture
def no_model_client(api_env, tmp_path):
    api_env.setenv("CARPRICE_MODELS_DIR", str(tmp_path))
    with TestClient(create_app(), headers=API_HEADERS) as c:
        yield c


@pytest.fixture(scope="module")
def model(export_dir):
    return mlflow.pyfunc.load_model(str(export_dir / "production" / "model"))


def test_health_answers_even_without_a_model(no_model_client):
    r = no_model_client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.json()["prediction_log"] == {"enabled": False}


def test_ready_is_503_with_the_reason_when_there_is_no_model(no_model_client):
    no_model_client.app.state.served.settle()
    r = no_model_client.get("/ready")
    assert r.status_code == 503
    assert "MLFLOW_TRACKING_URI is not set" in r.json()["reason"]
    assert "no exported copy" in r.json()["reason"]
    r = no_model_client.post("/predict", json=CAR)
    assert r.status_code == 503 and "no exported copy" in r.json()["message"]


def test_ready_and_model_describe_the_exported_copy(client):
    client.app.state.served.settle()
    assert client.get("/ready").json() == {"ready": True, "model_name": "car-price",
                                           "version": "7", "source": "export"}
    info = client.get("/model").json()
    assert (info["source"], info["version"], info["model_name"]) == ("export", "7", "car-price")
    assert "MLFLOW_TRACKING_URI is not set" in info["problem"]
    assert info["metrics"]["rmse_log"] == 0.2
    assert info["lineage"]["data_hash"] == "feedbeef"
    assert info["lineage"]["pipeline_run_id"] == "unit-test"
    assert info["alias_ttl_seconds"] == model_source.alias_ttl()


def test_one_car_is_priced_by_the_shared_path_and_says_which_model(client, model):
    r = client.post("/predict", json=CAR)
    assert r.status_code == 200
    assert (r.headers[SOURCE_HEADER], r.headers[VERSION_HEADER]) == ("export", "7")
    body = r.json()
    assert body["model"] == {"name": "car-price", "version": "7", "source": "export"}
    assert body["predictions"] == [pricing.predict_one(model, CAR)]
    p = body["predictions"][0]
    assert 0 < p["lower_dh"] < p["price_dh"] < p["upper_dh"]


def test_a_list_is_priced_in_order_with_the_same_prices_as_one_by_one(client, model):
    cars = synthetic.generate(25, seed=3).drop(columns=[schema.TARGET]).to_dict("records")
    r = client.post("/predict", json=cars)
    assert r.status_code == 200 and r.headers[SOURCE_HEADER] == "export"
    got = r.json()["predictions"]
    assert len(got) == 25
    for car, pred in zip(cars[:5], got[:5], strict=True):
        assert pred == pytest.approx(pricing.predict_one(model, car), rel=1e-9)


def test_folded_labels_and_unknown_values_are_priced(client):
    exact = client.post("/predict", json=CAR).json()["predictions"][0]
    folded = client.post("/predict", json={**CAR, "condition": "tres BON"}).json()
    assert folded["predictions"][0] == exact
    unknown = client.post("/predict", json=[{**CAR, "year": None, "city": None}, CAR])
    assert unknown.status_code == 200
    assert unknown.json()["predictions"][1] == exact


def _too_many() -> list[dict]:
    small = {c: CAR[c] for c in (*schema.CATEGORICAL, *schema.NUMERIC)}
    return [small] * (MAX_CARS + 1)


@pytest.mark.parametrize(("body", "field"), [
    ({**CAR, "year": "recent"}, "year"),  # wrong type
    ({**CAR, "year": 1890}, "year"),  # out of range
    ({**CAR, "fuel_type": "Nuclear"}, "fuel_type"),  # unknown closed category value
    ({k: v for k, v in CAR.items() if k != "mileage_km"}, "mileage_km"),  # missing field
    ({**CAR, "colour": "red"}, "colour"),  # not in the contract
    ([CAR, {**CAR, "doors": 9}], "[1].doors"),
    ([], "body"),  # empty list
    (_too_many(), "body"),  # over the cap
    ("a car", "body"),
])
def test_bad_input_is_a_422_naming_the_field(client, body, field):
    r = client.post("/predict", json=body)
    assert r.status_code == 422, r.text
    out = r.json()
    assert out["detail"][0]["field"] == field
    assert out["message"].startswith(f"{field}: ")
    assert len(r.content) < 10_000  # the input is never echoed back


def test_over_the_cap_says_the_cap(client):
    r = client.post("/predict", json=_too_many())
    assert f"at most {MAX_CARS} items" in r.json()["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[1, 2"])
def test_a_body_that_is_not_json_is_a_422(client, raw):
    r = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body"
    assert r.json()["detail"][0]["type"] == "json_invalid"


def test_a_body_over_the_size_limit_is_a_413(client):
    r = client.post("/predict", content=b" " * (MAX_BODY_BYTES + 1),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and str(MAX_BODY_BYTES) in r.json()["message"]

    def chunks():  # no Content-Length: counted while read
        for _ in range(MAX_BODY_BYTES // 2**20 + 2):
            yield b" " * 2**20

    r = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_openapi_lists_predict_with_the_generated_car_schema(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    refs = json.dumps(body["schema"])
    assert "#/components/schemas/Car" in refs and f'"maxItems": {MAX_CARS}' in refs
    car = spec["components"]["schemas"]["Car"]
    assert list(car["properties"]) == list(schema.FEATURES)
    assert set(car["required"]) == {*schema.CATEGORICAL, *schema.NUMERIC}
    fuel = car["properties"]["fuel_type"]["anyOf"][0]
    assert tuple(fuel["enum"]) == schema.CLOSED_CATEGORIES["fuel_type"]
    assert {"/health", "/ready", "/model"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def test_field_names_drop_the_body_prefix_and_union_tag():
    assert field_of(("body", "car", "year")) == "year"
    assert field_of(("body", "cars", 3, "year")) == "[3].year"
    assert field_of(("body", "cars")) == "body"
    assert field_of(("body",)) == "body"
