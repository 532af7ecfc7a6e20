import ast
import json
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from carprice.config import candidates as candidates_module
from carprice.config import param_errors, settings
from carprice.config import params as params_module
from carprice.config.params import (
    PARAM_ALIASES,
    PARAM_CHOICES,
    Params,
    ParamsError,
    apply_overrides,
    field_schema,
    load_params,
    parse_set_args,
    read_params,
)
from carprice.pipeline import container, definition
from tests.conftest import REPO

PARAMS_YAML = REPO / "params.yaml"


def defaults() -> dict:
    return yaml.safe_load(PARAMS_YAML.read_text())


def write_params(tmp_path, edit) -> str:
    raw = defaults()
    edit(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_stages_have_an_extra_each():
    assert set(definition.STAGE_EXTRAS) == set(definition.STAGES)
    assert set(definition.STAGE_EXTRAS.values()) <= {"data", "ml"}


def test_params_yaml_loads_unchanged_as_a_dict_and_as_the_typed_model():
    assert load_params(PARAMS_YAML) == defaults()
    typed = read_params(PARAMS_YAML)
    assert isinstance(typed, Params)
    assert typed.model.max_iter == defaults()["model"]["max_iter"]
    assert typed.validate_.min_rows == defaults()["validate"]["min_rows"]


def leaf_fields(model: type[BaseModel], prefix: str = ""):
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{info.alias or name}"
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            yield from leaf_fields(info.annotation, f"{dotted}.")
        yield dotted, info


def test_params_yaml_is_the_only_place_of_default_values():
    for dotted, info in leaf_fields(Params):
        assert info.is_required(), f"{dotted} has a default in carprice.config.params"


def test_every_form_field_has_plain_words_and_a_type():
    for name, dotted in PARAM_ALIASES.items():
        schema = field_schema(dotted)
        assert schema["type"] in {"string", "integer", "number", "boolean"}, name
        words = schema["description"]
        assert len(words.split()) >= 4 and "params.yaml" not in words, name
    csv_uri = field_schema("data.csv_uri")["description"]
    assert "inbox/<file>" in csv_uri and "data/inbox/" in csv_uri and "http(s) URL" in csv_uri


def test_schema_ranges_come_from_the_model():
    assert field_schema("data.rows")["minimum"] == 1
    share = field_schema("data.drift.new_models_share")
    assert (share["minimum"], share["maximum"]) == (0, 1)
    assert field_schema("model.learning_rate")["exclusiveMinimum"] == 0
    assert PARAM_CHOICES == {"source": ("synthetic", "csv")}
    with pytest.raises(ParamsError, match="unknown key data.nope"):
        field_schema("data.nope")


def test_every_alias_points_at_a_param():
    params = load_params(PARAMS_YAML)
    for alias, dotted in PARAM_ALIASES.items():
        node = params
        for part in dotted.split("."):
            assert part in node, f"{alias} -> {dotted}"
            node = node[part]


def test_overrides_are_converted_to_the_field_type():
    params = load_params(PARAMS_YAML)
    out = apply_overrides(params, {"rows": "300", "force": "true", "learning_rate": "0.05",
                                   "model.max_leaf_nodes": 4, "interactions": "yes"})
    assert out["data"]["rows"] == 300
    assert out["run"]["force"] is True
    assert out["model"]["learning_rate"] == 0.05
    assert out["model"]["max_leaf_nodes"] == 4
    assert out["model"]["interactions"] is True
    assert params["data"]["rows"] == 25000, "the input must not be changed"


@pytest.mark.parametrize("override, message", [
    ({"nope": 1}, "params: unknown key nope"),
    ({"data.nope": 1}, "params: unknown key data.nope"),
    ({"data.rows.x": 1}, "params: unknown key data.rows.x"),
    ({"rows": "abc"}, "params: data.rows must be an integer, got 'abc'"),
    ({"rows": "1.5"}, "params: data.rows must be an integer, got '1.5'"),
    ({"rows": 0}, "params: data.rows must be >= 1, got 0"),
    ({"model.max_iter": "0"}, "params: model.max_iter must be >= 1, got '0'"),
    ({"force": "maybe"}, "params: run.force must be true or false, got 'maybe'"),
    ({"source": "excel"}, "params: data.source must be 'synthetic' or 'csv', got 'excel'"),
    ({"new_models_share": 1.5}, "params: data.drift.new_models_share must be <= 1, got 1.5"),
    ({"learning_rate": "nan"}, "params: model.learning_rate must be a finite number"),
    ({"split.valid_size": 0.5, "split.test_size": 0.5},
     "params: split: valid_size + test_size must be < 1, got 1"),
    ({"registry.model_name": ""}, "params: registry.model_name must not be empty"),
    ({"data": 3}, "params: data must be a section of keys, got 3"),
])
def test_bad_overrides_fail_in_one_line(override, message):
    with pytest.raises(ParamsError) as info:
        apply_overrides(load_params(PARAMS_YAML), override)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_several_errors_share_one_line():
    with pytest.raises(ParamsError) as info:
        apply_overrides(load_params(PARAMS_YAML), {"rows": 0, "max_iter": 0})
    assert str(info.value) == ("params: data.rows must be >= 1, got 0; "
                               "model.max_iter must be >= 1, got 0")


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["data"].update(rowz=5), "params: unknown key data.rowz"),
    (lambda p: p["model"].update(max_iter=0), "params: model.max_iter must be >= 1, got 0"),
    (lambda p: p["gate"].pop("min_r2"), "params: missing key gate.min_r2"),
    (lambda p: p.pop("run"), "params: missing key run"),
    (lambda p: p.update(extra={"a": 1}), "params: unknown key extra"),
])
def test_a_bad_params_file_fails_in_one_line(tmp_path, edit, message):
    with pytest.raises(ParamsError) as info:
        load_params(write_params(tmp_path, edit))
    assert str(info.value) == message


