"""The DAG car_price_predictor_pipeline: imports cleanly, follows carprice.pipeline, and
every stage is a DockerOperator with the stack's settings (network, mounts, labels, user).

Needs Airflow, which the dev venv does not have: tests/unit/run_airflow_tests.sh runs this
file in a venv from requirements/airflow.txt (there a missing Airflow is an error, not a skip).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "airflow" / "dags"
# What docker-compose-full.yml hands the Airflow services for the default project.
DEPLOYMENT = {
    "CARPRICE_PROJECT": "carprice",
    "CARPRICE_DOCKER_NETWORK": "carprice-stages",
    "CARPRICE_EGRESS_NETWORK": "carprice-egress",
    "CARPRICE_PREDLOG_NETWORK": "carprice-predlog",
    "CARPRICE_DATA_VOLUME": "carprice-data",
    "CARPRICE_MODELS_VOLUME": "carprice-models",
    "CARPRICE_STAGE_MLFLOW_URI": "http://mlflow:5000",
    "CARPRICE_INBOX_HOST_DIR": "/srv/carprice/data/inbox",
}

if os.environ.get("CARPRICE_REQUIRE_AIRFLOW") != "1":  # there a missing Airflow fails
    pytest.importorskip(
        "airflow.providers.docker.operators.docker",
        reason="Airflow not installed: run tests/unit/run_airflow_tests.sh",
    )

os.environ.setdefault("CARPRICE_PARAMS_FILE", str(REPO / "params.yaml"))
for _key, _value in DEPLOYMENT.items():
    os.environ.setdefault(_key, _value)

from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.providers.docker.operators.docker import DockerOperator  # noqa: E402
from airflow.sdk.definitions.mappedoperator import MappedOperator  # noqa: E402

from carprice.config import gate_floor, settings  # noqa: E402
from carprice.config.params import (  # noqa: E402
    PARAM_ALIASES,
    PARAM_CHOICES,
    ROLLBACK_PARAM_ALIASES,
    ParamsError,
    apply_overrides,
    field_schema,
    load_params,
)
from carprice.pipeline import container, definition  # noqa: E402

CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@pytest.fixture(scope="module")
def dagbag():
    return DagBag(dag_folder=str(DAGS))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags[definition.DAG_ID]


CANDIDATES = list(load_params()["candidates"])


def stage_nodes(dag):
    """The DAG's task of each stage (a mapped stage's: its MappedOperator)."""
    return [dag.get_task(stage) for stage in definition.STAGES]


def operators(tasks):
    """The operators that run: a mapped task's once per candidate (unmapped, as the worker
    does), the others as they are."""
    out = []
    for task in tasks:
        if isinstance(task, MappedOperator):
            out += [task.unmap(kwargs) for kwargs in task.expand_input.value]
        else:
            out.append(task)
    return out


def stage_tasks(dag):
    return operators(stage_nodes(dag))


def test_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert definition.DAG_ID in dagbag.dag_ids


def test_stage_tasks_follow_pipeline_order(dag):
    tasks = stage_nodes(dag)
    assert tasks[0].upstream_task_ids == set()
    for before, after in zip(tasks, tasks[1:], strict=False):
        assert after.upstream_task_ids == {before.task_id}
    extra = {t.task_id for t in dag.tasks} - set(definition.STAGES)
    assert extra == {"fail_if_any_stage_failed"}


def test_every_stage_is_a_docker_operator_with_the_stack_settings(dag):
    for task in stage_tasks(dag):
        stage = task.task_id
        assert isinstance(task, DockerOperator), stage
        assert task.image == definition.image_name(stage)
        assert task.mount_tmp_dir is False
        # only ingest may reach the internet; no stage joins Postgres' and Redis' network
        assert task.network_mode == ("carprice-egress" if stage == "ingest"
                                     else "carprice-stages")
        assert task.auto_remove == "success"
        assert task.docker_url == "unix://var/run/docker.sock"
        assert task.user == "1000:1000"
        assert task.do_xcom_push is True
        assert definition.SKIP_EXIT_CODE in task.skip_on_exit_code
        assert task.retries >= 1 and task.retry_exponential_backoff
        assert task.retry_delay <= timedelta(minutes=1)
        assert task.labels["io.carprice.project"] == "carprice"
        assert task.labels["io.carprice.stage"] == stage
        assert task.labels["io.carprice.run"] == "{{ run_id }}"
        assert task.labels["io.carprice.try"] == "{{ ti.try_number }}"
        assert task.execution_timeout and task.execution_timeout <= timedelta(hours=1)
        assert "labels" in task.template_fields  # the run label is rendered per run
        env = task.environment
        for key in (
            container.ENV_RUN_ID,
            container.ENV_DATA_DIR,
            container.ENV_MODELS_DIR,
                    "CARPRICE_DAG_ID",
            "MLFLOW_TRACKING_URI",
        ):
            assert key in env, (stage, key)
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert env[container.ENV_RUN_ID] == "{{ run_id }}"


def test_run_data_and_model_export_mounts(dag):
    for task in stage_tasks(dag):
        mounts = {m["Target"]: m for m in task.mounts}
        assert mounts["/app/data"]["Type"] == "volume"
        assert mounts["/app/data"]["Source"] == "carprice-data"
        if task.task_id == "promote_production":
            assert mounts["/app/models"]["Source"] == "carprice-models"
            assert not mounts["/app/models"].get("ReadOnly")
        else:
            assert "/app/models" not in mounts, task.task_id
        if task.task_id == "ingest":  # the host's inbox, read-only, where the stage looks
            inbox = mounts["/app/inbox"]
            assert (inbox["Type"], inbox["Source"], inbox["ReadOnly"]) == (
                "bind", DEPLOYMENT["CARPRICE_INBOX_HOST_DIR"], True)
            assert task.environment[container.ENV_INBOX_DIR] == "/app/inbox"
        else:
            assert "/app/inbox" not in mounts, task.task_id


def test_trigger_rules_make_skips_and_failures_visible(dag):
    after_mapped = {definition.STAGES[definition.STAGES.index(s) + 1]
                    for s in definition.MAPPED_STAGES}
    assert after_mapped == {"evaluate"}
    for task in stage_nodes(dag):
        expected = ("all_done" if task.task_id == "report"
                    else "all_done_min_one_success" if task.task_id in after_mapped
                    else "all_success")
        assert task.trigger_rule == expected, task.task_id
    watcher = dag.get_task("fail_if_any_stage_failed")
    assert watcher.trigger_rule == "one_failed"
    # one failed candidate alone does not fail the run; all failed: evaluate is
    # upstream_failed, which the watcher sees
    assert watcher.upstream_task_ids == set(definition.STAGES) - definition.MAPPED_STAGES
    assert watcher.retries == 0


def test_schedule_and_concurrency(dag):
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.timetable.expression == "0 0 * * 0"  # @weekly
    assert dag.doc_md and "skipped" in dag.doc_md


def test_params_are_typed_and_default_to_params_yaml(dag):
    defaults = load_params()
    assert set(dag.params) == set(PARAM_ALIASES)
    for name, dotted in PARAM_ALIASES.items():
        value = defaults
        for part in dotted.split("."):
            value = value[part]
        param = dag.params.get_param(name)
        assert param.value == value, name
        kinds = param.schema["type"]
        kinds = kinds if isinstance(kinds, list) else [kinds]
        assert kinds[0] in {"string", "integer", "number", "boolean"}, name
    for name, choices in PARAM_CHOICES.items():
        assert dag.params.get_param(name).schema["enum"] == list(choices)
    assert dag.params.get_param("force").schema["type"] == "boolean"
    assert dag.params.get_param("rows").schema["type"] == "integer"
    # the UI marks a field required unless null is allowed: a blank csv_uri must pass
    assert dag.params.get_param("csv_uri").schema["type"] == ["string", "null"]
    dag.params.validate()


RANGE_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum")


def test_form_types_ranges_and_words_come_from_the_params_model(dag):
    for name, dotted in PARAM_ALIASES.items():
        model = field_schema(dotted)
        form = dag.params.get_param(name).schema
        kinds = form["type"] if isinstance(form["type"], list) else [form["type"]]
        assert kinds[0] == model["type"], name
        if dotted.startswith("gate."):  # narrowed: the form can only tighten the gate
            continue
        for key in RANGE_KEYWORDS:
            assert form.get(key) == model.get(key), (name, key)
        assert dag.params.get_param(name).description == model["description"], name
    rows = dag.params.get_param("rows").schema
    assert rows["minimum"] == 1
    share = dag.params.get_param("new_models_share").schema
    assert (share["minimum"], share["maximum"]) == (0, 1)
    assert "data/inbox/" in dag.params.get_param("csv_uri").description


def test_the_gate_fields_can_only_tighten_params_yaml():
    """Each gate field's JSON schema is bounded by params.yaml's value, in the direction
    carprice.config.gate_floor defines, and keeps the params model's own range. A floor
    that is off in params.yaml keeps the model's range and takes a blank (null)."""
    from carprice_tasks import form_schema

    defaults = load_params()
    gate = {name: dotted for name, dotted in PARAM_ALIASES.items() if dotted.startswith("gate.")}
    assert set(gate.values()) == {f"gate.{key}" for key, way in gate_floor.TIGHTENS.items()
                                  if way != "fixed"}
    for name, dotted in gate.items():
        key, floor = dotted.split(".")[1], defaults["gate"][dotted.split(".")[1]]
        form, model = form_schema(dotted, defaults), field_schema(dotted)
        if floor is None:
            assert {k: v for k, v in form.items() if k in RANGE_KEYWORDS} == {
                k: v for k, v in model.items() if k in RANGE_KEYWORDS}, name
            assert "Off in params.yaml" in form["description"] and form["nullable"], name
            continue
        bound = "minimum" if gate_floor.TIGHTENS[key] == "up" else "maximum"
        assert form[bound] == floor, name
        assert {k: v for k, v in form.items() if k in RANGE_KEYWORDS and k != bound} == {
            k: v for k, v in model.items() if k in RANGE_KEYWORDS and k != bound}, name
        assert "only tighten" in form["description"] and f"{floor:g}" in form["description"]
    assert form_schema("gate.min_skill", defaults)["exclusiveMaximum"] == 1  # the model's own


