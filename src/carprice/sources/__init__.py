"""Data sources. Each returns a frame in the contract's columns (schema.COLUMNS), plus
schema.LISTING_ID when the source has listing ids (an Avito export's Lien)."""

from __future__ import annotations

import pandas as pd

from carprice.sources.csv_reader import read_csv
from carprice.sources.safe_read import SourceError
from carprice.sources.synthetic import Drift, generate


def load(data_params: dict) -> pd.DataFrame:
    """The raw frame named by the ``data`` section of params.yaml."""
    source = data_params.get("source", "synthetic")
    if source == "synthetic":
        return generate(
            rows=int(data_params["rows"]),
            seed=int(data_params["seed"]),
            noise_sigma=float(data_params["noise_sigma"]),
            drift=Drift(**data_params.get("drift", {})),
        )
    if source == "csv":
        uri = str(data_params.get("csv_uri") or "").strip()
        if not uri:
            raise SourceError("data.source is 'csv' but data.csv_uri is empty")
        return read_csv(uri)  # checked by sources.guard: inbox files and public URLs only
    raise SourceError(f"unknown data.source {source!r} (expected 'synthetic' or 'csv')")


__all__ = ["Drift", "SourceError", "generate", "load", "read_csv"]
