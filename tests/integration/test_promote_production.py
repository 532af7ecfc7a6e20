"""promote_production as a process against a real MLflow server: it promotes the version
``staging`` points at only when that version's MLflow tags say it passed the gate (judged
no looser than params.yaml) and the smoke check, and records the Airflow user who
triggered the run. Anything else: one line, no retry, nothing moves."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from carprice.config import settings
from carprice.config.params import load_params
from carprice.pipeline import run_folder
from carprice.pipeline.definition import StageExit
from carprice.registry import PRODUCTION_ALIAS, STAGING_ALIAS, tags
from carprice.registry.export import export_version, read_export
from tests.conftest import REPO, register_copy

pytestmark = pytest.mark.integration
NAME = "car-price"


def alias(client, name: str) -> str | None:
    aliases = client.get_registered_model(NAME).aliases
    return str(aliases[name]) if name in aliases else None


@pytest.fixture
def candidate(promoted_model):
    """A new version, staged, with every tag of the production one (gate passed, smoke
    check passed, the gate thresholds): approved, unless a test edits its tags. Staging,
    production and the export are put back after the test."""
    client = MlflowClient()
    prod = client.get_model_version(NAME, alias(client, PRODUCTION_ALIAS))
    staged_before = alias(client, STAGING_ALIAS)
    version = register_copy(client, NAME, prod, "it-promote")
    for key in (tags.PROMOTED_BY, tags.PREVIOUS_PRODUCTION):
        if key in prod.tags:
            client.delete_model_version_tag(NAME, version, key)
    client.set_registered_model_alias(NAME, STAGING_ALIAS, version)
    yield {"version": version, "production": str(prod.version), "client": client,
           "workspace": promoted_model["workspace"], "models_dir": promoted_model["models_dir"]}
    if staged_before:
        client.set_registered_model_alias(NAME, STAGING_ALIAS, staged_before)
    client.set_registered_model_alias(NAME, PRODUCTION_ALIAS, str(prod.version))
    if read_export(promoted_model["models_dir"])[1]["version"] != str(prod.version):
        export_version(NAME, str(prod.version), promoted_model["models_dir"],
                       {"tags": prod.tags})


def promote(c: dict, run_id: str, evaluated: str, user: str | None = None):
    ws = c["workspace"]
    folder = ws.data_dir / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    # What promote_staging's summary names (ctx.registered_version): a cross-check only.
    (folder / run_folder.stage_summary("promote_staging")).write_text(
        json.dumps({"stage": "promote_staging", "model_version": evaluated}))
    env_before = dict(ws.env)
    if user is not None:
        ws.env[settings.ENV_TRIGGERED_BY] = user
    try:
        return ws.stage("promote_production", run_id)
    finally:
        ws.env.clear()
        ws.env.update(env_before)


def test_an_approved_staging_version_is_promoted_with_the_user_who_triggered(candidate):
    client, version, before = candidate["client"], candidate["version"], candidate["production"]
    code, summary, stderr = promote(candidate, "it-promote-ok", version, user="alice")
    assert code == 0, stderr
    assert (summary["model_version"], summary["previous_production"]) == (version, before)
    assert summary["promoted_by"] == "alice"
    assert alias(client, PRODUCTION_ALIAS) == version
    found = client.get_model_version(NAME, version).tags
    assert found[tags.PROMOTED_BY] == "alice"
    assert found[tags.PREVIOUS_PRODUCTION] == before
    assert json.loads(found[tags.GATE_THRESHOLDS]).keys() == {
        "min_skill", "tolerance", "max_city_effect", "bootstrap", "confidence",
        "max_rmse_log", "min_r2", "max_mape"}  # the thresholds used
    _, meta = read_export(candidate["models_dir"])
    assert meta["version"] == version and meta["gate"]["label"] == tags.GATE_PASSED
    assert meta["metrics"]["rmse_log"] > 0 and meta["tags"][tags.PROMOTED_BY] == "alice"


def edit(c: dict, values: dict) -> None:
    for key, value in values.items():
        if value is None:
            c["client"].delete_model_version_tag(NAME, c["version"], key)
        else:
            c["client"].set_model_version_tag(NAME, c["version"], key, value)


GATE = load_params(REPO / "params.yaml")["gate"]
LOOSE = json.dumps({**GATE, "min_skill": 0})
# Judged by the gate before issue 18 (absolute floors, no skill over a baseline).
OLD_GATE = json.dumps({"max_rmse_log": 0.3, "min_r2": 0.8, "max_mape": 0.3, "tolerance": 0.01})


@pytest.mark.parametrize("case, message", [
    ({tags.GATE_DECISION: tags.GATE_REFUSED}, "(staging) has gate_decision=refused"),
    ({tags.GATE_DECISION: tags.GATE_PENDING}, "has gate_decision=pending"),
    ({tags.SMOKE_CHECK: None}, "has smoke_check=none"),
    ({tags.SMOKE_CHECK: tags.SMOKE_FAILED}, "has smoke_check=failed"),
    ({tags.GATE_THRESHOLDS: None}, "has no valid gate_thresholds tag"),
    ({tags.GATE_THRESHOLDS: LOOSE}, "was judged by a looser gate (gate.min_skill=0 is looser"),
    ({tags.GATE_THRESHOLDS: OLD_GATE}, "has no valid gate_thresholds tag"),
    ("the run folder names production", "this run evaluated"),
    ("no staging alias", "has no staging alias"),
])
def test_a_version_the_registry_does_not_approve_is_refused_and_nothing_moves(
        candidate, case, message):
    client, version, before = candidate["client"], candidate["version"], candidate["production"]
    evaluated = version
    if case == "the run folder names production":  # the run folder is not trusted
        evaluated = before
    elif case == "no staging alias":
        client.delete_registered_model_alias(NAME, STAGING_ALIAS)
    else:
        edit(candidate, case)
    code, summary, stderr = promote(candidate, "it-promote-refused", evaluated, user="mallory")
    assert code == StageExit.NO_RETRY == summary["exit_code"], stderr  # a retry cannot help
    assert summary["status"] == "failed" and message in summary["reason"], summary
    assert summary["reason"].endswith("not promoted") or "no staging alias" in message
    assert f"error: promote_production failed: {summary['reason']}" in stderr
    assert "Traceback" not in stderr
    assert alias(client, PRODUCTION_ALIAS) == before
    assert read_export(candidate["models_dir"])[1]["version"] == before
    assert tags.PROMOTED_BY not in client.get_model_version(NAME, version).tags
