"""carprice.serving.prediction_log without a database: records, DSN handling, the bounded buffer.

Writing to a real Postgres (and surviving its outage) is in tests/integration/test_predlog.py.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest

from carprice.config import settings
from carprice.model import pyfunc
from carprice.serving import prediction_log
from tests.conftest import free_port

OUT = {"price_dh": 100_000.0, "lower_dh": 90_000.0, "upper_dh": 110_000.0}


def test_records_carry_source_model_inputs_and_outputs():
    car = pyfunc.example_car()
    ts = datetime(2026, 1, 2, tzinfo=UTC)
    [rec] = prediction_log.records("api", "car-price", "3", [car], [OUT], ts=ts)
    row = rec.row()
    assert row[:4] == (ts, "api", "car-price", "3")
    assert prediction_log.json.loads(row[4]) == car
    assert row[5:] == (100_000.0, 90_000.0, 110_000.0)


def test_records_refuse_an_unknown_source_and_mismatched_lengths():
    with pytest.raises(ValueError, match="api, app, batch"):
        prediction_log.records("cron", "m", "1", [{}], [OUT])
    with pytest.raises(ValueError):
        prediction_log.records("api", "m", "1", [{}, {}], [OUT])


@pytest.mark.parametrize("dsn", [
    "postgresql://carprice:s3cr3t-pw@db.internal:6543/predictions",
    "postgresql+psycopg2://carprice:s3cr3t-pw@db.internal:6543/predictions",
    "host=db.internal port=6543 dbname=predictions user=carprice password=s3cr3t-pw",
])
def test_the_dsn_is_described_without_its_password(dsn):
    assert prediction_log.describe_dsn(dsn) == "carprice@db.internal:6543/predictions"
    scrubbed = prediction_log.scrub("auth failed for s3cr3t-pw\n here", dsn)
    assert scrubbed == "auth failed for *** here"


def test_no_dsn_means_logging_off_with_one_info_line(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="carprice.serving.prediction_log")
    monkeypatch.delenv(settings.ENV_PREDLOG_DSN, raising=False)
    off = prediction_log.from_env()
    assert not off.enabled and off.stats() == {"enabled": False}
    off.log(prediction_log.records("api", "m", "1", [{}], [OUT]))  # accepted, goes nowhere
    lines = [r.getMessage() for r in caplog.records if r.name == "carprice.serving.prediction_log"]
    assert lines == [f"prediction log off: {settings.ENV_PREDLOG_DSN} is not set"]


def test_a_full_buffer_drops_and_counts_newer_rows_and_warns_once(caplog):
    port = free_port()  # nothing listens there
    dsn = f"postgresql://u:hunter22@127.0.0.1:{port}/db"
    writer = prediction_log.PredictionLog(dsn, max_rows=5, flush_rows=100, flush_seconds=0.05,
                                   retry_seconds=600)  # after the first failure it waits
    try:
        writer.log(prediction_log.records("api", "m", "1", [{}] * 8, [OUT] * 8))
        assert (writer.stats()["queued"], writer.stats()["dropped"]) == (5, 3)
        deadline = time.monotonic() + 20
        while writer.stats()["state"] != "down":
            assert time.monotonic() < deadline, "the outage was never noticed"
            time.sleep(0.05)
        writer.log(prediction_log.records("api", "m", "1", [{}] * 3, [OUT] * 3))
        assert writer.stats() == {"enabled": True, "target": f"u@127.0.0.1:{port}/db",
                                  "written": 0, "dropped": 6, "queued": 5, "state": "down"}
    finally:
        writer.close(timeout=10)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
                and r.name == "carprice.serving.prediction_log"]
    assert len([w for w in warnings if "cannot write" in w]) == 1
    assert "5 rows were not written before shutdown" in warnings[-1]
    assert all("hunter22" not in r.getMessage() for r in caplog.records)
