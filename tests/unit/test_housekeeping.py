"""The pruning rules of the maintenance DAG (carprice.ops.housekeeping and the maintenance
stage's choice of run folders), on real files in a temp folder."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carprice.config.params import FORM_ALIASES, MAINTENANCE_PARAM_ALIASES, read_params
from carprice.ops import housekeeping
from carprice.ops.housekeeping import DiskReport, RunFolder
from carprice.pipeline import definition, run_folder, runner

DAY = housekeeping.DAY_SECONDS
NOW = 1_800_000_000.0


def age(path: Path, days: float, now: float = NOW) -> None:
    stamp = now - days * DAY
    os.utime(path, (stamp, stamp), follow_symlinks=False)


def test_only_old_run_folders_that_registered_nothing_and_are_not_needed_go():
    folders = [RunFolder("old-failed", NOW - 40 * DAY, registered=False),
               RunFolder("recent-failed", NOW - 5 * DAY, registered=False),
               RunFolder("old-registered", NOW - 400 * DAY, registered=True),
               RunFolder("old-of-a-version", NOW - 400 * DAY, registered=False),
               RunFolder("old-monitor", NOW - 31 * DAY, registered=False)]
    gone = housekeeping.run_folders_to_remove(folders, {"old-of-a-version"}, NOW, days=30)
    assert gone == ["old-failed", "old-monitor"]
    assert housekeeping.run_folders_to_remove(folders, set(), NOW, days=500) == []


def test_a_folder_is_as_young_as_its_newest_file(tmp_path):
    folder = tmp_path / "run"
    (folder / "train_info").mkdir(parents=True)
    (folder / "raw.parquet").write_text("x")
    (folder / "train_info" / "hgb.json").write_text("{}")
    for path in (folder / "raw.parquet", folder / "train_info", folder):
        age(path, 60)
    age(folder / "train_info" / "hgb.json", 2)  # a stage still wrote here two days ago
    assert housekeeping.newest_mtime(folder) == pytest.approx(NOW - 2 * DAY)


def test_old_task_logs_go_and_the_folders_they_empty_but_never_the_root(tmp_path):
    now = time.time()
    run = tmp_path / "dag_id=x" / "run_id=old" / "task_id=t"
    run.mkdir(parents=True)
    keep = tmp_path / "dag_id=x" / "run_id=new" / "task_id=t"
    keep.mkdir(parents=True)
    young_empty = tmp_path / "dag_id=x" / "run_id=starting"
    young_empty.mkdir()
    stale_empty = tmp_path / "dag_id=y"
    stale_empty.mkdir()
    (run / "attempt=1.log").write_text("old" * 10)
    (keep / "attempt=1.log").write_text("new")
    for path in (run / "attempt=1.log", stale_empty):
        age(path, 40, now)
    removed = housekeeping.remove_old_files(tmp_path, now, days=30)
    # the old log, then task_id=t and run_id=old it emptied, and the stale empty dag_id=y
    assert removed == {"files": 1, "bytes": 30, "folders": 3}
    assert not run.parent.exists() and not stale_empty.exists()
    assert (keep / "attempt=1.log").is_file() and young_empty.is_dir()
    assert housekeeping.remove_old_files(tmp_path, now, days=30)["files"] == 0
    assert housekeeping.remove_old_files(tmp_path / "absent", now, 30)["files"] == 0


def test_alerts_on_low_disk_and_on_a_missing_or_old_backup():
    roomy, full = DiskReport("/d", 100, 50), DiskReport("/d", 100, 5)
    assert housekeeping.alerts(roomy, 10, 1.0, 7) == []
    assert housekeeping.alerts(roomy, 10, None, 0) == []  # backups not watched
    [low] = housekeeping.alerts(full, 10, 1.0, 7)
    assert low.startswith("low disk") and "5.0%" in low
    [never] = housekeeping.alerts(roomy, 10, None, 7)
    assert never.startswith("no backup")
    [old] = housekeeping.alerts(roomy, 10, 8.5, 7)
    assert old.startswith("old backup") and "8.5 days" in old
    assert len(housekeeping.alerts(full, 100, None, 7)) == 2


def test_the_backup_marker_gives_the_age_and_a_bad_one_counts_as_none(tmp_path):
    marker = tmp_path / housekeeping.BACKUP_MARKER
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    assert housekeeping.backup_age_days(marker, now) is None
    marker.parent.mkdir()
    created = (now - timedelta(days=3, hours=12)).isoformat()
    marker.write_text(json.dumps({"created": created, "archive": "a.tar", "sha256": "0"}))
    assert housekeeping.backup_age_days(marker, now) == pytest.approx(3.5)
    marker.write_text(json.dumps({"created": "2026-12-04T12:00:00"}))  # no zone: UTC
    assert housekeeping.backup_age_days(marker, now) == pytest.approx(1.0)
    marker.write_text("{not json")
    assert housekeeping.backup_age_days(marker, now) is None


def test_the_airflow_clean_command_keeps_no_archive_and_asks_nothing():
    before = housekeeping.cutoff(datetime(2026, 12, 5, tzinfo=UTC), 30)
    assert before == datetime(2026, 11, 5, tzinfo=UTC)
    assert housekeeping.airflow_db_clean_command(before) == [
        "airflow", "db", "clean", "--clean-before-timestamp", "2026-11-05T00:00:00+00:00",
        "--yes", "--skip-archive"]


def test_disk_report_reads_the_real_filesystem(tmp_path):
    disk = housekeeping.disk_report(tmp_path)
    assert 0 < disk.free_bytes <= disk.total_bytes and 0 < disk.free_percent <= 100
    assert disk.line().startswith(f"free disk at {tmp_path}: ")


def test_maintenance_settings_are_typed_params_outside_the_training_fingerprint():
    params = read_params()
    assert params.maintenance.predictions_days >= 1
    assert set(MAINTENANCE_PARAM_ALIASES.items()) <= set(FORM_ALIASES.items())
    changed = params.as_dict()
    changed["maintenance"] = {**changed["maintenance"], "run_folder_days": 1}
    assert runner.params_hash(changed) == runner.params_hash(params)
    assert "maintenance" in definition.MONITOR_STAGES


def run_dir(runs: Path, name: str, days: float, summary: dict | None = None) -> Path:
    folder = runs / name
    folder.mkdir(parents=True)
    if summary is not None:
        (folder / run_folder.stage_summary("promote_staging")).write_text(json.dumps(summary))
    for path in [*folder.iterdir(), folder]:
        age(path, days, time.time())
    return folder


def test_the_stage_sees_which_runs_registered_a_version(tmp_path):
    pytest.importorskip("mlflow")  # the stage module imports mlflow (stage image: monitor)
    from carprice.pipeline.stages import maintenance

    runs = tmp_path / "runs"
    run_dir(runs, "registered", 90, {"stage": "promote_staging", "model_version": "3"})
    run_dir(runs, "refused", 90, {"stage": "promote_staging", "status": "skipped"})
    run_dir(runs, "unreadable", 90).joinpath("promote_staging.json").write_text("{")
    run_dir(runs, "monitor", 90)
    own = run_dir(runs, "own", 90)
    found = {f.name: f.registered for f in maintenance.scan_run_folders(runs, own)}
    assert found == {"registered": True, "refused": False, "unreadable": True,
                     "monitor": False}
    gone = housekeeping.run_folders_to_remove(maintenance.scan_run_folders(runs, own),
                                              set(), time.time(), 30)
    assert gone == ["monitor", "refused"]
