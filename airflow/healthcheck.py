"""Cheap container healthchecks for the Airflow services (no `import airflow`).

`airflow jobs check` loads all of Airflow (seconds of CPU, past the healthcheck timeout on
a busy 2-core machine); this reads the same job heartbeat straight from Postgres.

    python /opt/airflow/healthcheck.py job DagProcessorJob   # this host's job is alive
    python /opt/airflow/healthcheck.py url http://127.0.0.1:8080/api/v2/monitor/health
    python /opt/airflow/healthcheck.py worker celery@$HOSTNAME   # the Celery worker answers
    python /opt/airflow/healthcheck.py user admin   # the FAB user exists (airflow-init)
    python /opt/airflow/healthcheck.py db /opt/airflow/db-heads.json  # schema at head
    python /opt/airflow/healthcheck.py write-heads /opt/airflow/db-heads.json  # image build
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.request
from pathlib import Path

MAX_HEARTBEAT_AGE_S = 60


def _connect():
    import psycopg2

    dsn = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "", 1)
    return psycopg2.connect(dsn, connect_timeout=5)


def check_job(job_type: str) -> str | None:
    hosts = sorted({socket.getfqdn(), socket.gethostname(), os.environ.get("HOSTNAME", "")} - {""})
    with _connect() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM job WHERE job_type = %s AND state = 'running'"
            " AND hostname = ANY(%s)"
            " AND latest_heartbeat > now() - make_interval(secs => %s)",
            (job_type, hosts, MAX_HEARTBEAT_AGE_S),
        )
        (alive,) = cur.fetchone()
    return None if alive else f"no running {job_type} on {hosts} in the last {MAX_HEARTBEAT_AGE_S}s"


def check_user(username: str) -> str | None:
    with _connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('ab_user') IS NOT NULL")
        if not cur.fetchone()[0]:
            return "no user table yet"
        cur.execute("SELECT count(*) FROM ab_user WHERE username = %s", (username,))
        (found,) = cur.fetchone()
    return None if found else f"no user {username!r}"


def check_db(heads_file: str) -> str | None:
    """Every alembic version table already at the head this image ships (so airflow-init
    can skip the slow `airflow db migrate` on a restart)."""
    heads = json.loads(Path(heads_file).read_text())
    with _connect() as conn, conn.cursor() as cur:
        for table, head in heads.items():
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
            if not cur.fetchone()[0]:
                return f"no {table} table"
            cur.execute(f"SELECT version_num FROM {table}")  # noqa: S608 - names from our file
            current = {row[0] for row in cur.fetchall()}
            if current != {head}:
                return f"{table} is at {sorted(current)}, this image needs {head}"
    return None


def write_heads(path: str) -> str | None:
    """At image build time: the migration heads of Airflow core and the FAB provider."""
    from airflow.providers.fab.auth_manager.models.db import FABDBManager
    from airflow.utils.db import _get_alembic_config
    from alembic.script import ScriptDirectory

    heads = {
        "alembic_version": ScriptDirectory.from_config(_get_alembic_config()).get_heads(),
        FABDBManager.version_table_name: ScriptDirectory.from_config(
            FABDBManager(session=None).get_alembic_config()
        ).get_heads(),
    }
    if any(len(h) != 1 for h in heads.values()):
        return f"expected one head per table, got {heads}"
    Path(path).write_text(json.dumps({table: h[0] for table, h in heads.items()}))
    return None


def check_url(url: str) -> str | None:
    with urllib.request.urlopen(url, timeout=8) as resp:
        return None if resp.status == 200 else f"{url} answered {resp.status}"


def check_worker(name: str) -> str | None:
    """Ping one Celery worker through the broker (its URL, password included, from the env)."""
    from celery import Celery

    app = Celery(broker=os.environ["AIRFLOW__CELERY__BROKER_URL"])
    replies = app.control.ping(destination=[name], timeout=8)
    return None if replies else f"worker {name} did not answer a ping"


def main(argv: list[str]) -> int:
    checks = {
        "job": check_job,
        "url": check_url,
        "worker": check_worker,
        "user": check_user,
        "db": check_db,
        "write-heads": write_heads,
    }
    if len(argv) != 2 or argv[0] not in checks:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        problem = checks[argv[0]](argv[1])
    except Exception as exc:  # any error = unhealthy, with the reason
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
