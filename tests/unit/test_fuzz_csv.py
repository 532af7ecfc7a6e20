"""Property-based: the CSV reader and the source guard on malformed files and csv_uri
values either succeed or raise a one-line CsvError / SourceError / ValidationError."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carprice.contract import schema
from carprice.contract.validation import Thresholds, validate_dataset
from carprice.sources import load, safe_read
from carprice.sources.csv_reader import decode, parse
from tests.unit.fuzz_support import csv_files, fuzz, outcome

NAME = "fuzz.csv"


@pytest.fixture(scope="module", autouse=True)
def inbox():
    """One inbox for the module (hypothesis re-runs a test body, not its fixtures)."""
    saved = {k: os.environ.get(k) for k in (safe_read.ENV_INBOX_DIR, safe_read.ENV_ALLOWED_HOSTS)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "inbox"
        folder.mkdir()
        os.environ[safe_read.ENV_INBOX_DIR] = str(folder)
        os.environ.pop(safe_read.ENV_ALLOWED_HOSTS, None)
        yield folder
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def assert_text_frame(frame: pd.DataFrame) -> None:
    """What the reader promises: contract column names, once each, values text or NaN."""
    assert set(frame.columns) <= set(schema.COLUMNS) and frame.columns.is_unique
    for col in frame.columns:
        assert frame[col].map(lambda v: isinstance(v, str) or pd.isna(v)).all(), col


@fuzz(150)
@given(st.binary(max_size=400))
def test_random_bytes_are_read_or_refused(raw):
    frame = outcome(lambda: parse(decode(raw, "upload.csv"), "upload.csv"))
    if frame is not None:
        assert_text_frame(frame)


@fuzz(150)
@given(csv_files())
def test_csv_files_load_from_the_inbox_and_validate_or_refuse(inbox, raw):
    (inbox / NAME).write_bytes(raw)
    frame = outcome(load, {"source": "csv", "csv_uri": f"{safe_read.INBOX_PREFIX}/{NAME}"})
    if frame is not None:
        assert_text_frame(frame)
        result = outcome(validate_dataset, frame, Thresholds(min_rows=1))
        if result is not None:
            assert len(result[0]) == result[1]["rows_out"] >= 1


PATHS = st.one_of(
    st.text(max_size=60),
    st.builds(lambda prefix, rest: prefix + rest,
              st.sampled_from(["inbox/", "/", "../", "./", "inbox/../", "~/", "\\\\", "//",
                               "/etc/", "/proc/self/", "inbox//", "inbox/./"]),
              st.text(max_size=40)),
    st.sampled_from([NAME, f"inbox/{NAME}", "inbox", "inbox/", ".", "..", "", " ",
                     "/etc/passwd", "/dev/zero", "/proc/self/environ", "a" * 5000]),
)


@fuzz(100)
@given(PATHS)
def test_any_local_csv_uri_is_read_from_the_inbox_or_refused(inbox, uri):
    (inbox / NAME).write_bytes(b"brand,price_dh\nDacia,90000\n")
    if safe_read.is_url(uri):
        return  # URLs: next test (no network here)
    data = outcome(safe_read.read_source, uri)
    if data is not None:
        assert data == (inbox / NAME).read_bytes()


URLS = st.builds(
    lambda scheme, userinfo, host, port, rest: f"{scheme}://{userinfo}{host}{port}{rest}",
    st.sampled_from(["http", "https", "HTTP", "file", "ftp", "gopher", "data", "jar:http", ""]),
    st.sampled_from(["", "user:pw@", "@", "a@b@"]),
    st.one_of(st.sampled_from(["example.org", "127.0.0.1", "[::1]", "0x7f.1", "2130706433",
                               "[::ffff:10.0.0.1]", "mlflow", "localhost.", "[fe80::1%25eth0]",
                               "", "[", "%00"]), st.text(max_size=20)),
    st.one_of(st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"), st.text(max_size=4)),
    st.text(max_size=30),
)


@fuzz(100)
@given(URLS, st.sampled_from([["93.184.216.34"], ["10.0.0.7"], ["::1"], ["not-an-ip"], []]))
def test_any_url_is_checked_or_refused_without_a_request(url, addresses):
    def resolve(host, port):
        assert isinstance(port, int)
        return addresses

    outcome(safe_read.check_url, url, resolve, ())
