"""Property-based: the CSV reader and the source guard on malformed files and csv_uri
values either succeed or raise a one-line CsvError / SourceError / ValidationError."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from carprice.config import settings
from carprice.contract import schema
from carprice.contract.validation import Thresholds, validate_dataset
from carprice.sources import load, safe_read
from carprice.sources.csv_reader import CsvError, decode, parse, to_avito
from carprice.sources.safe_read import SourceError
from tests.unit.fuzz_support import POOL, Tally, csv_files, fuzz, outcome, refusal

NAME = "fuzz.csv"


@pytest.fixture(scope="module", autouse=True)
def inbox():
    """One inbox for the module (hypothesis re-runs a test body, not its fixtures)."""
    saved = {k: os.environ.get(k)
             for k in (settings.ENV_INBOX_DIR, settings.ENV_SOURCE_ALLOWED_HOSTS)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "inbox"
        folder.mkdir()
        os.environ[settings.ENV_INBOX_DIR] = str(folder)
        os.environ.pop(settings.ENV_SOURCE_ALLOWED_HOSTS, None)
        yield folder
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def assert_text_frame(frame: pd.DataFrame) -> None:
    """What the reader promises: contract column names (and the optional listing id), once
    each, values text or NaN."""
    assert set(frame.columns) <= {*schema.COLUMNS, schema.LISTING_ID} and frame.columns.is_unique
    for col in frame.columns:
        assert frame[col].map(lambda v: isinstance(v, str) or pd.isna(v)).all(), col


# Random bytes, alone or after a header the reader knows (so that some are read).
HEADER = st.sampled_from([b"brand,price_dh\n", b"Marque;Prix\n", b"year\tdoors\n",
                          ",".join(schema.COLUMNS).encode() + b"\n"])
RANDOM_FILES = st.one_of(st.binary(max_size=400),
                         st.builds(lambda h, b: h + b, HEADER, st.binary(max_size=200)))


def test_random_bytes_are_read_or_refused():
    tally = Tally()

    @fuzz(150)
    @given(RANDOM_FILES)
    def check(raw):
        frame = tally.outcome(lambda: parse(decode(raw, "upload.csv"), "upload.csv"))
        if frame is not None:
            assert_text_frame(frame)

    check()
    tally.require(accepted=0.1, refused=0.3)


def test_csv_files_load_from_the_inbox_and_validate_or_refuse(inbox):
    loaded, validated = Tally(), Tally()

    @fuzz(150)
    @given(csv_files())
    def check(raw):
        (inbox / NAME).write_bytes(raw)
        uri = f"{safe_read.INBOX_PREFIX}/{NAME}"
        frame = loaded.outcome(load, {"source": "csv", "csv_uri": uri})
        if frame is not None:
            assert_text_frame(frame)
            result = validated.outcome(validate_dataset, frame, Thresholds(min_rows=1))
            if result is not None:
                assert len(result[0]) == result[1]["rows_out"] >= 1

    check()
    loaded.require(accepted=0.1, refused=0.1)
    validated.require(refused=0.3)  # garbled files: the valid ones are the next test's


@st.composite
def valid_csv_files(draw) -> tuple[bytes, pd.DataFrame]:
    """(a CSV that must load and validate whole: contract or Avito export, any usual
    delimiter, encoding and line end; its rows)."""
    n = draw(st.integers(1, 12))
    picks = draw(st.lists(st.integers(0, len(POOL) - 1), min_size=n, max_size=n, unique=True))
    rows = POOL.iloc[picks].reset_index(drop=True)
    frame = to_avito(rows) if draw(st.booleans()) else rows
    text = frame.to_csv(index=False, sep=draw(st.sampled_from([",", ";", "\t"])),
                        lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "latin1", "cp1252"]))), rows


@fuzz(60)
@given(valid_csv_files())
def test_a_valid_csv_loads_from_the_inbox_and_validates_whole(inbox, case):
    raw, rows = case
    (inbox / NAME).write_bytes(raw)
    frame = load({"source": "csv", "csv_uri": f"{safe_read.INBOX_PREFIX}/{NAME}"})
    assert_text_frame(frame)
    assert set(frame.columns) - {schema.LISTING_ID} == set(schema.COLUMNS)
    assert len(frame) == len(rows)
    clean, report = validate_dataset(frame, Thresholds(min_rows=1, max_drop_share=0))
    assert report["rows_out"] == len(rows) == len(clean), report
    assert clean["brand"].tolist() == rows["brand"].tolist()


@st.composite
def unreadable_files(draw) -> bytes:
    """Files the reader must refuse: empty, UTF-16 or binary, or none of the columns."""
    raw, _ = draw(valid_csv_files())
    return draw(st.sampled_from([
        b"", b"   \n", raw.decode("latin1").encode("utf-16"), b"\x00" + raw,
        b"a,b,c\n1,2,3\n", b"Lien;Secteur;Airbags\nx;y;z\n",
    ]))


@fuzz(30)
@given(unreadable_files())
def test_an_unreadable_csv_is_refused_in_one_line(inbox, raw):
    (inbox / NAME).write_bytes(raw)
    exc = refusal(load, {"source": "csv", "csv_uri": f"{safe_read.INBOX_PREFIX}/{NAME}"})
    assert isinstance(exc, CsvError), repr(exc)


PATHS = st.one_of(
    st.text(max_size=60),
    st.builds(lambda prefix, rest: prefix + rest,
              st.sampled_from(["inbox/", "/", "../", "./", "inbox/../", "~/", "\\\\", "//",
                               "/etc/", "/proc/self/", "inbox//", "inbox/./"]),
              st.text(max_size=40)),
    st.sampled_from([NAME, f"inbox/{NAME}", "inbox", "inbox/", ".", "..", "", " ",
                     "/etc/passwd", "/dev/zero", "/proc/self/environ", "a" * 5000]),
)


def test_any_local_csv_uri_is_read_from_the_inbox_or_refused(inbox):
    tally = Tally()

    @fuzz(100)
    @given(st.one_of(PATHS, st.sampled_from([NAME, f"inbox/{NAME}"])))
    def check(uri):
        assume(not safe_read.is_url(uri))  # URLs: test_any_url_... (no network here)
        (inbox / NAME).write_bytes(b"brand,price_dh\nDacia,90000\n")
        data = tally.outcome(safe_read.read_source, uri)
        if data is not None:
            assert data == (inbox / NAME).read_bytes()

    check()
    # 4 of 100 read when written; test_the_inbox_file_is_read_under_each_of_its_names
    # requires each way of naming it
    tally.require(accepted=0.03, refused=0.3)


# The inbox file, named the ways the guard documents: inbox/<file>, <file>, absolute path.
INBOX_NAMES = st.sampled_from(["inbox/{name}", "{name}", "{inbox}/{name}", "inbox//{name}",
                               "inbox/./{name}", "./{name}", "{inbox}//{name}"])
OUTSIDE = st.one_of(
    st.sampled_from(["/etc/passwd", "/proc/self/environ", "/dev/zero", "../{name}",
                     "inbox/../{name}", "inbox/../../etc/passwd", "{inbox}/../{name}",
                     "{inbox}/../../etc/passwd", "inbox", "inbox/", ".", "", "missing.csv",
                     "inbox/missing.csv", "{inbox}", "{inbox}x/{name}"]),
    st.builds(lambda t: "/" + t, st.text(max_size=30)).filter(lambda u: "\x00" not in u),
)


@fuzz(30)
@given(INBOX_NAMES)
def test_the_inbox_file_is_read_under_each_of_its_names(inbox, form):
    data = f"brand,price_dh\nDacia,{len(form)}\n".encode()
    (inbox / NAME).write_bytes(data)
    uri = form.replace("{name}", NAME).replace("{inbox}", str(inbox))
    assert safe_read.read_source(uri) == data


@fuzz(60)
@given(OUTSIDE)
def test_a_path_outside_the_inbox_or_missing_is_refused(inbox, form):
    (inbox / NAME).write_bytes(b"brand,price_dh\nDacia,90000\n")
    uri = form.replace("{name}", NAME).replace("{inbox}", str(inbox))
    assume(not safe_read.is_url(uri))
    assume(not uri.startswith(str(inbox) + "/") or ".." in uri or uri.endswith("missing.csv"))
    exc = refusal(safe_read.read_source, uri)
    assert isinstance(exc, SourceError), repr(exc)


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


PUBLIC = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"]
NON_PUBLIC = ["10.0.0.7", "127.0.0.1", "::1", "169.254.169.254", "192.168.1.1", "0.0.0.0",
              "::ffff:10.0.0.1", "fe80::1", "100.64.0.1", "64:ff9b::a00:1", "not-an-ip"]
HOSTS = st.sampled_from(["example.org", "data.example.com", "files.gouv.ma", "1.2.3.4"])
GOOD_URLS = st.builds(lambda scheme, host, port, path: f"{scheme}://{host}{port}/{path}",
                      st.sampled_from(["http", "https", "HTTPS"]), HOSTS,
                      st.sampled_from(["", ":80", ":8443"]),
                      st.text(st.characters(whitelist_categories=("L", "N")), max_size=20))


@fuzz(60)
@given(GOOD_URLS, st.lists(st.sampled_from(PUBLIC), min_size=1, max_size=3))
def test_an_http_url_of_a_public_host_is_accepted(url, addresses):
    seen = []

    def resolve(host, port):
        seen.append((host, port))
        return addresses

    assert safe_read.check_url(url, resolve, ()) is None
    assert len(seen) == 1 and seen[0][0] in url.lower()


@fuzz(60)
@given(GOOD_URLS, st.lists(st.sampled_from(PUBLIC), max_size=2),
       st.sampled_from(NON_PUBLIC))
def test_a_url_resolving_to_any_non_public_address_is_refused(url, public, bad):
    def resolve(host, port):
        return [*public, bad]

    exc = refusal(safe_read.check_url, url, resolve, ())
    assert isinstance(exc, SourceError), repr(exc)


@fuzz(40)
@given(st.sampled_from(["file", "ftp", "gopher", "data", "jar:http", "javascript"]),
       HOSTS)
def test_a_url_of_another_scheme_is_refused_before_resolving(scheme, host):
    def resolve(host, port):
        raise AssertionError("resolved a URL it must refuse")

    exc = refusal(safe_read.check_url, f"{scheme}://{host}/x.csv", resolve, ())
    assert isinstance(exc, SourceError) and "scheme" in str(exc), repr(exc)
