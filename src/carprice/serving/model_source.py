"""Which model to serve, and loading it: the production alias resolved to a pinned
version (re-read every TTL by the caller), else the exported copy on disk when MLflow
cannot be reached.

Loading never unpickles: the model folder's files are verified against the signature the
promotion made (carprice.registry.signing), then the estimator is read from its skops
file with an explicit list of trusted types (carprice.model.skops_model).

No Streamlit here: the app and a prediction service share this module. Every function
that talks to MLflow turns failures into values (a ``Resolution`` with source EXPORT or
NONE and a one-line ``problem``) instead of exceptions, so a caller can cache the outcome
and never shows a traceback.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from carprice import registry
from carprice.config import settings
from carprice.config.params import ParamsError, load_params, params_path
from carprice.errors import one_line
from carprice.registry import mlflow_server, signing, tags
from carprice.registry.aliases import version_for_alias
from carprice.registry.export import EXPORT_DIRNAME, EXPORT_META, EXPORT_SIGNATURE, read_export
from carprice.registry.signing import Signature

# Version tags shown with a served model (Resolution.info), under their own names.
SHOWN_TAGS = (
    tags.TRAINED_AT, tags.DATA_HASH, tags.TRAIN_ROWS, tags.PIPELINE_RUN_ID,
    tags.AIRFLOW_DAG_ID, tags.GIT_COMMIT, tags.GATE_DECISION, tags.GATE_REASONS,
    tags.PRODUCTION_SINCE, tags.PREVIOUS_PRODUCTION, tags.COMPARED_WITH_PRODUCTION,
    tags.SMOKE_CHECK, tags.MLFLOW_PARENT_RUN_ID,
)


def apply_client_defaults() -> None:
    """No MLflow client retries for serving: a dead server must cost a request seconds,
    not minutes; the exported copy answers meanwhile."""
    mlflow_server.apply_client_defaults(retries=0)


def alias_ttl() -> float:
    """Seconds the production alias stays resolved before it is read again."""
    return settings.current().alias_ttl_seconds


def model_name() -> str:
    """$CARPRICE_MODEL_NAME, else registry.model_name of the params file; ParamsError."""
    named = settings.current().model_name
    if named:
        return named
    params = load_params()
    try:
        return str(params["registry"]["model_name"])
    except (KeyError, TypeError):
        raise ParamsError(f"{params_path()} has no registry.model_name "
                          f"and {settings.ENV_MODEL_NAME} is not set") from None


def monitor_experiment() -> str:
    """The MLflow experiment of the drift checks (params monitor.experiment)."""
    return str(load_params()["monitor"]["experiment"])


def models_dir() -> Path:
    return settings.current().models_dir


def tracking_uri() -> str | None:
    """The MLflow server to use, or None when none is configured.

    An unset MLFLOW_TRACKING_URI would silently mean a local SQLite file, which is never
    the registry the pipeline promotes to, so it counts as "no server".
    """
    return mlflow_server.tracking_uri()


def mlflow_client(uri: str):
    """A client bound to ``uri`` without touching the process's MLflow settings."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


class Source(StrEnum):
    REGISTRY = "registry"  # models:/<name>/<version>
    EXPORT = "export"  # the exported copy on disk: MLflow unreachable
    NONE = "none"  # nothing to serve; Resolution.problem says why


@dataclass(frozen=True)
class Resolution:
    """Which model to serve, decided once per TTL."""

    source: Source
    model_name: str
    version: str | None = None
    model_uri: str | None = None
    info: dict = field(default_factory=dict)
    problem: str | None = None
    tracking_uri: str | None = None
    signature: Signature | None = None  # the promotion's, checked before loading

    @property
    def cache_key(self) -> str | None:
        """Identity of the model files: the pinned URI, plus the export's mtime."""
        if self.model_uri is None:
            return None
        if self.source == Source.EXPORT:
            return f"{self.model_uri}@{self.info.get('exported_mtime', '')}"
        return self.model_uri


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _metrics(values: dict) -> dict[str, float]:
    return {k: f for k, v in values.items() if (f := _float(v)) is not None}


def version_info(mv) -> dict:
    """What a page shows about a registered version, from its tags."""
    found = dict(mv.tags or {})
    prefix = tags.TEST_METRIC_PREFIX
    return {
        "version": str(mv.version),
        "run_id": mv.run_id,
        "metrics": _metrics({k[len(prefix):]: v for k, v in found.items()
                             if k.startswith(prefix)}),
        **{key: found.get(key) for key in SHOWN_TAGS},
    }


def export_info(folder: Path, meta: dict) -> dict:
    """The same shape as version_info, from the export's meta.json."""
    gate = meta.get("gate")
    if not isinstance(gate, dict):
        gate = {}
    reasons = gate.get("reasons")
    meta_file = folder.parent / EXPORT_META
    return {
        "version": str(meta.get("version", "?")),
        "metrics": _metrics(meta.get("metrics") or {}),
        **{key: meta.get(key) for key in tags.EXPORTED},
        tags.GATE_DECISION: gate.get("label"),
        tags.GATE_REASONS: tags.REASONS_SEPARATOR.join(reasons) if reasons else None,
        "exported_to": str(folder.parent),
        "exported_mtime": meta_file.stat().st_mtime if meta_file.exists() else None,
    }


