"""The maintenance stage's pruning of the prediction log against a real PostgreSQL (the
throwaway cluster of test_predlog): rows older than the cut-off go, in batches; recent rows
stay; a database where nothing was ever logged is no error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carprice.ops import housekeeping
from carprice.serving import prediction_log
from tests.integration.test_predlog import postgres  # noqa: F401 - the real cluster

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


def insert(dsn: str, days_ago: list[float]) -> None:
    rows = [prediction_log.Record(NOW - timedelta(days=d), "api", "car-price", "1",
                                  {"brand": "x"}, 1.0, 0.5, 1.5).row() for d in days_ago]
    conn = prediction_log.connect(dsn)
    try:
        prediction_log.ensure_table(conn)
        with conn, conn.cursor() as cur:
            from psycopg2.extras import execute_values

            execute_values(cur, prediction_log.INSERT, rows,
                           template=prediction_log.ROW_TEMPLATE)
    finally:
        conn.close()


def ages(dsn: str) -> list[int]:
    """Age in whole days of every logged row, oldest first."""
    conn = prediction_log.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"SELECT floor(extract(epoch FROM (%s - ts)) / 86400)::int "
                        f"FROM {prediction_log.TABLE} ORDER BY ts", (NOW,))
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def test_old_rows_go_in_batches_and_recent_ones_stay(postgres):  # noqa: F811
    dsn = postgres.dsn
    conn = prediction_log.connect(dsn)
    with conn, conn.cursor() as cur:  # start from an empty log (the module shares a cluster)
        cur.execute(f"DROP TABLE IF EXISTS {prediction_log.TABLE}")
    conn.close()
    assert prediction_log.delete_older_than(dsn, NOW, 10) == 0  # no table yet: no error

    insert(dsn, [400.5] * 7 + [200.5] * 5 + [179.5, 30.5, 0.1])
    before = housekeeping.cutoff(NOW, 180)
    # 12 old rows, 5 per transaction: three batches, the last one short
    assert prediction_log.delete_older_than(dsn, before, 5) == 12
    assert ages(dsn) == [179, 30, 0]
    assert prediction_log.delete_older_than(dsn, before, 5) == 0
    assert prediction_log.delete_older_than(dsn, housekeeping.cutoff(NOW, 1), 1) == 2
    assert ages(dsn) == [0]
