"""The whole pipeline against a real MLflow server: registry, aliases, tags, the gate,
the unchanged-data skip, bad input, the Avito format and rollback."""

from __future__ import annotations

import json

import pytest
import yaml
from mlflow import MlflowClient

from carprice.cli import main as cli
from carprice.config.params import load_params
from carprice.pipeline import run_folder
from carprice.pipeline.definition import STAGES, StageExit
from carprice.registry import PRODUCTION_ALIAS, STAGING_ALIAS, tags
from carprice.registry.export import read_export
from carprice.sources import dvc_data
from carprice.sources.csv_reader import to_avito
from carprice.sources.synthetic import generate
from tests.conftest import REPO, SMALL

pytestmark = pytest.mark.integration
NAME = load_params(REPO / "params.yaml")["registry"]["model_name"]
CANDIDATES = list(load_params(REPO / "params.yaml")["candidates"])


def production(client) -> str:
    return str(client.get_model_version_by_alias(NAME, PRODUCTION_ALIAS).version)


def test_first_run_registers_and_promotes(promoted_model):
    client = MlflowClient()
    v = promoted_model["version"]
    assert production(client) == v
    assert str(client.get_model_version_by_alias(NAME, STAGING_ALIAS).version) == v
    found = client.get_model_version(NAME, v).tags
    assert found[tags.GATE_DECISION] == "passed" and found[tags.SMOKE_CHECK] == "passed"
    assert found[tags.PIPELINE_RUN_ID] == "it-first" and len(found[tags.DATA_HASH]) == 16
    raw = promoted_model["workspace"].data_dir / "runs" / "it-first" / run_folder.RAW
    assert found[tags.DATA_DVC_MD5] == dvc_data.file_md5(raw)  # `carprice data-restore --md5`
    assert {tags.GIT_COMMIT, tags.TRAINED_AT, tags.metric_tag("rmse_log"),
            tags.PRODUCTION_SINCE} <= set(found)
    results = promoted_model["results"]
    assert [s["status"] for s, _ in results.values()] == ["ok"] * len(results)
    # every stage ran, train once per candidate; the chosen one is the version
    assert list(results) == [f"train@{name}" if stage == "train" else stage
                             for stage in STAGES
                             for name in (CANDIDATES if stage == "train" else [""])]
    chosen = results["evaluate"][0]["chosen"]
    assert found[tags.CANDIDATE] == chosen
    assert client.get_model_version(NAME, v).source == results[f"train@{chosen}"][0]["model_uri"]
    # the exported copy for serving without MLflow
    folder, meta = read_export(promoted_model["models_dir"])
    assert meta["version"] == v and (folder / "MLmodel").is_file()


def test_one_parent_run_with_a_nested_run_per_stage(promoted_model):
    client = MlflowClient()
    exp = client.get_experiment_by_name(load_params(REPO / "params.yaml")["registry"]["experiment"])
    runs = client.search_runs([exp.experiment_id],
                              f"tags.`{tags.RUN_PIPELINE_RUN_ID}` = 'it-first'")
    parents = [r for r in runs if tags.RUN_PARENT not in r.data.tags]
    children = [r for r in runs if tags.RUN_PARENT in r.data.tags]
    assert len(parents) == 1
    assert parents[0].data.tags[tags.RUN_OUTCOME] == "promoted"
    assert parents[0].info.status == "FINISHED"
    assert {r.data.tags[tags.RUN_STAGE] for r in children} == set(STAGES)
    # one run per candidate, named after it
    trained = [r for r in children if r.data.tags[tags.RUN_STAGE] == "train"]
    assert sorted(r.data.tags[tags.RUN_CANDIDATE] for r in trained) == sorted(CANDIDATES)
    assert {r.info.run_name for r in trained} == {f"train {name}" for name in CANDIDATES}
    assert {r.data.tags[tags.RUN_PARENT] for r in children} == {parents[0].info.run_id}


