"""What the Streamlit app does, without Streamlit: find the production model, load it
by pinned version, score one car or a CSV, and read the registry history and the
evaluation artifacts for the model page.

Every function that talks to MLflow turns failures into values (a ``Resolution`` with
``source="export"`` or ``"none"`` and a one-line ``problem``) instead of exceptions,
so the app can cache the outcome and never shows a traceback.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carprice import catalog, pipeline, schema
from carprice.model import OUTPUT_COLUMNS
from carprice.registry import read_export, version_for_alias
from carprice.serving import score, to_model_input
from carprice.sources.csv_source import CsvError, decode, parse
from carprice.validation import ValidationError, describe_problems, row_problems

DAG_ID = "car_price_predictor_pipeline"
DEFAULT_MODEL_NAME = "car-price"
ENV_ALIAS_TTL = "CARPRICE_ALIAS_TTL_SECONDS"
ENV_MODEL_NAME = "CARPRICE_MODEL_NAME"
DEFAULT_ALIAS_TTL = 30.0
BATCH_CHUNK_ROWS = 5_000
MAX_UPLOAD_ROWS = 1_000_000
# Short client timeouts: a dead MLflow must cost the page seconds, not minutes
# (MLflow's defaults are 7 retries with backoff and a 120 s timeout).
CLIENT_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
HOW_TO_GET_A_MODEL = (
    f"Trigger the DAG `{DAG_ID}` in Airflow (http://localhost:8080), or train locally with "
    "`carprice run --run-id demo` (or `dvc repro`) against the same MLflow server. "
    "This page picks up the new production model by itself within a minute."
)


def apply_client_defaults() -> None:
    """Set short MLflow HTTP timeouts unless the environment already chose others."""
    for key, value in CLIENT_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


def alias_ttl() -> float:
    """Seconds the production alias stays resolved before it is read again."""
    try:
        return max(0.5, float(os.environ.get(ENV_ALIAS_TTL, DEFAULT_ALIAS_TTL)))
    except ValueError:
        return DEFAULT_ALIAS_TTL


def model_name() -> str:
    """$CARPRICE_MODEL_NAME, else params.yaml registry.model_name, else car-price."""
    if os.environ.get(ENV_MODEL_NAME):
        return os.environ[ENV_MODEL_NAME]
    try:
        return str(pipeline.load_params()["registry"]["model_name"])
    except (pipeline.ParamsError, KeyError, TypeError, OSError):
        return DEFAULT_MODEL_NAME


def models_dir() -> Path:
    return Path(os.environ.get(pipeline.ENV_MODELS_DIR, "models"))


def tracking_uri() -> str | None:
    """The MLflow server to use, or None when none is configured.

    An unset MLFLOW_TRACKING_URI would silently mean a local SQLite file, which is never
    the registry the pipeline promotes to, so the app treats it as "no server".
    """
    return os.environ.get("MLFLOW_TRACKING_URI", "").strip() or None


def one_line(exc: BaseException, limit: int = 240) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- model resolution


@dataclass(frozen=True)
class Resolution:
    """Which model to serve, decided once per TTL.

    source: "registry" (models:/<name>/<version>), "export" (the exported copy on disk,
    MLflow unreachable) or "none" (nothing to serve; ``problem`` says why).
    """

    source: str
    model_name: str
    version: str | None = None
    model_uri: str | None = None
    info: dict = field(default_factory=dict)
    problem: str | None = None
    tracking_uri: str | None = None

    @property
    def cache_key(self) -> str | None:
        """Identity of the model files: the pinned URI, plus the export's mtime."""
        if self.model_uri is None:
            return None
        if self.source == "export":
            return f"{self.model_uri}@{self.info.get('exported_mtime', '')}"
        return self.model_uri


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def version_info(mv) -> dict:
    """What the page shows about a registered version, from its tags."""
    tags = dict(mv.tags or {})
    metrics = {k[len("test_"):]: _float(v) for k, v in tags.items() if k.startswith("test_")}
    return {
        "version": str(mv.version),
        "run_id": mv.run_id,
        "metrics": {k: v for k, v in metrics.items() if v is not None},
        "trained_at": tags.get("trained_at"),
        "data_hash": tags.get("data_hash"),
        "train_rows": tags.get("train_rows"),
        "pipeline_run_id": tags.get("pipeline_run_id"),
        "airflow_dag_id": tags.get("airflow_dag_id"),
        "git_commit": tags.get("git_commit"),
        "gate_decision": tags.get("gate_decision"),
        "gate_reasons": tags.get("gate_reasons"),
        "production_since": tags.get("production_since"),
        "previous_production": tags.get("previous_production"),
        "compared_with_production": tags.get("compared_with_production"),
        "smoke_check": tags.get("smoke_check"),
        "mlflow_parent_run_id": tags.get("mlflow_parent_run_id"),
    }


