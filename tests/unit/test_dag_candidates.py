"""The training DAG's mapped train: one task per candidate of params.yaml, each its own
container, and the wiring around it (evaluate's trigger rule, the failure watcher) run by a
real Airflow. Needs Airflow: tests/unit/run_airflow_tests.sh runs it with test_dag.py."""

from __future__ import annotations

import json
import os

from carprice.pipeline import container
from tests.unit.test_dag import (  # the skip without Airflow, the env and the fixtures
    CANDIDATES,
    MappedOperator,
    dag,
    dagbag,
    operators,
    render,
    served,
)

__all__ = ["dag", "dagbag"]  # fixtures, used by name


def test_train_is_mapped_over_the_candidates_each_its_own_container(dag):
    train = dag.get_task("train")
    assert isinstance(train, MappedOperator) and len(CANDIDATES) > 1
    assert train.map_index_template == "{{ task.labels['io.carprice.candidate'] }}"
    ops = operators([train])
    assert [op.command for op in ops] == [["train", "--candidate", c] for c in CANDIDATES]
    assert [op.labels[container.LABEL_CANDIDATE] for op in ops] == CANDIDATES
    assert len({op.container_name for op in ops}) == len(CANDIDATES)
    assert {op.task_id for op in ops} == {"train"}
    # the grid names each mapped task after its candidate
    for op, name in zip(ops, CANDIDATES, strict=True):
        assert render(dag, train.map_index_template, task=op) == name
    served_train = served(dag).get_task("train")
    assert served_train.partial_kwargs["map_index_template"] == train.map_index_template
    assert "evaluate" in train.downstream_task_ids


# The training DAG's wiring around a mapped stage, with Python tasks in place of the stage
# containers (a DockerOperator needs Docker): the trigger rules come from the DAG module.
WIRING_DAG = '''
import os
from datetime import datetime

from airflow.sdk import DAG, task
from car_price_predictor_pipeline import trigger_rule

from carprice.pipeline import definition

FAILING = set(filter(None, os.environ["WIRING_FAILING"].split(",")))
SKIP = os.environ.get("WIRING_SKIP") == "1"

with DAG("wiring", start_date=datetime(2026, 1, 1), schedule=None) as dag:
    @task(task_id="ingest")
    def ingest():
        if SKIP:  # unchanged data: the stage exits with the skip code
            from airflow.exceptions import AirflowSkipException
            raise AirflowSkipException("unchanged")

    @task(task_id="train", retries=0)
    def train(name):
        if name in FAILING:
            raise RuntimeError(f"{name} failed")

    def stage(name, after_mapped=False):
        return task(task_id=name, trigger_rule=trigger_rule(name, after_mapped))(lambda: None)()

    tasks = [arg.operator for arg in (
        ingest(), train.expand(name=os.environ["WIRING_CANDIDATES"].split(",")),
        stage("evaluate", after_mapped=True), stage("report"))]
    for before, after in zip(tasks, tasks[1:]):
        before >> after

    @task(trigger_rule="one_failed", retries=0)
    def fail_if_any_stage_failed():
        raise RuntimeError("a stage failed")

    [t for t in tasks if t.task_id not in definition.MAPPED_STAGES] >> fail_if_any_stage_failed()
'''


def test_one_failed_candidate_does_not_fail_the_run_all_failed_do(tmp_path):
    """A real (SQLite) Airflow runs the wiring with dag.test(): one failed candidate leaves
    evaluate to run and the run green; all failed make evaluate upstream_failed and the run
    red; skipped candidates (unchanged data) skip evaluate."""
    import subprocess
    import sys

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "wiring.py").write_text(WIRING_DAG)
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
           "WIRING_CANDIDATES": ",".join(CANDIDATES)}
    airflow = [sys.executable, "-c", "import sys; from airflow.__main__ import main; "
               "sys.argv = ['airflow', *sys.argv[1:]]; main()"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True,
                   timeout=600)
    probe = ("import json, sys; sys.path.insert(0, sys.argv[1]); import wiring; "
             "run = wiring.dag.test(); print(json.dumps([run.state, {f'{t.task_id}{t.map_index}'"
             ": str(t.state) for t in run.get_task_instances()}]))")

    def run(failing: list[str], skip: bool = False) -> tuple[str, dict]:
        out = subprocess.run([sys.executable, "-c", probe, str(dags)], capture_output=True,
                             text=True, timeout=300, env={
                                 **env, "WIRING_FAILING": ",".join(failing),
                                 "WIRING_SKIP": "1" if skip else ""})
        assert out.returncode == 0, out.stderr[-3000:]
        return tuple(json.loads(out.stdout.strip().splitlines()[-1]))

    state, tis = run(CANDIDATES[:1])
    assert state == "success" and tis["train0"] == "failed", tis
    assert tis["evaluate-1"] == "success" and tis["fail_if_any_stage_failed-1"] == "skipped"
    state, tis = run(CANDIDATES)
    assert state == "failed" and tis["evaluate-1"] == "upstream_failed", tis
    assert tis["report-1"] == "success" and tis["fail_if_any_stage_failed-1"] == "failed"
    state, tis = run([], skip=True)
    assert state == "success" and tis["evaluate-1"] == "skipped", tis
    assert {tis[f"train{i}"] for i in range(len(CANDIDATES))} == {"skipped"}
