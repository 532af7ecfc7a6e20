"""evaluate: score the candidate and the current production model, each by pinned
version, on the same test rows; write metrics, error tables, plots and the gate decision."""

from __future__ import annotations

import sys

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from carprice import metrics, schema
from carprice.pipeline import PRODUCTION_ALIAS
from carprice.registry import GateLimits, gate, tag_version, version_for_alias
from carprice.serving import to_model_input
from carprice.stages.runner import StageContext, main

IMPORTANCE_ROWS = 3000
PREDICTIONS_ROWS = 5000


def _neg_rmse_log(estimator, X, y) -> float:
    return -float(np.sqrt(np.mean((np.log(y) - np.log(estimator.predict(X))) ** 2)))


def importance(model, test: pd.DataFrame, seed: int) -> pd.Series:
    sample = test.sample(min(len(test), IMPORTANCE_ROWS), random_state=seed)
    result = permutation_importance(model, sample[list(schema.FEATURES)], sample[schema.TARGET],
                                    scoring=_neg_rmse_log, n_repeats=3, random_state=seed)
    return pd.Series(result.importances_mean, index=list(schema.FEATURES))


def run(ctx: StageContext) -> dict:
    test = pd.read_parquet(ctx.path("test.parquet"))
    y = test[schema.TARGET].to_numpy()
    X = to_model_input(test)
    name = ctx.model_name
    version = str(ctx.read_json("train_info.json")["model_version"])
    sigma = ctx.read_json("ingest_info.json").get("noise_sigma")

    candidate = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    pred = candidate.predict(X)
    cand_metrics = metrics.regression_metrics(y, pred, sigma)

    client = mlflow.MlflowClient()
    prod = version_for_alias(client, name, PRODUCTION_ALIAS)
    prod_version = str(prod.version) if prod is not None and str(prod.version) != version else None
    prod_metrics = None
    if prod_version:
        prod_pred = mlflow.pyfunc.load_model(f"models:/{name}/{prod_version}").predict(X)
        prod_metrics = metrics.regression_metrics(y, prod_pred, sigma)
        mlflow.log_metrics({f"production_{k}": v for k, v in prod_metrics.items()})
    decision = gate(cand_metrics, GateLimits.from_params(ctx.params["gate"]), prod_metrics,
                    prod_version)

    mlflow.log_metrics({f"test_{k}": v for k, v in cand_metrics.items()})
    _log_tables_and_plots(ctx, candidate, test, y, pred)
    tag_version(client, name, version, {
        **{f"test_{k}": round(v, 5) for k, v in cand_metrics.items()},
        "gate_decision": decision.label, "gate_reasons": " | ".join(decision.reasons),
        "compared_with_production": prod_version or "none"})
    out = {"model_version": version, "metrics": cand_metrics,
           "production_version": prod_version, "production_metrics": prod_metrics,
           "decision": decision.as_dict()}
    ctx.write_json("evaluation.json", out)
    return {"model_version": version, "rmse_log": round(cand_metrics["rmse_log"], 5),
            "coverage": round(cand_metrics["coverage"], 4), "r2": round(cand_metrics["r2"], 4),
            "mape": round(cand_metrics["mape"], 4), "production_version": prod_version,
            "gate": decision.label}


def _log_tables_and_plots(ctx: StageContext, candidate, test: pd.DataFrame, y: np.ndarray,
                          pred: pd.DataFrame) -> None:
    price = pred["price_dh"].to_numpy()
    tables = {
        "error_by_brand.csv": metrics.error_table(test["brand"], y, price),
        "error_by_price_band.csv": metrics.error_table(metrics.price_band(y), y, price),
    }
    for fname, table in tables.items():
        table.to_csv(ctx.path(fname))
        mlflow.log_artifact(str(ctx.path(fname)), "evaluation")
    sample = test.assign(predicted_dh=price, lower_dh=pred["lower_dh"].to_numpy(),
                         upper_dh=pred["upper_dh"].to_numpy()).head(PREDICTIONS_ROWS)
    sample.to_csv(ctx.path("test_predictions.csv"), index=False)
    mlflow.log_artifact(str(ctx.path("test_predictions.csv")), "evaluation")

    model = candidate.unwrap_python_model().model
    imp = importance(model, test, int(ctx.params["split"]["seed"]))
    (imp.sort_values(ascending=False).rename_axis("feature").rename("rmse_log_increase")
     .to_csv(ctx.path("feature_importance.csv")))
    mlflow.log_artifact(str(ctx.path("feature_importance.csv")), "evaluation")
    figures = {
        "predicted_vs_actual.png": metrics.plot_predicted_vs_actual(y, price),
        "residuals.png": metrics.plot_residuals(y, price),
        "feature_importance.png": metrics.plot_importance(imp),
    }
    for fname, fig in figures.items():  # in the run folder too: dvc.yaml's plots
        fig.savefig(ctx.path(fname))
        mlflow.log_artifact(str(ctx.path(fname)), "evaluation")
        plt.close(fig)


if __name__ == "__main__":
    sys.exit(main("evaluate", run))
