"""Drift reports as a time series in a real, throwaway Postgres (the cluster of
test_predlog): the store on its own, then the monitor stage as a process writing into it."""

from __future__ import annotations

import psycopg2
import pytest

from carprice.serving import drift_store
from tests.conftest import free_port
from tests.integration.test_predlog import pg_cluster

pytestmark = pytest.mark.integration
HEAVY = ("monitor.source=synthetic", "data.drift.mileage_shift=0.5",
         "data.drift.price_inflation=0.3", "data.drift.new_models_share=0.3")


@pytest.fixture(scope="module")
def pg():
    with pg_cluster() as cluster:
        yield cluster


@pytest.fixture
def dsn(pg):
    """A fresh database per test: the drift tables start absent."""
    conn = psycopg2.connect(pg.dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS drift WITH (FORCE)")
        cur.execute("CREATE DATABASE drift")
    conn.close()
    return pg.dsn.rsplit("/", 1)[0] + "/drift"


def summary(share: float, retrain: bool, scores: dict[str, float | None]) -> dict:
    return {"model_version": "3", "current_rows": 1234, "drift_share": share,
            "dataset_drift": share >= 0.5, "retrain": retrain,
            "prediction": {"score": 0.42},
            "features": [{"column": f, "score": s, "drifted": bool(s and s > 0.1)}
                         for f, s in scores.items()]}


def test_reports_and_feature_scores_round_trip_oldest_first(dsn):
    assert drift_store.reports(dsn).empty and drift_store.feature_scores(dsn).empty
    first = drift_store.write_report(dsn, summary(0.0, False, {"year": 0.01, "brand": None}))
    second = drift_store.write_report(dsn, summary(0.6, True, {"year": 0.3, "brand": 0.2}))
    assert second > first  # the DDL ran twice: idempotent

    reports = drift_store.reports(dsn)
    assert list(reports["id"]) == [first, second]
    assert list(reports["drift_share"]) == [0.0, 0.6]
    assert list(reports["retrain"]) == [False, True]
    assert list(reports["dataset_drift"]) == [False, True]
    assert set(reports["rows"]) == {1234} and set(reports["model_version"]) == {"3"}
    assert set(reports["prediction_drift_score"]) == {0.42}
    assert reports["created_at"].is_monotonic_increasing

    scores = drift_store.feature_scores(dsn)
    assert len(scores) == 4
    latest = scores[scores["report_id"] == second].set_index("feature")
    assert latest.loc["year", "score"] == 0.3 and bool(latest.loc["year", "drifted"])
    not_compared = scores[(scores["report_id"] == first) & (scores["feature"] == "brand")]
    assert not_compared["score"].isna().all()


def test_a_failed_report_leaves_nothing_half_written(dsn):
    drift_store.write_report(dsn, summary(0.1, False, {"year": 0.01}))
    bad = summary(0.2, False, {"year": 0.01})
    bad["features"].append(bad["features"][0])  # same feature twice: primary key refuses
    with pytest.raises(drift_store.StoreError, match="cannot store the drift report in "):
        drift_store.write_report(dsn, bad)
    assert len(drift_store.reports(dsn)) == 1 and len(drift_store.feature_scores(dsn)) == 1


def test_an_unreachable_database_is_one_line_without_the_password(pg):
    dead = f"postgresql://carprice:{pg.password}@127.0.0.1:{free_port()}/predictions"
    with pytest.raises(drift_store.StoreError) as info:
        drift_store.write_report(dead, summary(0.1, False, {"year": 0.01}))
    message = str(info.value)
    assert message.startswith("cannot store the drift report in carprice@127.0.0.1:")
    assert "\n" not in message and pg.password not in message


def test_the_monitor_stage_stores_each_report(promoted_model, dsn, monkeypatch):
    ws = promoted_model["workspace"]
    monkeypatch.setitem(ws.env, "CARPRICE_PREDLOG_DSN", dsn)
    code, same, stderr = ws.stage("monitor", "it-drift-store-same", "monitor.source=synthetic")
    assert code == 0, stderr
    code, drifted, stderr = ws.stage("monitor", "it-drift-store-heavy", *HEAVY)
    assert code == 0, stderr

    reports = drift_store.reports(dsn)
    assert list(reports["id"]) == [same["drift_report_id"], drifted["drift_report_id"]]
    assert list(reports["retrain"]) == [False, True]
    assert list(reports["model_version"]) == [same["model_version"]] * 2
    assert reports["drift_share"].iloc[1] == drifted["drift_share"]
    assert reports["prediction_drift_score"].iloc[1] == drifted["prediction_drift_score"]
    assert list(reports["rows"]) == [same["current_rows"], drifted["current_rows"]]
    scores = drift_store.feature_scores(dsn)
    heavy = scores[scores["report_id"] == drifted["drift_report_id"]]
    assert set(heavy.loc[heavy["drifted"], "feature"]) == set(drifted["drifted_features"])


def test_the_monitor_stage_fails_in_one_line_when_the_database_is_down(promoted_model, pg,
                                                                       monkeypatch):
    ws = promoted_model["workspace"]
    dead = f"postgresql://carprice:{pg.password}@127.0.0.1:{free_port()}/predictions"
    monkeypatch.setitem(ws.env, "CARPRICE_PREDLOG_DSN", dead)
    code, result, stderr = ws.stage("monitor", "it-drift-store-down", "monitor.source=synthetic")
    assert code == 1 and result["status"] == "failed", result
    assert result["reason"].startswith("cannot store the drift report in carprice@127.0.0.1:")
    assert "Traceback" not in stderr and pg.password not in stderr