def test_unchanged_data_is_skipped_unless_forced(promoted_model):
    ws = promoted_model["workspace"]
    code, summary, _ = ws.stage("ingest", "it-again", *SMALL)
    assert code == StageExit.SKIPPED and summary["status"] == "skipped"
    assert "unchanged since pipeline run it-first" in summary["reason"]
    code, summary, _ = ws.stage("validate", "it-again", *SMALL)
    assert code == StageExit.SKIPPED
    code, summary, _ = ws.stage("report", "it-again", *SMALL)
    assert code == 0 and summary["outcome"] == "unchanged"


def test_gate_refuses_a_worse_model_and_rollback(promoted_model):
    ws, client = promoted_model["workspace"], MlflowClient()
    before = production(client)
    # every candidate worse: few boosting iterations, a ridge shrunk to almost a constant
    results = ws.pipeline("it-worse", *SMALL, "run.force=true", "model.max_iter=3",
                          "candidates.ridge.alpha=100000")
    summary = results["promote_staging"][0]
    assert summary["status"] == "skipped" and "gate refused" in summary["reason"]
    assert results["promote_production"][0]["status"] == "skipped"
    refused = summary["model_version"]  # registered with its reasons, never staged
    found = client.get_model_version(NAME, refused).tags
    assert found[tags.GATE_DECISION] == "refused" and found[tags.PROMOTION] == "refused by gate"
    assert found[tags.PIPELINE_RUN_ID] == "it-worse" and found[tags.TRAINED_AT]
    assert results["report"][0]["outcome"] == "refused"
    assert production(client) == before
    # the DAG's view: the stage process itself exits with the skip code
    code, summary, _ = ws.stage("promote_staging", "it-worse", *SMALL)
    assert code == StageExit.SKIPPED and summary["status"] == "skipped"
    assert summary["model_version"] == refused  # a retry registers nothing new

    # an equally good retrain passes "not worse", becomes production, remembers the old one
    results = ws.pipeline("it-retrain", *SMALL, "run.force=true")
    assert results["report"][0]["outcome"] == "promoted"
    new = results["promote_production"][0]["model_version"]
    assert production(client) == new
    assert client.get_model_version(NAME, new).tags[tags.PREVIOUS_PRODUCTION] == before
    evaluation = results["evaluate"][0]
    assert evaluation["production_version"] == before

    assert cli(["rollback"]) == 0
    assert production(client) == before
    assert client.get_model_version(NAME, new).tags[tags.ROLLED_BACK_TO] == before


def test_train_and_evaluate_write_nothing_to_the_registry(promoted_model):
    """They run as the trainer account, which cannot: promote_staging registers."""
    ws, client = promoted_model["workspace"], MlflowClient()
    before = len(client.search_model_versions(f"name='{NAME}'"))
    for stage in STAGES[:STAGES.index("evaluate") + 1]:
        for code, _, _ in ws.stages(stage, "it-candidate", *SMALL, "run.force=true"):
            assert code == 0, stage
    assert len(client.search_model_versions(f"name='{NAME}'")) == before
    folder = ws.data_dir / "runs" / "it-candidate"
    evaluation = json.loads((folder / run_folder.EVALUATION).read_text())
    trained = json.loads((folder / run_folder.train_info(evaluation["candidate"])).read_text())
    assert trained["model_uri"] == f"models:/{trained['model_id']}"
    assert trained["version_tags"][tags.PIPELINE_RUN_ID] == "it-candidate"
    assert evaluation["model_uri"] == trained["model_uri"] and "model_version" not in evaluation
    # the candidate table: every candidate, the chosen one lowest on validation
    table = {row["candidate"]: row for row in evaluation["candidates"]}
    assert list(table) == CANDIDATES
    assert table[evaluation["candidate"]]["status"] == "chosen"
    assert table[evaluation["candidate"]]["valid_rmse_log"] == min(
        row["valid_rmse_log"] for row in table.values())
    # the verdict is in MLflow all the same, on evaluate's run
    runs = client.search_runs(
        [client.get_run(trained["mlflow_run_id"]).info.experiment_id],
        f"tags.`{tags.RUN_PIPELINE_RUN_ID}` = 'it-candidate' and tags.`{tags.RUN_STAGE}` = "
        "'evaluate'")
    assert [r.data.tags[tags.RUN_GATE_DECISION] for r in runs] == [
        evaluation["decision"]["label"]]


