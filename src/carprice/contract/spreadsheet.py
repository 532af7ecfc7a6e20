"""CSV files a user downloads and opens in a spreadsheet: no text cell may run as a formula.

A cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) is a
formula to Excel and LibreOffice: ``=HYPERLINK(...)`` in an uploaded car's model would come
back live in the priced CSV. Text cells that start so get a leading single quote (the
OWASP recommendation for CSV injection); numbers, negative ones too, stay numbers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _is_text(dtype: Any) -> bool:
    return (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype))


def _escape_series(values: pd.Series) -> pd.Series:
    return values.astype(object).map(escape_cell) if _is_text(values.dtype) else values


def _escape_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return pd.MultiIndex.from_tuples(
            [tuple(escape_cell(v) for v in key) for key in index], names=index.names)
    if not _is_text(index.dtype):
        return index
    return pd.Index([escape_cell(v) for v in index], name=index.name, dtype=object)


def escape_formulas(table: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """A copy of ``table`` whose text cells (values, index, column names) cannot run as
    formulas; call it on anything written to a CSV a user may open."""
    if isinstance(table, pd.Series):
        out_series = _escape_series(table).copy()
        out_series.index = _escape_index(table.index)
        return out_series.rename(escape_cell(table.name))
    out = table.copy()
    for pos in range(out.shape[1]):
        if _is_text(out.iloc[:, pos].dtype):
            out.isetitem(pos, _escape_series(out.iloc[:, pos]).to_numpy())
    out.index = _escape_index(out.index)
    out.columns = _escape_index(out.columns)
    return out
