"""Remove stage containers whose task instance is no longer running (worker start-up).

A stage container is labelled with its project, DAG, run id, stage and try number
(airflow/dags/carprice_tasks.py). It is an orphan unless the metadata database says
that very try of that task is still running, e.g. on another worker.
"""

from __future__ import annotations

import os

import docker
import psycopg2

LABEL_PROJECT = "io.carprice.project"


def running_tries() -> set[tuple[str, str, str, str]]:
    dsn = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "", 1)
    with psycopg2.connect(dsn, connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT dag_id, run_id, task_id, try_number::text FROM task_instance "
                    "WHERE state = 'running'")
        return set(cur.fetchall())


def main() -> None:
    project = os.environ["CARPRICE_PROJECT"]
    client = docker.DockerClient(base_url="unix://var/run/docker.sock")
    containers = client.containers.list(all=True, filters={"label": f"{LABEL_PROJECT}={project}"})
    if not containers:
        return
    alive = running_tries()
    for container in containers:
        labels = container.labels
        key = tuple(labels.get(f"io.carprice.{k}", "") for k in ("dag", "run", "stage", "try"))
        if key not in alive:
            print(f"orphans: removing {container.name} (its task try is not running)")
            container.remove(force=True)


if __name__ == "__main__":
    main()
