"""Coercion and checks of raw frames against the data contract (schema.py).

Used by the validate stage (whole datasets, with thresholds) and by serving
(row by row: invalid rows are reported, valid ones still scored).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carprice.contract import outliers, schema
from carprice.errors import InputError

REQUIRED: tuple[str, ...] = (*schema.CATEGORICAL, *schema.NUMERIC)
_TRUE = {"true", "1", "oui", "yes", "vrai", "x", "1.0"}
_FALSE = {"false", "0", "non", "no", "faux", "0.0"}
# Columns by name: a frame, or a mapping of column -> values (validate_records' columns).
Columns = pd.DataFrame | Mapping[str, Any]


class ValidationError(InputError):
    """Data that breaks the contract or a threshold, with a one-line reason."""

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report  # the full report, when one could be computed


@dataclass(frozen=True)
class Thresholds:
    min_rows: int = 200
    max_missing_share: float = 0.3
    max_drop_share: float = 0.1
    max_duplicate_share: float = 0.2
    # price outliers (contract/outliers.py): left out, and not counted in max_drop_share
    outlier_mad_k: float = 4.5
    outlier_min_group: int = 20
    outlier_min_scale: float = 0.3
    max_outlier_share: float = 0.05


def _blank(series: pd.Series) -> pd.Series:
    """Missing values: NaN/None and the export's markers ('--', empty; schema.MISSING_MARKERS)."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return series.isna()
    text = series.astype("str").str.strip().str.lower()
    return series.isna() | text.isin(schema.MISSING_MARKERS)


def parse_number(series: pd.Series) -> pd.Series:
    """Numbers from text such as '50 000 - 54 999' (midpoint), '6 CV', '1980 ou plus ancien'."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    text = series.astype("str").str.replace(r"(?<=\d)[\s\u00a0\u202f.](?=\d{3}\b)", "", regex=True)
    # '1e5' is one number (an exponent), not two to average
    found = text.str.extractall(r"((?:^-)?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?)")[0]
    numbers = found.str.replace(",", ".").astype("float64")
    return numbers.groupby(level=0).mean().reindex(series.index)


def parse_listing_id(series: pd.Series) -> pd.Series:
    """Listing ids: the last number of an Avito URL ('.../Dacia_Logan_2015_54321.htm' ->
    54321, query string ignored) or a plain number; <NA> where there is none."""
    digits = series.astype("str").str.extract(r"(\d{1,18})\D*(?:[?#].*)?$")[0]
    digits = digits.where(~_blank(series))
    return pd.to_numeric(digits).astype("Int64")


def parse_bool(series: pd.Series) -> pd.Series:
    """True/False/NaN from booleans or text such as 'Oui', 'True', '1'."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype("object")
    text = series.astype("str")
    folded = text.map({v: schema.fold(v) for v in text.unique()})
    out = pd.Series(np.nan, index=series.index, dtype="object")
    out[folded.isin(_TRUE)] = True
    out[folded.isin(_FALSE)] = False
    return out


def parse_category(series: pd.Series, column: str) -> pd.Series:
    """Contract codes (schema.canonical: any spelling of a known value, e.g. 'Très bon',
    'GOLF 7'); unknown values kept, accents dropped; missing markers NaN."""
    text = series.astype("str")
    lookup = {v: schema.canonical(column, v) for v in text.unique()}
    return text.map(lookup).where(~_blank(series)).astype("object")


