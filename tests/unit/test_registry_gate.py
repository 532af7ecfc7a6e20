"""The gate's rules (carprice.registry.gate), each reason on its own."""

from __future__ import annotations

import pytest

from carprice.config.params import load_params
from carprice.model.metrics import Ratio
from carprice.registry.gate import GateLimits, gate
from tests.conftest import REPO

LIMITS = GateLimits.from_params(load_params(REPO / "params.yaml")["gate"])
GOOD = {"rmse_log": 0.125, "r2": 0.96, "mape": 0.1, "r2_lo": 0.95, "r2_hi": 0.97}
SKILLED = Ratio(0.4, 0.37, 0.43)  # the synthetic default: 60 % below the baseline
BASELINE = "median price by brand + model"


def failed(decision) -> list[str]:
    return [r for r in decision.reasons if r.startswith("FAIL")]


def test_the_defaults_are_skill_and_no_floors():
    assert (LIMITS.min_skill, LIMITS.tolerance, LIMITS.bootstrap, LIMITS.confidence) == (
        0.2, 0.01, 1000, 0.9)
    assert LIMITS.max_rmse_log is LIMITS.min_r2 is LIMITS.max_mape is None


def test_a_first_model_with_skill_passes_and_the_reasons_name_baseline_and_interval():
    d = gate(GOOD, LIMITS, SKILLED, BASELINE)
    assert d.passed and d.label == "passed"
    skill = d.reasons[0]
    assert skill.startswith(f"ok: skill over the baseline ({BASELINE}): RMSE(log) candidate "
                            "/ baseline 0.400 [0.370, 0.430] (90% paired bootstrap interval, "
                            "1000 resamples)")
    assert "ok: no production model yet" in d.reasons
    assert not any("floor" in r for r in d.reasons)  # off by default: not even mentioned


@pytest.mark.parametrize("ratio, why", [
    (Ratio(0.85, 0.7, 0.95), "ratio > 0.8, upper bound < 1"),  # not enough skill
    (Ratio(0.75, 0.5, 1.02), "ratio <= 0.8, upper bound >= 1"),  # maybe no better at all
])
def test_skill_is_the_point_estimate_bar_and_an_interval_below_one(ratio, why):
    d = gate(GOOD, LIMITS, ratio, BASELINE)
    assert not d.passed and failed(d)[0].startswith("FAIL: skill over the baseline")
    assert failed(d)[0].endswith(why)


def test_a_wide_interval_alone_does_not_refuse():
    """A few hundred test rows: the interval is wide, but the point clears the bar and
    the whole interval is below the baseline."""
    assert gate(GOOD, LIMITS, Ratio(0.5, 0.3, 0.95), BASELINE).passed


@pytest.mark.parametrize("versus, passed, why", [
    (Ratio(1.005, 0.99, 1.02), True, "ratio <= 1 + 0.01"),
    (Ratio(1.2, 0.97, 1.5), True, "ratio > 1 + 0.01, but lower bound <= 1: not surely worse"),
    (Ratio(1.05, 1.02, 1.08), False, "beyond the tolerance and surely worse (lower bound > 1)"),
    (Ratio(1.05, 1.005, 1.08), False, "surely worse (lower bound > 1)"),
])
def test_production_refuses_only_a_candidate_surely_worse_beyond_tolerance(versus, passed, why):
    d = gate(GOOD, LIMITS, SKILLED, BASELINE, versus, "3")
    assert d.passed is passed
    line = next(r for r in d.reasons if "production v3" in r)
    assert line.startswith(("ok: " if passed else "FAIL: ") + "RMSE(log) candidate / "
                           f"production v3 {versus} on the same holdout (90% paired")
    assert line.endswith(why)


def test_a_large_holdout_gives_the_old_tolerance_rule():
    """A narrow interval (lo ~ point): refused exactly when ratio > 1 + tolerance."""
    for point, passed in ((1.009, True), (1.011, False)):
        versus = Ratio(point, point - 0.001, point + 0.001)
        assert gate(GOOD, LIMITS, SKILLED, BASELINE, versus, "3").passed is passed


def test_each_behaviour_failure_refuses_with_its_reason():
    reason = "behaviour city: Dacia Logan 2018 90000 km priced ... more than 15%"
    d = gate(GOOD, LIMITS, SKILLED, BASELINE,
             behaviour={"mileage": None, "year": None, "city": reason})
    assert not d.passed and failed(d) == [f"FAIL: {reason}"]
    assert "ok: behaviour mileage" in d.reasons and "ok: behaviour year" in d.reasons


def test_the_floors_when_set_each_refuse_and_show_the_interval():
    limits = GateLimits.from_params({"min_skill": 0.2, "tolerance": 0.01,
                                     "max_city_effect": 0.15, "bootstrap": 1000,
                                     "confidence": 0.9, "max_rmse_log": "0.3", "min_r2": 0.8,
                                     "max_mape": 0.3})
    assert gate(GOOD, limits, SKILLED, BASELINE).passed
    for key, value in (("rmse_log", 0.31), ("r2", 0.79), ("mape", 0.31)):
        d = gate({**GOOD, key: value}, limits, SKILLED, BASELINE)
        assert not d.passed and len(failed(d)) == 1
        assert failed(d)[0].startswith(f"FAIL: floor {key} {value:.4f}")
    d = gate({**GOOD, "r2": 0.7}, limits, SKILLED, BASELINE)
    assert failed(d) == ["FAIL: floor r2 0.7000 [0.9500, 0.9700] < 0.8"]


def test_every_check_is_required():
    d = gate(GOOD, LIMITS, Ratio(0.9, 0.8, 1.1), BASELINE, Ratio(1.1, 1.05, 1.2), "2",
             {"mileage": "behaviour mileage_km: more km raises the price: ...", "year": None})
    assert len(failed(d)) == 3
