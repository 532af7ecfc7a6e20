"""Train and register a model outside Airflow, in one command.

    python scripts/train_with_mlflow.py [--promote] [--run-id ID] [--set key=value ...]

Runs ingest → validate → preprocess → train → evaluate (a new registered version with
its metrics and gate decision); with --promote, also the promotion stages and the report.
MLflow: $MLFLOW_TRACKING_URI, or the local ./mlflow.db when unset. In the stack's Streamlit
container (`docker compose -f docker-compose-full.yml exec streamlit python
scripts/train_with_mlflow.py`) it signs in with the stages' account, which that container
holds for this script only ($CARPRICE_TRAINER_USER / _PASSWORD; the app itself reads only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from mlflow import MlflowClient

from carprice import runfiles
from carprice.cli import run_stage
from carprice.pipeline import ENV_DATA_DIR, STAGES, StageExit


def use_trainer_account() -> None:
    """Train as the stages' account when this container provides one."""
    user, password = os.environ.get("CARPRICE_TRAINER_USER"), os.environ.get(
        "CARPRICE_TRAINER_PASSWORD")
    if user and password:
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = (
            user, password)


def main() -> int:
    use_trainer_account()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promote", action="store_true", help="run the promotion stages too")
    parser.add_argument("--run-id", default=time.strftime("train_%Y%m%dT%H%M%S"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    stage_args = ["--run-id", args.run_id, "--set", "run.force=true", "--soft-skip"]
    for item in args.set:
        stage_args += ["--set", item]
    last = STAGES[-1] if args.promote else "evaluate"
    for stage in STAGES[: STAGES.index(last) + 1]:
        code = run_stage(stage, stage_args)
        if code != StageExit.OK:
            return code
    if not args.promote:  # the report stage did not run: close the parent run here
        data_dir = Path(os.environ.get(ENV_DATA_DIR, "data"))
        run_file = runfiles.run_folder(data_dir, args.run_id) / runfiles.RUN
        MlflowClient().set_terminated(json.loads(run_file.read_text())["parent_run_id"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