def coerce(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Contract columns parsed to their types (NaN where blank or unreadable).

    Returns the frame and, per column, how many non-blank values could not be read.
    """
    out, unreadable = {}, {}
    for col in schema.COLUMNS:
        if col not in raw:
            continue
        series = raw[col]
        if col in schema.CATEGORICAL:
            out[col] = parse_category(series, col)
            continue
        parsed = parse_bool(series) if col in schema.BOOLEAN else parse_number(series)
        bad = int((parsed.isna() & ~_blank(series)).sum())
        if bad:
            unreadable[col] = bad
        out[col] = parsed
    if schema.LISTING_ID in raw:  # pass-through: a bad id blanks the id, never the row
        ids = raw[schema.LISTING_ID]
        out[schema.LISTING_ID] = parse_listing_id(ids)
        bad = int((out[schema.LISTING_ID].isna() & ~_blank(ids)).sum())
        if bad:
            unreadable[schema.LISTING_ID] = bad
    return pd.DataFrame(out, index=raw.index), unreadable


def rule_hits(typed: Columns, require_target: bool) -> dict[str, np.ndarray]:
    """One boolean array per rule; True where the row breaks it. ``typed``: coerced columns
    (blanks NaN), a frame's or a mapping of column -> values (validate_records)."""
    rules = {}
    for col, (lo, hi) in schema.RANGES.items():
        if col not in typed or (col == schema.TARGET and not require_target):
            continue
        values = np.asarray(typed[col], dtype=np.float64)
        rules[f"{col} outside {lo:g}..{hi:g}"] = (values < lo) | (values > hi)  # NaN: neither
    if require_target:
        rules[f"{schema.TARGET} missing"] = np.asarray(pd.isna(typed[schema.TARGET]))
    for col, allowed in schema.CLOSED_CATEGORIES.items():
        if col in typed:
            values = np.asarray(typed[col], dtype=object)
            rules[f"{col} not one of {', '.join(allowed)}"] = (~pd.isna(values)
                                                               & ~np.isin(values, allowed))
    return rules


def row_problems(typed: pd.DataFrame, require_target: bool) -> pd.DataFrame:
    """One boolean column per rule; True where the row breaks it."""
    return pd.DataFrame(rule_hits(typed, require_target), index=typed.index, dtype=bool)


def problem_reasons(typed: Columns, hits: dict[str, np.ndarray]) -> dict[int, str]:
    """Position of each row breaking a rule -> a readable reason, in row order, e.g.
    "year '1890' outside 1970..2027" (several joined by '; ')."""
    reasons: dict[int, str] = {}
    for rule, hit in hits.items():
        positions = np.flatnonzero(hit)
        if not len(positions):
            continue
        col, rest = rule.split(" ", 1)
        values = np.asarray(typed[col], dtype=object) if col in typed else None
        for i in positions.tolist():
            text = f"{col} {_show(values[i])!r} {rest}" if values is not None else rule
            reasons[i] = f"{reasons[i]}; {text}" if i in reasons else text
    return dict(sorted(reasons.items()))


def _show(value) -> str:
    """1890.0 -> '1890': whole numbers read as typed."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# What a blank becomes in the clean frame the model sees (numbers stay NaN: imputed).
_FILL: dict[str, Any] = {**{c: schema.MISSING_CATEGORY for c in schema.CATEGORICAL},
                         **{c: False for c in schema.BOOLEAN}}


def finalize(typed: pd.DataFrame) -> pd.DataFrame:
    """Valid rows -> the clean frame the model sees: blanks filled, contract dtypes."""
    frame = typed.copy()
    for col, fill in _FILL.items():
        frame[col] = frame[col].fillna(fill) if col in frame else fill
    cols = [c for c in schema.COLUMNS if c in frame]
    dtypes = {c: schema.DTYPES[c] for c in cols}
    if schema.LISTING_ID in frame:
        cols.append(schema.LISTING_ID)
        dtypes[schema.LISTING_ID] = "Int64"
    return frame[cols].astype(dtypes)


def missing_columns(frame: pd.DataFrame, require_target: bool) -> list[str]:
    required = (*REQUIRED, schema.TARGET) if require_target else REQUIRED
    return [c for c in required if c not in frame.columns]


def prepare_features(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Serving path: (clean features of valid rows, errors with columns row/problem)."""
    missing = missing_columns(raw, require_target=False)
    if missing:
        raise ValidationError(f"missing columns: {', '.join(missing)}")
    typed, _ = coerce(raw)
    reasons = problem_reasons(typed, rule_hits(typed, require_target=False))
    bad = np.zeros(len(typed), dtype=bool)
    bad[list(reasons)] = True
    errors = pd.DataFrame({"row": typed.index[bad],
                           "problem": np.array(list(reasons.values()), dtype=object)})
    clean = finalize(typed[~bad])
    return clean[list(schema.FEATURES)], errors


Records = Sequence[Mapping[str, Any]]
# Coerced values of one column of records, before blanks are filled.
_TYPED_DTYPES = {c: np.float64 if c in schema.NUMERIC else object for c in schema.FEATURES}
_INT64 = (-(2**63), 2**63 - 1)


def validate_records(records: Records) -> tuple[dict[str, np.ndarray], list[int], dict[int, str]]:
    """Cars as values (a form's, a request's) -> (clean feature columns of the valid cars,
    their positions, position -> one-line reason for each invalid car).

    The rules of prepare_features (coerce, rule_hits, the fills of finalize) without a
    frame, which would cost milliseconds, more than the model; an absent field counts as
    blank. Per car the first reason wins: an unknown field, then the fields in contract
    order, then every broken rule.
    """
    problems: dict[int, str] = {}
    rows, positions = [], []
    for i, record in enumerate(records):
        try:
            rows.append(_typed_row(record))
        except ValidationError as exc:
            problems[i] = str(exc)
        else:
            positions.append(i)
    columns = list(zip(*rows, strict=True)) or [()] * len(schema.FEATURES)
    typed = {col: np.array(values, dtype=_TYPED_DTYPES[col])
             for col, values in zip(schema.FEATURES, columns, strict=True)}
    reasons = problem_reasons(typed, rule_hits(typed, require_target=False))
    for k, reason in reasons.items():
        problems[positions[k]] = reason
    keep = np.ones(len(positions), dtype=bool)
    keep[list(reasons)] = False
    clean = {}
    for col, values in typed.items():
        values = values[keep]
        clean[col] = (values if col not in _FILL else
                      np.where(pd.isna(values), _FILL[col], values).astype(
                          bool if col in schema.BOOLEAN else object))
    valid = [p for p, k in zip(positions, keep.tolist(), strict=True) if k]
    return clean, valid, dict(sorted(problems.items()))


def validate_record(record: Mapping[str, Any]) -> pd.DataFrame:
    """One car (a form's or a request's values) -> its clean features as a one-row frame;
    ValidationError with the first reason, in one line (see validate_records)."""
    clean, _, problems = validate_records([record])
    if problems:
        raise ValidationError(problems[0])
    return pd.DataFrame(clean).astype({c: schema.DTYPES[c] for c in schema.FEATURES})


def _typed_row(record: Mapping[str, Any]) -> tuple:
    """One car's coerced values in contract order; ValidationError for a value no rule
    can judge (unknown field, non-finite number, unreadable text)."""
    unknown = sorted(set(record) - set(schema.FEATURES))
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}")
    return tuple(_typed_value(col, record.get(col)) for col in schema.FEATURES)


