"""Train and register a model outside Airflow, in one command.

    python scripts/train_with_mlflow.py [--promote] [--run-id ID] [--set key=value ...]

A thin caller of ``carprice run``: ingest → validate → preprocess → train → evaluate (a new
registered version with its metrics and gate decision); with --promote, also the promotion
stages and the report. MLflow: $MLFLOW_TRACKING_URI, or the local ./mlflow.db when unset.
In the stack's Streamlit container (`docker compose -f docker-compose-full.yml exec
streamlit python scripts/train_with_mlflow.py`) it signs in with the stages' account, which
that container holds for this script only ($CARPRICE_TRAINER_USER / _PASSWORD; the app
itself reads only).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from carprice.cli import main as carprice


def use_trainer_account() -> None:
    """Train as the stages' account when this container provides one."""
    user, password = os.environ.get("CARPRICE_TRAINER_USER"), os.environ.get(
        "CARPRICE_TRAINER_PASSWORD")
    if user and password:
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = (
            user, password)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promote", action="store_true", help="run the promotion stages too")
    parser.add_argument("--run-id", default=time.strftime("train_%Y%m%dT%H%M%S"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    use_trainer_account()
    argv = ["run", "--run-id", args.run_id, "--set", "run.force=true", "--soft-skip",
            *[flag for item in args.set for flag in ("--set", item)]]
    return carprice(argv if args.promote else [*argv, "--through", "evaluate"])


if __name__ == "__main__":
    sys.exit(main())