@pytest.mark.parametrize("text, message", [
    ("data: [1, 2\n", "is not valid YAML"),
    ("- a\n- b\n", "must map section names to keys"),
    ("", "must map section names to keys"),
])
def test_a_params_file_that_is_not_a_mapping(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError, match=message) as info:
        load_params(path)
    assert "\n" not in str(info.value)


def test_blank_form_values_keep_the_defaults():
    params = load_params(PARAMS_YAML)
    out = apply_overrides(params, {"csv_uri": None, "rows": None, "source": None})
    assert out == params


def test_env_overrides_take_form_names_and_are_validated(monkeypatch):
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, json.dumps({"rows": "1234", "source": "csv",
                                                           "csv_uri": None}))
    params = load_params(PARAMS_YAML)
    assert params["data"]["rows"] == 1234 and params["data"]["source"] == "csv"
    assert params["data"]["csv_uri"] == ""
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, json.dumps({"rows": "abc"}))
    with pytest.raises(ParamsError, match="params: data.rows must be an integer, got 'abc'"):
        load_params(PARAMS_YAML)


def test_explicit_overrides_win_over_the_env(monkeypatch):
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, json.dumps({"rows": 1234}))
    assert load_params(PARAMS_YAML, {"data.rows": "99"})["data"]["rows"] == 99


@pytest.mark.parametrize("text, message", [
    ("{rows: 3", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
])
def test_env_overrides_must_be_a_json_object(monkeypatch, text, message):
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, text)
    with pytest.raises(ParamsError, match=message):
        load_params(PARAMS_YAML)


def test_params_file_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.ENV_PARAMS_FILE, write_params(
        tmp_path, lambda p: p["data"].update(rows=77)))
    assert load_params()["data"]["rows"] == 77


def test_missing_params_file(tmp_path):
    with pytest.raises(ParamsError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_parse_set_args():
    assert parse_set_args(["a.b=1", " c = x ", "d.e="]) == {"a.b": "1", "c": "x", "d.e": ""}
    for bad in ("novalue", "=3", " =3"):
        with pytest.raises(ParamsError, match="key=value"):
            parse_set_args([bad])


# The Airflow image installs carprice with --no-deps and imports carprice.pipeline.
AIRFLOW_SAFE = {"__future__", "collections", "copy", "dataclasses", "enum", "functools", "json",
                "os",
                "pathlib", "re",
                "typing", "yaml", "pydantic", "pydantic_core", "carprice"}


@pytest.mark.parametrize("module", [params_module, candidates_module, param_errors,
                                    definition, container])
def test_the_params_module_needs_no_ml_stack(module):
    tree = ast.parse(Path(module.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= AIRFLOW_SAFE, imported - AIRFLOW_SAFE


@pytest.mark.parametrize("raw, safe", [
    ("manual__2026-11-23T18:00:00+00:00", "manual__2026-11-23T18_00_00_00_00"),
    ("scheduled__x y/z", "scheduled__x_y_z"),
    ("---", "run"),
])
def test_safe_name_is_a_valid_container_name(raw, safe):
    assert definition.safe_name(raw) == safe


def test_image_names():
    assert definition.image_name("promote_staging") == "carprice-stage-data:latest"
    assert definition.image_name("train") == "carprice-stage-ml:latest"
    with pytest.raises(KeyError):
        definition.image_name("nope")
