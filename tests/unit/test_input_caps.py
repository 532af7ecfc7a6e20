"""Input caps that keep one input from exhausting a container's memory: the parquet footer
check before any parquet is read (carprice.sources.safe_read.read_parquet), and the row
count of an uploaded CSV before it is parsed (carprice.serving.pricing), under Streamlit's
own byte cap (server.maxUploadSize)."""

from __future__ import annotations

import time
import tomllib

import numpy as np
import pandas as pd
import pytest

from carprice.config import limits, settings
from carprice.serving import pricing
from carprice.sources import safe_read
from carprice.sources.csv_reader import CsvError, count_rows
from tests.conftest import REPO


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"price": rng.integers(1_000, 900_000, rows),
                         "brand": rng.choice(["Dacia", "Renault", "Peugeot"], rows)})


def test_a_parquet_within_the_limit_is_read(tmp_path):
    path = tmp_path / "ok.parquet"
    frame(1_000).to_parquet(path)
    assert len(safe_read.read_parquet(path)) == 1_000
    assert len(safe_read.read_parquet(path.read_bytes(), "ok.parquet")) == 1_000


def test_a_parquet_with_more_rows_than_the_limit_holds_is_refused_from_its_footer(
        tmp_path, monkeypatch):
    # a 1 GB stage holds limits.max_rows(1 GB) rows: one more is refused, in one line
    monkeypatch.setenv(settings.ENV_STAGE_MEM_LIMIT, "1g")
    cap = limits.max_rows(2**30)
    path = tmp_path / "big.parquet"
    frame(cap + 1).to_parquet(path)
    with pytest.raises(safe_read.SourceError) as caught:
        safe_read.read_parquet(path)
    message = str(caught.value)
    assert f"has {cap + 1:,} rows; at most {cap:,} fit" in message
    assert settings.ENV_STAGE_MEM_LIMIT in message and "\n" not in message
    monkeypatch.setenv(settings.ENV_STAGE_MEM_LIMIT, "2g")  # a larger limit reads it
    assert len(safe_read.read_parquet(path)) == cap + 1


def test_a_parquet_larger_uncompressed_than_its_share_of_the_limit_is_refused(tmp_path):
    # few rows, wide text: the row count passes, the declared uncompressed size does not
    wide = pd.DataFrame({"blob": [f"{i:08d}" + "x" * 200_000 for i in range(40)]})
    path = tmp_path / "wide.parquet"
    wide.to_parquet(path, compression="zstd")
    assert path.stat().st_size < 1_000_000  # small on disk, ~8 MB once decompressed
    with pytest.raises(safe_read.SourceError, match=r"MiB uncompressed; at most 4 MiB fit"):
        safe_read.check_parquet(path, "wide.parquet", memory=16 * 2**20)
    safe_read.check_parquet(path, "wide.parquet", memory=64 * 2**20)


def test_bytes_that_are_not_parquet_are_one_line():
    with pytest.raises(safe_read.SourceError, match="^cannot read x.parquet as parquet: "):
        safe_read.read_parquet(b"not a parquet file at all", "x.parquet")


HEADER = b"brand,model,year\n"


@pytest.mark.parametrize("body,rows", [(b"", 0), (b"a,b,1\n", 1), (b"a,b,1", 1),
                                       (b"a,b,1\na,b,2\n", 2), (b"a,b,1\r\na,b,2\r\n", 2)])
def test_rows_are_counted_without_parsing(body, rows):
    assert count_rows(HEADER + body, "x.csv", 10) == rows


def test_an_upload_past_the_row_cap_is_refused_before_it_is_parsed():
    limit = pricing.MAX_UPLOAD_ROWS
    at_cap = HEADER + b"a,b,1\n" * limit
    assert count_rows(at_cap, "at.csv", limit) == limit
    huge = HEADER + b"a,b,1\n" * (limit * 8)  # ~48 MB: under the byte cap, over the rows
    started = time.perf_counter()
    with pytest.raises(CsvError, match=f"^big.csv has more than {limit:,} rows") as caught:
        pricing.read_upload(huge, "big.csv")
    # refused as soon as the count passed the cap: no decode, no pandas
    assert time.perf_counter() - started < 2.0
    assert "\n" not in str(caught.value)


def test_streamlit_caps_the_upload_size_below_what_its_container_holds():
    config = tomllib.loads((REPO / "app" / ".streamlit" / "config.toml").read_text())
    max_mb = config["server"]["maxUploadSize"]
    assert 1 <= max_mb <= 100  # Streamlit's own default is 200 MB


def test_a_csv_source_with_more_rows_than_the_stage_limit_holds_is_refused_unparsed(
        tmp_path, monkeypatch):
    from carprice.sources.csv_reader import read_csv

    monkeypatch.setenv(settings.ENV_INBOX_DIR, str(tmp_path))
    monkeypatch.setenv(settings.ENV_STAGE_MEM_LIMIT, "1g")
    cap = limits.max_rows(2**30)
    (tmp_path / "big.csv").write_bytes(HEADER + b"Dacia,Logan,2018\n" * (cap + 1))
    with pytest.raises(CsvError, match=f"^inbox/big.csv has more than {cap:,} rows"):
        read_csv("inbox/big.csv")
    (tmp_path / "ok.csv").write_bytes(HEADER + b"Dacia,Logan,2018\n" * 3)
    assert len(read_csv("inbox/ok.csv")) == 3
