"""Data drift between the production model's training rows and recent inputs, by Evidently.

Frames in; a JSON-able summary out and, when asked, Evidently's HTML report.

One Evidently Report: DataDriftPreset over the contract features (a ValueDrift per column
and DriftedColumnsCount, the share of drifted features), and a ValueDrift of the predicted
price (and of the true price when both sides have it). A column drifted when Evidently's
test of its ValueDrift fails; the dataset drifted when DriftedColumnsCount's test fails
(share of drifted features >= ``drift_share``).

Methods: Evidently's own choice for references over 1,000 rows, fixed here so that a small
reference does not switch to p-value tests: Wasserstein distance normed by the reference's
standard deviation (numeric columns, the prices) and Jensen-Shannon distance (categorical
and true/false columns). Distances say how far a distribution moved; with tens of thousands
of rows a p-value test flags moves too small to matter. Their thresholds are params
(monitor.*_threshold); README "Drift" says how the defaults were chosen.

``import evidently`` takes seconds: it happens in compare(), not when this module loads.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from carprice.contract import schema
from carprice.model.estimator import PREDICTED
from carprice.monitoring import evidently_compat

PREDICTION = PREDICTED  # the model's price beside the inputs, as in evaluation tables
METHODS = {"numeric": "wasserstein", "categorical": "jensenshannon"}  # Evidently's names
METHOD_LABELS = {"wasserstein": "Wasserstein distance (normed)",
                 "jensenshannon": "Jensen-Shannon distance"}
TOP_NEW_VALUES = 5


class DriftError(ValueError):
    """Frames that cannot be compared, with a one-line reason."""


@dataclass(frozen=True)
class Thresholds:
    drift_share: float  # retrain when at least this share of the features drifted
    num_threshold: float  # numeric feature: Wasserstein distance (reference stds) >= this
    cat_threshold: float  # categorical feature: Jensen-Shannon distance >= this
    prediction_threshold: float  # predicted price: Wasserstein distance >= this

    @classmethod
    def from_params(cls, monitor: dict) -> Thresholds:
        """From params monitor (ranges checked by carprice.config.params when loaded)."""
        return cls(**{f.name: float(monitor[f.name]) for f in fields(cls)})


def kind_of(column: str) -> str:
    return "numeric" if column in (*schema.NUMERIC, schema.TARGET, PREDICTION) else "categorical"


def _describe(column: str, ref: pd.Series, cur: pd.Series) -> dict:
    """What a reader wants beside the verdict: rows with a value, means or new values."""
    ref, cur = ref.dropna(), cur.dropna()
    out: dict = {"reference_rows": len(ref), "current_rows": len(cur)}
    if kind_of(column) == "numeric":
        out["reference_mean"] = float(ref.mean()) if len(ref) else None
        out["current_mean"] = float(cur.mean()) if len(cur) else None
    else:
        cur = cur.astype(str)
        new = cur[~cur.isin(set(ref.astype(str)))]
        out["new_values_share"] = round(len(new) / max(len(cur), 1), 4)
        out["new_values"] = [str(v) for v in new.value_counts().index[:TOP_NEW_VALUES]]
    return out


def _inert(labels: pd.Series) -> pd.Series:
    """Labels with &, < and > escaped. Evidently's HTML report embeds the data's labels
    unescaped in a <script> block: a label holding "</script><script>..." (the API logs
    any model name) would run as script in whoever opens the report. Escaping & first
    keeps distinct labels distinct, so the distances do not change."""
    return (labels.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False))


def _run_report(reference: pd.DataFrame, current: pd.DataFrame, limits: Thresholds,
                features: list[str], single: dict[str, float]):
    """Evidently's snapshot: the preset over ``features``, a ValueDrift per ``single``
    column (column -> threshold); and Evidently's version."""
    evidently_compat.allow_import()
    with warnings.catch_warnings():
        # Evidently and what it imports (litestar, plotly) warn about their own use of
        # deprecated pandas/litestar calls, some once per column: nothing carprice can act on.
        warnings.filterwarnings("ignore", module=r"(evidently|litestar|plotly)\.")
        import evidently
        from evidently import DataDefinition, Dataset, Report
        from evidently.metrics import ValueDrift
        from evidently.presets import DataDriftPreset

        columns = [*features, *single]
        definition = DataDefinition(
            numerical_columns=[c for c in columns if kind_of(c) == "numeric"],
            categorical_columns=[c for c in columns if kind_of(c) == "categorical"])
        report = Report([
            DataDriftPreset(columns=features, drift_share=limits.drift_share,
                            num_method=METHODS["numeric"], num_threshold=limits.num_threshold,
                            cat_method=METHODS["categorical"],
                            cat_threshold=limits.cat_threshold),
            *[ValueDrift(column=c, method=METHODS["numeric"], threshold=t)
              for c, t in single.items()],
        ], include_tests=True)  # the tests carry Evidently's drifted / not drifted verdicts
        snapshot = report.run(
            Dataset.from_pandas(current[columns], data_definition=definition),
            Dataset.from_pandas(reference[columns], data_definition=definition))
    return snapshot, evidently.__version__


