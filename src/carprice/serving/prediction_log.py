"""The prediction log: every served prediction appended to a `predictions` table in
Postgres (time, source, model version, inputs as JSONB, price and interval).

Writing never slows or breaks a prediction: ``PredictionLog.log`` only appends to a
bounded in-memory buffer; a background thread writes it with ``execute_values`` every
``flush_seconds`` or as soon as ``flush_rows`` are waiting. When Postgres is down the
rows wait (up to ``max_rows``, newer ones are then dropped and counted), one warning is
logged per outage and writing resumes when it is back. The DSN's password is never
logged. ``CARPRICE_PREDLOG_DSN`` unset means no logging.

The readers at the bottom (counts per day, recent inputs as a DataFrame) are for
monitoring, e.g. drift checks on what the model is really asked.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from carprice.config import settings
from carprice.contract import schema
from carprice.errors import one_line
from carprice.model.estimator import OUTPUT_COLUMNS

if TYPE_CHECKING:  # at run time psycopg2 is imported where used: not every extra has it
    from psycopg2.extensions import connection

log = logging.getLogger(__name__)

TABLE = "predictions"
SOURCES = ("api", "app", "batch")
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    ts timestamptz NOT NULL,
    source text NOT NULL,
    model_name text,
    model_version text,
    inputs jsonb NOT NULL,
    price_dh double precision,
    lower_dh double precision,
    upper_dh double precision
);
CREATE INDEX IF NOT EXISTS {TABLE}_ts_idx ON {TABLE} (ts);
"""
COLUMNS = ("ts", "source", "model_name", "model_version", "inputs", *OUTPUT_COLUMNS)
INSERT = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES %s"
ROW_TEMPLATE = "(%s, %s, %s, %s, %s::jsonb, %s, %s, %s)"
DDL_LOCK_KEY = 7_311_420  # advisory lock: two API workers creating the table at once
CONNECT_TIMEOUT_S = 3


def normalize_dsn(dsn: str) -> str:
    """Accept SQLAlchemy-style URLs too (postgresql+psycopg2://...)."""
    for prefix in ("postgresql+psycopg2://", "postgresql+psycopg://"):
        if dsn.startswith(prefix):
            return "postgresql://" + dsn[len(prefix):]
    return dsn


def describe_dsn(dsn: str) -> str:
    """user@host:port/dbname of a DSN, never its password."""
    from psycopg2.extensions import parse_dsn

    try:
        parts = parse_dsn(normalize_dsn(dsn))
    except Exception:  # noqa: BLE001 - an unparsable DSN still must not be printed
        return "an unparsable DSN"
    user = f"{parts['user']}@" if parts.get("user") else ""
    return (f"{user}{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/"
            f"{parts.get('dbname', parts.get('user', ''))}")


def scrub(text: object, dsn: str) -> str:
    """A one-line error text with the DSN's password (if any) masked."""
    from psycopg2.extensions import parse_dsn

    text = one_line(text, limit=2000)
    try:
        password = parse_dsn(normalize_dsn(dsn)).get("password")
    except Exception:  # noqa: BLE001
        password = None
    return text.replace(password, "***") if password else text


def connect(dsn: str) -> connection:
    import psycopg2

    return psycopg2.connect(normalize_dsn(dsn), connect_timeout=CONNECT_TIMEOUT_S,
                            application_name="carprice-predlog")


def ensure_table(conn: connection) -> None:
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
        cur.execute(DDL)


@dataclass(frozen=True)
class Record:
    """One prediction to log."""

    ts: datetime
    source: str
    model_name: str | None
    model_version: str | None
    inputs: Mapping
    price_dh: float
    lower_dh: float
    upper_dh: float

    def row(self) -> tuple:
        return (self.ts, self.source, self.model_name, self.model_version,
                json.dumps(dict(self.inputs), default=str), float(self.price_dh),
                float(self.lower_dh), float(self.upper_dh))


