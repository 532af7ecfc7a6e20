"""The app against a real MLflow server process (fixtures in conftest.py).

Promotions for the reload test go to a separate registered model name (copies of the
promoted version), so the `car-price` registry the pipeline tests check is never touched.
"""

from __future__ import annotations

import os
import time

import pytest
import streamlit as st
from mlflow import MlflowClient
from streamlit.testing.v1 import AppTest

from carprice.config import settings
from carprice.config.params import load_params
from carprice.registry import PRODUCTION_ALIAS, mlflow_server
from tests.conftest import REPO, free_port, register_copy

pytestmark = pytest.mark.integration

APP = str(REPO / "app" / "streamlit_app.py")
TTL = 2.0
NAME = load_params(REPO / "params.yaml")["registry"]["model_name"]


@pytest.fixture
def app_env(promoted_model, monkeypatch):
    """cwd = the pipeline's workspace (params.yaml, models/); short alias TTL; fresh caches."""
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.chdir(promoted_model["workdir"])
    monkeypatch.setenv("CARPRICE_MODELS_DIR", str(promoted_model["models_dir"]))
    monkeypatch.setenv(settings.ENV_ALIAS_TTL, str(TTL))
    monkeypatch.delenv(settings.ENV_MODEL_NAME, raising=False)
    for key in mlflow_server.CLIENT_ENV_DEFAULTS:  # the app sets them; undone after the test
        monkeypatch.delenv(key, raising=False)
    yield monkeypatch
    st.cache_data.clear()
    st.cache_resource.clear()


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def predict(at: AppTest) -> str:
    next(b for b in at.button if b.label == "Predict price").click().run()
    assert not at.exception and not at.error, (at.exception, texts(at.error))
    assert at.metric[0].label == "Estimated price"
    return at.metric[0].value


def test_serves_the_production_version_with_its_provenance(app_env, promoted_model,
                                                          mlflow_server):
    at = run_app()
    side = texts(at.sidebar.markdown)
    assert f"{NAME} v{promoted_model['version']}" in side and "MLflow registry" in side
    assert "gate decision: **passed**" in side and "it-first" in side  # pipeline run id
    assert not at.warning  # no fallback banner
    assert predict(at).endswith("DH")
    # Loading by version must not rewrite the process's MLflow settings (stage
    # processes started later in this session inherit the environment).
    assert "MLFLOW_REGISTRY_URI" not in os.environ
    assert os.environ["MLFLOW_TRACKING_URI"] == mlflow_server
    at.session_state["tab"] = "Model"  # lazy tabs: only the open one runs
    at.run()
    assert not at.exception and not at.error, texts(at.error)
    history = at.dataframe[0].value
    row = history[history["version"] == int(promoted_model["version"])].iloc[0]
    assert PRODUCTION_ALIAS in row["aliases"] and row["gate"] == "passed"
    assert row["pipeline_run"] == "it-first" and row["rmse_log"] > 0
    assert 0 < row["baseline_ratio"] < 0.8 and row["r2_log"] > row["r2"] > 0.5
    metrics = at.dataframe[1].value.set_index("metric")  # production's, with intervals
    for label in ("R² (price)", "R² (log price)", "MAPE", "Median APE", "RMSE (log)"):
        low, value, high = metrics.loc[label, ["low", "value", "high"]]
        assert low <= value <= high, label
    assert metrics.loc["RMSE (log) / baseline's", "high"] < 1
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2  # predicted vs actual, error by brand


def test_a_new_promotion_is_served_after_the_ttl_without_restart(app_env, promoted_model):
    name = f"{NAME}-app-{int(time.time())}"
    app_env.setenv(settings.ENV_MODEL_NAME, name)
    client = MlflowClient()
    source = client.get_model_version(NAME, promoted_model["version"])

    def register(run_label: str) -> str:
        return register_copy(client, name, source, run_label)

    first = register("app-first")
    client.set_registered_model_alias(name, PRODUCTION_ALIAS, first)
    at = run_app()
    assert f"{name} v{first}" in texts(at.sidebar.markdown)
    before = predict(at)

    second = register("app-second")
    client.set_registered_model_alias(name, PRODUCTION_ALIAS, second)
    promoted_at = time.monotonic()
    deadline = promoted_at + TTL + 60
    while f"{name} v{second}" not in texts(at.sidebar.markdown):
        assert time.monotonic() < deadline, "the new production version was never served"
        time.sleep(0.5)
        at.run()
    delay = time.monotonic() - promoted_at
    print(f"new promotion served {delay:.1f} s after the alias moved (TTL {TTL:g} s)")
    assert delay <= TTL + 30
    assert "app-second" in texts(at.sidebar.markdown)
    assert predict(at) == before  # same model files, so the same price


def test_registry_without_production_explains_how_to_get_a_model(app_env):
    app_env.setenv(settings.ENV_MODEL_NAME, f"{NAME}-never-trained")
    at = run_app()
    assert "No model to serve yet" in texts(at.warning)
    assert f"no model '{NAME}-never-trained@{PRODUCTION_ALIAS}'" in texts(at.caption)


def test_dead_server_falls_back_to_the_exported_copy(app_env, promoted_model):
    at = run_app()
    assert "MLflow registry" in texts(at.sidebar.markdown)
    price = predict(at)
    # The server "dies": the app's next alias check fails and the export takes over.
    app_env.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    at.run()
    assert time.monotonic() - started < 30  # short client timeouts, no long retries
    banner = texts(at.warning)
    assert f"serving the exported copy of {NAME} v{promoted_model['version']}" in banner
    assert "cannot be reached" in banner
    assert predict(at) == price  # the export is the same model as production
    at.session_state["tab"] = "Model"
    at.run()
    assert "need MLflow" in texts(at.info)
