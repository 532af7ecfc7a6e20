"""The rollback stage as a process against a real MLflow server: production moves back,
the copy for the app follows, who asked and why are recorded; bad requests change nothing."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from carprice.registry import PRODUCTION_ALIAS, signing
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
    monkeypatch.setitem(ws.env, "CARPRICE_REQUESTED_BY", "airflow-user")
    code, summary, stderr = ws.stage("rollback", "it-rollback-1",
                                     "rollback.reason=prices look wrong")
    assert code == 0, stderr
    assert summary["status"] == "ok"
    assert (summary["from_version"], summary["to_version"]) == (newer, older)
    assert summary["requested_by"] == "airflow-user"
    assert summary["message"] == (f"{NAME}: production rolled back from v{newer} to v{older} "
                                  "by airflow-user: prices look wrong")
    assert production(client) == older
    tags = client.get_model_version(NAME, older).tags
    assert tags["rollback_reason"] == "prices look wrong"
    assert tags["rollback_requested_by"] == "airflow-user"
    assert tags["rolled_back_from"] == newer and tags["previous_production"] == newer
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


def test_rollback_to_a_named_version(promoted_model, two_productions):
    ws, client = promoted_model["workspace"], MlflowClient()
    older, newer = two_productions
    assert ws.stage("rollback", "it-rollback-2a")[0] == 0
    code, summary, stderr = ws.stage("rollback", "it-rollback-2b", f"rollback.to_version={newer}",
                                     "rollback.requested_by=ops")
    assert code == 0, stderr
    assert (summary["from_version"], summary["to_version"]) == (older, newer)
    assert summary["requested_by"] == "ops" and summary["reason"] == "no reason given"
    assert production(client) == newer
    assert read_export(promoted_model["models_dir"])[1]["version"] == newer


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
