"""params.yaml's ``candidates``: the model configurations trained side by side (the
training DAG maps train over them; evaluate gates the best on validation). Typed here,
used by carprice.config.params.

Imports only the standard library and pydantic: the Airflow image reads it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A candidate's name: a task's map index, a container-name part and a file name.
CANDIDATE_NAME = r"^[a-z][a-z0-9_]{0,30}$"
MAX_CANDIDATES = 6  # each is a container of its own, run side by side
ESTIMATORS = ("hgb", "ridge")
# The model-section keys a hgb candidate may set for itself.
HGB_KEYS = ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf",
            "l2_regularization", "interactions")


class CandidateParams(BaseModel):
    """One candidate configuration. Unlike elsewhere, keys may be absent: a hgb candidate
    takes every key it does not set from the model section (its defaults)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    estimator: Literal["hgb", "ridge"] = Field(
        description="hgb: boosted trees (the model section); ridge: a regularised linear "
                    "model on the same features")
    learning_rate: float | None = Field(default=None, gt=0, description="hgb: learning rate")
    max_iter: int | None = Field(default=None, ge=1, description="hgb: boosting iterations")
    max_leaf_nodes: int | None = Field(default=None, ge=2, description="hgb: leaves per tree")
    min_samples_leaf: int | None = Field(default=None, ge=1, description="hgb: rows per leaf")
    l2_regularization: float | None = Field(default=None, ge=0,
                                            description="hgb: L2 penalty on leaf values")
    interactions: bool | None = Field(default=None, description="hgb: let features interact")
    alpha: float | None = Field(default=None, gt=0, description="ridge: L2 penalty")

    @model_validator(mode="after")
    def _keys_of_its_estimator(self) -> CandidateParams:
        hgb_set = [k for k in HGB_KEYS if getattr(self, k) is not None]
        if self.estimator == "ridge" and hgb_set:
            raise ValueError(f"a ridge candidate takes alpha, not {', '.join(hgb_set)}")
        if self.estimator == "ridge" and self.alpha is None:
            raise ValueError("a ridge candidate needs alpha")
        if self.estimator == "hgb" and self.alpha is not None:
            raise ValueError("alpha is for ridge candidates; hgb takes model section keys")
        return self


def check_names(found: dict[str, CandidateParams]) -> dict[str, CandidateParams]:
    """``found`` if it holds 1 to MAX_CANDIDATES well-named candidates; ValueError otherwise."""
    if not 1 <= len(found) <= MAX_CANDIDATES:
        raise ValueError(f"name 1 to {MAX_CANDIDATES} candidates, got {len(found)}")
    bad = [name for name in found if not re.fullmatch(CANDIDATE_NAME, name)]
    if bad:
        raise ValueError(f"candidate names must be lower-case letters, digits and _ "
                         f"(at most 31, a letter first), got {bad[0]!r}")
    return found


def settings(found: CandidateParams, model: dict) -> dict:
    """What the candidate trains with: for hgb, the model section (``model``) with its own
    keys on top; for ridge, its alpha and the model section's interval coverage."""
    own = found.model_dump(exclude_none=True)
    if found.estimator == "ridge":
        return {**own, "interval_coverage": model["interval_coverage"]}
    return {**model, **own}
