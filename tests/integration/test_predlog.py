"""The prediction log against a real, throwaway Postgres cluster (initdb + pg_ctl on a
free loopback port), written through the real API.

Needs the PostgreSQL server binaries (Debian: `apt-get install postgresql`, found on PATH
or in /usr/lib/postgresql/<version>/bin). Skipped without them, except under CI.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from carprice.api import create_app
from carprice.config import settings
from carprice.contract import schema
from carprice.model import pyfunc
from carprice.registry import mlflow_server
from carprice.serving import prediction_log
from carprice.sources import synthetic
from tests.conftest import API_HEADERS, free_port, in_ci

pytestmark = pytest.mark.integration
CAR = pyfunc.example_car()


def pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


class PgCluster:
    """A Postgres cluster in a temp folder; as root, run as the `postgres` OS user."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="carprice-pg-"))  # not under a 0700 tmp
        self.data = self.root / "data"
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.user = "carprice"
        self.dsn = (f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        pwfile.chmod(0o600)
        self._as_owner = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(self.root, "postgres")
            shutil.chown(pwfile, "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", self.user, f"--pwfile={pwfile}",
                  "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
        pwfile.unlink()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as_owner, str(self.bindir / tool), *args], check=True,
                       capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                        "-c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def pg_cluster():
    """A started throwaway cluster, removed afterwards; the test is skipped (failed under CI)
    without the server binaries. The module fixtures of the Postgres tests yield it."""
    bindir = pg_bin()
    if bindir is None:
        reason = ("PostgreSQL server binaries (initdb, pg_ctl) not found: "
                  "apt-get install postgresql")
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = PgCluster(bindir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="module")
def postgres():
    with pg_cluster() as cluster:
        yield cluster


@pytest.fixture
def api(postgres, export_dir, monkeypatch):
    """(TestClient, PredictionLog) on the exported model, logging to the cluster."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(settings.ENV_MODEL_NAME, raising=False)
    monkeypatch.setenv("CARPRICE_MODELS_DIR", str(export_dir))
    for key, value in mlflow_server.CLIENT_ENV_DEFAULTS.items():  # what the API sets; undone
        monkeypatch.setenv(key, value)
    writer = prediction_log.PredictionLog(postgres.dsn, flush_seconds=0.2, retry_seconds=0.5)
    with TestClient(create_app(log_writer=writer), headers=API_HEADERS) as client:
        yield client, writer


def wait_for(check, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def count_rows(dsn: str) -> int:
    return int(prediction_log.counts_per_day(dsn)["predictions"].sum())


def test_predictions_are_logged_with_inputs_model_and_interval(api, postgres):
    client, writer = api
    before = count_rows(postgres.dsn)
    cars = synthetic.generate(3, seed=5).drop(columns=[schema.TARGET]).to_dict("records")
    one = client.post("/predict", json=CAR).json()["predictions"][0]
    many = client.post("/predict", json=cars).json()["predictions"]
    wait_for(lambda: count_rows(postgres.dsn) == before + 4, "4 logged rows")

    recent = prediction_log.recent_inputs(postgres.dsn, limit=4)
    assert list(recent.columns) == ["ts", "source", "model_version", *schema.FEATURES,
                                    "price_dh", "lower_dh", "upper_dh"]
    assert set(recent["source"]) == {"api"} and set(recent["model_version"]) == {"7"}
    oldest = recent.iloc[-1]  # newest first: the single car was logged first
    assert {c: oldest[c] for c in schema.FEATURES} == CAR
    assert oldest["price_dh"] == pytest.approx(one["price_dh"])
    assert sorted(recent["price_dh"].iloc[:3]) == pytest.approx(
        sorted(p["price_dh"] for p in many))
    per_day = prediction_log.counts_per_day(postgres.dsn)
    assert set(per_day.columns) == {"day", "source", "model_version", "predictions"}
    assert writer.stats()["written"] == 4 and writer.stats()["state"] == "ok"


def test_table_has_an_index_on_time(api, postgres):
    client, _ = api
    client.post("/predict", json=CAR)
    conn = prediction_log.connect(postgres.dsn)
    try:
        with conn, conn.cursor() as cur:
            wait_for(lambda: cur.execute("SELECT to_regclass('predictions')") or
                     cur.fetchone()[0], "the predictions table")
            cur.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'predictions'")
            defs = [r[0] for r in cur.fetchall()]
    finally:
        conn.close()
    assert any("(ts)" in d for d in defs), defs


def test_postgres_down_predictions_still_answer_then_logging_resumes(api, postgres, caplog):
    caplog.set_level(logging.INFO, logger="carprice")
    client, writer = api
    client.post("/predict", json=CAR)
    wait_for(lambda: writer.stats()["written"] >= 1, "the first row written")
    before = count_rows(postgres.dsn)

    postgres.stop()
    try:
        for _ in range(3):
            assert client.post("/predict", json=CAR).status_code == 200
        wait_for(lambda: writer.stats()["state"] == "down", "the outage to be noticed")
        for _ in range(3):  # later predictions during the outage: no new warning each time
            assert client.post("/predict", json=[CAR, CAR]).status_code == 200
        time.sleep(1.5)  # a few retries happen meanwhile
    finally:
        postgres.start()

    wait_for(lambda: writer.stats()["state"] == "ok" and writer.stats()["queued"] == 0,
             "logging to resume")
    assert count_rows(postgres.dsn) == before + 9  # nothing was lost: all rows waited
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "carprice.serving.prediction_log" and r.levelno >= logging.WARNING]
    assert len([w for w in warnings if "cannot write" in w]) == 1, warnings
    assert any("is back" in w for w in warnings), warnings
    assert f"127.0.0.1:{postgres.port}" in warnings[0]
    assert all(postgres.password not in r.getMessage() for r in caplog.records)
    assert client.get("/health").json()["prediction_log"]["dropped"] == 0


def test_readers_answer_empty_frames_before_anything_was_logged(postgres):
    conn = prediction_log.connect(postgres.dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS fresh")
            cur.execute("CREATE DATABASE fresh")
    finally:
        conn.close()
    fresh = postgres.dsn.rsplit("/", 1)[0] + "/fresh"
    assert prediction_log.counts_per_day(fresh).empty
    recent = prediction_log.recent_inputs(fresh)
    assert recent.empty and list(recent.columns)[3:-3] == list(schema.FEATURES)
