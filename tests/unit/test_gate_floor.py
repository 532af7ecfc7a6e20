"""A run can only tighten the gate (carprice.config.gate_floor): every way in (the trigger
form's CARPRICE_PARAMS_JSON, --set, apply_overrides) refuses a looser threshold in one line,
and a stage started with one exits NO_RETRY before it does anything."""

from __future__ import annotations

import json

import pytest
import yaml

from carprice.config import gate_floor, settings
from carprice.config.params import (
    PARAM_ALIASES,
    GateParams,
    ParamsError,
    apply_overrides,
    field_schema,
    load_params,
)
from carprice.pipeline import run_folder
from carprice.pipeline.definition import StageExit
from carprice.pipeline.runner import run_stage
from tests.conftest import REPO

PARAMS = load_params(REPO / "params.yaml")
FLOOR = PARAMS["gate"]


# The thresholds that params.yaml sets, and which way each tightens.
SET = sorted(k for k, way in gate_floor.TIGHTENS.items() if way != "fixed" and FLOOR[k] is not None)
OFF = sorted(k for k in gate_floor.TIGHTENS if FLOOR[k] is None)
FIXED = sorted(k for k, way in gate_floor.TIGHTENS.items() if way == "fixed")


def looser(key: str) -> float:
    return FLOOR[key] - 0.05 if gate_floor.TIGHTENS[key] == "up" else FLOOR[key] + 0.05


def tighter(key: str) -> float:
    return FLOOR[key] + 0.05 if gate_floor.TIGHTENS[key] == "up" else FLOOR[key] / 2


def test_every_gate_key_has_a_direction_and_every_threshold_a_form_field():
    assert set(gate_floor.TIGHTENS) == set(GateParams.model_fields)
    form = {k for k, way in gate_floor.TIGHTENS.items() if way != "fixed"}
    assert {f"gate.{k}" for k in form} == {v for v in PARAM_ALIASES.values()
                                            if v.startswith("gate.")}
    # what the defaults are: skill, tolerance and behaviour on, the absolute floors off
    assert SET == ["max_city_effect", "min_skill", "tolerance"]
    assert OFF == ["max_mape", "max_rmse_log", "min_r2"] and FIXED == ["bootstrap", "confidence"]


@pytest.mark.parametrize("key", SET)
def test_a_looser_threshold_is_refused_in_one_line(key):
    with pytest.raises(ParamsError) as caught:
        apply_overrides(PARAMS, {f"gate.{key}": looser(key)})
    message = str(caught.value)
    assert message.startswith(f"params: gate.{key}={looser(key):g} is looser than "
                              f"params.yaml's {FLOOR[key]:g}")
    assert "only tighten" in message and "\n" not in message


@pytest.mark.parametrize("key", SET)
def test_a_tighter_or_equal_threshold_applies(key):
    assert apply_overrides(PARAMS, {f"gate.{key}": tighter(key)})["gate"][key] == tighter(key)
    assert apply_overrides(PARAMS, {f"gate.{key}": FLOOR[key]})["gate"] == FLOOR


@pytest.mark.parametrize("key", OFF)
def test_a_floor_that_is_off_can_be_set_but_not_removed(key):
    """Off is the loosest value: a run may switch a floor on; a blank form field keeps it
    as it is; a version judged without a floor that params.yaml sets is looser."""
    value = 0.5
    assert apply_overrides(PARAMS, {f"gate.{key}": value})["gate"][key] == value
    assert apply_overrides(PARAMS, {f"gate.{key}": None})["gate"][key] is None
    on = {**FLOOR, key: value}
    assert gate_floor.refusal(on, FLOOR) == (
        f"gate.{key}=off is looser than params.yaml's 0.5: a run can only tighten the gate "
        "(loosening it means editing params.yaml)")
    assert gate_floor.refusal(FLOOR, on) is None


@pytest.mark.parametrize("key", FIXED)
def test_the_interval_settings_are_params_yaml_only(key):
    """A wider interval makes the skill check stricter but the production check more
    forgiving: neither way is tighter, so a run may not change them at all."""
    for value in (FLOOR[key] * 0.8, FLOOR[key] * 1.05):
        with pytest.raises(ParamsError, match=rf"gate\.{key}=\S+ differs from params.yaml's "):
            apply_overrides(PARAMS, {f"gate.{key}": value})
    assert apply_overrides(PARAMS, {f"gate.{key}": FLOOR[key]})["gate"] == FLOOR


def test_the_issues_example_names_both_loosened_thresholds():
    with pytest.raises(ParamsError, match=r"gate\.min_skill=0 .*; gate\.tolerance=1e\+09 "):
        apply_overrides(PARAMS, {"gate_min_skill": 0, "gate_tolerance": 1e9})


def test_the_floor_is_the_params_file_not_the_code(tmp_path, monkeypatch):
    """Loosening means editing params.yaml: a file with a lower min_skill allows it."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["gate"]["min_skill"] = 0.1
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, json.dumps({"gate.min_skill": 0.15}))
    assert load_params(path)["gate"]["min_skill"] == 0.15
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, json.dumps({"gate.min_skill": 0.05}))
    with pytest.raises(ParamsError, match="params.yaml's 0.1"):
        load_params(path)
    monkeypatch.delenv(settings.ENV_PARAMS_JSON)
    with pytest.raises(ParamsError, match="is looser"):  # --set is an override too
        load_params(path, {"gate.min_skill": "0"})


def test_the_form_bounds_follow_the_direction():
    bounds = gate_floor.form_bounds("min_skill", 0.2, field_schema("gate.min_skill"))
    assert bounds["minimum"] == 0.2 and "at least 0.2" in bounds["description"]
    bounds = gate_floor.form_bounds("tolerance", 0.01, field_schema("gate.tolerance"))
    assert bounds["maximum"] == 0.01 and "at most 0.01" in bounds["description"]
    # a model bound stricter than the file's value stays the bound
    assert gate_floor.form_bounds("max_mape", 0.5, {"maximum": 0.3})["maximum"] == 0.3
    # a floor that is off keeps the model's own range: any value only adds a check
    off = gate_floor.form_bounds("min_r2", None, field_schema("gate.min_r2"))
    assert set(off) == {"description"} and "Off in params.yaml" in off["description"]
    assert field_schema("gate.min_r2")["maximum"] == 1 and field_schema("gate.min_r2")[
        "nullable"]


def test_a_stage_started_with_a_looser_gate_exits_no_retry_before_doing_anything(
        workdir, monkeypatch, capsys):
    """What the Airflow trigger form would send: the whole form as CARPRICE_PARAMS_JSON."""
    form = {dotted: PARAMS[dotted.split(".")[0]][dotted.split(".")[1]]
            for dotted in ("gate.max_rmse_log", "gate.max_mape", "gate.tolerance")}
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, json.dumps({**form, "gate.min_skill": 0}))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # never reached
    code = run_stage("ingest", ["--run-id", "loose", "--data-dir", str(workdir / "data")])
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == StageExit.NO_RETRY == summary["exit_code"]
    assert summary["status"] == "failed"
    assert summary["reason"].startswith("params: gate.min_skill=0 is looser than params.yaml's")
    assert err.strip().splitlines() == [f"error: ingest failed: {summary['reason']}"]
    assert not (workdir / "data" / "runs" / "loose" / run_folder.RAW).exists()
    assert not (workdir / "data" / "runs").exists()  # not even the run folder
