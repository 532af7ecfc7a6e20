"""Data drift between the production model's training rows and recent inputs.

Pure logic: frames in, a JSON-able summary out (the HTML view is drift_html.py).

Engine: scipy tests plus the population stability index (PSI), not Evidently. Every
Evidently 0.7.x release imports ``pandas.core.dtypes.common.infer_dtype_from_object``,
which pandas 3 removed, so ``import evidently`` fails beside the pinned pandas.

A feature has drifted when its shift is both statistically significant (test p-value
below ``p_value``) and large enough to matter (PSI at least ``psi``): with tens of
thousands of rows a test alone flags shifts too small to matter, and with a few hundred
rows PSI alone is noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from carprice import schema

ENGINE = "scipy: Kolmogorov-Smirnov (numeric), chi-square (categorical), PSI"
PREDICTION = "predicted_price_dh"
PSI_BINS = 10
_EPS = 1e-4  # floor for empty PSI bins (log of zero)


class DriftError(ValueError):
    """Frames that cannot be compared, with a one-line reason."""


@dataclass(frozen=True)
class Thresholds:
    drift_share: float  # retrain when at least this share of features drifted
    p_value: float  # a test below this is significant
    psi: float  # and a PSI at least this large matters (0.1 moderate, 0.2 large)

    @classmethod
    def from_params(cls, monitor: dict) -> Thresholds:
        """From params monitor (ranges checked by carprice.params when loaded)."""
        return cls(**{k: float(monitor[k]) for k in ("drift_share", "p_value", "psi")})


def kind_of(column: str) -> str:
    return "numeric" if column in (*schema.NUMERIC, schema.TARGET, PREDICTION) else "categorical"


def psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    """Population stability index of two distributions over the same bins."""
    r = np.clip(ref_share, _EPS, None)
    c = np.clip(cur_share, _EPS, None)
    return float(np.sum((c - r) * np.log(c / r)))


def _shares(codes: np.ndarray, n_bins: int) -> np.ndarray:
    return np.bincount(codes, minlength=n_bins) / max(len(codes), 1)


def numeric_drift(ref: np.ndarray, cur: np.ndarray) -> dict:
    """KS test, PSI over the reference's deciles, and the means."""
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    n_bins = len(edges) + 1
    ref_bins = np.searchsorted(edges, ref, side="right")
    cur_bins = np.searchsorted(edges, cur, side="right")
    result = stats.ks_2samp(ref, cur)
    return {"test": "ks", "statistic": float(result.statistic),
            "p_value": float(result.pvalue),
            "psi": psi(_shares(ref_bins, n_bins), _shares(cur_bins, n_bins)),
            "reference_mean": float(np.mean(ref)), "current_mean": float(np.mean(cur))}


def categorical_drift(ref: pd.Series, cur: pd.Series, top: int = 5) -> dict:
    """Chi-square test of the category counts, PSI, and the values new to the reference."""
    ref_counts = ref.astype(str).value_counts()
    cur_counts = cur.astype(str).value_counts()
    labels = ref_counts.index.union(cur_counts.index)
    table = np.vstack([ref_counts.reindex(labels, fill_value=0).to_numpy(),
                       cur_counts.reindex(labels, fill_value=0).to_numpy()])
    if len(labels) < 2:  # one value on both sides: nothing can have moved
        statistic, p_value = 0.0, 1.0
    else:
        result = stats.chi2_contingency(table, correction=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    shares = table / table.sum(axis=1, keepdims=True)
    new = cur_counts[~cur_counts.index.isin(ref_counts.index)]
    return {"test": "chi2", "statistic": statistic, "p_value": p_value,
            "psi": psi(shares[0], shares[1]),
            "new_values_share": float(new.sum() / max(len(cur), 1)),
            "new_values": [str(v) for v in new.index[:top]]}


def column_drift(column: str, ref: pd.Series, cur: pd.Series, limits: Thresholds) -> dict:
    """One column's test, PSI and verdict; blanks are left out of the comparison."""
    kind = kind_of(column)
    ref, cur = ref.dropna(), cur.dropna()
    out: dict = {"column": column, "kind": kind, "reference_rows": len(ref),
                 "current_rows": len(cur)}
    if len(ref) == 0 or len(cur) == 0:
        return {**out, "test": "none", "statistic": None, "p_value": None, "psi": None,
                "drifted": False, "note": "no values on one side"}
    if kind == "numeric":
        out.update(numeric_drift(ref.to_numpy(float), cur.to_numpy(float)))
    else:
        out.update(categorical_drift(ref, cur))
    out["drifted"] = bool(out["p_value"] < limits.p_value and out["psi"] >= limits.psi)
    return out


def compare(reference: pd.DataFrame, current: pd.DataFrame, limits: Thresholds,
            reference_pred: np.ndarray | None = None,
            current_pred: np.ndarray | None = None) -> dict:
    """Per-feature drift over the contract features, the share that drifted, and the
    drift of the model's predicted price and of the true price when both sides have it."""
    missing = [c for c in schema.FEATURES if c not in reference or c not in current]
    if missing:
        raise DriftError(f"cannot compare: missing feature columns {', '.join(missing)}")
    if reference.empty or current.empty:
        raise DriftError(f"cannot compare: {len(reference)} reference rows, "
                         f"{len(current)} current rows")
    features = [column_drift(c, reference[c], current[c], limits) for c in schema.FEATURES]
    features.sort(key=lambda f: -(f["psi"] or 0.0))
    drifted = [f["column"] for f in features if f["drifted"]]
    share = len(drifted) / len(features)
    out = {
        "engine": ENGINE,
        "reference_rows": len(reference), "current_rows": len(current),
        "thresholds": asdict(limits),
        "features": features,
        "drifted_features": drifted,
        "drift_share": round(share, 4),
        "dataset_drift": share >= limits.drift_share,
    }
    if reference_pred is not None and current_pred is not None:
        out["prediction"] = column_drift(PREDICTION, pd.Series(reference_pred),
                                         pd.Series(current_pred), limits)
    if schema.TARGET in reference and schema.TARGET in current:
        out["target"] = column_drift(schema.TARGET, reference[schema.TARGET],
                                     current[schema.TARGET], limits)
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
                       f"{pred['current_mean']:,.0f} DH, PSI {pred['psi']:.2f})")
    if error is not None and error["worse"]:
        reasons.append(f"rmse_log on labelled current rows {error['rmse_log']:.4f} > "
                       f"{error['limit']:.4f} (test {error['baseline_rmse_log']} "
                       f"x {1 + error['max_increase']:g})")
    if not reasons:
        return False, f"no drift: share of drifted features {share:.2f} < {limit}{listed}"
    if not retrain_on_drift:
        return False, "monitor.retrain is false; drift: " + "; ".join(reasons)
    return True, "; ".join(reasons)
