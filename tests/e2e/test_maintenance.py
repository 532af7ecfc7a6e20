"""Housekeeping on the running stack: one run of carprice_maintenance (the e2e stack sets
CARPRICE_MAINTENANCE_SCHEDULE=none, so only these triggers run it) is green, deletes old
prediction-log rows and keeps recent ones, removes an old run folder that registered
nothing but never the production model's, and reports free disk; a second run with the
free-disk threshold forced to 100% alerts."""

from __future__ import annotations

import pytest

from carprice.pipeline import definition
from carprice.pipeline.definition import safe_name
from carprice.registry import tags
from carprice.serving import prediction_log
from tests.e2e.conftest import compose, log, psql, run_pipeline, version_tags

pytestmark = pytest.mark.e2e
DAG = definition.MAINTENANCE_DAG_ID
OLD, RECENT = "e2e-maintenance-old", "e2e-maintenance-recent"
STALE_FOLDER = "e2e-maintenance-stale"
MARKER = "e2e-maintenance-aged"  # a file of ours in the production run folder
TABLE = prediction_log.TABLE


def in_data_volume(env: dict, command: str) -> str:
    """A shell command in the streamlit container, which mounts the data volume."""
    out = compose(env, "exec", "-T", "streamlit", "sh", "-c", command)
    assert out.returncode == 0, out.stderr[-500:]
    return out.stdout.strip()


def count(env: dict, model_name: str) -> int:
    return int(psql(env, "predictions",
                    f"SELECT count(*) FROM {TABLE} WHERE model_name = '{model_name}'"))


def test_maintenance_prunes_what_is_old_keeps_what_is_needed_and_reports_disk(
        stack, stack_env):
    env = stack_env
    # The API created the table as its owner (earlier scenarios priced cars); if not, create
    # it as the API would, owned by the prediction-log role the stage deletes as.
    if psql(env, "predictions", f"SELECT to_regclass('{TABLE}') IS NULL") == "t":
        psql(env, "predictions", prediction_log.DDL + f"ALTER TABLE {TABLE} OWNER TO predictions")
    # 400 days: past predictions_days (180). 30 days: kept, and outside the monitor's
    # 7-day window, so these rows without inputs never reach a later drift check.
    for name, days in ((OLD, 400), (OLD, 400), (OLD, 200), (RECENT, 30), (RECENT, 30)):
        psql(env, "predictions",
             f"INSERT INTO {TABLE} (ts, source, model_name, model_version, inputs, price_dh, "
             f"lower_dh, upper_dh) VALUES (now() - interval '{days} days', 'batch', "
             f"'{name}', '0', '{{}}'::jsonb, 1, 1, 1)")
    assert (count(env, OLD), count(env, RECENT)) == (3, 2)

    # An old run folder that registered nothing, and the production model's run folder
    # made just as old: only the first may go. (Should a restore have left the production
    # run without its folder, one stands in for it and goes again at the end.)
    production = stack.alias_version()
    assert production, "earlier scenarios promote a production version"
    needed = safe_name(version_tags(stack, production)[tags.PIPELINE_RUN_ID])
    runs = "/app/data/runs"
    stand_in = in_data_volume(env, f"test -d {runs}/{needed} && echo kept || echo new")
    in_data_volume(env, f"mkdir -p {runs}/{STALE_FOLDER} {runs}/{needed} && "
                        f"echo x > {runs}/{STALE_FOLDER}/raw.parquet && "
                        f"touch {runs}/{needed}/{MARKER} && "
                        f"find {runs}/{STALE_FOLDER} {runs}/{needed} "
                        f"-exec touch -h -d '40 days ago' {{}} +")

    run_id, states, seconds = run_pipeline(stack, env, dag_id=DAG)
    log(f"maintenance run {run_id}: {states} in {seconds:.0f} s")
    assert set(states.values()) == {"success"}, states
    assert set(states) == {"maintenance", "send_alerts", "clean_airflow_db", "prune_task_logs"}
    assert (count(env, OLD), count(env, RECENT)) == (0, 2)
    listing = in_data_volume(env, f"ls {runs}").split()
    assert STALE_FOLDER not in listing and needed in listing, listing
    in_data_volume(env, f"rm -rf {runs}/{needed}" if stand_in == "new"
                   else f"rm -f {runs}/{needed}/{MARKER}")
    stage_log = stack.task_log(run_id, "maintenance", dag_id=DAG)
    assert "free disk at /app/data:" in stage_log, stage_log[-2000:]
    assert "removed" in stack.task_log(run_id, "prune_task_logs", dag_id=DAG)
    psql(env, "predictions", f"DELETE FROM {TABLE} WHERE model_name = '{RECENT}'")


def test_maintenance_alerts_when_free_disk_is_below_the_threshold(stack, stack_env):
    run_id, states, _ = run_pipeline(stack, stack_env, {"min_free_disk_percent": 100},
                                     dag_id=DAG)
    assert states["maintenance"] == "success"  # an alert is news, not a failure
    stage_log = stack.task_log(run_id, "maintenance", dag_id=DAG)
    assert "alert: low disk: free disk at /app/data:" in stage_log, stage_log[-2000:]
    assert "below the 100% threshold" in stage_log
    # told from the worker (the stage's network has no way out); the test webhook of
    # test_alerts.py is not up yet, so the log shows the attempt and its outcome
    assert states["send_alerts"] == "success"
    assert "alert sent:" in stack.task_log(run_id, "send_alerts", dag_id=DAG)
