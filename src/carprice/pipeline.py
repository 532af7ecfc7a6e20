"""The pipeline's shape, defined once: stage order, params, image names, registry names.

Imports only the standard library, PyYAML and carprice.errors so the Airflow image can
read it without the ML stack. The DAG, dvc.yaml and the stage images are checked against it.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from enum import IntEnum
from pathlib import Path
from typing import Any

import yaml

from carprice.errors import InputError

# Order matters: each stage reads what the previous ones wrote to the run folder.
STAGES: tuple[str, ...] = (
    "ingest",
    "validate",
    "preprocess",
    "train",
    "evaluate",
    "promote_staging",
    "validate_staging",
    "promote_production",
    "report",
)
# Which dependency set each stage image installs (pyproject extras).
STAGE_EXTRAS: dict[str, str] = {
    "ingest": "data",
    "validate": "data",
    "preprocess": "ml",  # the split uses scikit-learn
    "train": "ml",
    "evaluate": "ml",
    "promote_staging": "data",
    "validate_staging": "ml",
    "promote_production": "ml",
    "report": "data",
}

STAGING_ALIAS = "staging"
PRODUCTION_ALIAS = "production"

DAG_ID = "car_price_predictor_pipeline"


class StageExit(IntEnum):
    """Exit codes of a stage process (runner.main), read by the DAG and `carprice run`."""

    OK = 0
    FAILED = 1  # infrastructure or unexpected: a retry may help
    INPUT_ERROR = 2  # bad data, params or contract: a retry cannot help
    # Deliberately nothing to do (unchanged data, refused promotion). Airflow maps it to
    # "skipped" so it is visible, never a silent green.
    SKIPPED = 99


SKIP_EXIT_CODE = int(StageExit.SKIPPED)  # plain int, for the DAG's skip_on_exit_code

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
    "gate_max_rmse_log": "gate.max_rmse_log",
    "gate_min_r2": "gate.min_r2",
    "gate_max_mape": "gate.max_mape",
    "gate_tolerance": "gate.tolerance",
    "force": "run.force",
}

# Allowed values of the string params that have a fixed set (the trigger form's dropdowns).
PARAM_CHOICES: dict[str, tuple[str, ...]] = {"source": ("synthetic", "csv")}

ENV_PARAMS_FILE = "CARPRICE_PARAMS_FILE"
ENV_OVERRIDES = "CARPRICE_PARAMS_JSON"
ENV_RUN_ID = "CARPRICE_RUN_ID"
ENV_DATA_DIR = "CARPRICE_DATA_DIR"
ENV_MODELS_DIR = "CARPRICE_MODELS_DIR"
ENV_IMAGE_PREFIX = "CARPRICE_IMAGE_PREFIX"
# Provenance the DAG hands to stage containers (tags on registered versions).
ENV_DAG_ID = "CARPRICE_DAG_ID"
ENV_IMAGE = "CARPRICE_IMAGE"
ENV_GIT_COMMIT = "CARPRICE_GIT_COMMIT"


class ParamsError(InputError):
    """A params file or override that cannot be applied."""


def image_name(stage: str, prefix: str | None = None, tag: str = "latest") -> str:
    """Docker image of one stage, e.g. ``carprice-stage-train:latest``."""
    if stage not in STAGES:
        raise KeyError(f"unknown stage {stage!r}")
    prefix = prefix or os.environ.get(ENV_IMAGE_PREFIX, "carprice-stage")
    return f"{prefix}-{stage.replace('_', '-')}:{tag}"


def safe_name(text: str, max_len: int = 100) -> str:
    """A run id usable as a folder and container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]+", "_", text).strip("._-")
    return (cleaned or "run")[:max_len]


def params_path() -> Path:
    return Path(os.environ.get(ENV_PARAMS_FILE, "params.yaml"))


def load_params(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> dict:
    """params.yaml, then overrides from $CARPRICE_PARAMS_JSON, then ``overrides``."""
    path = Path(path) if path else params_path()
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    env = os.environ.get(ENV_OVERRIDES, "").strip()
    if env:
        try:
            env_overrides = json.loads(env)
        except json.JSONDecodeError as exc:
            raise ParamsError(f"{ENV_OVERRIDES} is not valid JSON: {exc}") from exc
        params = apply_overrides(params, env_overrides)
    return apply_overrides(params, overrides or {})


def apply_overrides(params: dict, overrides: Mapping[str, Any]) -> dict:
    """Return a copy of ``params`` with dotted keys (or trigger-form names) replaced.

    The new value is cast to the type of the value it replaces, so a form that sends
    "300" for an int or "true" for a bool still yields the right type.
    """
    out = copy.deepcopy(params)
    for key, value in overrides.items():
        dotted = PARAM_ALIASES.get(key, key)
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ParamsError(f"unknown parameter {key!r}")
            node = node[part]
        if leaf not in node:
            raise ParamsError(f"unknown parameter {key!r}")
        node[leaf] = _cast_like(node[leaf], value, key)
    return out


def parse_set_args(items: list[str]) -> dict[str, str]:
    """``["model.max_iter=300", ...]`` -> ``{"model.max_iter": "300"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ParamsError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _cast_like(current: Any, value: Any, key: str) -> Any:
    if value is None:  # a form left blank: keep "" for text, the default otherwise
        return "" if isinstance(current, str) else current
    if current is None:
        return value
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError(value)
                return lowered in {"true", "1", "yes"}
            return bool(value)
        if isinstance(current, int):
            as_float = float(value)
            if not as_float.is_integer():
                raise ValueError(value)
            return int(as_float)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, str):
            return str(value)
    except (TypeError, ValueError) as exc:
        raise ParamsError(
            f"parameter {key!r} expects {type(current).__name__}, got {value!r}"
        ) from exc
    return value
