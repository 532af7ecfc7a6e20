"""The maintenance stage as a process, as the DAG runs it, against a real MLflow server, a
real PostgreSQL (test_predlog's throwaway cluster): old prediction rows
and old run folders that registered nothing go, the production model's run folder stays,
free disk lands in MLflow, and a low disk or a missing backup is an alert in the summary
(which the DAG's send_alerts task sends: tests/unit/test_dag_maintenance.py)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mlflow import MlflowClient

from carprice.config import settings
from carprice.ops import housekeeping
from carprice.pipeline import run_folder
from tests.integration.test_predlog import postgres  # noqa: F401 - the real cluster
from tests.integration.test_prune_predictions import ages, insert

pytestmark = pytest.mark.integration


def make_old(folder: Path, days: float = 40) -> None:
    stamp = time.time() - days * housekeeping.DAY_SECONDS
    for path in [*folder.rglob("*"), folder]:
        os.utime(path, (stamp, stamp), follow_symlinks=False)


def test_maintenance_prunes_keeps_what_is_needed_reports_and_alerts(
        promoted_model, postgres, monkeypatch):  # noqa: F811
    ws = promoted_model["workspace"]
    runs = ws.data_dir / "runs"
    stale = runs / "it-stale"  # a run that failed early: nothing registered
    stale.mkdir()
    (stale / run_folder.RAW).write_text("x")
    refused = runs / "it-refused"  # the gate refused it: promote_staging skipped
    refused.mkdir()
    (refused / run_folder.stage_summary("promote_staging")).write_text(
        json.dumps({"stage": "promote_staging", "status": "skipped"}))
    young = runs / "it-young"
    young.mkdir()
    production = runs / "it-first"  # the promoted model's training data: the monitor's
    for folder in (stale, refused, production):
        make_old(folder)
    conn_rows = [400.0, 400.0, 200.0, 10.0]
    insert(postgres.dsn, conn_rows)
    monkeypatch.setitem(ws.env, settings.ENV_PREDLOG_DSN, postgres.dsn)

    code, summary, stderr = ws.stage("maintenance", "it-maint-1",
                                     "maintenance.min_free_disk_percent=100")
    assert code == 0, stderr
    assert summary["status"] == "ok"
    assert summary["predictions_deleted"] == 3 and ages(postgres.dsn)[-1] == 10
    assert summary["run_folders_removed"] == ["it-refused", "it-stale"]
    assert production.is_dir() and young.is_dir() and not stale.exists()
    assert "it-first" in summary["run_folders_kept"]
    assert [a.split(":")[0] for a in summary["alerts"]] == ["low disk", "no backup"]
    assert "below the 100% threshold" in summary["alerts"][0]
    assert "free disk at " in stderr and "alert: low disk" in stderr

    client = MlflowClient()
    exp = client.get_experiment_by_name("car-price-monitoring")
    [run] = client.search_runs([exp.experiment_id],
                               "tags.`carprice.pipeline_run_id` = 'it-maint-1'")
    assert 0 < run.data.metrics["free_disk_percent"] <= 100
    assert run.data.metrics["predictions_deleted"] == 3
    assert run.data.metrics["run_folders_removed"] == 2

    # A fresh backup and a threshold of 0: nothing to say, nothing sent.
    marker = ws.data_dir / housekeeping.BACKUP_MARKER
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(json.dumps({"created": (datetime.now(UTC) - timedelta(days=1))
                                  .isoformat(), "archive": "a.tar.gz", "sha256": "0" * 64}))
    code, summary, stderr = ws.stage("maintenance", "it-maint-2",
                                     "maintenance.min_free_disk_percent=0")
    assert code == 0, stderr
    assert summary["alerts"] == []
    assert summary["predictions_deleted"] == 0 and summary["run_folders_removed"] == []
    assert summary["backup_age_days"] == pytest.approx(1.0, abs=0.01)
    marker.unlink()