def export_info(folder: Path, meta: dict) -> dict:
    """The same shape as version_info, from the export's meta.json."""
    gate = meta.get("gate") or {}
    reasons = gate.get("reasons") if isinstance(gate, dict) else None
    meta_file = folder.parent / "meta.json"
    return {
        "version": str(meta.get("version", "?")),
        "metrics": {k: v for k, v in ((k, _float(v)) for k, v in
                                      (meta.get("metrics") or {}).items()) if v is not None},
        "trained_at": meta.get("trained_at"),
        "data_hash": meta.get("data_hash"),
        "train_rows": meta.get("train_rows"),
        "pipeline_run_id": meta.get("pipeline_run_id"),
        "gate_decision": gate.get("label") if isinstance(gate, dict) else None,
        "gate_reasons": " | ".join(reasons) if reasons else None,
        "exported_to": str(folder.parent),
        "exported_mtime": meta_file.stat().st_mtime if meta_file.exists() else None,
    }


def resolve_production(name: str | None = None, uri: str | None = None,
                       export_dir: Path | None = None,
                       client_factory: Callable[[str], Any] = _client) -> Resolution:
    """Production alias -> pinned version; the exported copy when MLflow is unreachable.

    Never raises: the outcome (including a failure) is a value the app can cache.
    A reachable registry with no production alias means "no model", even if an old
    export lies around: the registry is the authority whenever it answers.
    """
    name = name or model_name()
    uri = uri if uri is not None else tracking_uri()
    export_dir = export_dir if export_dir is not None else models_dir()
    problem = "MLFLOW_TRACKING_URI is not set"
    if uri:
        try:
            mv = version_for_alias(client_factory(uri), name, pipeline.PRODUCTION_ALIAS)
        except Exception as exc:  # noqa: BLE001 - any failure means "registry unavailable"
            problem = f"MLflow at {uri} cannot be reached: {one_line(exc)}"
        else:
            if mv is None:
                return Resolution(
                    "none", name, tracking_uri=uri,
                    problem=f"the registry at {uri} has no model "
                            f"'{name}@{pipeline.PRODUCTION_ALIAS}' yet")
            return Resolution("registry", name, str(mv.version),
                              f"models:/{name}/{mv.version}", version_info(mv), tracking_uri=uri)
    return export_resolution(name, export_dir, problem, uri)


def export_resolution(name: str, export_dir: Path, problem: str,
                      uri: str | None = None) -> Resolution:
    """The exported production copy, served because of ``problem``; or "none"."""
    try:
        exported = read_export(export_dir)
    except (OSError, ValueError) as exc:
        return Resolution("none", name, tracking_uri=uri,
                          problem=f"{problem}; the exported copy in {export_dir} is unreadable: "
                                  f"{one_line(exc)}")
    if exported is None:
        return Resolution("none", name, tracking_uri=uri,
                          problem=f"{problem}, and there is no exported copy in "
                                  f"{export_dir / 'production'}")
    folder, meta = exported
    info = export_info(folder, meta)
    return Resolution("export", str(meta.get("model_name", name)), info["version"],
                      str(folder), info, problem=problem, tracking_uri=uri)


