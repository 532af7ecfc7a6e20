"""Which run folders a backup keeps, asked of a real MLflow server (tests/conftest.py): the
folders of the pipeline runs that registered versions name, through the CLI backup.sh runs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from mlflow import MlflowClient

from carprice.pipeline import run_folder
from carprice.pipeline.definition import safe_name
from carprice.registry import tags

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
MODEL = "car-price-backup-test"


def test_run_folders_of_registered_versions_only(mlflow_server, tmp_path):
    client = MlflowClient()
    client.create_registered_model(MODEL)
    run = client.create_run(client.create_experiment("backup-test"))
    (tmp_path / "model.txt").write_text("a model")
    client.log_artifact(run.info.run_id, str(tmp_path / "model.txt"))
    registered = "manual__2026-12-05T10:00:00+00:00"
    for pipeline_run in (registered, registered, "deleted-by-hand", None):
        mv = client.create_model_version(MODEL, f"runs:/{run.info.run_id}/model.txt",
                                         run.info.run_id)
        if pipeline_run:
            client.set_model_version_tag(MODEL, mv.version, tags.PIPELINE_RUN_ID, pipeline_run)
    data = tmp_path / "data"
    kept = run_folder.run_folder(data, registered)
    kept.mkdir(parents=True)
    (kept / run_folder.SPLITS["train"]).write_bytes(b"PAR1 the reference")
    (run_folder.run_folder(data, "registered-nothing")).mkdir()

    proc = subprocess.run(
        [sys.executable, "-m", "carprice.pipeline.backup", "run-folders"],
        capture_output=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), "CARPRICE_DATA_DIR": str(data),
             "CARPRICE_MODEL_NAME": MODEL, "MLFLOW_TRACKING_URI": mlflow_server})
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        names = tar.getnames()
        train = tar.extractfile(f"{safe_name(registered)}/{run_folder.SPLITS['train']}")
        assert train is not None and train.read() == b"PAR1 the reference"
    assert sorted(names) == [safe_name(registered),
                             f"{safe_name(registered)}/{run_folder.SPLITS['train']}"]
    assert "no run folder for deleted-by-hand" in proc.stderr.decode()
