"""Shared pieces of the property-based (hypothesis) tests: reproducible settings, the
one-line-error property and strategies for malformed values, frames and CSV files."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from carprice.config.params import ParamsError
from carprice.contract import schema
from carprice.contract.validation import ValidationError
from carprice.sources import synthetic
from carprice.sources.csv_reader import AVITO_COLUMNS, CsvError
from carprice.sources.safe_read import SourceError

# The project's one-line error types: anything else escaping is a bug.
ONE_LINE_ERRORS = (CsvError, ValidationError, SourceError, ParamsError)
MAX_MESSAGE = 500


def fuzz(max_examples: int) -> settings:
    """Same examples on every run (CI reproducible), no example database on disk."""
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                    # no shrinking: a failure is reported as generated, in seconds, where
                    # shrinking pandas frames can take minutes on a shared CI runner
                    phases=(Phase.explicit, Phase.generate))


def check_error(exc: BaseException, limit: int | None = MAX_MESSAGE) -> None:
    """The property every refusal must have: a known type and one short line."""
    assert isinstance(exc, ONE_LINE_ERRORS), f"{type(exc).__name__}: {exc!r}"[:2000]
    message = str(exc)
    assert message.strip(), f"empty message from {type(exc).__name__}"
    assert len(message.splitlines()) == 1, f"multi-line message: {message!r}"[:2000]
    if limit is not None:
        assert len(message) <= limit, f"{len(message)} chars: {message[:300]!r}..."


def outcome(func, *args):
    """func's result, or None after checking the exception it raised is a one-line error."""
    try:
        return func(*args)
    except Exception as exc:  # noqa: BLE001 - the property under test is which ones escape
        check_error(exc)
        return None


def refusal(func, *args) -> BaseException:
    """The one-line error func must raise (an input that must be refused)."""
    try:
        result = func(*args)
    except Exception as exc:  # noqa: BLE001 - the property under test is which ones escape
        check_error(exc)
        return exc
    raise AssertionError(f"accepted, must be refused: {args!r}"[:2000] + f" -> {result!r}"[:500])


class Tally:
    """Accepted vs refused over a whole hypothesis run, so that a mixed generator (valid and
    broken inputs) cannot pass by refusing everything, nor by accepting everything.

    Used around an inner @given function, so its counts span every example of one run::

        tally = Tally()

        @fuzz(100)
        @given(...)
        def check(x):
            out = tally.outcome(func, x)
            ...

        check()
        tally.require(accepted=0.1, refused=0.1)
    """

    def __init__(self) -> None:
        self.accepted = self.refused = 0

    def outcome(self, func, *args):
        out = outcome(func, *args)
        self.count(out is not None)
        return out

    def count(self, accepted: bool) -> None:
        if accepted:
            self.accepted += 1
        else:
            self.refused += 1

    def require(self, accepted: float = 0.0, refused: float = 0.0) -> None:
        """At least these shares of the examples accepted and refused (a share > 0: at least
        one example)."""
        total = self.accepted + self.refused
        shown = f"{self.accepted} accepted, {self.refused} refused of {total}"
        assert total, "no example ran"
        assert self.accepted >= max(accepted * total, accepted > 0), f"too few accepted: {shown}"
        assert self.refused >= max(refused * total, refused > 0), f"too few refused: {shown}"


# ---------------------------------------------------------------- values

RANGE_TEXT = st.builds(lambda lo, step: f"{lo:,} - {lo + step:,}".replace(",", " "),
                       st.integers(0, 2_000_000), st.sampled_from([4_999, 9_999, 0, -10]))
