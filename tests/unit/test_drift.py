"""Drift logic on synthetic frames, through Evidently: the same market does not ask for a
retrain, a drifted one does; the verdicts, the decision, the HTML report and the params."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tomllib

import numpy as np
import pandas as pd
import pytest

from carprice.config.params import (
    MONITOR_PARAM_ALIASES,
    ROLLBACK_PARAM_ALIASES,
    ParamsError,
    apply_overrides,
    load_params,
)
from carprice.contract import schema
from carprice.monitoring import drift, evidently_compat
from carprice.pipeline import definition
from carprice.sources.synthetic import Drift, generate
from tests.conftest import REPO

HEAVY = Drift(price_inflation=0.3, mileage_shift=0.5, new_models_share=0.3)


@pytest.fixture(scope="module")
def limits() -> drift.Thresholds:
    return drift.Thresholds.from_params(load_params(REPO / "params.yaml")["monitor"])


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return generate(25_000, seed=42)


def _with_price_as_prediction(reference, current, limits, **kwargs):
    # a stand-in for the model's output with its scale and skew: the true price
    return drift.compare(reference, current, limits, reference[schema.TARGET].to_numpy(),
                         current[schema.TARGET].to_numpy(), **kwargs)


def test_the_same_market_does_not_drift(reference, limits):
    summary = _with_price_as_prediction(reference, generate(10_000, seed=43), limits)
    assert summary["drifted_features"] == [] and summary["drift_share"] == 0
    assert not summary["dataset_drift"] and not summary["target"]["drifted"]
    assert not summary["prediction"]["drifted"]
    assert len(summary["features"]) == summary["compared_features"] == len(schema.FEATURES)
    assert summary["engine"].startswith("Evidently 0.7.23: Wasserstein distance (normed)")
    retrain, reason = drift.decide(summary, retrain_on_drift=True)
    assert not retrain and reason.startswith("no drift: share of drifted features 0.00 <")


@pytest.mark.parametrize("seed", [31, 44, 45])
def test_a_thousand_rows_of_the_same_market_never_reach_the_e2e_share(reference, limits, seed):
    # the e2e drift scenario: 1,000 undrifted rows, retrain at 5 % of the features (2 of 27)
    e2e = dataclasses.replace(limits, drift_share=0.05)
    summary = _with_price_as_prediction(reference, generate(1_000, seed=seed), e2e)
    assert len(summary["drifted_features"]) <= 1, summary["drifted_features"]
    assert not drift.decide(summary, retrain_on_drift=True)[0]


def test_a_drifted_market_asks_for_a_retrain(reference, limits):
    current = generate(10_000, seed=43, drift=HEAVY)
    summary = _with_price_as_prediction(reference, current, limits)
    assert {"model", "year", "mileage_km"} <= set(summary["drifted_features"])
    assert summary["drift_share"] >= limits.drift_share and summary["dataset_drift"]
    ratios = [e["score"] / e["threshold"] for e in summary["features"]]
    assert ratios == sorted(ratios, reverse=True), "largest move (score / threshold) first"
    model = next(e for e in summary["features"] if e["column"] == "model")
    assert model["method"] == "jensenshannon" and model["threshold"] == limits.cat_threshold
    assert model["new_values_share"] == pytest.approx(0.3, abs=0.02)
    assert set(model["new_values"]) <= {m for ms in _new_models() for m in ms}
    assert summary["target"]["drifted"], "price inflation shows in the true price"
    assert summary["prediction"]["drifted"]
    retrain, reason = drift.decide(summary, retrain_on_drift=True)
    assert retrain
    assert reason.startswith(f"share of drifted features {summary['drift_share']:.2f} >= "
                             f"{limits.drift_share}: {', '.join(summary['drifted_features'])}")
    assert "; predicted price drifted (mean " in reason
    retrain, reason = drift.decide(summary, retrain_on_drift=False)
    assert not retrain and reason.startswith("monitor.retrain is false; drift: share")
    json.dumps(summary)  # JSON-able as it is


def test_a_thousand_drifted_rows_reach_the_default_share(reference, limits):
    summary = drift.compare(reference, generate(1_000, seed=32, drift=HEAVY), limits)
    assert len(summary["drifted_features"]) >= 3 and summary["dataset_drift"]


def _new_models():
    from carprice.contract import catalog

    return [list(models) for models in catalog.NEW_MODELS.values()]


def test_the_verdicts_are_evidentlys(reference, limits):
    summary = _with_price_as_prediction(reference, generate(2_000, seed=46, drift=HEAVY),
                                        limits)
    # Evidently's JSON holds one ValueDrift per feature, the prediction and the price
    columns = {m["config"]["column"] for m in summary["evidently"]["metrics"]
               if m["config"]["type"].endswith(":ValueDrift")}
    assert columns == {*schema.FEATURES, drift.PREDICTION, schema.TARGET}
    for entry in [*summary["features"], summary["prediction"], summary["target"]]:
        kind = "numeric" if entry["column"] in (*schema.NUMERIC, schema.TARGET,
                                                drift.PREDICTION) else "categorical"
        assert entry["method"] == drift.METHODS[kind]
        # both methods are distances: Evidently says drifted at score >= threshold
        assert entry["drifted"] is (entry["score"] >= entry["threshold"]), entry
    assert summary["prediction"]["threshold"] == limits.prediction_threshold
    assert summary["drift_share"] == pytest.approx(
        len(summary["drifted_features"]) / len(schema.FEATURES), abs=1e-4)


def test_mileage_shift_alone_drifts_mileage_only(reference, limits):
    summary = drift.compare(reference, generate(10_000, seed=43, drift=Drift(mileage_shift=0.5)),
                            limits)
    assert summary["drifted_features"] == ["mileage_km"]
    mileage = summary["features"][0]
    assert mileage["current_mean"] > 1.4 * mileage["reference_mean"]
    assert not drift.decide(summary, retrain_on_drift=True)[0], "one feature of 27 is not enough"


def test_prediction_drift_alone_is_a_reason(reference, limits):
    current = generate(10_000, seed=43)
    summary = drift.compare(reference, current, limits, reference[schema.TARGET].to_numpy(),
                            current[schema.TARGET].to_numpy() * 1.4)
    assert summary["prediction"]["drifted"] and summary["drifted_features"] == []
    retrain, reason = drift.decide(summary, retrain_on_drift=True)
    assert retrain and reason.startswith("predicted price drifted (mean ")
    assert f">= {limits.prediction_threshold})" in reason


@pytest.mark.parametrize("rmse_log, worse", [(0.12, False), (0.15, True)])
def test_a_worse_error_on_labelled_rows_is_a_reason(reference, limits, rmse_log, worse):
    summary = drift.compare(reference, generate(2_000, seed=43), limits)
    error = drift.error_check(rmse_log, baseline_rmse_log=0.12, max_increase=0.2)
    assert error["limit"] == pytest.approx(0.144) and error["worse"] is worse
    retrain, reason = drift.decide(summary, retrain_on_drift=True, error=error)
    assert retrain is worse
    assert ("rmse_log on labelled current rows 0.1500 > 0.1440" in reason) is worse


def test_constant_and_blank_columns(limits):
    reference, current = generate(3_000, seed=1), generate(1_000, seed=2)
    reference["abs"], current["abs"] = True, True
    current["year"] = np.nan
    summary = drift.compare(reference, current, limits)
    by_column = {e["column"]: e for e in summary["features"]}
    assert by_column["abs"]["score"] == 0 and not by_column["abs"]["drifted"]
    year = by_column["year"]
    assert year["method"] is None and not year["drifted"] and year["current_rows"] == 0
    assert year["note"] == "no values on one side: not compared"
    assert summary["compared_features"] == len(schema.FEATURES) - 1


def test_unusable_input_is_a_clear_error(reference, limits):
    with pytest.raises(drift.DriftError, match="missing feature columns year"):
        drift.compare(reference, reference.drop(columns="year"), limits)
    with pytest.raises(drift.DriftError, match="0 current rows"):
        drift.compare(reference, reference.head(0), limits)


def test_the_html_report_is_evidentlys_and_labels_cannot_run_as_script(reference, limits,
                                                                        tmp_path):
    current = generate(2_000, seed=43, drift=HEAVY)
    attack = "</script><script>alert(1)</script>"
    current.loc[:199, "model"] = attack
    path = tmp_path / "report.html"
    summary = _with_price_as_prediction(reference, current, limits, report_path=path)
    page = path.read_text(encoding="utf-8")
    assert "Dataset Drift is detected" in page and drift.PREDICTION in page
    assert attack not in page and "&lt;/script&gt;&lt;script&gt;alert(1)" in page
    model = next(e for e in summary["features"] if e["column"] == "model")
    assert model["new_values"][0] == attack, "the JSON summary keeps the label as it came"


def test_evidently_still_needs_the_pandas_shim():
    # When this fails, an Evidently release imports beside pandas 3 on its own:
    # drop carprice.monitoring.evidently_compat and its call in drift.py.
    out = subprocess.run([sys.executable, "-c", "import evidently"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode != 0 and "infer_dtype_from_object" in out.stderr


def test_the_shim_only_fills_the_gap_and_refuses_to_be_used():
    import pandas.core.dtypes.common as common

    evidently_compat.allow_import()
    stand_in = common.infer_dtype_from_object
    evidently_compat.allow_import()
    assert common.infer_dtype_from_object is stand_in, "idempotent"
    with pytest.raises(NotImplementedError, match="removed in pandas 3"):
        stand_in(np.float64)


def test_monitoring_stages_and_params_are_defined_once():
    params = load_params(REPO / "params.yaml")
    assert set(definition.MONITOR_STAGE_EXTRAS) == set(definition.MONITOR_STAGES)
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(definition.MONITOR_STAGE_EXTRAS.values()) <= set(extras)
    assert "evidently==0.7.23" in extras[definition.MONITOR_STAGE_EXTRAS["monitor"]]
    assert not set(definition.MONITOR_STAGES) & set(definition.STAGES)
    assert params["monitor"]["source"] in definition.MONITOR_SOURCES
    for aliases in (MONITOR_PARAM_ALIASES, ROLLBACK_PARAM_ALIASES):
        for dotted in aliases.values():
            node = params
            for part in dotted.split("."):
                assert part in node, f"{dotted} is not in params.yaml"
                node = node[part]


def test_monitoring_params_do_not_change_the_training_fingerprint():
    from carprice.pipeline.runner import params_hash

    params = load_params(REPO / "params.yaml")
    changed = apply_overrides(params, {"monitor.drift_share": 0.5,
                                                "monitor.cat_threshold": 0.3,
                                                "rollback.reason": "bad prices"})
    assert params_hash(changed) == params_hash(params)
    assert params_hash(apply_overrides(params, {"rows": 100})) != params_hash(params)


@pytest.mark.parametrize("override, expected", [
    ({"rollback.to_version": 3}, "3"),  # a form or JSON may send a number
    ({"rollback.to_version": "12"}, "12"),
    ({"rollback.to_version": ""}, ""),
])
def test_rollback_version_is_text_of_digits(override, expected):
    params = load_params(REPO / "params.yaml")
    assert apply_overrides(params, override)["rollback"]["to_version"] == expected


@pytest.mark.parametrize("override, message", [
    ({"rollback.to_version": "v3"}, "rollback.to_version"),
    ({"monitor.drift_share": 0}, "monitor.drift_share must be > 0, got 0"),
    ({"monitor.cat_threshold": 1.5}, "monitor.cat_threshold must be <= 1, got 1.5"),
    ({"monitor.prediction_threshold": 0}, "monitor.prediction_threshold must be > 0, got 0"),
    ({"monitor.p_value": 0.05}, "monitor.p_value"),  # the scipy-era knob is gone
    ({"monitor.source": "kafka"},
     "monitor.source must be 'predictions', 'synthetic' or 'file', got 'kafka'"),
    ({"monitor.experiment": ""}, "monitor.experiment must not be empty"),
])
def test_bad_monitoring_params_are_refused(override, message):
    with pytest.raises(ParamsError, match=message):
        apply_overrides(load_params(REPO / "params.yaml"), override)
