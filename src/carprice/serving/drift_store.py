"""Drift reports as a time series: each monitor run's verdict in the ``predictions``
database, beside the prediction log (same DSN, ``CARPRICE_PREDLOG_DSN``).

Two tables (the contract the postgres-exporter queries in
monitoring/postgres-exporter/predictions-queries.yaml and the app's Model page read):
``drift_reports`` (one row per check) and ``drift_feature_scores`` (one row per feature
of a check). A report and its feature rows are written in one transaction, after the
idempotent DDL under the prediction log's advisory lock: a reader never sees a report
without its features.
"""

from __future__ import annotations

import pandas as pd

from carprice.errors import CarpriceError
from carprice.serving import prediction_log

REPORTS = "drift_reports"
FEATURES = "drift_feature_scores"
DDL = f"""
CREATE TABLE IF NOT EXISTS {REPORTS} (
    id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    model_version text,
    rows integer,
    drift_share double precision,
    dataset_drift boolean,
    prediction_drift_score double precision,
    retrain boolean
);
CREATE INDEX IF NOT EXISTS {REPORTS}_created_at_idx ON {REPORTS} (created_at);
CREATE TABLE IF NOT EXISTS {FEATURES} (
    report_id bigint NOT NULL REFERENCES {REPORTS} (id) ON DELETE CASCADE,
    feature text NOT NULL,
    score double precision,
    drifted boolean,
    PRIMARY KEY (report_id, feature)
);
"""
REPORT_COLUMNS = ("id", "created_at", "model_version", "rows", "drift_share", "dataset_drift",
                  "prediction_drift_score", "retrain")
SCORE_COLUMNS = ("report_id", "created_at", "model_version", "feature", "score", "drifted")


class StoreError(CarpriceError):
    """The drift tables could not be written; one line, the DSN's password masked."""


def report_row(summary: dict) -> tuple:
    """(model_version, rows, drift_share, dataset_drift, prediction_drift_score, retrain)
    of a monitor summary (carprice.monitoring.drift.compare plus the decision)."""
    prediction = summary.get("prediction") or {}
    return (summary.get("model_version"), int(summary["current_rows"]),
            float(summary["drift_share"]), bool(summary["dataset_drift"]),
            prediction.get("score"), bool(summary.get("retrain", False)))


def feature_rows(summary: dict) -> list[tuple]:
    """(feature, score, drifted) per feature; score None when it was not compared."""
    return [(f["column"], f["score"], bool(f["drifted"])) for f in summary["features"]]


def write_report(dsn: str, summary: dict) -> int:
    """Store one report and its features in one transaction; the report's id."""
    from psycopg2.extras import execute_values

    try:
        conn = prediction_log.connect(dsn)
    except Exception as exc:  # noqa: BLE001 - any connection failure, told in one line
        raise StoreError(_reason(dsn, exc)) from None
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (prediction_log.DDL_LOCK_KEY,))
            cur.execute(DDL)
            cur.execute(f"INSERT INTO {REPORTS} (model_version, rows, drift_share, "
                        "dataset_drift, prediction_drift_score, retrain) "
                        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id", report_row(summary))
            (report_id,) = cur.fetchone() or (None,)
            execute_values(cur, f"INSERT INTO {FEATURES} (report_id, feature, score, drifted) "
                           "VALUES %s", [(report_id, *r) for r in feature_rows(summary)])
        return int(report_id)
    except Exception as exc:  # noqa: BLE001 - the transaction was rolled back
        raise StoreError(_reason(dsn, exc)) from None
    finally:
        conn.close()


def _reason(dsn: str, exc: Exception) -> str:
    return (f"cannot store the drift report in {prediction_log.describe_dsn(dsn)}: "
            f"{prediction_log.scrub(exc, dsn)}")


def reports(dsn: str) -> pd.DataFrame:
    """Every report, oldest first (empty before the first one)."""
    rows = prediction_log.query_rows(
        dsn, f"SELECT {', '.join(REPORT_COLUMNS)} FROM {REPORTS} ORDER BY created_at, id", ())
    return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))


def feature_scores(dsn: str) -> pd.DataFrame:
    """Every feature score of every report, oldest first, long format (one row per
    report and feature)."""
    rows = prediction_log.query_rows(
        dsn, f"SELECT f.report_id, r.created_at, r.model_version, f.feature, f.score, "
             f"f.drifted FROM {FEATURES} f JOIN {REPORTS} r ON r.id = f.report_id "
             "ORDER BY r.created_at, r.id, f.feature", ())
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
