import json

import pytest
import yaml

from carprice import pipeline
from carprice.pipeline import ParamsError, apply_overrides, load_params, parse_set_args
from tests.conftest import REPO


def test_stages_have_an_extra_each():
    assert set(pipeline.STAGE_EXTRAS) == set(pipeline.STAGES)
    assert set(pipeline.STAGE_EXTRAS.values()) <= {"data", "ml"}


def test_every_alias_points_at_a_param():
    params = load_params(REPO / "params.yaml")
    for alias, dotted in pipeline.PARAM_ALIASES.items():
        node = params
        for part in dotted.split("."):
            assert part in node, f"{alias} -> {dotted}"
            node = node[part]


def test_overrides_cast_to_the_type_they_replace():
    params = load_params(REPO / "params.yaml")
    out = apply_overrides(params, {"rows": "300", "force": "true", "learning_rate": "0.05",
                                   "model.max_leaf_nodes": 4})
    assert out["data"]["rows"] == 300
    assert out["run"]["force"] is True
    assert out["model"]["learning_rate"] == 0.05
    assert out["model"]["max_leaf_nodes"] == 4
    assert params["data"]["rows"] == 25000, "the input must not be changed"


@pytest.mark.parametrize("override, message", [
    ({"nope": 1}, "unknown parameter 'nope'"),
    ({"data.nope": 1}, "unknown parameter 'data.nope'"),
    ({"rows": "many"}, "expects int"),
    ({"rows": "1.5"}, "expects int"),
    ({"force": "maybe"}, "expects bool"),
])
def test_bad_overrides_are_refused_with_a_clear_message(override, message):
    with pytest.raises(ParamsError, match=message):
        apply_overrides(load_params(REPO / "params.yaml"), override)


def test_blank_form_values_keep_the_defaults():
    params = load_params(REPO / "params.yaml")
    out = apply_overrides(params, {"csv_uri": None, "rows": None})
    assert out["data"]["csv_uri"] == "" and out["data"]["rows"] == 25000


def test_env_overrides_are_applied(monkeypatch):
    monkeypatch.setenv(pipeline.ENV_OVERRIDES, json.dumps({"rows": 1234, "source": "csv"}))
    params = load_params(REPO / "params.yaml")
    assert params["data"]["rows"] == 1234 and params["data"]["source"] == "csv"


def test_env_overrides_must_be_json(monkeypatch):
    monkeypatch.setenv(pipeline.ENV_OVERRIDES, "{rows: 3")
    with pytest.raises(ParamsError, match="not valid JSON"):
        load_params(REPO / "params.yaml")


def test_missing_params_file(tmp_path):
    with pytest.raises(ParamsError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_parse_set_args():
    assert parse_set_args(["a.b=1", " c = x "]) == {"a.b": "1", "c": "x"}
    with pytest.raises(ParamsError, match="key=value"):
        parse_set_args(["novalue"])


@pytest.mark.parametrize("raw, safe", [
    ("manual__2026-11-23T18:00:00+00:00", "manual__2026-11-23T18_00_00_00_00"),
    ("scheduled__x y/z", "scheduled__x_y_z"),
    ("---", "run"),
])
def test_safe_name_is_a_valid_container_name(raw, safe):
    assert pipeline.safe_name(raw) == safe


def test_image_names():
    assert pipeline.image_name("promote_staging") == "carprice-stage-promote-staging:latest"
    with pytest.raises(KeyError):
        pipeline.image_name("nope")


def test_dvc_yaml_runs_the_same_stages_in_the_same_order():
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    assert tuple(dvc["stages"]) == pipeline.STAGES
    for name, stage in dvc["stages"].items():
        assert stage["cmd"].startswith(f"python -m carprice.stages.{name} ")
