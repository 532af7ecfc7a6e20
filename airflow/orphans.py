"""Remove stage containers whose task instance is no longer running (worker start-up).

A stage container is labelled with its project, DAG, run id, stage and try number
(airflow/dags/carprice_tasks.py). It is an orphan unless the metadata database says
that very try of that task is still running, e.g. on another worker.
"""

from __future__ import annotations

import os

import docker
import psycopg2

from carprice.pipeline import container

# (labels, in the order of running_tries' columns) that name one task try.
TRY_LABELS = (container.LABEL_DAG, container.LABEL_RUN, container.LABEL_STAGE, container.LABEL_TRY)


def running_tries() -> set[tuple[str, str, str, str]]:
    dsn = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "", 1)
    with psycopg2.connect(dsn, connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT dag_id, run_id, task_id, try_number::text FROM task_instance "
                    "WHERE state = 'running'")
        return set(cur.fetchall())


def main() -> None:
    project = os.environ[container.ENV_PROJECT]
    client = docker.DockerClient(base_url="unix://var/run/docker.sock")
    # Only containers Airflow started (a DAG label): the dvc-runner's are its own business.
    containers = client.containers.list(all=True, filters={"label": [
        f"{container.LABEL_PROJECT}={project}", container.LABEL_DAG]})
    if not containers:
        return
    alive = running_tries()
    for found in containers:
        key = tuple(found.labels.get(label, "") for label in TRY_LABELS)
        if key not in alive:
            print(f"orphans: removing {found.name} (its task try is not running)")
            found.remove(force=True)


if __name__ == "__main__":
    main()
