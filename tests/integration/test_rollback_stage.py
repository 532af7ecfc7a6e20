"""The rollback stage as a process against a real MLflow server: production moves back,
the copy for the app follows, who asked and why are recorded; bad requests change nothing."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from carprice.config import settings
from carprice.registry import PRODUCTION_ALIAS, signing, tags
from carprice.registry.aliases import move_alias
from carprice.registry.export import export_version, read_export

pytestmark = pytest.mark.integration
NAME = "car-price"


def production(client) -> str:
    return str(client.get_model_version_by_alias(NAME, PRODUCTION_ALIAS).version)


@pytest.fixture
def two_productions(promoted_model):
    """(older, newer): a newer version promoted over the current production one.

    The newer version is registered from the same logged model (no second training) and
    signed as promote_staging signs; production is back on the older one after the test.
    """
    client = MlflowClient()
    older = client.get_model_version(NAME, production(client))
    newer = mlflow.register_model(older.source, NAME,
                                  tags={"pipeline_run_id": older.tags["pipeline_run_id"]})
    signing.sign_version(client, NAME, str(newer.version))
    move_alias(client, NAME, PRODUCTION_ALIAS, str(newer.version), reason="test promotion")
    yield str(older.version), str(newer.version)
    if production(client) != str(older.version):
        move_alias(client, NAME, PRODUCTION_ALIAS, str(older.version), reason="test cleanup")
    models_dir = promoted_model["models_dir"]
    if read_export(models_dir)[1]["version"] != str(older.version):
        export_version(NAME, str(older.version), models_dir, {"tags": older.tags})


def test_rollback_to_the_previous_production(promoted_model, two_productions, monkeypatch):
    ws, client = promoted_model["workspace"], MlflowClient()
    older, newer = two_productions
    monkeypatch.setitem(ws.env, settings.ENV_TRIGGERED_BY, "airflow-user")
    code, summary, stderr = ws.stage("rollback", "it-rollback-1",
                                     "rollback.reason=prices look wrong")
    assert code == 0, stderr
    assert summary["status"] == "ok"
    assert (summary["from_version"], summary["to_version"]) == (newer, older)
    assert summary["rolled_back_by"] == "airflow-user" and summary["requested_by"] == ""
    assert summary["message"] == (f"{NAME}: production rolled back from v{newer} to v{older} "
                                  "by airflow-user: prices look wrong")
    assert production(client) == older
    found = client.get_model_version(NAME, older).tags
    assert found[tags.ROLLBACK_REASON] == "prices look wrong"
    assert found[tags.ROLLED_BACK_BY] == "airflow-user"
    assert found[tags.ROLLBACK_REQUESTED_BY_NOTE] == "none"
    assert found["rolled_back_from"] == newer and found["previous_production"] == newer
    assert client.get_model_version(NAME, newer).tags["rolled_back_to"] == older
    folder, meta = read_export(promoted_model["models_dir"])
    assert meta["version"] == older and (folder / "MLmodel").is_file()
    assert meta["rollback"]["reason"] == "prices look wrong"

    exp = client.get_experiment_by_name("car-price-monitoring")
    [run] = client.search_runs([exp.experiment_id],
                               "tags.`carprice.pipeline_run_id` = 'it-rollback-1'")
    assert run.info.status == "FINISHED"
    assert run.data.tags["carprice.rolled_back_from"] == newer
    assert run.data.tags["carprice.model_version"] == older
    assert run.data.tags[tags.RUN_TRIGGERED_BY] == "airflow-user"


def test_the_forms_requested_by_is_a_note_never_the_user(promoted_model, two_productions,
                                                          monkeypatch):
    ws, client = promoted_model["workspace"], MlflowClient()
    older, newer = two_productions
    monkeypatch.setitem(ws.env, settings.ENV_TRIGGERED_BY, "alice")
    assert ws.stage("rollback", "it-rollback-2a", "rollback.requested_by=ops")[0] == 0
    assert client.get_model_version(NAME, older).tags[tags.ROLLBACK_REQUESTED_BY_NOTE] == "ops"
    monkeypatch.setitem(ws.env, settings.ENV_TRIGGERED_BY, "bob")
    code, summary, stderr = ws.stage("rollback", "it-rollback-2b", f"rollback.to_version={newer}",
                                     "rollback.requested_by=the CEO")
    assert code == 0, stderr
    assert (summary["from_version"], summary["to_version"]) == (older, newer)
    assert summary["rolled_back_by"] == "bob" and summary["requested_by"] == "the CEO"
    assert summary["reason"] == "no reason given"
    assert summary["message"].endswith("by bob (requested by the CEO): no reason given")
    found = client.get_model_version(NAME, newer).tags
    assert (found[tags.ROLLED_BACK_BY], found[tags.ROLLBACK_REQUESTED_BY_NOTE]) == (
        "bob", "the CEO")
    assert production(client) == newer
    assert read_export(promoted_model["models_dir"])[1]["version"] == newer


def test_a_rollback_outside_airflow_names_a_local_user(promoted_model, two_productions):
    ws, client = promoted_model["workspace"], MlflowClient()
    older, _ = two_productions
    assert settings.ENV_TRIGGERED_BY not in ws.env
    assert ws.stage("rollback", "it-rollback-local")[0] == 0
    assert client.get_model_version(NAME, older).tags[tags.ROLLED_BACK_BY] == (
        settings.LOCAL_USER)


@pytest.mark.parametrize("to_version, message", [
    ("999", "car-price has no version 999"),
    ("current", "is already production"),
])
def test_a_bad_rollback_changes_nothing(promoted_model, two_productions, to_version, message):
    ws, client = promoted_model["workspace"], MlflowClient()
    _, newer = two_productions
    target = newer if to_version == "current" else to_version
    code, summary, stderr = ws.stage("rollback", f"it-rollback-bad-{to_version}",
                                     f"rollback.to_version={target}")
    assert code == 1 and summary["status"] == "failed" and message in summary["reason"]
    assert f"error: rollback failed: {summary['reason']}" in stderr and "Traceback" not in stderr
    assert production(client) == newer


def test_a_rollback_to_an_unsigned_version_exports_nothing(promoted_model, two_productions):
    """A version nobody signed (registered by hand) is not exported: the copy the API and
    the app fall back to stays the signed one."""
    ws, client = promoted_model["workspace"], MlflowClient()
    older, newer = two_productions
    before = read_export(promoted_model["models_dir"])[1]["version"]
    unsigned = mlflow.register_model(client.get_model_version(NAME, older).source, NAME)
    code, summary, stderr = ws.stage("rollback", "it-rollback-unsigned",
                                     f"rollback.to_version={unsigned.version}")
    assert code != 0 and "it is not signed" in summary["reason"], stderr
    assert read_export(promoted_model["models_dir"])[1]["version"] == before