def load_model(resolution: Resolution):
    """Load the pyfunc a Resolution points at (pinned version or exported folder)."""
    import mlflow.pyfunc

    if resolution.model_uri is None:
        raise ValueError("nothing to load: " + (resolution.problem or "no model"))
    if resolution.source == "registry":
        # Download through an explicit client: no mlflow.set_*_uri, which would also
        # rewrite MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI for the whole process.
        from mlflow.artifacts import download_artifacts

        local = download_artifacts(artifact_uri=resolution.model_uri,
                                   dst_path=tempfile.mkdtemp(prefix="carprice-model-"),
                                   tracking_uri=resolution.tracking_uri,
                                   registry_uri=resolution.tracking_uri)
        return mlflow.pyfunc.load_model(local)
    return mlflow.pyfunc.load_model(resolution.model_uri)


def model_categories(model) -> dict[str, list[str]]:
    """Category values the model learned, from its logged metadata (else the model)."""
    meta = getattr(getattr(model, "metadata", None), "metadata", None) or {}
    cats = meta.get("categories")
    if not cats:
        try:
            cats = model.unwrap_python_model().model.categories_
        except Exception:  # noqa: BLE001 - an unknown pyfunc: fall back to the contract
            cats = {}
    return {str(k): [str(v) for v in vs] for k, vs in (cats or {}).items()}


# ---------------------------------------------------------------- form choices


@dataclass(frozen=True)
class Choices:
    brands: list[str]
    models_by_brand: dict[str, list[str]]
    cities: list[str]
    closed: dict[str, list[str]]
    learned: dict[str, list[str]]

    def unseen(self, car: dict) -> list[str]:
        """Open-category values of ``car`` the served model never saw in training."""
        out = []
        for col in schema.OPEN_CATEGORIES:
            known = self.learned.get(col)
            if known and car.get(col) not in known:
                out.append(f"{col} '{car.get(col)}'")
        return out


def form_choices(learned: dict[str, list[str]] | None = None) -> Choices:
    """Form options: the data contract's vocabularies plus what the model learned.

    Brands/models/cities the model learned but the catalog lacks (e.g. from a CSV
    source) are offered too; their models are listed under every brand that is not in
    the catalog, since the model's categories are not grouped by brand.
    """
    learned = {k: [v for v in vs if v != schema.MISSING_CATEGORY]
               for k, vs in (learned or {}).items()}
    by_brand = {b: list(ms) for b, ms in catalog.brand_models().items()}
    catalog_models = {m for ms in by_brand.values() for m in ms}
    extra_models = sorted(set(learned.get("model", [])) - catalog_models)
    for brand in learned.get("brand", []):
        if brand not in by_brand:
            by_brand[brand] = extra_models or [schema.MISSING_CATEGORY]
    cities = list(schema.OPEN_CATEGORIES["city"])
    cities += sorted(set(learned.get("city", [])) - set(cities))
    return Choices(brands=sorted(by_brand), models_by_brand=by_brand, cities=cities,
                   closed={k: list(v) for k, v in schema.CLOSED_CATEGORIES.items()},
                   learned=learned)


def default_car() -> dict:
    """The form's starting values: a common car, valid under the contract."""
    return {
        "brand": "Dacia", "model": "Logan", "year": 2018, "mileage_km": 90_000,
        "fuel_type": "Diesel", "gearbox": "Manuelle", "fiscal_power_cv": 6, "doors": 5,
        "origin": "WW au Maroc", "first_owner": True, "condition": "Tres bon",
        "city": "Casablanca",
        **{c: c in {"air_conditioning", "abs", "electric_windows"} for c in schema.EQUIPMENT},
    }


# ---------------------------------------------------------------- scoring


def _predict_frame(model, clean: pd.DataFrame) -> pd.DataFrame:
    """Scores contract-typed rows with the served model.

    Calls the registered python model's own predict (CarPricePyfunc.predict, which casts
    to the signature with to_model_input) and skips pyfunc's per-call schema
    enforcement, which costs more than the model itself on one row.
    """
    try:
        python_model = model.unwrap_python_model()
    except Exception:  # noqa: BLE001 - not a python-function model: plain pyfunc
        python_model = None
    if python_model is not None:
        pred = python_model.predict(None, clean)
    else:
        pred = model.predict(to_model_input(clean))
    return pd.DataFrame(pred, columns=list(OUTPUT_COLUMNS)).set_axis(clean.index)


