"""The local DVC path for real: `dvc repro` of the project's own dvc.yaml runs the nine
stages (`python -m carprice.pipeline <stage>`, each in its own process), ends with a
`production` alias in the local MLflow store, and a second `dvc repro` skips every stage.
Then one stage command on its own: exit codes, output, Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from carprice import registry
from carprice.config import settings
from carprice.pipeline import definition
from carprice.registry import signing
from tests.conftest import REPO

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
DVC = shutil.which("dvc", path=str(BIN)) or shutil.which("dvc")


def project_copy(dest: Path, rows: int) -> Path:
    """The repository's files (tracked or new, as `git ls-files` lists them) in a new git
    repository, with fewer synthetic rows."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["data"]["rows"] = rows
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    """A user's shell: the venv on PATH, no tracking server (local mlflow.db), a private
    temporary folder, and a model-signing pair exported (`carprice signing-key`), which
    promote_staging signs with."""
    env = {k: v for k, v in os.environ.items()
           if k != "MLFLOW_TRACKING_URI" and not k.startswith("CARPRICE_")}
    private, public = signing.new_key_pair()
    return {**env, "PATH": f"{BIN}:{env['PATH']}", "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1",
            settings.ENV_SIGNING_KEY: private, settings.ENV_SIGNING_PUBLIC_KEY: public,
            **extra}


def dvc_stage_names(project: Path) -> list[str]:
    """Every stage dvc.yaml defines, a mapped stage once per candidate of params.yaml."""
    names = yaml.safe_load((project / "params.yaml").read_text())["candidates"]
    return [f"{stage}@{name}" if stage in definition.MAPPED_STAGES else stage
            for stage in definition.STAGES
            for name in (names if stage in definition.MAPPED_STAGES else [""])]


def stage_cmd(stage: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", "carprice.pipeline", stage, *flags]


@pytest.mark.skipif(DVC is None, reason="the dvc CLI is in the dev extra")
def test_dvc_repro_runs_the_pipeline_then_skips_every_stage(tmp_path):
    project = project_copy(tmp_path / "project", rows=5000)
    env = env_for(tmp_path)
    first = subprocess.run([DVC, "repro"], cwd=project, env=env, capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    # dvc.yaml's stage names: a mapped stage's candidates are stage@candidate (foreach)
    summaries = {"@".join(filter(None, (s["stage"], s.get("candidate")))): s
                 for s in map(json.loads, (line for line in first.stdout.splitlines()
                                           if line.startswith('{"stage"')))}
    names = dvc_stage_names(project)
    assert sorted(summaries) == sorted(names)
    assert all(s["status"] == "ok" for s in summaries.values()), summaries
    assert summaries["report"]["outcome"] == "promoted"

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    chosen = summaries[f"train@{summaries['evaluate']['chosen']}"]
    version = client.get_model_version_by_alias(chosen["model_name"], registry.PRODUCTION_ALIAS)
    assert str(version.version) == summaries["promote_staging"]["model_version"]
    assert version.source == chosen["model_uri"]

    second = subprocess.run([DVC, "repro"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    for stage in names:
        assert f"Stage '{stage}' didn't change, skipping" in second.stdout, second.stdout
    assert '{"stage"' not in second.stdout  # no stage ran


def test_a_stage_command_keeps_exit_codes_and_output(workdir, tmp_path):
    env = env_for(tmp_path)
    bad = stage_cmd("validate", "--run-id", "r", "--set", "model.max_iter=0")
    out = subprocess.run(bad, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == definition.StageExit.NO_RETRY, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["exit_code"] == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: validate failed: params:")


def test_ctrl_c_stops_the_stage(workdir, tmp_path):
    # As in a terminal: a shell that started this run in the background would have the
    # children ignore SIGINT.
    caller = subprocess.Popen(stage_cmd("ingest", "--run-id", "big", "--set",
                                        "data.rows=3000000"),
                              env=env_for(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(3)  # inside the stage by then (imports done, generating rows)
    caller.send_signal(signal.SIGINT)
    code = caller.wait(timeout=60)
    assert code != 0, "the stage ignored Ctrl-C"
