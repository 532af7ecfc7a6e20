"""The ``candidates`` section of params.yaml, typed (carprice.config.params reads it with
the rest): the model configurations train fits side by side, one task each.

Imports only pydantic: the Airflow image reads it (the DAG maps train over the names).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from carprice.config.gate_params import Section

# A candidate's name: a task's map index, a container-name part and a file name.
CANDIDATE_NAME = r"^[a-z][a-z0-9_]{0,30}$"
MAX_CANDIDATES = 6  # each is a container of its own, run side by side
# The model-section keys a hgb candidate may set for itself.
HGB_KEYS = ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf",
            "l2_regularization", "interactions")


class CandidateParams(Section):
    """One candidate configuration. Unlike elsewhere, keys may be absent: a hgb candidate
    takes every key it does not set from the model section (its defaults)."""

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
