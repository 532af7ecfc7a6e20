"""The ``maintenance`` section of params.yaml, typed (carprice.config.params reads it with
the rest): how long the stack keeps what grows, and when it warns. Read by the maintenance
stage (carprice.pipeline.stages.maintenance) and the carprice_maintenance DAG's own tasks.

Imports only pydantic: the Airflow image reads it.
"""

from __future__ import annotations

from pydantic import Field

from carprice.config.gate_params import Section


class MaintenanceParams(Section):
    predictions_days: int = Field(
        ge=1, le=3650, description="Keep logged predictions this many days (older rows are "
                                   "deleted; the monitor reads the last window_days)")
    run_folder_days: int = Field(
        ge=1, le=3650, description="Remove run folders older than this many days whose run "
                                   "registered no model version (those of registered "
                                   "versions and of the exported model are always kept)")
    airflow_days: int = Field(
        ge=1, le=3650, description="Keep Airflow's run history (airflow db clean) and task "
                                   "logs this many days")
    delete_batch_rows: int = Field(
        ge=1, le=1_000_000, description="Rows deleted per transaction when pruning "
                                        "predictions (short locks on a busy table)")
    min_free_disk_percent: float = Field(
        ge=0, le=100, description="Alert when the data volume's disk has less free space "
                                  "than this share (percent)")
    max_backup_age_days: int = Field(
        ge=0, le=3650, description="Alert when the last good backup is older than this many "
                                   "days, or there is none (0: no backup alert)")
