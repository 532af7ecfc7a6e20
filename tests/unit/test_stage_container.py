"""carprice.pipeline.container: the one stage container spec, and the dvc-runner's use of it
(carprice.pipeline.docker_launch). Built without Docker. The DAG's use of the same spec is
checked in test_dag.py (it needs Airflow)."""

from __future__ import annotations

import json

import pytest
import yaml

from carprice.config import settings
from carprice.config.params import apply_overrides, load_params
from carprice.pipeline import container, definition, docker_launch, runner
from tests.conftest import REPO

ENV = {settings.ENV_DVC_DOCKER: "1", container.ENV_PROJECT: "carprice",
       container.ENV_DOCKER_NETWORK: "carprice-stages", container.ENV_DATA_VOLUME: "carprice-data",
       container.ENV_EGRESS_NETWORK: "carprice-egress",
       container.ENV_PREDLOG_NETWORK: "carprice-predlog",
       container.ENV_MODELS_VOLUME: "carprice-models", container.ENV_INBOX_HOST_DIR: "/srv/inbox",
       container.ENV_STAGE_MLFLOW_URI: "http://mlflow:5000", container.ENV_GIT_COMMIT: "abc1234",
       container.ENV_TRAINER_USER: "trainer", container.ENV_TRAINER_PASSWORD: "tr4iner-s3cret",
       container.ENV_PROMOTER_USER: "promoter",
       container.ENV_PROMOTER_PASSWORD: "pr0moter-s3cret"}
PARAMS = load_params(REPO / "params.yaml")


def spec(stage="train", flags=("--run-id", "exp 1", "--soft-skip"), env=ENV):
    return docker_launch.dvc_stage_container(stage, list(flags), env)


def test_the_stage_runs_in_the_image_of_its_dependency_set():
    s = spec()
    assert s.image == definition.image_name("train") == "carprice-stage-ml:latest"
    assert s.user == "1000:1000" and s.network == "carprice-stages"
    assert s.mounts == (container.Mount("carprice-data", "/app/data"),)
    assert s.name == "carprice-train-dvc-exp_1"
    assert s.labels == {container.LABEL_PROJECT: "carprice", container.LABEL_STAGE: "train",
                        container.LABEL_RUN: "exp 1", container.LABEL_DVC: "1"}
    assert s.environment["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert s.environment[container.ENV_GIT_COMMIT] == "abc1234"
    assert s.environment[container.ENV_RUN_ID] == "exp 1"


@pytest.mark.parametrize("stage", sorted(definition.IMAGE_EXTRAS))
def test_every_stage_gets_the_mounts_of_what_it_reads_and_writes(stage):
    s = spec(stage)
    targets = {m.target: m for m in s.mounts}
    assert container.CONTAINER_DATA_DIR in targets
    models = targets.get(container.CONTAINER_MODELS_DIR)
    assert (models is not None) == (stage in definition.WRITES_MODELS | definition.READS_MODELS)
    if models:  # only a stage that writes the export may change it
        assert models.read_only == (stage not in definition.WRITES_MODELS)
    inbox = targets.get(container.CONTAINER_INBOX_DIR)
    assert (inbox is not None) == (stage in definition.READS_INBOX)
    if inbox:
        assert (inbox.type, inbox.source, inbox.read_only) == ("bind", "/srv/inbox", True)
    assert s.command[0] == stage and s.labels[container.LABEL_STAGE] == stage


def test_the_command_is_the_stage_and_its_flags_nothing_else():
    assert spec(flags=("--run-id", "r1", "--soft-skip")).command == ["train", "--soft-skip"]
    assert spec(flags=("--run-id", "r1")).command == ["train"]


def test_secrets_are_named_in_the_spec_and_filled_only_at_run_time():
    s = spec("promote_production")
    assert "s3cret" not in json.dumps([s.command, s.environment, s.labels, s.name])
    values = container.secret_values(s, ENV)
    assert values["MLFLOW_TRACKING_USERNAME"] == "promoter"
    assert values["MLFLOW_TRACKING_PASSWORD"] == "pr0moter-s3cret"
    assert container.ENV_PREDLOG_DSN in spec("monitor").secrets
    assert container.ENV_PREDLOG_DSN in spec("maintenance").secrets
    assert container.ENV_PREDLOG_DSN not in spec("train").secrets


# The list: only the promotion, rollback and report stages may move aliases.
PROMOTERS = {"promote_staging", "validate_staging", "promote_production", "report", "rollback"}


@pytest.mark.parametrize("stage", sorted(definition.IMAGE_EXTRAS))
def test_each_stage_gets_one_account_and_only_promotion_stages_the_promoter(stage):
    values = container.secret_values(spec(stage), ENV)
    promoter = stage in PROMOTERS
    assert values["MLFLOW_TRACKING_USERNAME"] == ("promoter" if promoter else "trainer")
    assert values["MLFLOW_TRACKING_PASSWORD"] == (
        "pr0moter-s3cret" if promoter else "tr4iner-s3cret")
    other = "tr4iner-s3cret" if promoter else "pr0moter-s3cret"
    assert other not in values.values(), "a stage holds the other account's password"
    assert definition.PROMOTER_STAGES == PROMOTERS


@pytest.mark.parametrize("stage,missing", [("train", container.ENV_TRAINER_PASSWORD),
                                           ("report", container.ENV_PROMOTER_PASSWORD)])
def test_missing_stage_account_is_one_line(stage, missing):
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(container.DeploymentError, match=f"^{missing} is not set.*{stage}"):
        container.secret_values(spec(stage, env=env), env)
    other = "ingest" if stage == "report" else "rollback"  # the other account is still there
    assert container.secret_values(spec(other, env=env), env)


def test_the_runners_params_reach_the_container(tmp_path):
    # `dvc exp run -S model.max_iter=7` edits the runner's params.yaml
    edited = {**PARAMS, "model": {**PARAMS["model"], "max_iter": 7}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(edited))
    sent = json.loads(spec(flags=("--run-id", "r", "--params", str(path)))
                      .environment[settings.ENV_PARAMS_JSON])
    assert sent["model.max_iter"] == 7 and sent["data.drift.price_inflation"] == 0.0
    assert apply_overrides(PARAMS, sent) == edited


@pytest.mark.parametrize("missing", [container.ENV_DOCKER_NETWORK, container.ENV_DATA_VOLUME,
                                     container.ENV_STAGE_MLFLOW_URI, container.ENV_PROJECT])
def test_a_missing_deployment_name_is_one_line(missing):
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(container.DeploymentError, match=f"^{missing} is not set"):
        spec(env=env)


def test_a_writer_stage_without_the_models_volume_is_refused():
    env = {k: v for k, v in ENV.items() if k != container.ENV_MODELS_VOLUME}
    with pytest.raises(container.DeploymentError, match=container.ENV_MODELS_VOLUME):
        spec("promote_production", env=env)
    assert spec("train", env=env).mounts == (container.Mount("carprice-data", "/app/data"),)


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("", False),
                                            ("0", False)])
