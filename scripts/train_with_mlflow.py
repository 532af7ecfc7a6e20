"""Train a candidate outside Airflow and judge it by the gate, in one command.

    python scripts/train_with_mlflow.py [--promote] [--run-id ID] [--set key=value ...]

A thin caller of ``carprice run``: ingest → validate → preprocess → train → evaluate (a logged
candidate model, its metrics and the gate's decision in the run folder and in MLflow; the
last summary line says ``"gate"``). With --promote, also the promotion stages and the report
(registration, ``staging``, smoke check, ``production``): only where this process may
promote, i.e. against an MLflow without accounts (the local ./mlflow.db, the default when
$MLFLOW_TRACKING_URI is unset).
In the stack's Streamlit container (`docker compose -f docker-compose-full.yml exec
streamlit python scripts/train_with_mlflow.py`) it signs in as the trainer, which that
container holds for this script only ($CARPRICE_TRAINER_USER / _PASSWORD; the app itself
reads only). The trainer cannot register or promote: --promote there stops at once and says
to trigger the Airflow DAG, which promotes through the same gate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from carprice.cli import main as carprice
from carprice.config import settings
from carprice.pipeline import definition


def use_trainer_account() -> bool:
    """Train as the trainer account when this container provides one (True then)."""
    user = os.environ.get(settings.ENV_SCRIPT_TRAINER_USER)
    password = os.environ.get(settings.ENV_SCRIPT_TRAINER_PASSWORD)
    if user and password:
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = (
            user, password)
        return True
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promote", action="store_true", help="run the promotion stages too")
    parser.add_argument("--run-id", default=time.strftime("train_%Y%m%dT%H%M%S"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    if use_trainer_account() and args.promote:
        # Before anything runs: the registry is never touched from here.
        print("error: --promote needs the promoter account, which this container does not "
              f"hold: promotion goes through Airflow (trigger the {definition.DAG_ID} DAG)",
              file=sys.stderr)
        return int(definition.StageExit.NO_RETRY)
    argv = ["run", "--run-id", args.run_id, "--set", "run.force=true", "--soft-skip",
            *[flag for item in args.set for flag in ("--set", item)]]
    return carprice(argv if args.promote else [*argv, "--through", "evaluate"])


if __name__ == "__main__":
    sys.exit(main())