def _read(snapshot) -> tuple[dict, dict, dict, dict]:
    """(Evidently's JSON, {column: (score, method, threshold)}, {column: drifted},
    DriftedColumnsCount as {count, share, drifted})."""
    raw = json.loads(snapshot.json())
    scores, drifted, count = {}, {}, {}
    for metric in raw["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            scores[config["column"]] = (float(metric["value"]), config["method"],
                                        float(config["threshold"]))
        elif config["type"].endswith(":DriftedColumnsCount"):
            count.update(metric["value"])
    for test in raw["tests"]:
        params = test["metric_config"]["params"]
        failed = test["status"] == "FAIL"
        if params["type"].endswith(":ValueDrift"):
            drifted[params["column"]] = failed
        elif params["type"].endswith(":DriftedColumnsCount"):
            count["drifted"] = failed
    return raw, scores, drifted, count


def compare(reference: pd.DataFrame, current: pd.DataFrame, limits: Thresholds,
            reference_pred: np.ndarray | None = None,
            current_pred: np.ndarray | None = None,
            report_path: str | Path | None = None) -> dict:
    """Per-feature drift over the contract features, the share that drifted, and the
    drift of the model's predicted price and of the true price when both sides have it;
    Evidently's HTML report written to ``report_path`` when given."""
    missing = [c for c in schema.FEATURES if c not in reference or c not in current]
    if missing:
        raise DriftError(f"cannot compare: missing feature columns {', '.join(missing)}")
    if reference.empty or current.empty:
        raise DriftError(f"cannot compare: {len(reference)} reference rows, "
                         f"{len(current)} current rows")
    columns = list(schema.FEATURES)
    if schema.TARGET in reference and schema.TARGET in current:
        columns.append(schema.TARGET)
    ref = reference[columns].reset_index(drop=True)
    cur = current[columns].reset_index(drop=True)
    if reference_pred is not None and current_pred is not None:
        ref[PREDICTION] = np.asarray(reference_pred, dtype=float)
        cur[PREDICTION] = np.asarray(current_pred, dtype=float)
        columns.append(PREDICTION)
    described = {c: _describe(c, ref[c], cur[c]) for c in columns}
    for c in schema.CATEGORICAL:  # text labels; the true/false columns hold none
        ref[c], cur[c] = _inert(ref[c].astype("str")), _inert(cur[c].astype("str"))
    # Evidently refuses a column with no value on one side: such a column is reported
    # as not compared (and not drifted) instead.
    comparable = [c for c in columns
                  if described[c]["reference_rows"] and described[c]["current_rows"]]
    features = [c for c in schema.FEATURES if c in comparable]
    if not features:
        raise DriftError("cannot compare: no feature has values on both sides")
    single = {c: limits.prediction_threshold if c == PREDICTION else limits.num_threshold
              for c in (PREDICTION, schema.TARGET) if c in comparable}
    snapshot, version = _run_report(ref, cur, limits, features, single)
    if report_path is not None:
        snapshot.save_html(str(report_path))
    raw, scores, drifted, count = _read(snapshot)

    def entry(column: str) -> dict:
        out = {"column": column, "kind": kind_of(column)}
        if column not in scores:
            return {**out, "method": None, "score": None, "threshold": None, "drifted": False,
                    **described[column], "note": "no values on one side: not compared"}
        score, method, threshold = scores[column]
        return {**out, "method": method, "score": round(score, 5), "threshold": threshold,
                "drifted": drifted[column], **described[column]}

    entries = [entry(c) for c in schema.FEATURES]
    # largest move first, relative to its threshold (methods differ in scale)
    entries.sort(key=lambda e: -(e["score"] or 0.0) / (e["threshold"] or 1.0))
    out = {
        "engine": f"Evidently {version}: {METHOD_LABELS[METHODS['numeric']]} for numeric "
                  f"columns, {METHOD_LABELS[METHODS['categorical']]} for categorical ones",
        "reference_rows": len(ref), "current_rows": len(cur),
        "thresholds": asdict(limits),
        "features": entries,
        "compared_features": len(features),
        "drifted_features": [e["column"] for e in entries if e["drifted"]],
        "drift_share": round(float(count["share"]), 4),
        "dataset_drift": bool(count["drifted"]),
    }
    if PREDICTION in columns:
        out["prediction"] = entry(PREDICTION)
    if schema.TARGET in columns:
        out["target"] = entry(schema.TARGET)
    out["evidently"] = raw  # Evidently's own JSON (metrics and tests) of this check
    return out


