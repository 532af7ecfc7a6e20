"""Drift logic on synthetic frames: the same market does not ask for a retrain, a
drifted one does; the tests, PSI, the decision and the HTML page."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pandas as pd
import pytest

from carprice import drift, drift_html, pipeline, schema
from carprice.sources.synthetic import Drift, generate
from tests.conftest import REPO

HEAVY = Drift(price_inflation=0.3, mileage_shift=0.5, new_models_share=0.3)


@pytest.fixture(scope="module")
def limits() -> drift.Thresholds:
    return drift.Thresholds.from_params(pipeline.load_params(REPO / "params.yaml")["monitor"])


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return generate(25_000, seed=42)


def test_the_same_market_does_not_drift(reference, limits):
    summary = drift.compare(reference, generate(10_000, seed=43), limits)
    assert summary["drifted_features"] == [] and summary["drift_share"] == 0
    assert not summary["dataset_drift"] and not summary["target"]["drifted"]
    assert len(summary["features"]) == len(schema.FEATURES)
    retrain, reason = drift.decide(summary, retrain_on_drift=True)
    assert not retrain and reason.startswith("no drift: share of drifted features 0.00 <")


def test_a_small_sample_of_the_same_market_does_not_drift(reference, limits):
    # few rows: PSI is noisy (a rare model seen twice) but the tests are not significant
    summary = drift.compare(reference, generate(300, seed=44), limits)
    assert summary["drifted_features"] == []
    assert max(f["psi"] for f in summary["features"]) > limits.psi


def test_a_drifted_market_asks_for_a_retrain(reference, limits):
    current = generate(10_000, seed=43, drift=HEAVY)
    summary = drift.compare(reference, current, limits)
    assert {"model", "year", "brand"} <= set(summary["drifted_features"])
    assert summary["drift_share"] >= limits.drift_share and summary["dataset_drift"]
    assert summary["features"][0]["column"] == "model", "sorted by PSI, largest first"
    model = summary["features"][0]
    assert model["new_values_share"] == pytest.approx(0.3, abs=0.02)
    assert set(model["new_values"]) <= {m for ms in _new_models() for m in ms}
    assert summary["target"]["drifted"], "price inflation shows in the true price"
    retrain, reason = drift.decide(summary, retrain_on_drift=True)
    assert retrain
    assert reason.startswith(f"share of drifted features {summary['drift_share']:.2f} >= "
                             f"{limits.drift_share}: model, ")
    retrain, reason = drift.decide(summary, retrain_on_drift=False)
    assert not retrain and reason.startswith("monitor.retrain is false; drift: share")
    json.dumps(summary)  # JSON-able as it is


def _new_models():
    from carprice import catalog

    return [list(models) for models in catalog.NEW_MODELS.values()]


def test_mileage_shift_alone_drifts_mileage_only(reference, limits):
    summary = drift.compare(reference, generate(10_000, seed=43, drift=Drift(mileage_shift=0.5)),
                            limits)
    assert summary["drifted_features"] == ["mileage_km"]
    mileage = summary["features"][0]
    assert mileage["current_mean"] > 1.4 * mileage["reference_mean"]
    assert not drift.decide(summary, retrain_on_drift=True)[0], "one feature of 27 is not enough"


def test_prediction_drift_alone_is_a_reason(reference, limits):
    current = generate(10_000, seed=43)
    # a stand-in for the model's output: the true price, 40% higher on the current side
    summary = drift.compare(reference, current, limits, reference[schema.TARGET].to_numpy(),
                            current[schema.TARGET].to_numpy() * 1.4)
    assert summary["prediction"]["drifted"] and summary["drifted_features"] == []
    retrain, reason = drift.decide(summary, retrain_on_drift=True)
    assert retrain and reason.startswith("predicted price drifted (mean ")


@pytest.mark.parametrize("rmse_log, worse", [(0.12, False), (0.15, True)])
def test_a_worse_error_on_labelled_rows_is_a_reason(reference, limits, rmse_log, worse):
    summary = drift.compare(reference, generate(2_000, seed=43), limits)
    error = drift.error_check(rmse_log, baseline_rmse_log=0.12, max_increase=0.2)
    assert error["limit"] == pytest.approx(0.144) and error["worse"] is worse
    retrain, reason = drift.decide(summary, retrain_on_drift=True, error=error)
    assert retrain is worse
    assert ("rmse_log on labelled current rows 0.1500 > 0.1440" in reason) is worse


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift():
    same = np.array([0.25, 0.25, 0.5])
    assert drift.psi(same, same) == 0
    small = drift.psi(same, np.array([0.3, 0.2, 0.5]))
    large = drift.psi(same, np.array([0.6, 0.1, 0.3]))
    assert 0 < small < large


def test_numeric_psi_uses_the_reference_deciles():
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 20_000)
    assert drift.numeric_drift(ref, rng.normal(0, 1, 5_000))["psi"] < 0.01
    shifted = drift.numeric_drift(ref, rng.normal(1, 1, 5_000))
    assert shifted["psi"] > 0.5 and shifted["p_value"] < 1e-10


def test_a_constant_column_never_drifts(limits):
    ones = pd.Series([True] * 500)
    out = drift.column_drift("abs", ones, ones, limits)
    assert out["p_value"] == 1.0 and out["psi"] == 0 and not out["drifted"]


def test_an_all_blank_column_is_reported_not_tested(limits):
    out = drift.column_drift("year", pd.Series([2020.0] * 300), pd.Series([np.nan] * 300),
                             limits)
    assert out["test"] == "none" and not out["drifted"] and out["current_rows"] == 0


def test_unusable_input_is_a_clear_error(reference, limits):
    with pytest.raises(drift.DriftError, match="missing feature columns year"):
        drift.compare(reference, reference.drop(columns="year"), limits)
    with pytest.raises(drift.DriftError, match="0 current rows"):
        drift.compare(reference, reference.head(0), limits)


def test_html_report_shows_the_decision_and_escapes_labels(reference, limits):
    current = generate(2_000, seed=43, drift=HEAVY)
    current.loc[:199, "model"] = "<script>alert(1)</script>"
    summary = drift.compare(reference, current, limits)
    summary["retrain"], summary["reason"] = drift.decide(summary, retrain_on_drift=True)
    page = drift_html.render(summary, reference, current, title="Data drift of car-price v1")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "RETRAIN" in page and "Data drift of car-price v1" in page
    assert page.count("data:image/png;base64,") == min(len(summary["drifted_features"]) + 1,
                                                        drift_html.MAX_PLOTS)


def test_monitoring_stages_and_params_are_defined_once():
    params = pipeline.load_params(REPO / "params.yaml")
    assert set(pipeline.MONITOR_STAGE_EXTRAS) == set(pipeline.MONITOR_STAGES)
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(pipeline.MONITOR_STAGE_EXTRAS.values()) <= set(extras)
    assert not set(pipeline.MONITOR_STAGES) & set(pipeline.STAGES)
    assert params["monitor"]["source"] in pipeline.MONITOR_SOURCES
    for aliases in (pipeline.MONITOR_PARAM_ALIASES, pipeline.ROLLBACK_PARAM_ALIASES):
        for dotted in aliases.values():
            node = params
            for part in dotted.split("."):
                assert part in node, f"{dotted} is not in params.yaml"
                node = node[part]


def test_monitoring_params_do_not_change_the_training_fingerprint():
    from carprice.stages.runner import params_hash

    params = pipeline.load_params(REPO / "params.yaml")
    changed = pipeline.apply_overrides(params, {"monitor.drift_share": 0.5,
                                                "rollback.reason": "bad prices"})
    assert params_hash(changed) == params_hash(params)
    assert params_hash(pipeline.apply_overrides(params, {"rows": 100})) != params_hash(params)


@pytest.mark.parametrize("override, expected", [
    ({"rollback.to_version": 3}, "3"),  # a form or JSON may send a number
    ({"rollback.to_version": "12"}, "12"),
    ({"rollback.to_version": ""}, ""),
])
def test_rollback_version_is_text_of_digits(override, expected):
    params = pipeline.load_params(REPO / "params.yaml")
    assert pipeline.apply_overrides(params, override)["rollback"]["to_version"] == expected


@pytest.mark.parametrize("override, message", [
    ({"rollback.to_version": "v3"}, "rollback.to_version"),
    ({"monitor.drift_share": 0}, "monitor.drift_share must be > 0, got 0"),
    ({"monitor.source": "kafka"},
     "monitor.source must be 'predictions', 'synthetic' or 'file', got 'kafka'"),
    ({"monitor.experiment": ""}, "monitor.experiment must not be empty"),
])
def test_bad_monitoring_params_are_refused(override, message):
    with pytest.raises(pipeline.ParamsError, match=message):
        pipeline.apply_overrides(pipeline.load_params(REPO / "params.yaml"), override)
