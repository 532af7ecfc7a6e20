"""The API's door (carprice.api.guard): the key on /predict, the per-client rate limit, the
routes that stay open, and refusals of unusable settings. In-process (TestClient) on a
small exported model; over real HTTP through uvicorn in tests/integration/test_api_mlflow.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from carprice.api import create_app
from carprice.api.guard import API_KEY_HEADER, parse_rate_limit
from carprice.config import settings
from carprice.model import pyfunc
from tests.conftest import API_HEADERS, API_KEY

CAR = pyfunc.example_car()


@pytest.fixture
def env(api_env, export_dir):
    api_env.setenv("CARPRICE_MODELS_DIR", str(export_dir))
    return api_env


def clients(app, *addresses: str, **kwargs) -> list[TestClient]:
    return [TestClient(app, client=(address, 40000), **kwargs) for address in addresses]


def test_predict_needs_the_key_and_other_routes_stay_open(env):
    with TestClient(create_app()) as anonymous:
        for headers in ({}, {API_KEY_HEADER: ""}, {API_KEY_HEADER: API_KEY[:-1] + "x"},
                        {API_KEY_HEADER: API_KEY + "0"}, {"Authorization": f"Bearer {API_KEY}"}):
            r = anonymous.post("/predict", json=CAR, headers=headers)
            assert r.status_code == 401, headers
            assert r.json() == {"message": f"missing or wrong {API_KEY_HEADER} header"}
        # refused before the body is read: an oversized body without the key is a 401 too
        assert anonymous.post("/predict", content=b"x" * 10_000_000).status_code == 401
        r = anonymous.post("/predict", json=CAR, headers=API_HEADERS)  # loads the model
        assert r.status_code == 200 and r.json()["predictions"][0]["price_dh"] > 0
        for path in ("/health", "/ready", "/metrics", "/model", "/openapi.json", "/docs"):
            assert anonymous.get(path).status_code == 200, path
        metrics = anonymous.get("/metrics").text
    # refusals are counted like any answer
    assert 'route="/predict",status="401"' in metrics


def test_rate_limit_per_client_with_retry_after(env):
    app = create_app(rate_limit="3/minute")
    first, second = clients(app, "10.0.0.1", "10.0.0.2", headers=API_HEADERS)
    with first, second:
        # a request without the key spends none of the allowance
        assert first.post("/predict", json=CAR, headers={API_KEY_HEADER: "no"}).status_code == 401
        assert [first.post("/predict", json=CAR).status_code for _ in range(3)] == [200] * 3
        refused = first.post("/predict", json=CAR)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["message"].startswith("rate limit 3 per 1 minute per client")
        # another client has its own allowance; a refused request does not extend the wait
        assert second.post("/predict", json=CAR).status_code == 200
        assert first.post("/predict", json=CAR).status_code == 429
        assert first.get("/health").status_code == 200  # only /predict is limited


def test_every_limit_counts_and_the_longest_wait_is_told(env):
    app = create_app(rate_limit="2/second;3/hour")
    (client,) = clients(app, "10.0.0.3", headers=API_HEADERS)
    with client:
        codes = []
        for _ in range(3):
            codes.append(client.post("/predict", json=CAR).status_code)
            client.portal.call(_sleep, 0.6)  # keep under 2 a second
        assert codes == [200, 200, 200]
        refused = client.post("/predict", json=CAR)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 3000  # the hour's window, not the second's


async def _sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)


def test_openapi_declares_the_key(env):
    with TestClient(create_app()) as client:
        spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": API_KEY_HEADER}
    assert spec["paths"]["/predict"]["post"]["security"] == [{"ApiKey": []}]
    assert "security" not in spec["paths"]["/health"]["get"]


def test_unusable_settings_are_refused_in_one_line(env):
    env.delenv(settings.ENV_API_KEY)
    with pytest.raises(settings.SettingsError, match=f"^{settings.ENV_API_KEY} is empty"):
        create_app()
    with pytest.raises(settings.SettingsError, match=settings.ENV_API_RATE_LIMIT):
        create_app(api_key="k", rate_limit="lots")
    env.setenv(settings.ENV_API_RATE_LIMIT, "5 per fortnight")
    with pytest.raises(settings.SettingsError, match="'5 per fortnight'"):
        create_app(api_key="k")
    assert [str(i) for i in parse_rate_limit("20/second;600/minute")] == [
        "20 per 1 second", "600 per 1 minute"]
