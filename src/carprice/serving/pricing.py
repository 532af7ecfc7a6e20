"""Scoring with a loaded model: one car, a frame of raw rows, an uploaded CSV.

No Streamlit here: the app and a prediction service share this module. Input is
untrusted: every row goes through the data contract (carprice.contract.validation) first, and
problems come back as one-line reasons, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from carprice.contract import schema
from carprice.contract.spreadsheet import escape_formulas
from carprice.contract.validation import ValidationError, validate_records
from carprice.model.estimator import OUTPUT_COLUMNS
from carprice.model.pyfunc import predict_columns, score
from carprice.sources.csv_reader import CsvError, count_rows, decode, parse

BATCH_CHUNK_ROWS = 5_000
# Rows of one uploaded CSV: parsed as text, validated and scored, 250k rows stay well
# within the Streamlit container's memory limit (STREAMLIT_MEM_LIMIT, 1.5 GB). The bytes
# are capped before this by Streamlit's server.maxUploadSize (app/.streamlit/config.toml).
MAX_UPLOAD_ROWS = 250_000


Outcome = dict[str, float] | ValidationError


def price_cars(model, cars: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    """Per car, in order: {PRICE, LOWER, UPPER} or the ValidationError it broke.

    Cars as values (the form's, the API's). One call for many cars costs about one car's:
    the contract check (validate_records) and the model take columns, not a frame."""
    clean, valid, problems = validate_records(cars)
    out: list[Any] = [None] * len(cars)
    for pos, reason in problems.items():
        out[pos] = ValidationError(reason)
    if valid:
        pred = predict_columns(model, clean)
        rows = zip(*(pred[c].tolist() for c in OUTPUT_COLUMNS), strict=True)
        for pos, values in zip(valid, rows, strict=True):
            out[pos] = dict(zip(OUTPUT_COLUMNS, values, strict=True))
    return out


def predict_one(model, car: Mapping[str, Any]) -> dict[str, float]:
    """Price and 80% interval of one car ({PRICE, LOWER, UPPER}); ValidationError."""
    (outcome,) = price_cars(model, [car])
    if isinstance(outcome, ValidationError):
        raise outcome
    return outcome


@dataclass
class BatchResult:
    scored: pd.DataFrame  # row (1-based data row), contract features, OUTPUT_COLUMNS
    errors: pd.DataFrame  # row, problem
    rows_in: int

    @property
    def summary(self) -> str:
        return (f"{len(self.scored)} of {self.rows_in} rows scored, "
                f"{len(self.errors)} rejected")


def read_upload(data: bytes, name: str = "CSV") -> pd.DataFrame:
    """Uploaded bytes -> contract-named frame of text values; CsvError if unreadable or
    longer than MAX_UPLOAD_ROWS (counted before anything is decoded or parsed)."""
    count_rows(data, name, MAX_UPLOAD_ROWS)
    frame = parse(decode(data, name), name)
    if frame.empty:
        raise CsvError(f"{name} has a header but no rows")
    if len(frame) > MAX_UPLOAD_ROWS:
        raise CsvError(f"{name} has {len(frame):,} rows; the limit is {MAX_UPLOAD_ROWS:,} "
                       "(split the file)")
    return frame


def score_frame(model, raw: pd.DataFrame, chunk_rows: int = BATCH_CHUNK_ROWS,
                progress: Callable[[int, int], None] | None = None) -> BatchResult:
    """Score raw rows chunk by chunk; invalid rows reported, valid ones scored.

    Raises ValidationError only for problems of the whole file (missing columns).
    """
    raw = raw.reset_index(drop=True)
    scored, errors = [], []
    total = len(raw)
    for start in range(0, total, chunk_rows):
        good, bad = score(model, raw.iloc[start:start + chunk_rows], enforce_schema=False)
        scored.append(good)
        errors.append(bad)
        if progress is not None:
            progress(min(start + chunk_rows, total), total)
    out = pd.concat(scored) if scored else pd.DataFrame(columns=[*schema.FEATURES,
                                                                  *OUTPUT_COLUMNS])
    err = pd.concat(errors, ignore_index=True) if errors else pd.DataFrame(
        columns=["row", "problem"])
    out.insert(0, "row", out.index + 1)
    err = err.assign(row=err["row"].astype(int) + 1) if len(err) else err
    return BatchResult(out.reset_index(drop=True), err.reset_index(drop=True), total)


def score_upload(model, data: bytes, name: str = "CSV", chunk_rows: int = BATCH_CHUNK_ROWS,
                 progress: Callable[[int, int], None] | None = None) -> BatchResult:
    """CSV bytes (contract or Avito columns) -> BatchResult; CsvError/ValidationError."""
    return score_frame(model, read_upload(data, name), chunk_rows, progress)


def results_csv(result: BatchResult) -> bytes:
    """The scored rows as CSV, prices rounded to the dirham; no text cell (the uploaded
    brand, model, ...) can run as a spreadsheet formula."""
    out = result.scored.copy()
    for col in OUTPUT_COLUMNS:
        out[col] = out[col].round(0)
    return escape_formulas(out).to_csv(index=False).encode("utf-8")
