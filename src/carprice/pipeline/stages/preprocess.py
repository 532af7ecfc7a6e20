"""preprocess: split clean.parquet into train / valid / test with no overlap.

Random by default; with split.time_ordered, by listing id (ids grow with time): the newest
listings are the test set and the next newest the validation set, as a model meets them.
Encoders are part of the model pipeline and are fit on train only (see model.py).
"""

from __future__ import annotations

import math

import pandas as pd

from carprice.config.params import ParamsError
from carprice.contract import schema
from carprice.pipeline import run_folder
from carprice.pipeline.runner import StageContext
from carprice.sources import safe_read


def _check_sizes(valid_size: float, test_size: float) -> None:
    if not 0 < valid_size < 1 or not 0 < test_size < 1 or valid_size + test_size >= 1:
        raise ParamsError(f"bad split sizes valid={valid_size} test={test_size}: each must be "
                          "in (0, 1) and their sum below 1")


def split(frame: pd.DataFrame, valid_size: float, test_size: float,
          seed: int) -> dict[str, pd.DataFrame]:
    """{name: rows} for each of run_folder.SPLITS, drawn at random."""
    from sklearn.model_selection import train_test_split

    _check_sizes(valid_size, test_size)
    rest, test = train_test_split(frame, test_size=test_size, random_state=seed)
    train, valid = train_test_split(rest, test_size=valid_size / (1 - test_size),
                                    random_state=seed)
    return {"train": train, "valid": valid, "test": test}


def split_by_time(frame: pd.DataFrame, valid_size: float,
                  test_size: float) -> dict[str, pd.DataFrame]:
    """{name: rows}: the newest listings (highest listing_id) in test, the next newest in
    valid, the rest in train. Rows without an id cannot be placed in time: they train."""
    _check_sizes(valid_size, test_size)
    ids = frame.get(schema.LISTING_ID)
    if ids is None or ids.isna().all():
        raise ParamsError("split.time_ordered needs listing ids (an Avito export's Lien "
                          f"column, or {schema.LISTING_ID}); this dataset has none")
    dated = frame[ids.notna()].sort_values(schema.LISTING_ID, kind="stable")
    n = len(dated)
    n_test = math.ceil(test_size * n)  # as train_test_split rounds
    n_valid = math.ceil(valid_size * n)
    if n - n_test - n_valid < 1:
        raise ParamsError(f"split.time_ordered: {n} rows with a listing id leave none "
                          "to train on")
    return {"train": pd.concat([frame[ids.isna()], dated.iloc[:n - n_test - n_valid]]),
            "valid": dated.iloc[n - n_test - n_valid:n - n_test],
            "test": dated.iloc[n - n_test:]}


def run(ctx: StageContext) -> dict:
    import mlflow

    clean = safe_read.read_parquet(ctx.path(run_folder.CLEAN))
    p = ctx.params.split
    parts = (split_by_time(clean, p.valid_size, p.test_size) if p.time_ordered
             else split(clean, p.valid_size, p.test_size, p.seed))
    sizes: dict[str, float] = {}
    for name, part in parts.items():
        part.to_parquet(ctx.path(run_folder.SPLITS[name]), index=False)
        sizes[f"{name}_rows"] = len(part)
    mlflow.log_metrics(sizes)
    mlflow.log_params({f"split.{k}": v for k, v in p.model_dump().items()})
    return sizes