def test_a_retried_train_supersedes_its_first_registration_and_nothing_stays_pending(
        promoted_model):
    ws, client = promoted_model["workspace"], MlflowClient()
    for stage in STAGES[:STAGES.index("promote_staging")]:
        for code, _, _ in ws.stages(stage, "it-retry", *SMALL, "run.force=true"):
            assert code == 0, stage
    # promote_staging registered the first candidate, then died before tagging it
    code, first, _ = ws.stage("promote_staging", "it-retry", *SMALL)
    assert code == 0
    client.set_model_version_tag(NAME, first["model_version"], tags.GATE_DECISION,
                                 tags.GATE_PENDING)
    # the retry of promote_staging reuses that version
    code, again, _ = ws.stage("promote_staging", "it-retry", *SMALL)
    assert code == 0 and again["model_version"] == first["model_version"]
    assert client.get_model_version(NAME, first["model_version"]).tags[
        tags.GATE_DECISION] == "passed"
    client.set_model_version_tag(NAME, first["model_version"], tags.GATE_DECISION,
                                 tags.GATE_PENDING)
    # train and evaluate run again (a cleared task): a new candidate, a new version, and
    # the earlier one, still pending, is superseded
    for stage in ("train", "evaluate", "promote_staging"):
        for code, _, _ in ws.stages(stage, "it-retry", *SMALL, "run.force=true"):
            assert code == 0, stage
    second = ws.stages("promote_staging", "it-retry", *SMALL)[0][1]  # the retry's version
    assert second["model_version"] != first["model_version"]
    old = client.get_model_version(NAME, first["model_version"]).tags
    assert old[tags.GATE_DECISION] == tags.GATE_SUPERSEDED
    assert "later try of train" in old[tags.GATE_REASONS]
    # the run then fails before its decision is tagged: report closes what is pending
    client.set_model_version_tag(NAME, second["model_version"], tags.GATE_DECISION,
                                 tags.GATE_PENDING)
    code, summary, _ = ws.stage("report", "it-retry", *SMALL)
    assert code == StageExit.NO_RETRY and summary["status"] == "failed"  # final: no retry
    assert client.get_model_version(NAME, second["model_version"]).tags[
        tags.GATE_DECISION] == tags.GATE_FAILED


@pytest.mark.parametrize("content, stage, message", [
    (b"", "ingest", "is empty"),
    ("Marque;Prix\nDacia;1\n".encode("utf-16"), "ingest", "NUL bytes"),
    (b"brand,model,price_dh\nDacia,Logan,100000\n", "validate", "missing columns: city"),
])
def test_bad_input_fails_with_one_line_and_promotes_nothing(promoted_model, content, stage,
                                                            message):
    ws, client = promoted_model["workspace"], MlflowClient()
    before_prod = production(client)
    before_versions = len(client.search_model_versions(f"name='{NAME}'"))
    bad = ws.data_dir / "inbox" / f"bad-{stage}-{len(content)}.csv"  # CSVs come from the inbox
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(content)
    run_id, sets = f"it-{bad.stem}", ("data.source=csv", f"data.csv_uri=inbox/{bad.name}")
    results = ws.pipeline(run_id, *sets)
    summary, stderr = results[stage]
    assert summary["status"] == "failed" and message in summary["reason"]
    assert f"error: {stage} failed: " in stderr and "Traceback" not in stderr
    assert results["report"][0]["status"] == "failed"
    code, summary, stderr = ws.stage(stage, run_id, *sets)
    # Bad input: a retry cannot help, so the DAG fails the task without retrying.
    assert code == StageExit.NO_RETRY == summary["exit_code"]
    assert message in summary["reason"] and "Traceback" not in stderr
    assert production(client) == before_prod
    assert len(client.search_model_versions(f"name='{NAME}'")) == before_versions


