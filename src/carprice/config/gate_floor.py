"""A run can only tighten the gate: the trigger form, ``--set`` and $CARPRICE_PARAMS_JSON may
make the thresholds of params.yaml's ``gate`` section stricter, never looser. Loosening the
gate means editing params.yaml, which is a reviewed commit.

The one definition of which way each threshold tightens. carprice.config.params refuses
looser overrides (ParamsError); the Airflow trigger form gets the same bounds in its JSON
schema (airflow/dags/carprice_tasks.py), so Airflow refuses such a trigger before any run
exists. Standard library only: the Airflow image reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

# Each key of params.yaml's gate section (carprice.config.params.GateParams): "up" when a
# higher value is stricter, "down" when a lower value is stricter, "fixed" when neither way
# is stricter (a wider interval makes the skill check stricter and the production check
# more forgiving): only params.yaml sets those. A floor that is off (None) is the loosest.
TIGHTENS: dict[str, Literal["up", "down", "fixed"]] = {
    "min_skill": "up",  # how much better than the baseline a candidate must be
    "tolerance": "down",  # how much worse than production a candidate may be
    "max_city_effect": "down",  # how far a change of city may move a price
    "bootstrap": "fixed",  # resamples of the intervals
    "confidence": "fixed",  # confidence of the intervals
    "max_rmse_log": "down",  # highest RMSE(log) a candidate may have (None: off)
    "min_r2": "up",  # lowest R² a candidate may have (None: off)
    "max_mape": "down",  # highest MAPE a candidate may have (None: off)
}


def _shown(value: Any) -> str:
    return "off" if value is None else f"{float(value):g}"


def loosened(floor: Mapping[str, Any], asked: Mapping[str, Any]) -> list[str]:
    """``gate.<key>=<asked> is looser than params.yaml's <floor>``, for every threshold that
    ``asked`` (the run's gate section) loosens from ``floor`` (params.yaml's)."""
    out = []
    for key, way in TIGHTENS.items():
        base, new = floor[key], asked[key]
        if way == "fixed":
            if float(new) != float(base):
                out.append(f"gate.{key}={_shown(new)} differs from params.yaml's "
                           f"{_shown(base)} (only params.yaml sets it)")
            continue
        if base is None:  # off: any value only adds a check
            continue
        if new is None or ((float(new) < float(base)) if way == "up"
                           else (float(new) > float(base))):
            out.append(f"gate.{key}={_shown(new)} is looser than params.yaml's {_shown(base)}")
    return out


def refusal(floor: Mapping[str, Any], asked: Mapping[str, Any]) -> str | None:
    """The one-line reason to refuse a run whose gate is looser than ``floor``, or None."""
    found = loosened(floor, asked)
    if not found:
        return None
    return (f"{'; '.join(found)}: a run can only tighten the gate "
            "(loosening it means editing params.yaml)")


def form_bounds(key: str, floor: float | None, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-schema keywords of the trigger form's field for ``gate.<key>``: the params
    model's own range (``schema``) narrowed so that a value can only tighten ``floor``,
    and a description that says so."""
    if floor is None:  # off in params.yaml: the model's own range, any value adds a check
        note = " Off in params.yaml: a value here adds this check to the run."
        return {"description": schema.get("description", "") + note}
    if TIGHTENS[key] == "fixed":
        return {"minimum": floor, "maximum": floor,
                "description": schema.get("description", "") + f" Only params.yaml sets it "
                                                               f"({floor:g})."}
    if TIGHTENS[key] == "up":
        bound, word = {"minimum": max(floor, schema.get("minimum", floor))}, "at least"
    else:
        bound, word = {"maximum": min(floor, schema.get("maximum", floor))}, "at most"
    note = (f" The form can only tighten the gate: {word} {floor:g} (params.yaml; "
            "loosening it means editing that file).")
    return {**bound, "description": schema.get("description", "") + note}