def _typed_value(col: str, value: Any) -> Any:
    if col in schema.NUMERIC:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"{col} must be a finite number, got {value!r}")
        # What coerce makes of a plain number, without its cache (numbers rarely repeat)
        if type(value) is float or (type(value) is int and _INT64[0] <= value <= _INT64[1]):
            return float(value)
    try:
        typed, unreadable = _coerce_value(col, value)
    except TypeError:  # unhashable, e.g. a list: never a valid value
        raise ValidationError(f"{col} must be a single value, got {value!r}") from None
    if unreadable:
        kind = "true or false" if col in schema.BOOLEAN else "a number"
        raise ValidationError(f"{col} must be {kind}, got {value!r}")
    return typed


@functools.lru_cache(maxsize=4096, typed=True)
def _coerce_value(column: str, value: Any) -> tuple[Any, bool]:
    """coerce() of one value: (typed value, unreadable). coerce parses each value on its
    own, so the result can be cached; form values repeat (labels, booleans, years), and
    coerce's per-column cost would otherwise dominate a single prediction."""
    typed, unreadable = coerce(pd.DataFrame({column: [value]}))
    return typed[column].iloc[0], bool(unreadable)


def validate_dataset(raw: pd.DataFrame, limits: Thresholds) -> tuple[pd.DataFrame, dict]:
    """Training path: the clean frame and a report; ValidationError if a threshold breaks."""
    if raw.empty:
        raise ValidationError("dataset has no rows")
    missing = missing_columns(raw, require_target=True)
    if missing:
        raise ValidationError(f"missing columns: {', '.join(missing)}")
    n_in = len(raw)
    typed, unreadable = coerce(raw)
    missing_share = {c: round(float(typed[c].isna().mean()), 4) for c in typed.columns}
    problems = row_problems(typed, require_target=True)
    bad = problems.any(axis=1)
    kept = typed[~bad]
    # the same car at the same price twice, whatever its listing ids
    duplicated = kept.duplicated(subset=[c for c in schema.COLUMNS if c in kept])
    clean = finalize(kept[~duplicated])
    outlier, outlier_table = outliers.price_outliers(clean, outliers.OutlierRule(
        limits.outlier_mad_k, limits.outlier_min_group, limits.outlier_min_scale))
    clean = clean[~outlier]

    failures = []
    for col in schema.FEATURES:
        if missing_share.get(col, 0) > limits.max_missing_share:
            failures.append(f"column {col} is {missing_share[col]:.0%} missing "
                            f"(max {limits.max_missing_share:.0%})")
    drop_share = float(bad.mean())
    dup_share = float(duplicated.sum() / n_in)
    if drop_share > limits.max_drop_share:
        worst = problems.sum().sort_values(ascending=False)
        detail = ", ".join(f"{int(v)} {k}" for k, v in worst[worst > 0].head(3).items())
        failures.append(f"{drop_share:.1%} of rows invalid (max {limits.max_drop_share:.0%}): "
                        f"{detail}")
    if dup_share > limits.max_duplicate_share:
        failures.append(f"{dup_share:.1%} of rows are duplicates "
                        f"(max {limits.max_duplicate_share:.0%})")
    outlier_share = len(outlier_table) / n_in
    if outlier_share > limits.max_outlier_share:
        failures.append(f"{outlier_share:.1%} of rows are price outliers "
                        f"(max {limits.max_outlier_share:.0%}): {outlier_table['reason'].iloc[0]}")
    if len(clean) < limits.min_rows:
        failures.append(f"only {len(clean)} valid rows (min {limits.min_rows})")

    price = clean[schema.TARGET]
    report = {
        "passed": not failures,
        "failures": failures,
        "rows_in": n_in,
        "rows_out": len(clean),
        "rows_invalid": int(bad.sum()),
        "rows_duplicate": int(duplicated.sum()),
        "rows_outlier": len(outlier_table),
        "outliers": outliers.records(outlier_table),
        "invalid_by_rule": {k: int(v) for k, v in problems.sum().items() if v},
        "unreadable_values": unreadable,
        "missing_share": missing_share,
        "absent_optional_columns": [c for c in schema.BOOLEAN if c not in raw.columns],
        "unknown_categories": {
            col: _unknown(clean[col], known) for col, known in schema.OPEN_CATEGORIES.items()
        },
        "target": {
            "min": float(price.min()) if len(price) else None,
            "median": float(price.median()) if len(price) else None,
            "max": float(price.max()) if len(price) else None,
            "log_std": float(np.log(price).std()) if len(price) > 1 else None,
        },
    }
    if failures:
        raise ValidationError("; ".join(failures), report)
    return clean, report


