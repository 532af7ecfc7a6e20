"""The promotion gate: skill over a baseline, no regression against production, behaviour
checks, and optional absolute floors; all measured on the same holdout rows.

The ratios are RMSE(log) of the candidate over that of a reference (the baseline,
carprice.model.baseline, or production) with a paired bootstrap interval [lo, hi]
(carprice.model.metrics.rmse_ratio: every model scored on the same resamples). The rules:

- skill: ratio <= 1 - min_skill on the point estimate AND hi < 1. The bar is the point
  estimate, so a model whose true skill is comfortably above it is not refused because a
  few hundred test rows make the interval wide; the interval only has to show that the
  candidate is better than the baseline at all, so noise alone never promotes a model that
  is no better than a median lookup.
- production: refused only if ratio > 1 + tolerance AND lo > 1, i.e. the point estimate is
  beyond the tolerance and the candidate is surely worse. On a large holdout lo ~ ratio and
  this is the old rule (ratio <= 1 + tolerance); on a small one, a retrained model that
  looks worse by noise alone is not refused.
- behaviour: each check of carprice.model.behaviour must pass.
- floors (max_rmse_log, min_r2, max_mape): checked only when set (params.yaml: null = off).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from carprice.registry import tags

if TYPE_CHECKING:
    from carprice.model.metrics import Ratio


@dataclass(frozen=True)
class GateLimits:
    min_skill: float
    tolerance: float
    max_city_effect: float
    bootstrap: int
    confidence: float
    max_rmse_log: float | None = None
    min_r2: float | None = None
    max_mape: float | None = None

    @classmethod
    def from_params(cls, gate: dict) -> GateLimits:
        def number(key: str) -> float | None:
            return None if gate[key] is None else float(gate[key])

        return cls(min_skill=float(gate["min_skill"]), tolerance=float(gate["tolerance"]),
                   max_city_effect=float(gate["max_city_effect"]),
                   bootstrap=int(gate["bootstrap"]), confidence=float(gate["confidence"]),
                   max_rmse_log=number("max_rmse_log"), min_r2=number("min_r2"),
                   max_mape=number("max_mape"))

    def interval_words(self) -> str:
        return f"{self.confidence:.0%} paired bootstrap interval, {self.bootstrap} resamples"


@dataclass
class Decision:
    passed: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return tags.GATE_PASSED if self.passed else tags.GATE_REFUSED

    def as_dict(self) -> dict:
        return {"passed": self.passed, "label": self.label, "reasons": self.reasons}


def skill_check(skill: Ratio, limits: GateLimits, baseline: str) -> tuple[bool, str]:
    bar = 1 - limits.min_skill
    ok = skill.point <= bar and skill.hi < 1
    why = (f"ratio {'<=' if skill.point <= bar else '>'} {bar:g}, upper bound "
           f"{'<' if skill.hi < 1 else '>='} 1")
    return ok, (f"skill over the baseline ({baseline}): RMSE(log) candidate / baseline "
                f"{skill} ({limits.interval_words()}): {why}")


def production_check(versus: Ratio, limits: GateLimits, version: str) -> tuple[bool, str]:
    bar = 1 + limits.tolerance
    worse = versus.point > bar and versus.lo > 1
    why = ("beyond the tolerance and surely worse (lower bound > 1)" if worse else
           f"ratio {'<=' if versus.point <= bar else '>'} 1 + {limits.tolerance:g}"
           + ("" if versus.point <= bar else ", but lower bound <= 1: not surely worse"))
    return not worse, (f"RMSE(log) candidate / production v{version} {versus} on the same "
                       f"holdout ({limits.interval_words()}): {why}")


def floor_checks(candidate: dict, limits: GateLimits) -> list[tuple[bool, str]]:
    """The absolute floors that are set (off when None)."""
    out = []
    for name, op, limit in (("rmse_log", "<=", limits.max_rmse_log),
                            ("r2", ">=", limits.min_r2), ("mape", "<=", limits.max_mape)):
        if limit is None:
            continue
        value = candidate[name]
        ok = value <= limit if op == "<=" else value >= limit
        shown = op if ok else {"<=": ">", ">=": "<"}[op]
        interval = ""
        if f"{name}_lo" in candidate:
            interval = f" [{candidate[f'{name}_lo']:.4f}, {candidate[f'{name}_hi']:.4f}]"
        out.append((ok, f"floor {name} {value:.4f}{interval} {shown} {limit:g}"))
    return out


def gate(candidate: dict, limits: GateLimits, skill: Ratio, baseline: str,
         production: Ratio | None = None, production_version: str | None = None,
         behaviour: dict[str, str | None] | None = None) -> Decision:
    """Every check must pass. ``candidate``: the candidate's metrics (floors); ``skill``:
    its RMSE(log) ratio to the baseline named ``baseline``; ``production``: its ratio to
    production (None: no production model yet); ``behaviour``: check name -> None if it
    passed, else the reason (carprice.model.behaviour.check)."""
    checks = [skill_check(skill, limits, baseline)]
    if production is None or production_version is None:
        checks.append((True, "no production model yet"))
    else:
        checks.append(production_check(production, limits, production_version))
    for name, failure in (behaviour or {}).items():
        checks.append((failure is None, failure or f"behaviour {name}"))
    checks.extend(floor_checks(candidate, limits))
    return Decision(passed=all(ok for ok, _ in checks),
                    reasons=[("ok: " if ok else "FAIL: ") + text for ok, text in checks])
