"""params.yaml, typed: a pydantic model checks every key, type and range.

params.yaml holds the default VALUES; this module holds their types, ranges and the
plain-words descriptions the Airflow trigger form shows. Every way in (the file,
``--set key=value``, the trigger form's CARPRICE_PARAMS_JSON) goes through the same
validation and fails with one line, e.g. ``params: model.max_iter must be >= 1, got 0``.

Imports only the standard library, PyYAML and pydantic: the Airflow image reads it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from carprice.config import candidates, gate_floor, limits, param_errors, settings
from carprice.config.candidates import CandidateParams
from carprice.config.gate_params import GateParams, Section
from carprice.config.maintenance_params import MaintenanceParams
from carprice.errors import InputError, one_line

# Most synthetic rows a run may ask for: what the train stage holds within the stage
# memory limit of this process's environment (the launcher's and the stage's agree).
MAX_ROWS = limits.stage_max_rows()

# Flat names shown in the Airflow trigger form -> dotted keys of params.yaml.
PARAM_ALIASES: dict[str, str] = {
    "source": "data.source",
    "csv_uri": "data.csv_uri",
    "rows": "data.rows",
    "seed": "data.seed",
    "price_inflation": "data.drift.price_inflation",
    "mileage_shift": "data.drift.mileage_shift",
    "new_models_share": "data.drift.new_models_share",
    "learning_rate": "model.learning_rate",
    "max_iter": "model.max_iter",
    "max_leaf_nodes": "model.max_leaf_nodes",
    "interactions": "model.interactions",
    "gate_min_skill": "gate.min_skill",
    "gate_tolerance": "gate.tolerance",
    "gate_max_city_effect": "gate.max_city_effect",
    "gate_max_rmse_log": "gate.max_rmse_log",
    "gate_min_r2": "gate.min_r2",
    "gate_max_mape": "gate.max_mape",
    "force": "run.force",
}

# Trigger-form names of the monitoring DAGs -> dotted keys of params.yaml.
MONITOR_PARAM_ALIASES: dict[str, str] = {
    "monitor_source": "monitor.source",
    "current_uri": "monitor.current_uri",
    "drift_share": "monitor.drift_share",
    "retrain": "monitor.retrain",
    "price_inflation": "data.drift.price_inflation",
    "mileage_shift": "data.drift.mileage_shift",
    "new_models_share": "data.drift.new_models_share",
}
ROLLBACK_PARAM_ALIASES: dict[str, str] = {
    "rollback_to": "rollback.to_version",
    "requested_by": "rollback.requested_by",
    "reason": "rollback.reason",
}
MAINTENANCE_PARAM_ALIASES: dict[str, str] = {
    name: f"maintenance.{name}" for name in MaintenanceParams.model_fields}
# Every trigger-form name of every DAG -> its dotted key (one name, one key).
FORM_ALIASES: dict[str, str] = {**PARAM_ALIASES, **MONITOR_PARAM_ALIASES,
                                **ROLLBACK_PARAM_ALIASES, **MAINTENANCE_PARAM_ALIASES}


class ParamsError(InputError):
    """A params file or override that cannot be applied (one-line message)."""


class DriftParams(Section):
    price_inflation: float = Field(
        gt=-1, description="Simulated market drift: 0.1 makes every synthetic price 10% higher")
    mileage_shift: float = Field(
        gt=-1, description="Simulated market drift: 0.2 gives every synthetic car 20% more km")
    new_models_share: float = Field(
        ge=0, le=1,
        description="Simulated market drift: share of synthetic listings from car models "
                    "the base catalog lacks")


class DataParams(Section):
    source: Literal["synthetic", "csv"] = Field(
        description="Where the training data comes from: synthetic (generated listings) "
                    "or csv (the file named in csv_uri)")
    csv_uri: str = Field(
        description="CSV to train on when source=csv: inbox/<file> for a file you copied "
                    "into the project's data/inbox/ folder, or an http(s) URL")
    # Bounded by what the train stage holds within its container's memory limit
    # (carprice.config.limits: the cap follows CARPRICE_STAGE_MEM_LIMIT).
    rows: int = Field(ge=1, le=MAX_ROWS,
                      description="Number of listings to generate when source=synthetic "
                                  f"(at most {MAX_ROWS:,}: what a stage's memory limit holds)")
    seed: int = Field(ge=0, description="Random seed of the synthetic listings")
    noise_sigma: float = Field(
        ge=0, description="Noise of the synthetic log prices: the best error a model can reach")
    drift: DriftParams = Field(description="Simulate a new batch of the market")


class ValidateParams(Section):
    min_rows: int = Field(ge=1, description="Fewest rows a dataset may have")
    max_missing_share: float = Field(
        ge=0, le=1, description="Largest share of blank values in one feature column")
    max_drop_share: float = Field(
        ge=0, le=1, description="Largest share of rows dropped as invalid")
    max_duplicate_share: float = Field(
        ge=0, le=1, description="Largest share of duplicate rows")
    outlier_mad_k: float = Field(gt=0, description="Robust deviations that make a price an outlier")
    outlier_min_group: int = Field(ge=2, description="Fewest comparable cars to judge a price by")
    outlier_min_scale: float = Field(gt=0, description="Least robust spread of log price")
    max_outlier_share: float = Field(ge=0, le=1, description="Largest share of price outliers")


class SplitParams(Section):
    valid_size: float = Field(
        gt=0, lt=1, description="Share of rows for calibration of the price interval")
    test_size: float = Field(gt=0, lt=1, description="Share of rows held out for the gate")
    seed: int = Field(ge=0, description="Random seed of the split and the model")
    time_ordered: bool = Field(description="Hold out the newest listings (by listing id)")

    @model_validator(mode="after")
    def _leaves_training_rows(self) -> SplitParams:
        total = self.valid_size + self.test_size
        if total >= 1:
            raise ValueError(f"valid_size + test_size must be < 1, got {total:g}")
        return self


class ModelParams(Section):
    learning_rate: float = Field(gt=0, description="Learning rate of the boosted trees")
    max_iter: int = Field(ge=1, description="Number of boosting iterations")
    max_leaf_nodes: int = Field(ge=2, description="Most leaves in one boosted tree")
    min_samples_leaf: int = Field(ge=1, description="Fewest rows in one leaf")
    l2_regularization: float = Field(ge=0, description="L2 penalty on leaf values")
    interactions: bool = Field(
        description="Let features interact (off: each feature multiplies the price on its own)")
    interval_coverage: float = Field(
        gt=0, lt=1, description="Share of true prices the prediction interval should contain")


class RegistryParams(Section):
    model_name: str = Field(min_length=1, description="Registered model name in MLflow")
    experiment: str = Field(min_length=1, description="MLflow experiment of the pipeline runs")


class RunParams(Section):
    force: bool = Field(description="Retrain even if the data and params are unchanged")


class MonitorParams(Section):
    source: Literal["predictions", "synthetic", "file"] = Field(
        description="Rows to check for drift: predictions (the inputs the API and the app "
                    "priced in the last window_days), synthetic (a batch drawn with the drift "
                    "knobs) or file (inbox/<file>: parquet or CSV)")
    current_uri: str = Field(
        description="When source=file: inbox/<file> of recent model inputs, parquet or CSV "
                    "(a price column, if present, is used to measure the model's error)")
    window_days: int = Field(ge=1, le=365, description="How many days of logged predictions "
                                                       "source=predictions looks at")
    synthetic_rows: int = Field(ge=1, le=MAX_ROWS, description="Rows of the synthetic batch")
    synthetic_seed: int = Field(ge=0, description="Random seed of the synthetic batch")
    min_current_rows: int = Field(
        ge=1, description="Fewest valid current rows to judge drift (fewer: skipped)")
    num_threshold: float = Field(
        gt=0, le=10, description="A numeric feature drifted when its Wasserstein distance "
                                 "(Evidently, in reference standard deviations) is at least this")
    cat_threshold: float = Field(
        gt=0, le=1, description="A categorical or true/false feature drifted when its "
                                "Jensen-Shannon distance (Evidently) is at least this")
    prediction_threshold: float = Field(
        gt=0, le=10, description="Retrain when the predicted price's Wasserstein distance "
                                 "(Evidently, in reference standard deviations) is at least this")
    drift_share: float = Field(
        gt=0, le=1, description="Retrain when this share of the features drifted")
    max_rmse_log_increase: float = Field(
        ge=0, description="Retrain when the error on labelled current rows exceeds the "
                          "model's test error by this share (0.2 = 20%)")
    retrain: bool = Field(description="Ask for a retrain on drift (off: report only)")
    experiment: str = Field(min_length=1, description="MLflow experiment of the monitoring runs")


class RollbackParams(Section):
    to_version: str = Field(
        pattern=r"^\d*$", description="Version to put back in production (blank: the one "
                                      "production replaced)")
    requested_by: str = Field(
        max_length=500, description="Who asks for the rollback (a note: the audit records "
                                    "the Airflow user who triggers it)")
    reason: str = Field(max_length=500, description="Why production is rolled back")

    @field_validator("to_version", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        # a form or JSON may send the version as a number
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Params(Section):
    """Every tunable of the pipeline (params.yaml)."""

    data: DataParams
    # "validate" would shadow BaseModel.validate: the alias keeps the file's key.
    validate_: ValidateParams = Field(alias="validate")
    split: SplitParams
    model: ModelParams
    candidates: dict[str, CandidateParams] = Field(
        description="Model configurations trained side by side; the best on validation "
                    "is gated")
    gate: GateParams
    registry: RegistryParams
    run: RunParams
    monitor: MonitorParams
    rollback: RollbackParams
    maintenance: MaintenanceParams

    @field_validator("candidates")
    @classmethod
    def _named_for_files(cls, value: dict[str, CandidateParams]) -> dict:
        return candidates.check_names(value)

    def as_dict(self) -> dict:
        """The plain nested dict the stages read (keys as in params.yaml; a candidate's
        unset keys left out, as in the file)."""
        out = self.model_dump(by_alias=True)
        out["candidates"] = {name: c.model_dump(exclude_none=True)
                             for name, c in self.candidates.items()}
        return out

    def candidate(self, name: str) -> dict:
        """The candidate ``name``'s settings (carprice.config.candidates.settings);
        ParamsError if params has no such candidate."""
        found = self.candidates.get(name)
        if found is None:
            raise ParamsError(f"params: unknown candidate {one_line(name, 60)!r}; expected "
                              f"one of {', '.join(self.candidates)}")
        return candidates.settings(found, self.model.model_dump())


def params_path() -> Path:
    return settings.current().params_file


def read_params(path: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None) -> Params:
    """params.yaml, then overrides from $CARPRICE_PARAMS_JSON, then ``overrides``; validated.
    The overrides may tighten the gate of the file, never loosen it (carprice.config.gate_floor)."""
    path = Path(path) if path else params_path()
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"params: {path} is not valid YAML: {one_line(exc)}") from exc
    if not isinstance(raw, dict):
        raise ParamsError(f"params: {path} must map section names to keys")
    merged = _merge(_merge(raw, _env_overrides()), overrides or {})
    return _only_tightened(raw, validate(merged))


def load_params(path: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None) -> dict:
    """Like ``read_params``, as the plain nested dict the stages read."""
    return read_params(path, overrides).as_dict()


def apply_overrides(params: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """A validated copy of ``params`` with dotted keys (or trigger-form names) replaced.

    Values are converted to the field's type, so a form that sends "300" for an int or
    "true" for a bool still yields the right type; None (a blank form field) keeps the value.
    Like read_params, a gate looser than ``params``' is refused.
    """
    return _only_tightened(params, validate(_merge(params, overrides))).as_dict()


def dotted(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model.max_iter": 250, ...}: every leaf of ``params``, as $CARPRICE_PARAMS_JSON takes."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        out.update(dotted(value, f"{name}.") if isinstance(value, Mapping) else {name: value})
    return out


def _only_tightened(base: Mapping[str, Any], params: Params) -> Params:
    """``params`` unless its overrides loosen the gate of ``base`` (params.yaml)."""
    reason = gate_floor.refusal(validate(base).gate.model_dump(), params.gate.model_dump())
    if reason:
        raise ParamsError(f"params: {reason}")
    return params


def validate(params: Mapping[str, Any]) -> Params:
    try:
        return Params.model_validate(params)
    except ValidationError as exc:
        reasons = "; ".join(param_errors.describe(e) for e in exc.errors())
        raise ParamsError(f"params: {reasons}") from None


def parse_set_args(items: list[str]) -> dict[str, str]:
    """``["model.max_iter=300", ...]`` -> ``{"model.max_iter": "300"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParamsError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


@cache
def _schema() -> dict:
    return Params.model_json_schema()


def field_schema(dotted: str) -> dict:
    """JSON schema of one leaf of params.yaml (type, range, enum, description)."""
    schema = _schema()
    node = schema
    for part in dotted.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            raise ParamsError(f"params: unknown key {dotted}")
        ref = node.get("$ref")
        if ref:
            node = {**schema["$defs"][ref.rsplit("/", 1)[-1]], **node}
    # An optional value (X | None): X's keywords at the top, "nullable" says blank is allowed.
    options = node.get("anyOf", [])
    if {"type": "null"} in options and len(options) == 2:
        value = next(o for o in options if o != {"type": "null"})
        node = {**{k: v for k, v in node.items() if k != "anyOf"}, **value, "nullable": True}
    return node


# Allowed values of the params that have a fixed set (the trigger form's dropdowns).
PARAM_CHOICES: dict[str, tuple[str, ...]] = {
    name: tuple(field_schema(dotted)["enum"])
    for name, dotted in PARAM_ALIASES.items() if "enum" in field_schema(dotted)
}


def _env_overrides() -> dict:
    text = settings.current().params_json
    if not text:
        return {}
    try:
        out = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParamsError(f"{settings.ENV_PARAMS_JSON} is not valid JSON: {exc}") from exc
    if not isinstance(out, dict):
        raise ParamsError(f"{settings.ENV_PARAMS_JSON} must be a JSON object of name: value")
    return out


def _merge(params: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    out = copy.deepcopy(dict(params))
    for key, value in overrides.items():
        dotted = PARAM_ALIASES.get(key, key)
        *parents, leaf = dotted.split(".")
        node: object = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or (value is None and leaf not in node):
            raise ParamsError(f"params: unknown key {one_line(dotted, 120)}")
        if value is None:  # a form field left blank: keep the params.yaml value
            continue
        node[leaf] = value  # an unknown leaf is reported by the model (extra="forbid")
    return out