NUMBER_TEXT = st.one_of(
    RANGE_TEXT,
    st.sampled_from(["1980 ou plus ancien", "Plus de 500 000", "6 CV", "1e308", "-0", "1,5",
                     "1.000.000", "NaN", "inf", "-inf", "", " ", "None", "nan", "0x1F",
                     "١٢٣", "²", "½", "--5", "5-", "1 2 3", "9" * 400]),
    st.integers(-10**30, 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
TEXT = st.text(max_size=40)
LABELS = st.sampled_from(sorted({v for vs in schema.CLOSED_CATEGORIES.values() for v in vs}
                                | {v for vs in schema.OPEN_CATEGORIES.values() for v in vs[:5]}))
BOOL_TEXT = st.sampled_from(["Oui", "Non", "True", "false", "1", "0", "x", "vrai", "FAUX", "?"])
SCALAR = st.one_of(
    st.none(), st.booleans(), TEXT, NUMBER_TEXT, LABELS, BOOL_TEXT,
    st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(), st.tuples(st.integers()), st.text(min_size=501, max_size=600),
)


def cell_for(column: str):
    """Values aimed at one column: mostly plausible, often broken."""
    if column in schema.CATEGORICAL:
        return st.one_of(LABELS, TEXT, SCALAR)
    if column in schema.BOOLEAN:
        return st.one_of(BOOL_TEXT, st.booleans(), SCALAR)
    return st.one_of(NUMBER_TEXT, st.integers(-10**12, 10**12),
                     st.floats(allow_nan=True, allow_infinity=True), SCALAR)


# ---------------------------------------------------------------- frames


# Valid rows to start from, so that corrupted frames reach the success paths too.
POOL = synthetic.generate(64, seed=11)


def _set_cell(frame: pd.DataFrame, row: int, col: str, value) -> None:
    if frame[col].dtype != object:
        frame[col] = frame[col].astype(object)
    frame.iloc[row, frame.columns.get_loc(col)] = value


@st.composite
def garbage_frames(draw, max_rows: int = 8) -> pd.DataFrame:
    """Valid rows, then broken: any value in any cell, whole columns of garbage, columns
    missing or extra, numbers as text or text as numbers, duplicated rows."""
    rows = draw(st.integers(0, max_rows))
    picks = draw(st.lists(st.integers(0, len(POOL) - 1), min_size=rows, max_size=rows))
    frame = POOL.iloc[picks].reset_index(drop=True)
    if draw(st.booleans()):
        frame = frame.astype(str)  # everything text, as a CSV delivers it
    for _ in range(draw(st.integers(0, 6)) if rows else 0):
        col = draw(st.sampled_from(schema.COLUMNS))
        _set_cell(frame, draw(st.integers(0, rows - 1)), col, draw(cell_for(col)))
    garbled = draw(st.lists(st.sampled_from(schema.COLUMNS), unique=True,
                            max_size=len(schema.COLUMNS))) if draw(st.booleans()) else []
    for col in garbled:
        frame[col] = pd.Series(draw(st.lists(cell_for(col), min_size=rows, max_size=rows)),
                               dtype=object)
    if draw(st.integers(0, 3)) == 0:
        frame = frame.drop(columns=draw(st.lists(st.sampled_from(schema.COLUMNS), max_size=3,
                                                 unique=True)))
    if draw(st.integers(0, 4)) == 0:
        frame[draw(TEXT)] = draw(st.lists(SCALAR, min_size=rows, max_size=rows))
    if draw(st.integers(0, 4)) == 0 and len(frame.columns):
        col = draw(st.sampled_from(list(frame.columns)))
        frame[col] = pd.to_numeric(frame[col], errors="coerce")  # numeric dtype, NaN holes
    if rows and draw(st.integers(0, 3)) == 0:
        frame = pd.concat([frame, frame.iloc[: draw(st.integers(1, rows))]], ignore_index=True)
    return frame


# ---------------------------------------------------------------- CSV files

HEADERS = st.one_of(
    st.sampled_from(list(schema.COLUMNS)),
    st.sampled_from(list(AVITO_COLUMNS)),
    st.sampled_from(["", " ", "Unnamed: 0", "Lien", "brand", "Prix", "PRIX ", "prix_dh"]),
    TEXT,
)
ENCODINGS = ["utf-8", "utf-8-sig", "latin1", "cp1252", "utf-16"]
DELIMITERS = [",", ";", "\t", "|"]


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


@st.composite
def csv_files(draw) -> bytes:
    """CSV bytes: contract, Avito or garbled headers, any delimiter and encoding, quotes,
    BOMs, and files cut short mid-row or mid-quote."""
    headers = draw(st.lists(HEADERS, min_size=1, max_size=10))
    if draw(st.booleans()):
        headers = list(schema.COLUMNS) if draw(st.booleans()) else list(AVITO_COLUMNS)
        headers = [h for h in headers if draw(st.integers(0, 9)) != 0]
    delimiter = draw(st.sampled_from(DELIMITERS))
    quote = draw(st.booleans())
    rows = draw(st.lists(st.lists(st.one_of(SCALAR, RANGE_TEXT), min_size=0,
                                  max_size=len(headers) + 1), max_size=8))

    def line(cells) -> str:
        texts = [_cell_text(c) for c in cells]
        if quote:
            texts = ['"' + t.replace('"', '""') + '"' for t in texts]
        return delimiter.join(texts)

    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join([line(headers), *map(line, rows)]) + newline
    encoding = draw(st.sampled_from(ENCODINGS))
    raw = text.encode(encoding, errors="replace")
    if draw(st.booleans()) and raw:
        raw = raw[: draw(st.integers(0, len(raw)))]  # truncated: mid-row, mid-quote, mid-char
    if draw(st.integers(0, 9)) == 0:
        raw = draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b""])) + raw
    return raw