def _unknown(values: pd.Series, known: tuple[str, ...]) -> dict:
    unknown = values[~values.isin([*known, schema.MISSING_CATEGORY])]
    return {"share": round(float(len(unknown) / max(len(values), 1)), 4),
            "top": unknown.value_counts().head(5).to_dict()}


def summary_markdown(report: dict) -> str:
    """The report as a short readable page."""
    lines = [
        f"# Data validation: {'PASSED' if report['passed'] else 'FAILED'}",
        "",
        f"- rows in: {report['rows_in']}, rows out: {report['rows_out']}",
        f"- invalid rows: {report['rows_invalid']}, duplicates: {report['rows_duplicate']}",
    ]
    lines += [f"- FAILURE: {f}" for f in report["failures"]]
    lines += outliers.markdown(report["outliers"], report["rows_outlier"])
    if report["invalid_by_rule"]:
        lines += ["", "## Invalid rows by rule", ""]
        lines += [f"- {k}: {v}" for k, v in report["invalid_by_rule"].items()]
    if report["unreadable_values"]:
        lines += ["", "## Unreadable values", ""]
        lines += [f"- {k}: {v}" for k, v in report["unreadable_values"].items()]
    lines += ["", "## Missing share", ""]
    lines += [f"- {k}: {v:.1%}" for k, v in report["missing_share"].items() if v]
    lines += ["", "## Unseen categories (kept; the model treats them as new)", ""]
    lines += [f"- {k}: {v['share']:.1%} {v['top']}"
              for k, v in report["unknown_categories"].items()]
    t = report["target"]
    lines += ["", f"## Target {schema.TARGET}", "", f"- min {t['min']}, median {t['median']}, "
              f"max {t['max']}, std(log) {t['log_std']}"]
    return "\n".join(lines) + "\n"
