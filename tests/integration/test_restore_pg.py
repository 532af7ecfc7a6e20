"""restore.sh's database steps against a real, throwaway PostgreSQL (the cluster of
test_predlog): a dump restored in one transaction beside the live database, swapped in by
carprice.pipeline.backup.swap_sql all or nothing, and damaged dumps refused with the live
database untouched. Skipped without the PostgreSQL binaries, except under CI."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from carprice.pipeline import backup
from tests.integration.test_predlog import PgCluster, pg_cluster

pytestmark = pytest.mark.integration
RESTORING, REPLACED = "_restoring", "_replaced"  # as scripts/restore.sh names them


@pytest.fixture(scope="module")
def pg():
    with pg_cluster() as cluster:
        yield cluster


def tool(pg: PgCluster, name: str, *args: str, stdin: bytes | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PGPASSWORD": pg.password, "PGHOST": "127.0.0.1",
           "PGPORT": str(pg.port), "PGUSER": pg.user}
    proc = subprocess.run([str(pg.bindir / name), *args], input=stdin, capture_output=True,
                          env=env, timeout=120, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr.decode()
    return proc


def sql(pg: PgCluster, db: str, statement: str) -> str:
    out = tool(pg, "psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", statement)
    return out.stdout.decode().strip()


def make_db(pg: PgCluster, db: str, rows: int) -> None:
    sql(pg, "postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    sql(pg, "postgres", f'CREATE DATABASE "{db}"')
    sql(pg, db, "CREATE TABLE t (id int primary key, note text)")
    sql(pg, db, f"INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, {rows}) g")


def count(pg: PgCluster, db: str) -> int:
    return int(sql(pg, db, "SELECT count(*) FROM t"))


def restore_beside(pg: PgCluster, db: str, dump: bytes) -> subprocess.CompletedProcess:
    """restore.sh's step 2 for one database: a new database, one transaction."""
    sql(pg, "postgres", f'DROP DATABASE IF EXISTS "{db}{RESTORING}" WITH (FORCE)')
    sql(pg, "postgres", f'CREATE DATABASE "{db}{RESTORING}"')
    return tool(pg, "pg_restore", "--no-owner", "--single-transaction", "--exit-on-error",
                "-d", db + RESTORING, stdin=dump, check=False)


def dump_of(pg: PgCluster, db: str) -> bytes:
    return tool(pg, "pg_dump", "--format=custom", db).stdout


def test_a_dump_restores_in_one_transaction_and_swaps_in(pg: PgCluster, tmp_path: Path):
    make_db(pg, "app", 500)
    dump = dump_of(pg, "app")
    sql(pg, "app", "INSERT INTO t VALUES (9999, 'after the backup')")
    assert tool(pg, "pg_restore", "--list", stdin=dump).returncode == 0
    assert restore_beside(pg, "app", dump).returncode == 0
    # A client still connected to the live database (a service not stopped) is closed.
    holder = subprocess.Popen([str(pg.bindir / "psql"), "-X", "-d", "app", "-c",
                               "SELECT pg_sleep(60)"],
                              env={**os.environ, "PGPASSWORD": pg.password, "PGHOST": "127.0.0.1",
                                   "PGPORT": str(pg.port), "PGUSER": pg.user},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while sql(pg, "postgres", "SELECT count(*) FROM pg_stat_activity "
                                  "WHERE datname = 'app'") == "0":
            assert time.monotonic() < deadline, "the client never connected"
            time.sleep(0.1)
        tool(pg, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-o", "/dev/null",
             stdin=backup.swap_sql(["app"], RESTORING, REPLACED).encode())
        assert holder.wait(timeout=10) != 0  # its session was ended by the swap
    finally:
        holder.kill()
    assert count(pg, "app") == 500  # the backup's rows, not the later one
    assert count(pg, "app" + REPLACED) == 501


def test_damaged_dumps_are_refused_and_the_live_database_is_untouched(pg: PgCluster):
    make_db(pg, "live", 2000)
    dump = dump_of(pg, "live")
    sql(pg, "live", "INSERT INTO t VALUES (0, 'live only')")
    bad_header = b"XXXXX" + dump[5:]
    assert tool(pg, "pg_restore", "--list", stdin=bad_header, check=False).returncode != 0
    # A truncated dump still lists (its table of contents comes first): the manifest's
    # sha256 refuses it before this; were it restored, the one transaction leaves nothing.
    truncated = dump[: len(dump) * 2 // 3]
    assert restore_beside(pg, "live", truncated).returncode != 0
    assert sql(pg, "live" + RESTORING, "SELECT count(*) FROM pg_tables "
                                       "WHERE schemaname = 'public'") == "0"
    assert count(pg, "live") == 2001


def test_the_swap_is_all_or_nothing(pg: PgCluster):
    make_db(pg, "one", 10)
    make_db(pg, "two", 20)
    make_db(pg, "one" + RESTORING, 1)
    sql(pg, "postgres", f'DROP DATABASE IF EXISTS "two{RESTORING}"')  # its restore never ran
    swap = tool(pg, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres",
                stdin=backup.swap_sql(["one", "two"], RESTORING, REPLACED).encode(), check=False)
    assert swap.returncode != 0
    assert count(pg, "one") == 10 and count(pg, "two") == 20  # both live ones still in place
    assert count(pg, "one" + RESTORING) == 1
