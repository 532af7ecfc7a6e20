"""scripts/train_with_mlflow.py, as the Streamlit container runs it: it holds the trainer
account only, so --promote stops before anything runs and says where promotion happens."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from carprice.config import settings
from carprice.pipeline import definition
from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "train_with_mlflow.py"


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess:
    # A tracking URI nobody answers: reaching MLflow would fail differently, and slowly.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CARPRICE_"))}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
        env={**base, "PYTHONPATH": str(REPO / "src"), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
             **env})


def test_promote_with_the_trainer_account_says_to_use_airflow_and_touches_nothing(tmp_path):
    started = time.monotonic()
    out = run_script("--promote", "--run-id", "t1",
                     **{settings.ENV_SCRIPT_TRAINER_USER: "carprice-trainer",
                        settings.ENV_SCRIPT_TRAINER_PASSWORD: "tr4iner-s3cret",
                        settings.ENV_DATA_DIR: str(tmp_path)})
    assert out.returncode == definition.StageExit.NO_RETRY
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --promote needs the promoter")
    assert "Airflow" in lines[0] and definition.DAG_ID in lines[0]
    assert out.stdout == "" and not any(tmp_path.iterdir())  # no stage ran
    assert "tr4iner-s3cret" not in out.stderr
    assert time.monotonic() - started < 60  # no MLflow retries behind it