@pytest.mark.parametrize("name, value", [("rows", 0), ("new_models_share", 1.5),
                                         ("learning_rate", 0), ("source", "excel")])
def test_the_form_refuses_what_the_params_model_refuses(dag, name, value):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        dag.params.get_param(name).resolve(value=value)
    dag.params.get_param(name).resolve()  # the default still passes
    with pytest.raises(ParamsError):
        apply_overrides(load_params(), {name: value})


def served(dag):
    """The DAG as the API server and the scheduler hold it (serialized, then loaded)."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag))


def test_a_trigger_that_loosens_the_gate_is_refused_and_creates_no_run(dag):
    """The REST trigger and the UI form (which posts to it) call create_dagrun: it checks the
    params before it writes anything, and the endpoint answers 400 with this message."""
    from airflow.exceptions import ParamValidationError
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    # This test's Airflow has no metadata tables: the refusal comes before any database
    # access (a write would fail with a database error instead).
    server_dag = served(dag)
    with pytest.raises(ParamValidationError,
                       match=r"^Invalid input for param gate_min_skill: 0 is less than the "
                             r"minimum of 0\.2"):
        server_dag.create_dagrun(
            run_id="manual__loose_gate", run_after=datetime.now(UTC),
            conf={"gate_min_skill": 0}, run_type=DagRunType.MANUAL,
            triggered_by=DagRunTriggeredByType.REST_API, triggering_user_name="alice",
            state=DagRunState.QUEUED)
    defaults = load_params()["gate"]
    looser = {"gate_min_skill": 0.0, "gate_tolerance": 1e9,
              "gate_max_city_effect": defaults["max_city_effect"] * 2}
    for name, value in looser.items():
        with pytest.raises(ParamValidationError, match=f"param {name}:"):
            server_dag.params.deep_merge({name: value}).validate()
    # the floors are off in params.yaml: a value switches one on for the run
    tighter = {"gate_min_skill": 0.3, "gate_tolerance": 0.0, "gate_max_city_effect": 0.1,
               "gate_min_r2": 0.9, "gate_max_rmse_log": 0.2, "gate_max_mape": 0.2}
    resolved = server_dag.params.deep_merge(tighter).validate()  # what create_dagrun checks
    assert {name: resolved[name] for name in tighter} == tighter
    blank = server_dag.params.deep_merge({}).validate()
    assert blank["gate_min_skill"] == defaults["min_skill"] and blank["gate_min_r2"] is None


def render(dag, template: str, **context) -> str:
    return dag.get_template_env().from_string(template).render(**context)


def test_container_names_are_valid_and_unique_per_run_and_try(dag):
    names = set()
    for task in stage_tasks(dag):
        for run_id in (
            "manual__2026-11-23T18:35:32.297707+00:00",
            "scheduled__2026-11-22T00:00:00+00:00",
        ):
            for try_number in (1, 2):
                name = render(
                    dag, task.container_name, run_id=run_id, ti={"try_number": try_number}
                )
                assert CONTAINER_NAME.match(name), name
                names.add(name)
    assert len(names) == (len(definition.STAGES) - 1 + len(CANDIDATES)) * 4


def test_trigger_form_values_reach_the_stages_as_valid_overrides(dag, monkeypatch):
    form = {name: dag.params[name] for name in dag.params}
    form["rows"] = 1234
    form["force"] = True
    form["csv_uri"] = None  # left blank
    template = dag.get_task("ingest").environment[settings.ENV_PARAMS_JSON]
    rendered = render(dag, template, params=form)
    overrides = json.loads(rendered)
    assert overrides["data.rows"] == 1234  # dotted keys of params.yaml
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, rendered)
    params = load_params()
    assert params["data"]["rows"] == 1234
    assert params["run"]["force"] is True
    assert params["data"]["csv_uri"] == ""


def test_monitoring_dag_retrains_only_when_the_monitor_says_so(dagbag):
    dag = dagbag.dags[definition.MONITOR_DAG_ID]
    monitor, gate, retrain = (dag.get_task(t) for t in
                              ("monitor", "drift_asks_for_retraining", "retrain"))
    assert isinstance(monitor, DockerOperator)
    assert monitor.image == definition.image_name("monitor")
    assert gate.upstream_task_ids == {"monitor"} and retrain.upstream_task_ids == {gate.task_id}
    assert retrain.trigger_dag_id == definition.DAG_ID and retrain.conf["force"] is True
    assert monitor.xcom_all  # the summary is not always the last line
    decide = gate.python_callable
    said = '{"stage": "monitor", "retrain": true, "reason": "year drifted"}'
    assert decide(["drift: year", said, "warning: late stderr line"]) is True
    assert decide(['{"stage": "monitor", "retrain": false}']) is False
    assert decide(None) is False and decide(["no summary"]) is False
    assert decide(['warning: slow{"stage": "monitor", "retrain": true}']) is True
    note = render(dag, retrain.note, run_id="r1",
                  ti=type("TI", (), {"xcom_pull": staticmethod(
                      lambda task_ids: [said, "warning: late stderr line"])}))
    assert note.endswith("year drifted")


def test_rollback_dag_records_who_asked_and_writes_the_export(dagbag):
    dag = dagbag.dags[definition.ROLLBACK_DAG_ID]
    task = dag.get_task("rollback")
    assert task.image == definition.image_name("rollback")
    assert "/app/models" in {m["Target"] for m in task.mounts}
    assert "requested_by" not in task.environment[settings.ENV_TRIGGERED_BY]
    assert set(dag.params) == set(ROLLBACK_PARAM_ALIASES)
    assert not dag.timetable.can_be_scheduled  # manual only


def test_every_dag_announces_its_failures(dagbag):
    for dag_id in (definition.DAG_ID, definition.MONITOR_DAG_ID, definition.ROLLBACK_DAG_ID):
        callbacks = dagbag.dags[dag_id].on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert any(getattr(cb, "__name__", "") == "notify_failed_run" for cb in callbacks), dag_id


def test_the_stage_summary_is_found_however_docker_merged_the_streams():
    """What decides "no retry" for bad input (the e2e's bad-CSV run checks the behaviour)."""
    from carprice_tasks import last_summary

    bad = '{"stage": "ingest", "status": "failed", "reason": "csv_uri refused", "exit_code": 2}'
    assert last_summary([b"working...", bad.encode(), b""]) == json.loads(bad)
    # stderr's reason and stdout's summary interleaved on one line, as Docker streams them
    assert last_summary(["error: ingest failed: csv_uri refused" + bad, ""]) == json.loads(bad)
    # stdout's summary first, then stderr's reason (a line of its own, or the same line)
    assert last_summary([bad, "error: ingest failed: csv_uri refused", ""]) == json.loads(bad)
    assert last_summary([bad + "error: ingest failed", "x"]) == json.loads(bad)
    assert last_summary(bad) == json.loads(bad)  # one XCom line
    newer = bad.replace("ingest", "train")
    assert last_summary([bad, newer, "noise"]) == json.loads(newer)
    assert last_summary(['{"stage": broken', "no json"]) == {}
    assert last_summary(["Traceback ...", "no json here"]) == {}
    assert last_summary(["[1, 2]"]) == {} and last_summary(None) == {}


def test_the_dag_and_the_dvc_runner_start_the_same_container_for_every_stage(dagbag):
    from carprice.pipeline import docker_launch

    env = {**DEPLOYMENT, container.ENV_TRAINER_USER: "t", container.ENV_TRAINER_PASSWORD: "p",
           container.ENV_PROMOTER_USER: "u", container.ENV_PROMOTER_PASSWORD: "q"}
    seen = set()
    for dag in dagbag.dags.values():
        for task in operators(dag.tasks):
            if not isinstance(task, DockerOperator):
                continue
            stage, seen = task.task_id, seen | {task.task_id}
            candidate = task.labels.get(container.LABEL_CANDIDATE)
            flags = ["--run-id", "r", *(["--candidate", candidate] if candidate else [])]
            dvc = docker_launch.dvc_stage_container(stage, flags, env)
            assert (task.image, task.command, task.user, task.network_mode) == (
                dvc.image, dvc.command, dvc.user, dvc.network), stage
            assert {(m["Target"], m["Source"], m["Type"], bool(m.get("ReadOnly")))
                    for m in task.mounts} == {(m.target, m.source, m.type, m.read_only)
                                              for m in dvc.mounts}, stage
            extra = set(task.environment) - set(dvc.environment)
            assert extra == {settings.ENV_TRIGGERED_BY}, (stage, extra)
            assert set(dvc.environment) <= set(task.environment), stage
            assert task.spec.secrets == dvc.secrets, stage
            # the same limits and hardening (StageOperator applies host_config())
            assert task.spec.host_config() == dvc.host_config(), stage
            assert task.mem_limit == dvc.limits.memory, stage
            assert {k: v for k, v in task.labels.items() if k != container.LABEL_RUN} == {
                **{k: v for k, v in dvc.labels.items()
                   if k not in (container.LABEL_RUN, container.LABEL_DVC)},
                container.LABEL_DAG: dag.dag_id, container.LABEL_TRY: "{{ ti.try_number }}"}
    assert seen == set(definition.IMAGE_EXTRAS)  # every stage is started by some DAG


def test_every_stage_names_the_airflow_user_who_triggered_the_run(dagbag):
    """The audit tags' user comes from Airflow's record of the run, never from a form."""
    for dag in dagbag.dags.values():
        for task in operators(dag.tasks):
            if not isinstance(task, DockerOperator):
                continue
            template = task.environment[settings.ENV_TRIGGERED_BY]
            run = type("Run", (), {"triggering_user_name": "alice"})
            assert render(dag, template, dag_run=run) == "alice", task.task_id
            run.triggering_user_name = None  # a scheduled run
            assert render(dag, template, dag_run=run) == settings.SCHEDULER_USER
            assert "params" not in template


def test_every_task_that_changes_the_registry_runs_in_the_one_slot_pool(dagbag):
    seen = set()
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            writes = task.task_id in definition.REGISTRY_WRITERS
            assert (task.pool == definition.REGISTRY_POOL) == writes, (dag.dag_id, task.task_id)
            seen |= {task.task_id} if writes else set()
    assert seen == set(definition.REGISTRY_WRITERS)  # each writer is some DAG's task
    assert definition.REGISTRY_POOL_SLOTS == 1
    # airflow-init creates the pool (a task in a missing pool is never scheduled)
    assert "python /opt/airflow/registry_pool.py" in (REPO / "airflow" / "init.sh").read_text()
    assert "airflow/registry_pool.py" in (REPO / "airflow" / "Dockerfile").read_text()


def test_the_registry_pool_is_created_with_its_name_and_one_slot(tmp_path, monkeypatch):
    """airflow/registry_pool.py against a real (SQLite) Airflow metadata database."""
    import subprocess
    import sys

    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}"}
    run = [sys.executable, "-c", "import sys; from airflow.__main__ import main; "
           "sys.argv = ['airflow', *sys.argv[1:]]; main()"]
    subprocess.run([*run, "db", "migrate"], env=env, check=True, capture_output=True,
                   timeout=600)
    for _ in range(2):  # an existing pool is reset, not duplicated
        out = subprocess.run([sys.executable, str(REPO / "airflow" / "registry_pool.py")],
                             env=env, check=True, capture_output=True, text=True, timeout=300)
        assert definition.REGISTRY_POOL in out.stdout
    listed = subprocess.run([*run, "pools", "get", definition.REGISTRY_POOL, "-o", "json"],
                            env=env, check=True, capture_output=True, text=True, timeout=300)
    [pool] = json.loads(listed.stdout)
    assert (pool["pool"], int(pool["slots"])) == (definition.REGISTRY_POOL, 1)


