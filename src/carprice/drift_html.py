"""A self-contained HTML page of a drift check (drift.compare summary): the decision,
one row per feature, and reference-vs-current plots of what drifted.

Every value that can come from input data (category labels) is escaped.
"""

from __future__ import annotations

import base64
import io
from html import escape

import matplotlib

matplotlib.use("Agg")  # headless: images and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from carprice import drift  # noqa: E402

MAX_PLOTS = 8
TOP_CATEGORIES = 8

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem}
th{background:#f3f3f3}tr.drifted td{background:#fde2e1}.num{text-align:right}
.decision{font-size:1.2rem;padding:.8rem;border-radius:.4rem}
.retrain{background:#fde2e1}.ok{background:#e3f4e1}figure{display:inline-block;margin:.5rem}
"""


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return escape(str(value))


def _row(entry: dict) -> str:
    cells = [escape(entry["column"]), entry["kind"], entry["test"], _fmt(entry["statistic"]),
             _fmt(entry["p_value"]), _fmt(entry["psi"]), "yes" if entry["drifted"] else "no",
             escape(", ".join(entry.get("new_values", [])))]
    css = ' class="drifted"' if entry["drifted"] else ""
    return f"<tr{css}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _plot(column: str, ref: pd.Series, cur: pd.Series) -> str:
    fig, ax = plt.subplots(figsize=(4.5, 3))
    if drift.kind_of(column) == "numeric":
        ref, cur = ref.dropna().to_numpy(float), cur.dropna().to_numpy(float)
        bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins=30)
        ax.hist(ref, bins=bins, density=True, alpha=0.5, label="reference")
        ax.hist(cur, bins=bins, density=True, alpha=0.5, label="current")
    else:
        shares = pd.DataFrame({"reference": ref.astype(str).value_counts(normalize=True),
                               "current": cur.astype(str).value_counts(normalize=True)})
        top = shares.fillna(0).max(axis=1).sort_values(ascending=False).index[:TOP_CATEGORIES]
        shares.loc[top].fillna(0).plot.barh(ax=ax)
        ax.invert_yaxis()
    ax.set_title(column)
    ax.legend()
    return (f'<figure><img alt="{escape(column)}" src="data:image/png;base64,'
            f'{_png(fig)}"></figure>')


def render(summary: dict, reference: pd.DataFrame, current: pd.DataFrame,
           reference_pred: np.ndarray | None = None, current_pred: np.ndarray | None = None,
           title: str = "Data drift") -> str:
    """The page for ``summary`` (with ``retrain``/``reason`` set by the caller)."""
    retrain = bool(summary.get("retrain"))
    entries = list(summary["features"])
    for extra in ("prediction", "target"):
        if extra in summary:
            entries.append(summary[extra])
    frames = {c: (reference[c], current[c]) for c in reference.columns if c in current}
    if reference_pred is not None and current_pred is not None:
        frames[drift.PREDICTION] = (pd.Series(reference_pred), pd.Series(current_pred))
    plots = [_plot(e["column"], *frames[e["column"]]) for e in entries
             if e["drifted"] and e["column"] in frames][:MAX_PLOTS]
    limits = summary["thresholds"]
    error = summary.get("error")
    error_line = (f"<p>RMSE(log) on labelled current rows: {error['rmse_log']} "
                  f"(limit {error['limit']}).</p>" if error else "")
    head = ["column", "kind", "test", "statistic", "p-value", "PSI", "drifted", "new values"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{escape(title)}</h1>
<p class="decision {'retrain' if retrain else 'ok'}"><b>{'RETRAIN' if retrain else 'NO RETRAIN'}
</b>: {escape(str(summary.get('reason', '')))}</p>
<p>{summary['reference_rows']} reference rows (the model's training data) vs
{summary['current_rows']} current rows. {len(summary['drifted_features'])} of
{len(summary['features'])} features drifted (share {summary['drift_share']}, threshold
{limits['drift_share']}). A feature drifts when p-value &lt; {limits['p_value']} and
PSI &ge; {limits['psi']}.</p>{error_line}
<p><small>Engine: {escape(summary['engine'])}.</small></p>
<table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>
{''.join(_row(e) for e in entries)}</table>
{''.join(plots)}
</body></html>
"""
