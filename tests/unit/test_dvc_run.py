"""carprice.stages.dvc_run: the one dvc.yaml command, in-process locally and a sibling
stage container inside the stack's dvc-runner (its spec is built without Docker)."""

from __future__ import annotations

import json

import pytest

from carprice import pipeline
from carprice.stages import dvc_run
from carprice.stages.flags import parse_stage_args
from tests.conftest import REPO

ENV = {dvc_run.ENV_DOCKER: "1", pipeline.ENV_PROJECT: "carprice",
       pipeline.ENV_DOCKER_NETWORK: "carprice-net", pipeline.ENV_DATA_VOLUME: "carprice-data",
       pipeline.ENV_MODELS_VOLUME: "carprice-models",
       pipeline.ENV_STAGE_MLFLOW_URI: "http://mlflow:5000", pipeline.ENV_STAGE_USER: "stages",
       pipeline.ENV_STAGE_PASSWORD: "s3cret", pipeline.ENV_GIT_COMMIT: "abc1234"}
PARAMS = pipeline.load_params(REPO / "params.yaml")


def spec(stage="train", flags=("--run-id", "exp 1", "--soft-skip"), params=PARAMS, env=ENV):
    return dvc_run.container_spec(stage, parse_stage_args(stage, list(flags)), params, env)


def test_the_stage_runs_in_its_image_like_the_dag_runs_it():
    s = spec()
    assert s["image"] == pipeline.image_name("train") and s["user"] == "1000:1000"
    assert s["network"] == "carprice-net"
    assert s["volumes"] == {"carprice-data": {"bind": "/app/data", "mode": "rw"},
                            "carprice-models": {"bind": "/app/models", "mode": "rw"}}
    assert s["name"] == "carprice-dvc-train-exp_1"
    assert s["labels"][pipeline.LABEL_STAGE] == "train"
    assert s["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert s["environment"][pipeline.ENV_GIT_COMMIT] == "abc1234"


def test_flags_keep_the_run_and_point_at_the_container_folders():
    s = spec(flags=("--run-id", "r1", "--set", "model.max_iter=5", "--params", "/x.yaml",
                    "--data-dir", "here", "--soft-skip"))
    args = parse_stage_args("train", s["command"])
    assert (args.run_id, args.set, args.soft_skip) == ("r1", ["model.max_iter=5"], True)
    assert (args.data_dir, args.models_dir, args.params) == ("/app/data", "/app/models", None)


def test_secrets_go_in_the_environment_never_the_command():
    s = spec()
    assert s["environment"]["MLFLOW_TRACKING_USERNAME"] == "stages"
    assert s["environment"]["MLFLOW_TRACKING_PASSWORD"] == "s3cret"
    assert not any("s3cret" in part for part in s["command"])


def test_the_runners_params_reach_the_container():
    # `dvc exp run -S model.max_iter=7` edits the runner's params.yaml
    edited = {**PARAMS, "model": {**PARAMS["model"], "max_iter": 7}}
    sent = json.loads(spec(params=edited)["environment"][pipeline.ENV_OVERRIDES])
    assert sent["model.max_iter"] == 7 and sent["data.drift.price_inflation"] == 0.0
    assert pipeline.apply_overrides(PARAMS, sent) == edited


@pytest.mark.parametrize("missing", [pipeline.ENV_DOCKER_NETWORK, pipeline.ENV_DATA_VOLUME,
                                     pipeline.ENV_STAGE_MLFLOW_URI, pipeline.ENV_STAGE_PASSWORD])
def test_a_missing_deployment_name_is_one_line(missing):
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(pipeline.DeploymentError, match=f"^{missing} is not set"):
        spec(env=env)


def test_without_the_models_volume_nothing_is_mounted_there():
    env = {k: v for k, v in ENV.items() if k != pipeline.ENV_MODELS_VOLUME}
    assert list(spec(env=env)["volumes"]) == ["carprice-data"]


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("", False),
                                            ("0", False)])
def test_docker_mode_is_opt_in(value, expected):
    assert dvc_run.in_docker({dvc_run.ENV_DOCKER: value}) is expected
    assert dvc_run.in_docker({}) is False


def test_an_unknown_stage_is_a_usage_error(capsys):
    assert dvc_run.main(["monitor"]) == pipeline.StageExit.NO_RETRY
    assert "usage: python -m carprice.stages.dvc_run <ingest|" in capsys.readouterr().err


def test_locally_without_warm_processes_the_stage_runs_in_process(workdir, monkeypatch,
                                                                    capsys):
    monkeypatch.delenv(dvc_run.ENV_DOCKER, raising=False)
    monkeypatch.setenv("CARPRICE_WARM", "0")  # the warm path: tests/integration/test_dvc_local.py
    # a bad param stops the in-process stage before MLflow, with the runner's summary
    code = dvc_run.main(["validate", "--run-id", "r", "--set", "model.max_iter=0"])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["stage"] == "validate" and code == summary["exit_code"] == 2
    assert "model.max_iter" in summary["reason"]
