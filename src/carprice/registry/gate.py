"""The promotion gate: absolute floors AND not worse than production on the same holdout."""

from __future__ import annotations

from dataclasses import dataclass, field

from carprice.registry import tags


@dataclass(frozen=True)
class GateLimits:
    max_rmse_log: float
    min_r2: float
    max_mape: float
    tolerance: float

    @classmethod
    def from_params(cls, gate: dict) -> GateLimits:
        return cls(**{k: float(gate[k]) for k in ("max_rmse_log", "min_r2", "max_mape",
                                                   "tolerance")})


@dataclass
class Decision:
    passed: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return tags.GATE_PASSED if self.passed else tags.GATE_REFUSED

    def as_dict(self) -> dict:
        return {"passed": self.passed, "label": self.label, "reasons": self.reasons}


def gate(candidate: dict, limits: GateLimits, production: dict | None = None,
         production_version: str | None = None) -> Decision:
    """Absolute floors AND not worse than production on the same holdout.

    ``candidate`` and ``production`` are metrics dicts (metrics.regression_metrics)
    computed on the same rows.
    """
    checks = [
        _floor("rmse_log", candidate["rmse_log"], "<=", limits.max_rmse_log),
        _floor("r2", candidate["r2"], ">=", limits.min_r2),
        _floor("mape", candidate["mape"], "<=", limits.max_mape),
    ]
    if production is None:
        checks.append((True, "no production model yet"))
    else:
        bound = production["rmse_log"] * (1 + limits.tolerance)
        ok = candidate["rmse_log"] <= bound
        checks.append((ok, f"rmse_log {candidate['rmse_log']:.4f} {'<=' if ok else '>'} "
                           f"production v{production_version} {production['rmse_log']:.4f}"
                           f" x (1 + {limits.tolerance}) on the same holdout"))
    return Decision(passed=all(ok for ok, _ in checks),
                    reasons=[("ok: " if ok else "FAIL: ") + text for ok, text in checks])


def _floor(name: str, value: float, op: str, limit: float) -> tuple[bool, str]:
    ok = value <= limit if op == "<=" else value >= limit
    shown = op if ok else {"<=": ">", ">=": "<"}[op]
    return ok, f"{name} {value:.4f} {shown} {limit}"