def _typed_values(car: dict) -> dict[str, Any]:
    """One car from the form (already typed widgets) as contract-typed scalars."""
    row: dict[str, Any] = {}
    for col in schema.CATEGORICAL:
        value = car.get(col)
        text = "" if value is None or value is np.nan else str(value).strip()
        row[col] = schema.CANONICAL.get(col, {}).get(schema.fold(text), text) if text else np.nan
    for col in schema.NUMERIC:
        value = car.get(col)
        if value is None or (isinstance(value, str) and not value.strip()):
            row[col] = np.nan
            continue
        try:
            row[col] = float(value)
        except (TypeError, ValueError):
            raise ValidationError(f"{col} must be a number, got {value!r}") from None
        if not math.isfinite(row[col]):
            raise ValidationError(f"{col} must be a finite number, got {value!r}")
    for col in schema.BOOLEAN:
        row[col] = bool(car.get(col, False))
    return row


def check_car(car: dict) -> pd.DataFrame:
    """Contract checks on one car; the clean row, or ValidationError with the reason.

    The same rules as the batch path (validation.row_problems), applied to values the
    form already typed, so no text parsing is needed for a single prediction.
    """
    unknown = sorted(set(car) - set(schema.FEATURES))
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}")
    values = _typed_values(car)
    typed = pd.DataFrame([values])
    problems = row_problems(typed, require_target=False)
    if problems.to_numpy().any():
        raise ValidationError(str(describe_problems(typed, problems).iloc[0]))
    # finalize(), for one row of known types: blanks filled, contract dtypes.
    clean = {
        col: pd.Series([schema.MISSING_CATEGORY if col in schema.CATEGORICAL
                        and not isinstance(values[col], str) else values[col]],
                       dtype=schema.DTYPES[col])
        for col in schema.FEATURES
    }
    return pd.DataFrame(clean)


def predict_one(model, car: dict) -> dict[str, float]:
    """Price and 80% interval of one car: {price_dh, lower_dh, upper_dh}."""
    pred = _predict_frame(model, check_car(car)).iloc[0]
    return {k: float(pred[k]) for k in OUTPUT_COLUMNS}


@dataclass
class BatchResult:
    scored: pd.DataFrame  # row (1-based data row), contract features, price/lower/upper
    errors: pd.DataFrame  # row, problem
    rows_in: int

    @property
    def summary(self) -> str:
        return (f"{len(self.scored)} of {self.rows_in} rows scored, "
                f"{len(self.errors)} rejected")


def read_upload(data: bytes, name: str = "CSV") -> pd.DataFrame:
    """Uploaded bytes -> contract-named frame of text values; CsvError if unreadable."""
    frame = parse(decode(data, name), name)
    if frame.empty:
        raise CsvError(f"{name} has a header but no rows")
    if len(frame) > MAX_UPLOAD_ROWS:
        raise CsvError(f"{name} has {len(frame)} rows; the limit is {MAX_UPLOAD_ROWS}")
    return frame


def score_frame(model, raw: pd.DataFrame, chunk_rows: int = BATCH_CHUNK_ROWS,
                progress: Callable[[int, int], None] | None = None) -> BatchResult:
    """Score raw rows chunk by chunk; invalid rows reported, valid ones scored.

    Raises ValidationError only for problems of the whole file (missing columns).
    """
    raw = raw.reset_index(drop=True)
    scored, errors = [], []
    total = len(raw)
    for start in range(0, max(total, 1), chunk_rows):
        chunk = raw.iloc[start:start + chunk_rows]
        if chunk.empty:
            break
        good, bad = score(_FastModel(model), chunk)
        scored.append(good)
        errors.append(bad)
        if progress is not None:
            progress(min(start + chunk_rows, total), total)
    out = pd.concat(scored) if scored else pd.DataFrame(columns=[*schema.FEATURES,
                                                                  *OUTPUT_COLUMNS])
    err = pd.concat(errors, ignore_index=True) if errors else pd.DataFrame(
        columns=["row", "problem"])
    out.insert(0, "row", out.index + 1)
    err = err.assign(row=err["row"].astype(int) + 1) if len(err) else err
    return BatchResult(out.reset_index(drop=True), err.reset_index(drop=True), total)