def test_docker_mode_is_opt_in(monkeypatch, value, expected):
    monkeypatch.setenv(settings.ENV_DVC_DOCKER, value)
    assert settings.current().dvc_docker is expected


def test_an_unknown_stage_is_a_usage_error(capsys):
    assert runner.run_stage_command(["nope"]) == definition.StageExit.NO_RETRY
    assert "unknown stage 'nope'" in capsys.readouterr().err
    assert runner.run_stage_command([]) == definition.StageExit.NO_RETRY
    assert "usage: python -m carprice.pipeline <ingest|" in capsys.readouterr().err


def test_outside_the_dvc_runner_the_stage_runs_in_process(workdir, monkeypatch, capsys):
    monkeypatch.delenv(settings.ENV_DVC_DOCKER, raising=False)
    # a bad param stops the in-process stage before MLflow, with the runner's summary
    code = runner.run_stage_command(["validate", "--run-id", "r", "--set", "model.max_iter=0"])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["stage"] == "validate" and code == summary["exit_code"] == 2
    assert "model.max_iter" in summary["reason"]


@pytest.mark.parametrize("stage", sorted(definition.IMAGE_EXTRAS))
def test_only_the_signing_stage_gets_the_signing_key(stage):
    private, public = "11" * 32, "22" * 32
    env = {**ENV, settings.ENV_SIGNING_KEY: private, settings.ENV_SIGNING_PUBLIC_KEY: public}
    s = spec(stage, env=env)
    values = container.secret_values(s, env)
    signs = stage == "promote_staging"  # promote_production only verifies the export
    assert (values.get(settings.ENV_SIGNING_KEY) == private) == signs
    assert (settings.ENV_SIGNING_KEY in values) == signs
    assert private not in json.dumps([s.command, s.environment, s.labels, s.name])
    # the public key is no secret: every stage may verify with it
    assert s.environment[settings.ENV_SIGNING_PUBLIC_KEY] == public


def test_each_candidate_of_a_mapped_stage_gets_its_own_container():
    """Candidates run side by side: distinct names and labels (an earlier try's clean-up
    matches the candidate's label, never a sibling's), the candidate in the command."""
    specs = {name: spec(flags=("--run-id", "r1", "--soft-skip", "--candidate", name))
             for name in PARAMS["candidates"]}
    assert len({s.name for s in specs.values()}) == len(specs) > 1
    for name, s in specs.items():
        assert s.command == ["train", "--candidate", name, "--soft-skip"]
        assert s.labels[container.LABEL_CANDIDATE] == name
        assert s.name == f"carprice-train-{name.replace('_', '-')}-dvc-r1"
    assert container.LABEL_CANDIDATE not in spec("evaluate").labels
