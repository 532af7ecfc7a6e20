from carprice.registry.gate import GateLimits, gate

LIMITS = GateLimits(max_rmse_log=0.3, min_r2=0.8, max_mape=0.3, tolerance=0.01)
GOOD = {"rmse_log": 0.125, "r2": 0.96, "mape": 0.1}


def test_first_model_passes_on_floors_alone():
    d = gate(GOOD, LIMITS)
    assert d.passed and d.label == "passed"
    assert "ok: no production model yet" in d.reasons


def test_each_floor_can_refuse():
    for key, value in (("rmse_log", 0.31), ("r2", 0.79), ("mape", 0.31)):
        d = gate({**GOOD, key: value}, LIMITS)
        assert not d.passed
        assert [r for r in d.reasons if r.startswith("FAIL")][0].startswith(f"FAIL: {key}")


def test_not_worse_than_production_within_tolerance():
    prod = {"rmse_log": 0.124, "r2": 0.96, "mape": 0.1}
    assert gate(GOOD, LIMITS, prod, "3").passed  # 0.125 <= 0.124 * 1.01
    worse = gate({**GOOD, "rmse_log": 0.13}, LIMITS, prod, "3")
    assert not worse.passed
    assert any("production v3" in r and r.startswith("FAIL") for r in worse.reasons)


def test_both_conditions_are_required():
    prod = {"rmse_log": 0.5, "r2": 0.5, "mape": 0.5}
    assert not gate({**GOOD, "r2": 0.7}, LIMITS, prod, "1").passed  # better, but under a floor


def test_limits_from_params():
    limits = GateLimits.from_params({"max_rmse_log": "0.2", "min_r2": 0.9, "max_mape": 0.2,
                                     "tolerance": 0})
    assert limits.max_rmse_log == 0.2 and limits.tolerance == 0.0
