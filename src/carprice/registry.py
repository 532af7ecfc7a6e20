"""Model registry rules: the promotion gate, aliases, rollback and the exported copy.

Aliases only (``staging``, ``production``), never the deprecated stages. Models are
always scored and promoted by pinned version (``models:/<name>/<v>``): an alias is
resolved once, to a number, and never re-read mid-decision.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from carprice import tags
from carprice.errors import CarpriceError
from carprice.pipeline import PRODUCTION_ALIAS

if TYPE_CHECKING:  # mlflow is imported where used: the gate rules need none of it
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

# The exported production copy: <models dir>/EXPORT_DIRNAME/{EXPORT_MODEL/, EXPORT_META}
EXPORT_DIRNAME = "production"
EXPORT_MODEL = "model"
EXPORT_META = "meta.json"


class RegistryError(CarpriceError):
    """A registry operation that cannot be done, with a one-line reason."""


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
        return "passed" if self.passed else "refused"

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


def version_for_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points to now, or None (no model, or no such alias)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in {"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"}:
            return None
        raise


def tag_version(client: MlflowClient, name: str, version: str, values: dict) -> None:
    for key, value in values.items():
        client.set_model_version_tag(name, version, key, str(value))


def close_pending(client: MlflowClient, name: str, pipeline_run_id: str, decision: str,
                  reason: str) -> list[str]:
    """Give ``decision`` to the versions ``pipeline_run_id`` registered that are still
    pending (an earlier try of train, a run that failed before the gate): no version is
    left pending forever. Returns their numbers."""
    closed = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        found = mv.tags or {}
        if (found.get(tags.PIPELINE_RUN_ID) == pipeline_run_id
                and found.get(tags.GATE_DECISION) == tags.GATE_PENDING):
            tag_version(client, name, str(mv.version),
                        {tags.GATE_DECISION: decision, tags.GATE_REASONS: reason})
            closed.append(str(mv.version))
    return closed


def move_alias(client: MlflowClient, name: str, alias: str, version: str,
               reason: str) -> str | None:
    """Point ``alias`` at ``version``; tag the version; return the version it left."""
    previous = version_for_alias(client, name, alias)
    client.set_registered_model_alias(name, alias, version)
    new_tags = {tags.alias_since(alias): time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                tags.alias_reason(alias): reason}
    if previous is not None and str(previous.version) != str(version):
        new_tags[tags.previous(alias)] = str(previous.version)
    tag_version(client, name, version, new_tags)
    return str(previous.version) if previous is not None else None


def rollback(client: MlflowClient, name: str, to_version: str | None = None) -> dict:
    """Move ``production`` back to ``to_version`` or to the current one's previous_production."""
    from mlflow.exceptions import MlflowException

    current = version_for_alias(client, name, PRODUCTION_ALIAS)
    if current is None:
        raise RegistryError(f"model {name!r} has no {PRODUCTION_ALIAS} alias to roll back")
    target = to_version or current.tags.get(tags.PREVIOUS_PRODUCTION)
    if not target:
        raise RegistryError(f"{name} v{current.version} has no {tags.PREVIOUS_PRODUCTION}; "
                            "pass a version to roll back to")
    try:
        client.get_model_version(name, str(target))
    except MlflowException as exc:
        raise RegistryError(f"{name} has no version {target}") from exc
    if str(target) == str(current.version):
        raise RegistryError(f"{name} v{target} is already {PRODUCTION_ALIAS}")
    move_alias(client, name, PRODUCTION_ALIAS, str(target),
               reason=f"rollback from v{current.version}")
    tag_version(client, name, current.version, {tags.ROLLED_BACK_TO: target})
    return {"model": name, "from_version": str(current.version), "to_version": str(target)}


def export_version(name: str, version: str, models_dir: Path, info: dict) -> Path:
    """Copy a registered model to ``models_dir/production`` for serving without MLflow.

    Written to a temporary folder then swapped in, so a reader never sees half a model.
    """
    import mlflow.artifacts

    models_dir.mkdir(parents=True, exist_ok=True)
    staging_dir = models_dir / f".{EXPORT_DIRNAME}.tmp"
    shutil.rmtree(staging_dir, ignore_errors=True)
    staging_dir.mkdir()
    mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}",
                                        dst_path=str(staging_dir / EXPORT_MODEL))
    (staging_dir / EXPORT_META).write_text(
        json.dumps({"model_name": name, "version": version, **info}, indent=2, default=str))
    final = models_dir / EXPORT_DIRNAME
    old = models_dir / f".{EXPORT_DIRNAME}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging_dir.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def read_export(models_dir: Path) -> tuple[Path, dict] | None:
    """(model folder, meta) of the exported production copy, if there is one."""
    meta = models_dir / EXPORT_DIRNAME / EXPORT_META
    if not meta.is_file():
        return None
    return models_dir / EXPORT_DIRNAME / EXPORT_MODEL, json.loads(meta.read_text())