def test_every_stage_container_is_created_hardened_and_limited(dagbag):
    """What DockerOperator 4.6 lacks (pids limit, real CPU quota, read-only root, tmpfs,
    cap_drop, no-new-privileges) reaches the host config the operator creates: a real
    docker-py client builds it (no daemon needed with a pinned API version)."""
    import copy

    import docker

    for dag in dagbag.dags.values():
        for task in operators(dag.tasks):
            if not isinstance(task, DockerOperator):
                continue
            op = copy.copy(task)
            client = docker.APIClient(base_url="unix://var/run/docker.sock", version="1.44")
            op.__dict__["hook"] = type("Hook", (), {"api_client": client})()
            op._harden_host_config()
            # the arguments DockerOperator.execute passes, then what the daemon gets
            config = op.cli.create_host_config(auto_remove=False, network_mode=op.network_mode,
                                               mem_limit=op.mem_limit, shm_size=op.shm_size,
                                               cpu_shares=round(op.cpus * 1024))
            limits = op.spec.limits
            assert config["Memory"] == config["MemorySwap"] == limits.memory, task.task_id
            assert config["NanoCpus"] == limits.nano_cpus and config["PidsLimit"] == limits.pids
            assert config["ReadonlyRootfs"] is True and config["CapDrop"] == ["ALL"]
            assert config["SecurityOpt"] == ["no-new-privileges:true"]
            assert set(config["Tmpfs"]) == {"/tmp"}
            assert op.environment["HOME"] == "/tmp"