def records(source: str, model_name: str | None, model_version: str | None,
            inputs: Iterable[Mapping], outputs: Iterable[Mapping],
            ts: datetime | None = None) -> list[Record]:
    """Records of a batch of predictions that share a time, source and model."""
    if source not in SOURCES:
        raise ValueError(f"prediction source must be one of {', '.join(SOURCES)}, got {source!r}")
    ts = ts or datetime.now(UTC)
    return [Record(ts, source, model_name, model_version, car,
                   *(out[c] for c in OUTPUT_COLUMNS))
            for car, out in zip(inputs, outputs, strict=True)]


class PredictionLog:
    """Bounded buffer + background writer. ``log`` never blocks and never raises."""

    enabled = True

    def __init__(self, dsn: str, max_rows: int = 50_000, flush_rows: int = 500,
                 flush_seconds: float = 0.5, retry_seconds: float = 2.0):
        self._dsn = dsn
        self.target = describe_dsn(dsn)
        self.max_rows, self.flush_rows = max_rows, flush_rows
        self.flush_seconds, self.retry_seconds = flush_seconds, retry_seconds
        self._pending: deque[Record] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: connection | None = None
        self.written = self.dropped = self.failed_batches = 0
        self.down_since: datetime | None = None  # set while Postgres is unreachable
        self._dropped_at_outage = 0

    # ------------------------------------------------------------ request side

    def log(self, batch: list[Record]) -> None:
        """Queue records; those beyond the buffer's capacity are dropped (counted)."""
        if not batch:
            return
        with self._lock:
            room = self.max_rows - len(self._pending)
            kept = batch if len(batch) <= room else batch[:max(room, 0)]
            self._pending.extend(kept)
            self.dropped += len(batch) - len(kept)
            waiting = len(self._pending)
            if self._thread is None and not self._stop.is_set():
                self._start_locked()
        if waiting >= self.flush_rows:
            self._wake.set()

    def stats(self) -> dict:
        return {"enabled": True, "target": self.target, "written": self.written,
                "dropped": self.dropped, "queued": len(self._pending),
                "state": "down" if self.down_since else "ok"}

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._start_locked()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (one attempt) and stop the writer."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._conn is not None:
            self._close_conn()

    def _start_locked(self) -> None:
        self._thread = threading.Thread(target=self._run, name="carprice-predlog", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ writer thread

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.down_since is not None:  # retry at a steady pace, whatever arrives
                self._stop.wait(self.retry_seconds)
            else:
                self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self._flush()
        self._flush()
        if self._pending:
            log.warning("prediction log: %d rows were not written before shutdown",
                        len(self._pending))

    def _flush(self) -> int:
        """Write everything queued now (writer thread only); rows written, 0 on failure."""
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
        if not batch:
            return 0
        import psycopg2
        from psycopg2.extras import execute_values

        try:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self._dsn)
                ensure_table(self._conn)
            with self._conn, self._conn.cursor() as cur:
                execute_values(cur, INSERT, [r.row() for r in batch], template=ROW_TEMPLATE,
                               page_size=1000)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            self._outage(exc)
            self._requeue(batch)
            return 0
        except psycopg2.Error as exc:  # the rows themselves are bad: retrying cannot help
            self.failed_batches += 1
            self.dropped += len(batch)
            log.warning("prediction log: %d rows refused by Postgres at %s, dropped: %s",
                        len(batch), self.target, scrub(exc, self._dsn))
            self._close_conn()
            return 0
        self.written += len(batch)
        if self.down_since is not None:
            log.warning("prediction log: Postgres at %s is back; writing again (%d rows "
                        "dropped during the outage)", self.target,
                        self.dropped - self._dropped_at_outage)
            self.down_since = None
        return len(batch)

    def _outage(self, exc: Exception) -> None:
        self._close_conn()
        if self.down_since is None:  # once per outage, not per attempt
            self.down_since = datetime.now(UTC)
            self._dropped_at_outage = self.dropped
            log.warning("prediction log: cannot write to Postgres at %s (%s); predictions "
                        "still answer, up to %d rows wait in memory, newer ones are dropped",
                        self.target, scrub(exc, self._dsn), self.max_rows)

    def _requeue(self, batch: list[Record]) -> None:
        with self._lock:
            keep = batch[:max(self.max_rows - len(self._pending), 0)]
            self._pending.extendleft(reversed(keep))
            self.dropped += len(batch) - len(keep)

    def _close_conn(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
        except Exception:  # noqa: BLE001 - a dead connection may fail to close
            pass
        self._conn = None


class DisabledLog:
    """Stands in when no DSN is configured: logging is off, by choice."""

    enabled = False

    def log(self, batch: list[Record]) -> None:
        return None

    def stats(self) -> dict:
        return {"enabled": False}

    def start(self) -> None:
        return None

    def close(self, timeout: float = 5.0) -> None:
        return None


def configured_dsn() -> str:
    """The prediction log's DSN from the environment ("" when logging is off)."""
    return settings.current().predlog_dsn


def from_env() -> PredictionLog | DisabledLog:
    dsn = configured_dsn()
    if not dsn:
        log.info("prediction log off: %s is not set", settings.ENV_PREDLOG_DSN)
        return DisabledLog()
    writer = PredictionLog(dsn)
    log.info("prediction log: writing to Postgres at %s, table %s", writer.target, TABLE)
    return writer


# ---------------------------------------------------------------- readers


def counts_per_day(dsn: str, days: int = 30) -> pd.DataFrame:
    """Predictions per day, source and model version over the last ``days`` days."""
    sql = (f"SELECT date_trunc('day', ts AT TIME ZONE 'UTC')::date AS day, source, "
           f"model_version, count(*) AS predictions FROM {TABLE} "
           "WHERE ts >= now() - make_interval(days => %s) "
           "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
    rows = query_rows(dsn, sql, (int(days),))
    return pd.DataFrame(rows, columns=["day", "source", "model_version", "predictions"])


def recent_inputs(dsn: str, limit: int = 10_000, source: str | None = None,
                  since: datetime | None = None) -> pd.DataFrame:
    """The latest logged predictions, newest first: ts, source, model_version, the
    contract's features (one column each) and the predicted price and interval."""
    where: list[str] = []
    params: list[object] = []
    if source is not None:
        where.append("source = %s")
        params.append(source)
    if since is not None:
        where.append("ts >= %s")
        params.append(since)
    sql = (f"SELECT ts, source, model_version, inputs, {', '.join(OUTPUT_COLUMNS)} "
           f"FROM {TABLE} {'WHERE ' + ' AND '.join(where) if where else ''} "
           "ORDER BY ts DESC, id DESC LIMIT %s")
    rows = query_rows(dsn, sql, (*params, int(limit)))
    meta = pd.DataFrame([r[:3] for r in rows], columns=["ts", "source", "model_version"])
    features = pd.DataFrame.from_records([r[3] for r in rows], columns=list(schema.FEATURES))
    outputs = pd.DataFrame([r[4:] for r in rows], columns=list(OUTPUT_COLUMNS))
    return pd.concat([meta, features, outputs], axis=1)


def delete_older_than(dsn: str, before: datetime, batch_rows: int) -> int:
    """Delete the rows logged before ``before``, ``batch_rows`` per transaction (each
    batch commits, so writers wait on short locks only); how many went. 0 when nothing
    was ever logged (no table yet)."""
    from psycopg2 import errors

    batch = (f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} WHERE ts < %s "
             "ORDER BY id LIMIT %s)")
    deleted = 0
    conn = connect(dsn)
    try:
        while True:
            with conn, conn.cursor() as cur:
                cur.execute(batch, (before, batch_rows))
                count = cur.rowcount
            deleted += count
            if count < batch_rows:
                return deleted
    except errors.UndefinedTable:
        return deleted
    finally:
        conn.close()


def query_rows(dsn: str, sql: str, params: tuple) -> list[tuple]:
    """Rows of a read-only query; none while nothing was ever logged (no table yet).
    Also the reader of carprice.serving.drift_store (same database)."""
    from psycopg2 import errors

    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    except errors.UndefinedTable:
        return []
    finally:
        conn.close()
