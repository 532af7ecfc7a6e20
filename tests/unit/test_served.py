"""carprice.serving.model_source: alias resolution against the session's real MLflow server, the
fallback to the exported copy (a dead server is a closed port), loading, settings."""

from __future__ import annotations

import os
import tempfile
import uuid

import mlflow
import pytest

from carprice.config import settings
from carprice.config.params import ParamsError, load_params
from carprice.model.pyfunc import example_car
from carprice.registry import PRODUCTION_ALIAS, mlflow_server, tags
from carprice.serving import model_source
from carprice.serving.model_source import Resolution, Source
from carprice.serving.pricing import predict_one
from tests.conftest import free_port
from tests.unit.app_model import export_small_model, register_small_model

VERSION_TAGS = {
    tags.metric_tag("rmse_log"): "0.12", tags.metric_tag("mape"): "0.09",
    tags.TRAINED_AT: "2026-01-01T00:00:00", tags.DATA_HASH: "abc", tags.TRAIN_ROWS: "3500",
    tags.PIPELINE_RUN_ID: "manual__1", tags.GATE_DECISION: "passed",
    tags.GATE_REASONS: "ok: a | ok: b",
}


@pytest.fixture(autouse=True)
def short_client_timeouts(monkeypatch):
    """What the app sets: a dead server must cost seconds, not MLflow's retry minutes."""
    for key, value in mlflow_server.CLIENT_ENV_DEFAULTS.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="module")
def registry(mlflow_server):
    """A registered model whose second version is production, on the real server."""
    name = f"unit-served-{uuid.uuid4().hex[:8]}"
    register_small_model(mlflow_server, name, {tags.PIPELINE_RUN_ID: "older"})
    version = register_small_model(mlflow_server, name, VERSION_TAGS)
    model_source.mlflow_client(mlflow_server).set_registered_model_alias(name, PRODUCTION_ALIAS,
                                                                   version)
    return {"uri": mlflow_server, "name": name, "version": version}


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    models_dir = tmp_path_factory.mktemp("models")
    export_small_model(models_dir, version="7")
    return models_dir


def dead_uri() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens once the socket is closed


def test_alias_resolves_to_a_pinned_version_with_its_provenance(registry, tmp_path):
    res = model_source.resolve_production(registry["name"], registry["uri"], tmp_path)
    name, version = registry["name"], registry["version"]
    assert (res.source, res.version) == (Source.REGISTRY, version)
    assert res.model_uri == res.cache_key == f"models:/{name}/{version}"
    assert res.info["metrics"] == {"rmse_log": 0.12, "mape": 0.09}
    assert res.info[tags.DATA_HASH] == "abc" and res.info[tags.GATE_DECISION] == "passed"
    assert res.info[tags.PIPELINE_RUN_ID] == "manual__1"
    assert res.problem is None and res.tracking_uri == registry["uri"]


def test_reachable_registry_without_production_means_no_model_even_with_an_export(
        registry, export_dir):
    never = f"{registry['name']}-never-promoted"
    res = model_source.resolve_production(never, registry["uri"], export_dir)
    assert res.source == Source.NONE and res.model_uri is None
    assert f"no model '{never}@{PRODUCTION_ALIAS}'" in res.problem


def test_dead_server_falls_back_to_the_export(export_dir):
    uri = dead_uri()
    res = model_source.resolve_production("any", uri, export_dir)
    assert res.source == Source.EXPORT and res.version == "7"
    assert res.model_uri == str(export_dir / "production" / "model")
    assert f"MLflow at {uri} cannot be reached" in res.problem
    assert "Connection refused" in res.problem and "\n" not in res.problem
    assert res.info[tags.GATE_DECISION] == "passed" and res.info[tags.DATA_HASH] == "feedbeef"
    assert res.cache_key.startswith(res.model_uri + "@")


def test_any_client_error_is_a_value_not_an_exception(tmp_path):
    res = model_source.resolve_production("any", "nosuchscheme://registry", tmp_path)
    assert res.source == Source.NONE
    assert "cannot be reached" in res.problem and "no exported copy" in res.problem
    assert "\n" not in res.problem


def test_no_tracking_uri_uses_the_export_without_touching_mlflow(export_dir, workdir,
                                                                monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    res = model_source.resolve_production("any", None, export_dir)
    assert res.source == Source.EXPORT
    assert "MLFLOW_TRACKING_URI is not set" in res.problem
    # An MLflow client without a URI would have created a local store here.
    assert sorted(p.name for p in workdir.iterdir()) == ["params.yaml"]


def test_broken_export_meta_is_reported(tmp_path):
    (tmp_path / "production").mkdir()
    (tmp_path / "production" / "meta.json").write_text("{not json")
    res = model_source.export_resolution("car-price", tmp_path, "MLflow down")
    assert res.source == Source.NONE and "unreadable" in res.problem


def test_loading_leaves_the_process_mlflow_settings_alone(registry, export_dir, monkeypatch,
                                                         tmp_path):
    """A pinned version loads through the Resolution's own URI; the process's MLflow
    settings (which stage processes started later inherit) stay as they were."""
    res = model_source.resolve_production(registry["name"], registry["uri"], export_dir)
    elsewhere = dead_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where downloads land
    exported = model_source.export_resolution(registry["name"], export_dir, "MLflow down")
    for resolution in (res, exported):
        model = model_source.load_model(resolution)
        assert predict_one(model, example_car())["price_dh"] > 0
    assert os.environ["MLFLOW_TRACKING_URI"] == elsewhere
    assert "MLFLOW_REGISTRY_URI" not in os.environ
    assert mlflow.get_tracking_uri() == elsewhere
    assert list(tmp_path.iterdir()) == []  # the download folder went once loaded


def test_load_model_refuses_an_empty_resolution():
    with pytest.raises(ValueError, match="nothing to load"):
        model_source.load_model(Resolution(Source.NONE, "car-price", problem="no model"))


def test_client_defaults_are_short_but_never_override(monkeypatch):
    for key in mlflow_server.CLIENT_ENV_DEFAULTS:  # restored after the test
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "11")
    model_source.apply_client_defaults()
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "11"


def test_ttl_and_model_name_come_from_the_environment_or_params(monkeypatch, workdir):
    monkeypatch.setenv(settings.ENV_ALIAS_TTL, "2")
    assert model_source.alias_ttl() == 2.0
    monkeypatch.setenv(settings.ENV_ALIAS_TTL, "soon")
    assert model_source.alias_ttl() == settings.DEFAULT_ALIAS_TTL
    monkeypatch.delenv(settings.ENV_MODEL_NAME, raising=False)
    assert model_source.model_name() == load_params()["registry"]["model_name"]
    monkeypatch.setenv(settings.ENV_MODEL_NAME, "other")
    assert model_source.model_name() == "other"


def test_no_model_name_anywhere_is_one_clear_line(monkeypatch, workdir):
    monkeypatch.delenv(settings.ENV_MODEL_NAME, raising=False)
    (workdir / "params.yaml").write_text("data: {}\n")
    with pytest.raises(ParamsError, match="missing key registry"):
        model_source.model_name()
    (workdir / "params.yaml").unlink()
    with pytest.raises(ParamsError, match="params file not found"):
        model_source.model_name()