class _FastModel:
    """Adapter so serving.score uses the same prediction path as predict_one."""

    def __init__(self, model):
        self._model = model

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        return _predict_frame(self._model, frame)


def score_upload(model, data: bytes, name: str = "CSV", chunk_rows: int = BATCH_CHUNK_ROWS,
                 progress: Callable[[int, int], None] | None = None) -> BatchResult:
    """CSV bytes (contract or Avito columns) -> BatchResult; CsvError/ValidationError."""
    return score_frame(model, read_upload(data, name), chunk_rows, progress)


def results_csv(result: BatchResult) -> bytes:
    out = result.scored.copy()
    for col in OUTPUT_COLUMNS:
        out[col] = out[col].round(0)
    return out.to_csv(index=False).encode("utf-8")


# ---------------------------------------------------------------- model page


def registry_history(name: str, uri: str,
                     client_factory: Callable[[str], Any] = _client) -> pd.DataFrame:
    """One row per registered version, newest first: aliases, metrics, gate, provenance."""
    client = client_factory(uri)
    aliases: dict[str, list[str]] = {}
    for alias, version in (client.get_registered_model(name).aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    rows = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        info = version_info(mv)
        m = info["metrics"]
        rows.append({
            "version": int(mv.version),
            "aliases": ", ".join(sorted(aliases.get(str(mv.version), []))),
            "gate": info["gate_decision"] or "",
            "rmse_log": m.get("rmse_log"), "mape": m.get("mape"), "r2": m.get("r2"),
            "coverage": m.get("coverage"), "mae_dh": m.get("mae"),
            "trained_at": info["trained_at"] or "", "train_rows": info["train_rows"] or "",
            "data_hash": info["data_hash"] or "", "pipeline_run": info["pipeline_run_id"] or "",
            "gate_reasons": info["gate_reasons"] or "",
        })
    frame = pd.DataFrame(rows)
    return frame.sort_values("version", ascending=False, ignore_index=True) if rows else frame


EVALUATION_FILES = ("test_predictions.csv", "error_by_brand.csv", "error_by_price_band.csv")


def find_evaluate_run(client, mv_run_id: str, pipeline_run_id: str | None = None) -> str | None:
    """The evaluate stage's run of the pipeline run that trained a version."""
    train_run = client.get_run(mv_run_id)
    exp = train_run.info.experiment_id
    parent = train_run.data.tags.get("mlflow.parentRunId")
    pipeline_run_id = pipeline_run_id or train_run.data.tags.get("carprice.pipeline_run_id")
    filters = []
    if parent:
        filters.append(f"tags.`mlflow.parentRunId` = '{parent}'")
    if pipeline_run_id:
        filters.append(f"tags.`carprice.pipeline_run_id` = '{pipeline_run_id}'")
    for flt in filters:
        runs = client.search_runs([exp], f"{flt} and tags.`carprice.stage` = 'evaluate'",
                                  order_by=["attributes.start_time DESC"], max_results=1)
        if runs:
            return runs[0].info.run_id
    return None


def evaluation_tables(name: str, version: str, uri: str,
                      client_factory: Callable[[str], Any] = _client) -> dict[str, pd.DataFrame]:
    """The evaluation CSVs of one version ({file name: frame}); empty if none were logged."""
    import mlflow

    client = client_factory(uri)
    mv = client.get_model_version(name, str(version))
    run_id = find_evaluate_run(client, mv.run_id, (mv.tags or {}).get("pipeline_run_id"))
    if run_id is None:
        return {}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fname in EVALUATION_FILES:
            try:
                path = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=f"evaluation/{fname}", dst_path=tmp,
                    tracking_uri=uri)
            except Exception:  # noqa: BLE001 - a missing table just isn't shown
                continue
            out[fname] = pd.read_csv(path)
    return out
