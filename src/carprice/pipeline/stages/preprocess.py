"""preprocess: split clean.parquet into train / valid / test with no overlap.

Encoders are part of the model pipeline and are fit on train only (see model.py).
"""

from __future__ import annotations

import pandas as pd

from carprice.config.params import ParamsError
from carprice.pipeline import run_folder
from carprice.pipeline.runner import StageContext


def split(frame: pd.DataFrame, valid_size: float, test_size: float,
          seed: int) -> dict[str, pd.DataFrame]:
    """{name: rows} for each of run_folder.SPLITS."""
    from sklearn.model_selection import train_test_split

    if not 0 < valid_size < 1 or not 0 < test_size < 1 or valid_size + test_size >= 1:
        raise ParamsError(f"bad split sizes valid={valid_size} test={test_size}: each must be "
                          "in (0, 1) and their sum below 1")
    rest, test = train_test_split(frame, test_size=test_size, random_state=seed)
    train, valid = train_test_split(rest, test_size=valid_size / (1 - test_size),
                                    random_state=seed)
    return {"train": train, "valid": valid, "test": test}


def run(ctx: StageContext) -> dict:
    import mlflow

    clean = pd.read_parquet(ctx.path(run_folder.CLEAN))
    p = ctx.params.split
    parts = split(clean, p.valid_size, p.test_size, p.seed)
    sizes: dict[str, float] = {}
    for name, part in parts.items():
        part.to_parquet(ctx.path(run_folder.SPLITS[name]), index=False)
        sizes[f"{name}_rows"] = len(part)
    mlflow.log_metrics(sizes)
    return sizes
