"""maintenance: keep the data volume and the prediction log within params ``maintenance``,
report free disk and warn people before anything breaks.

- deletes prediction-log rows older than ``predictions_days`` (in batches);
- removes run folders older than ``run_folder_days`` whose run registered nothing, never
  one a registered model version (its ``pipeline_run_id`` tag) or the exported production
  copy comes from: the monitor reads the production model's training data there;
- reports free disk (stage summary, log, MLflow metrics) and lists alerts in its summary
  when it is below ``min_free_disk_percent`` or the last good backup
  (housekeeping.BACKUP_MARKER, written by scripts/backup.sh) is older than
  ``max_backup_age_days``; the DAG's send_alerts task tells people. An alert never fails
  the run: it is the news, not a fault.

The rules themselves: carprice.ops.housekeeping. Airflow's own metadata and task logs are
pruned by the DAG's Airflow tasks (airflow/dags/carprice_maintenance.py).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from carprice.config import settings
from carprice.config.maintenance_params import MaintenanceParams
from carprice.ops import housekeeping
from carprice.pipeline import run_folder
from carprice.pipeline.definition import safe_name
from carprice.pipeline.runner import StageContext
from carprice.registry import tags
from carprice.registry.export import read_export
from carprice.serving import prediction_log


def needed_run_folders(client: MlflowClient, model_name: str, models_dir: Path) -> set[str]:
    """Folder names of the runs something still needs: every registered version's training
    run, and the exported production copy's."""
    run_ids = {mv.tags.get(tags.PIPELINE_RUN_ID)
               for mv in client.search_model_versions(f"name = '{model_name}'")}
    export = read_export(models_dir)
    if export is not None:
        meta = export[1]
        run_ids |= {meta.get(tags.PIPELINE_RUN_ID), (meta.get("tags") or {}).get(
            tags.PIPELINE_RUN_ID)}
    return {safe_name(run_id) for run_id in run_ids if run_id}


def registered_in(folder: Path) -> bool:
    """The run's promote_staging summary names the version it registered (an unreadable
    summary counts as registered: never remove what we cannot judge)."""
    summary = folder / run_folder.stage_summary("promote_staging")
    if not summary.is_file():
        return False
    try:
        return bool(json.loads(summary.read_text()).get("model_version"))
    except (OSError, ValueError, AttributeError):
        return True


def scan_run_folders(runs: Path, own: Path) -> list[housekeeping.RunFolder]:
    """Every run folder but this run's own."""
    if not runs.is_dir():
        return []
    return [housekeeping.RunFolder(path.name, housekeeping.newest_mtime(path),
                                   registered_in(path))
            for path in sorted(runs.iterdir())
            if path.is_dir() and not path.is_symlink() and path != own]


def prune_predictions(p: MaintenanceParams, now: datetime) -> int | None:
    """Rows deleted from the prediction log; None when no log is configured."""
    dsn = settings.current().predlog_dsn
    if not dsn:
        return None
    before = housekeeping.cutoff(now, p.predictions_days)
    return prediction_log.delete_older_than(dsn, before, p.delete_batch_rows)


def run(ctx: StageContext) -> dict:
    p = ctx.params.maintenance
    now = datetime.now(UTC)
    runs = ctx.run_dir.parent  # <data dir>/runs
    data_dir = runs.parent
    deleted = prune_predictions(p, now)

    keep = needed_run_folders(MlflowClient(), ctx.model_name, ctx.models_dir)
    gone = housekeeping.run_folders_to_remove(scan_run_folders(runs, ctx.run_dir), keep,
                                              time.time(), p.run_folder_days)
    freed = sum(housekeeping.remove_tree(runs / name) for name in gone)

    disk = housekeeping.disk_report(data_dir)
    age = housekeeping.backup_age_days(data_dir / housekeeping.BACKUP_MARKER, now)
    found = housekeeping.alerts(disk, p.min_free_disk_percent, age, p.max_backup_age_days)
    print(disk.line(), file=sys.stderr, flush=True)
    # Told by the DAG's send_alerts task (the worker): this container's network, the
    # prediction log's, has no way out.
    for line in found:
        print(f"alert: {line}", file=sys.stderr, flush=True)

    mlflow.log_metrics({
        "free_disk_bytes": disk.free_bytes, "free_disk_percent": disk.free_percent,
        "predictions_deleted": deleted or 0, "run_folders_removed": len(gone),
        "run_folder_bytes_freed": freed, "alerts": len(found),
        **({"backup_age_days": age} if age is not None else {})})
    return {"free_disk_bytes": disk.free_bytes, "free_disk_percent": round(disk.free_percent, 2),
            "predictions_deleted": deleted, "run_folders_removed": gone,
            "run_folders_kept": sorted(keep), "backup_age_days": age, "alerts": found}