def error_check(rmse_log: float, baseline_rmse_log: float, max_increase: float) -> dict:
    """The production model's RMSE(log) on labelled current rows against its own test one."""
    limit = baseline_rmse_log * (1 + max_increase)
    return {"rmse_log": round(rmse_log, 5), "baseline_rmse_log": baseline_rmse_log,
            "max_increase": max_increase, "limit": round(limit, 5), "worse": rmse_log > limit}


def decide(summary: dict, retrain_on_drift: bool, error: dict | None = None) -> tuple[bool, str]:
    """(retrain?, one-line reason) from a compare() summary and an optional error_check().

    Any one is enough: the share of drifted features reaches the threshold, the
    predicted price drifted (the shift reaches the model's output), or the model is
    measurably worse on labelled current rows than on its own test rows.
    """
    limit = summary["thresholds"]["drift_share"]
    share, drifted = summary["drift_share"], summary["drifted_features"]
    listed = f": {', '.join(drifted)}" if drifted else ""
    reasons = []
    if summary["dataset_drift"]:
        reasons.append(f"share of drifted features {share:.2f} >= {limit}{listed}")
    pred = summary.get("prediction")
    if pred and pred["drifted"]:
        reasons.append(f"predicted price drifted (mean {pred['reference_mean']:,.0f} -> "
                       f"{pred['current_mean']:,.0f} DH, {METHOD_LABELS[pred['method']]} "
                       f"{pred['score']:.2f} >= {pred['threshold']})")
    if error is not None and error["worse"]:
        reasons.append(f"rmse_log on labelled current rows {error['rmse_log']:.4f} > "
                       f"{error['limit']:.4f} (test {error['baseline_rmse_log']} "
                       f"x {1 + error['max_increase']:g})")
    if not reasons:
        return False, f"no drift: share of drifted features {share:.2f} < {limit}{listed}"
    if not retrain_on_drift:
        return False, "monitor.retrain is false; drift: " + "; ".join(reasons)
    return True, "; ".join(reasons)
