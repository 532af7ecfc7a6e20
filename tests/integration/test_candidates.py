"""Several candidates in `carprice run`, against a real MLflow server: every candidate is
trained in its own process and MLflow run, evaluate gates the best on validation, a failed
candidate does not fail the run while another succeeds, and the run fails when all fail.

Its own registered model name, so the session's production version stays as it was."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from carprice.config.params import load_params
from carprice.pipeline import run_folder
from carprice.registry import PRODUCTION_ALIAS, tags
from tests.conftest import REPO, SMALL, Workspace

pytestmark = pytest.mark.integration
NAME = "car-price-candidates"
SETS = (*SMALL, f"registry.model_name={NAME}", "registry.experiment=it-candidates",
        "run.force=true")


@pytest.fixture(scope="module")
def ws(mlflow_server, tmp_path_factory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("cands"), mlflow_server)


def break_candidate(ws: Workspace, run_id: str, name: str) -> None:
    """A real fault: a folder where the candidate's train info goes, so its train fails
    (as on a broken disk) while the other candidates write theirs."""
    (ws.data_dir / "runs" / run_id / run_folder.train_info(name)).mkdir(parents=True)


def test_a_failed_candidate_does_not_fail_the_run_while_another_succeeds(ws):
    break_candidate(ws, "it-one-fails", "hgb")
    results = ws.pipeline("it-one-fails", *SETS)
    assert results["train@hgb"][0]["status"] == "failed"
    assert results["train@ridge"][0]["status"] == "ok"
    evaluation = results["evaluate"][0]
    assert evaluation["status"] == "ok" and evaluation["chosen"] != "hgb"
    report = results["report"][0]
    assert report["status"] == "ok" and report["outcome"] == "promoted", report
    version = MlflowClient().get_model_version_by_alias(NAME, PRODUCTION_ALIAS)
    assert version.tags[tags.CANDIDATE] == evaluation["chosen"]
    folder = ws.data_dir / "runs" / "it-one-fails"
    table = {row["candidate"]: row
             for row in json.loads((folder / run_folder.EVALUATION).read_text())["candidates"]}
    assert table["hgb"]["status"] == "not trained" and "valid_rmse_log" not in table["hgb"]
    assert table[evaluation["chosen"]]["status"] == "chosen"
    pipeline_report = json.loads((folder / run_folder.PIPELINE_REPORT_JSON).read_text())
    assert pipeline_report["stages"]["train"]["candidates"]["hgb"] == "failed"


def test_the_run_fails_when_every_candidate_failed(ws):
    names = tuple(load_params(REPO / "params.yaml")["candidates"])
    for name in names:
        break_candidate(ws, "it-all-fail", name)
    results = ws.pipeline("it-all-fail", *SETS)
    assert [results[f"train@{name}"][0]["status"] for name in names] == ["failed"] * len(names)
    assert "evaluate" not in results  # the chain stops at the failed stage
    report = results["report"][0]
    assert report["status"] == "failed" and report["reason"].startswith(
        "pipeline failed: train failed: hgb failed:"), report
