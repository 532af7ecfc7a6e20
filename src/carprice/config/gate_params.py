"""The ``gate`` section of params.yaml, typed (carprice.config.params reads it with the
rest). The rules these thresholds feed: carprice.registry.gate; which way each one
tightens: carprice.config.gate_floor.

Imports only pydantic: the Airflow image reads it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


# The base of every section of params.yaml (carprice.config.params builds the others on
# it). Fields carry no default: a value missing from params.yaml is an error, never a
# second default hidden here.
class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class GateParams(Section):
    # A run may only tighten these (carprice.config.gate_floor.TIGHTENS says which way).
    min_skill: float = Field(
        ge=0, lt=1, description="Gate: how much lower a candidate's RMSE of log price must be "
                                "than the baseline's (0.2 = 20% lower; the baseline is the "
                                "median price by brand, model and year band)")
    tolerance: float = Field(
        ge=0, description="Gate: how much worse than production a candidate may be "
                          "(0.01 = 1% higher RMSE of log price)")
    max_city_effect: float = Field(
        gt=0, le=1, description="Gate: the largest share by which moving a car to another "
                                "city may change its price (0.15 = 15%)")
    bootstrap: int = Field(
        ge=100, le=100_000, description="Gate: resamples of the test rows for the intervals")
    confidence: float = Field(
        ge=0.5, lt=1, description="Gate: confidence of the bootstrap intervals (0.9 = 90%)")
    # Absolute floors: null = off (they fit one market only; skill over the baseline is
    # what works on any data).
    max_rmse_log: float | None = Field(
        gt=0, description="Gate: highest RMSE of log price a candidate may have (blank: off)")
    min_r2: float | None = Field(
        le=1, description="Gate: lowest R² a candidate may have (blank: off)")
    max_mape: float | None = Field(
        gt=0, description="Gate: highest mean absolute percentage error a candidate may "
                          "have (blank: off)")
