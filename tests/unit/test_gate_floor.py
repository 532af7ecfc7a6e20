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


def looser(key: str) -> float:
    return FLOOR[key] - 0.05 if gate_floor.TIGHTENS[key] == "up" else FLOOR[key] + 0.05


def tighter(key: str) -> float:
    return FLOOR[key] + 0.05 if gate_floor.TIGHTENS[key] == "up" else FLOOR[key] / 2


def test_every_gate_threshold_has_a_direction_and_a_form_field():
    assert set(gate_floor.TIGHTENS) == set(GateParams.model_fields)
    assert {f"gate.{k}" for k in gate_floor.TIGHTENS} <= set(PARAM_ALIASES.values())


@pytest.mark.parametrize("key", sorted(gate_floor.TIGHTENS))
def test_a_looser_threshold_is_refused_in_one_line(key):
    with pytest.raises(ParamsError) as caught:
        apply_overrides(PARAMS, {f"gate.{key}": looser(key)})
    message = str(caught.value)
    assert message.startswith(f"params: gate.{key}={looser(key):g} is looser than "
                              f"params.yaml's {FLOOR[key]:g}")
    assert "only tighten" in message and "\n" not in message


@pytest.mark.parametrize("key", sorted(gate_floor.TIGHTENS))
def test_a_tighter_or_equal_threshold_applies(key):
    assert apply_overrides(PARAMS, {f"gate.{key}": tighter(key)})["gate"][key] == tighter(key)
    assert apply_overrides(PARAMS, {f"gate.{key}": FLOOR[key]})["gate"] == FLOOR


def test_the_issues_example_names_both_loosened_thresholds():
    with pytest.raises(ParamsError, match=r"gate\.min_r2=-1e\+09 .*; gate\.tolerance=1e\+09 "):
        apply_overrides(PARAMS, {"gate_min_r2": -1e9, "gate_tolerance": 1e9})


def test_the_floor_is_the_params_file_not_the_code(tmp_path, monkeypatch):
    """Loosening means editing params.yaml: a file with a lower min_r2 allows it."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["gate"]["min_r2"] = 0.5
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, json.dumps({"gate.min_r2": 0.6}))
    assert load_params(path)["gate"]["min_r2"] == 0.6
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, json.dumps({"gate.min_r2": 0.4}))
    with pytest.raises(ParamsError, match="params.yaml's 0.5"):
        load_params(path)
    monkeypatch.delenv(settings.ENV_PARAMS_JSON)
    with pytest.raises(ParamsError, match="is looser"):  # --set is an override too
        load_params(path, {"gate.min_r2": "0.1"})


def test_the_form_bounds_follow_the_direction():
    bounds = gate_floor.form_bounds("min_r2", 0.8, field_schema("gate.min_r2"))
    assert bounds["minimum"] == 0.8 and "at least 0.8" in bounds["description"]
    bounds = gate_floor.form_bounds("tolerance", 0.01, field_schema("gate.tolerance"))
    assert bounds["maximum"] == 0.01 and "at most 0.01" in bounds["description"]
    # a model bound stricter than the file's value stays the bound
    assert gate_floor.form_bounds("max_mape", 0.5, {"maximum": 0.3})["maximum"] == 0.3


def test_a_stage_started_with_a_looser_gate_exits_no_retry_before_doing_anything(
        workdir, monkeypatch, capsys):
    """What the Airflow trigger form would send: the whole form as CARPRICE_PARAMS_JSON."""
    form = {dotted: PARAMS[dotted.split(".")[0]][dotted.split(".")[1]]
            for dotted in ("gate.max_rmse_log", "gate.max_mape", "gate.tolerance")}
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, json.dumps({**form, "gate.min_r2": -1}))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # never reached
    code = run_stage("ingest", ["--run-id", "loose", "--data-dir", str(workdir / "data")])
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == StageExit.NO_RETRY == summary["exit_code"]
    assert summary["status"] == "failed"
    assert summary["reason"].startswith("params: gate.min_r2=-1 is looser than params.yaml's")
    assert err.strip().splitlines() == [f"error: ingest failed: {summary['reason']}"]
    assert not (workdir / "data" / "runs" / "loose" / run_folder.RAW).exists()
    assert not (workdir / "data" / "runs").exists()  # not even the run folder