def test_a_run_that_loosens_the_gate_is_refused_before_ingest(promoted_model):
    """What a trigger with gate_min_skill=0 reaches if Airflow let it through: no stage works."""
    ws, client = promoted_model["workspace"], MlflowClient()
    before_prod = production(client)
    before_versions = len(client.search_model_versions(f"name='{NAME}'"))
    results = ws.pipeline("it-loose-gate", *SMALL, "gate.min_skill=0", "run.force=true")
    summary, stderr = results["ingest"]
    assert summary["status"] == "failed" and summary["exit_code"] == StageExit.NO_RETRY
    assert summary["reason"].startswith("params: gate.min_skill=0 is looser than params.yaml's")
    assert set(results) == {"ingest", "report"}  # the chain stopped at ingest
    assert not (ws.data_dir / "runs" / "it-loose-gate").exists()  # ingest wrote nothing
    assert production(client) == before_prod
    assert len(client.search_model_versions(f"name='{NAME}'")) == before_versions


def test_avito_export_goes_through_the_pipeline(promoted_model):
    """Every stage on the Avito format, from the data inbox up to production and the export.

    The gate's "not worse than production" tolerance is opened: candidate (2,100 training
    rows, mileage in 5,000 km bands) and production (2,800 other rows) land close to each
    other on either side, and this test is about the format, not that comparison. A run
    can only tighten the gate, so it is opened the one allowed way: in params.yaml.
    """
    ws, client = promoted_model["workspace"], MlflowClient()
    before = production(client)
    path = ws.data_dir / "inbox" / "avito.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    to_avito(generate(3000, seed=99)).to_csv(path, index=False, encoding="latin1", sep=";")
    params_file = ws.root / "params.yaml"
    original = params_file.read_text()
    edited = yaml.safe_load(original)
    edited["gate"]["tolerance"] = 1.0
    params_file.write_text(yaml.safe_dump(edited))
    try:
        results = ws.pipeline("it-avito", "data.source=csv", "data.csv_uri=inbox/avito.csv")
    finally:
        params_file.write_text(original)
    assert results["validate"][0]["rows_out"] == 3000
    assert results["evaluate"][0]["rmse_log"] < 0.3
    assert results["evaluate"][0]["production_version"] == before
    assert results["report"][0]["outcome"] == "promoted", results["report"]
    new = results["promote_production"][0]["model_version"]
    assert production(client) == new != before
    _, meta = read_export(promoted_model["models_dir"])
    assert meta["version"] == new and meta["pipeline_run_id"] == "it-avito"
    assert cli(["rollback"]) == 0  # leave production as the other tests found it
    assert production(client) == before


def test_a_tokenized_csv_uri_is_stored_redacted(workspace, tmp_path):
    """ingest reads the URL with its token but stores (run folder, MLflow params) none of it."""
    import functools
    import http.server
    import json
    import threading

    generate(600, seed=5).to_csv(tmp_path / "cars.csv", index=False)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://user:s3cret@127.0.0.1:{server.server_port}/cars.csv?token=T0KEN"
    workspace.env["CARPRICE_SOURCE_ALLOWED_HOSTS"] = "127.0.0.1"
    try:
        code, summary, stderr = workspace.stage("ingest", "it-token", "data.source=csv",
                                                f"data.csv_uri={url}")
    finally:
        workspace.env.pop("CARPRICE_SOURCE_ALLOWED_HOSTS")
        server.shutdown()
    assert code == 0 and summary["rows"] == 600, (summary, stderr)
    info = (workspace.data_dir / "runs" / "it-token" / run_folder.INGEST_INFO).read_text()
    assert json.loads(info)["csv_uri"].startswith(f"http://127.0.0.1:{server.server_port}/")
    client = MlflowClient()
    parent = json.loads((workspace.data_dir / "runs" / "it-token" / run_folder.RUN)
                        .read_text())["parent_run_id"]
    runs = client.search_runs([client.get_run(parent).info.experiment_id],
                              f"tags.`{tags.RUN_PIPELINE_RUN_ID}` = 'it-token'")
    logged = json.dumps([r.data.params for r in runs])
    assert "csv_uri" in logged
    for text in (info, logged, json.dumps(summary)):
        assert "s3cret" not in text and "T0KEN" not in text