def resolve_production(name: str | None = None, uri: str | None = None,
                       export_dir: Path | None = None) -> Resolution:
    """Production alias -> pinned version; the exported copy when MLflow is unreachable.

    Never raises for MLflow failures: the outcome is a value a caller can cache. A
    reachable registry with no production alias means "no model", even if an old
    export lies around: the registry is the authority whenever it answers.
    """
    name = name or model_name()
    uri = uri if uri is not None else tracking_uri()
    export_dir = export_dir if export_dir is not None else models_dir()
    problem = "MLFLOW_TRACKING_URI is not set"
    if uri:
        try:
            mv = version_for_alias(mlflow_client(uri), name, registry.PRODUCTION_ALIAS)
        except Exception as exc:  # noqa: BLE001 - any failure means "registry unavailable"
            problem = f"MLflow at {uri} cannot be reached: {one_line(exc)}"
        else:
            if mv is None:
                return Resolution(
                    Source.NONE, name, tracking_uri=uri,
                    problem=f"the registry at {uri} has no model "
                            f"'{name}@{registry.PRODUCTION_ALIAS}' yet")
            return version_resolution(name, mv, uri)
    return export_resolution(name, export_dir, problem, uri)


def version_resolution(name: str, mv, uri: str) -> Resolution:
    """A registered version (a ModelVersion) of the registry at ``uri``, to load by its
    pinned version."""
    return Resolution(Source.REGISTRY, name, str(mv.version), f"models:/{name}/{mv.version}",
                      version_info(mv), tracking_uri=uri, signature=Signature.from_tags(mv.tags))


def export_resolution(name: str, export_dir: Path, problem: str,
                      uri: str | None = None) -> Resolution:
    """The exported production copy, served because of ``problem``; or NONE."""
    try:
        exported = read_export(export_dir)
    except (OSError, ValueError) as exc:
        return Resolution(Source.NONE, name, tracking_uri=uri,
                          problem=f"{problem}; the exported copy in {export_dir} is unreadable: "
                                  f"{one_line(exc)}")
    if exported is None:
        return Resolution(Source.NONE, name, tracking_uri=uri,
                          problem=f"{problem}, and there is no exported copy in "
                                  f"{export_dir / EXPORT_DIRNAME}")
    folder, meta = exported
    info = export_info(folder, meta)
    signed = meta.get(EXPORT_SIGNATURE)
    return Resolution(Source.EXPORT, str(meta.get("model_name", name)), info["version"],
                      str(folder), info, problem=problem, tracking_uri=uri,
                      signature=Signature.from_tags(signed if isinstance(signed, dict) else {}))


def load_model(resolution: Resolution):
    """The model a Resolution points at (pinned version or exported folder), verified
    against its signature and loaded from skops, ready to score (pyfunc.prepare);
    SignatureError / ModelFileError (one line) when it must not be served."""
    from carprice.model.pyfunc import prepare
    from carprice.model.skops_model import from_files

    if resolution.model_uri is None:
        raise ValueError("nothing to load: " + (resolution.problem or "no model"))
    files = _model_files(resolution)
    signing.verify(files, resolution.model_name, str(resolution.version),
                   resolution.signature, signing.trusted_public_key())
    model = from_files(files)
    prepare(model)
    return model


def _model_files(resolution: Resolution) -> dict[str, bytes]:
    """Every file of the model folder, read once: what is verified is what is loaded."""
    if resolution.source != Source.REGISTRY:
        return signing.read_folder(Path(resolution.model_uri or ""))
    # Everything through the Resolution's own URI: mlflow.set_*_uri would rewrite
    # MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI for the whole process, and a models:/ URI
    # is resolved against the process's registry whatever download_artifacts is told.
    assert resolution.tracking_uri is not None  # resolve_production's REGISTRY resolutions
    # Read fully into memory: the download folder goes at once.
    with tempfile.TemporaryDirectory(prefix="carprice-model-") as tmp:
        return signing.download_version(mlflow_client(resolution.tracking_uri),
                                        resolution.model_name, str(resolution.version),
                                        Path(tmp), resolution.tracking_uri)


def load_with_fallback(res: Resolution, load: Callable[[Resolution], Any]
                       ) -> tuple[Resolution, Any]:
    """(resolution, model), the one fallback of the app and the API: a registry copy that
    cannot be loaded gives way to the exported copy; nothing loadable -> (none, None)."""
    if res.model_uri is None:
        return res, None
    try:
        return res, load(res)
    except Exception as exc:  # noqa: BLE001 - reported as the resolution's problem
        problem = f"cannot load {res.model_uri}: {one_line(exc)}"
    if res.source == Source.REGISTRY:
        fallback = export_resolution(res.model_name, models_dir(), problem,
                                     res.tracking_uri)
        if fallback.model_uri is not None:
            try:
                return fallback, load(fallback)
            except Exception as exc:  # noqa: BLE001
                problem = f"{problem}; cannot load the exported copy: {one_line(exc)}"
    return Resolution(Source.NONE, res.model_name, problem=problem,
                      tracking_uri=res.tracking_uri), None
