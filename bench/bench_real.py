"""Where a real export stands: the same validation, every candidate of params.yaml and the
gate's baseline, scored by k-fold cross-validation.

    python bench/bench_real.py PATH [--folds 5] [--seed 42] [--params params.yaml] [--out F]
    python bench/bench_real.py --generate 800 [--typos 6]     # a generated Avito export

PATH is a CSV in the contract's or Avito's format (what data.csv_uri takes). Validation
(with the price-outlier rule) runs once on the whole file; each fold then fits every
candidate on the other folds (its conformal interval calibrated on params' valid share of
them) and the baseline (median price by brand + model + year band), and scores the fold.
Prints R² on price and on log price, MAPE, median APE, RMSE(log) and coverage of the
out-of-fold predictions of each, to compare with the R² that other projects publish for the
full export (0.84-0.91 on random splits). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from carprice.config.params import Params, load_params  # noqa: E402
from carprice.contract import schema  # noqa: E402
from carprice.contract.validation import Thresholds, validate_dataset  # noqa: E402
from carprice.model import metrics  # noqa: E402
from carprice.model.baseline import MedianBaseline  # noqa: E402
from carprice.model.estimator import LOWER, PRICE, UPPER, from_candidate  # noqa: E402
from carprice.sources.csv_reader import decode, parse, to_avito  # noqa: E402
from carprice.sources.synthetic import generate, with_typos  # noqa: E402

SHOWN = ("r2", "r2_log", "mape", "median_ape", "rmse_log", "coverage")


def read_export(args) -> tuple[pd.DataFrame, str]:
    if args.generate:
        frame, _ = with_typos(generate(args.generate, seed=args.seed), args.typos, args.seed)
        text = to_avito(frame).to_csv(index=False)
        return parse(text, name="generated"), (f"generated Avito export, {args.generate} rows, "
                                               f"{args.typos} data-entry prices, seed {args.seed}")
    path = Path(args.path)
    return parse(decode(path.read_bytes(), name=path.name), name=path.name), str(path)


def cross_validate(clean: pd.DataFrame, params: Params, folds: int, seed: int) -> dict:
    """Out-of-fold predictions (PRICE, LOWER, UPPER) of every candidate and the baseline."""
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(np.arange(len(clean)) % folds)
    names = [*params.candidates, "baseline"]
    out = {name: pd.DataFrame(np.nan, index=clean.index, columns=[PRICE, LOWER, UPPER])
           for name in names}
    seconds = dict.fromkeys(names, 0.0)
    for k in range(folds):
        held, rest = clean[fold_of == k], clean[fold_of != k]
        calib = rest.sample(frac=params.split.valid_size, random_state=seed + k)
        fit = rest.drop(calib.index)
        for name in params.candidates:
            started = time.perf_counter()
            model = from_candidate(params.candidate(name), random_state=seed).fit(
                fit, fit[schema.TARGET], calib, calib[schema.TARGET])
            pred = model.predict_interval(held)
            out[name].loc[held.index] = pred[[PRICE, LOWER, UPPER]].to_numpy()
            seconds[name] += time.perf_counter() - started
        started = time.perf_counter()
        price = MedianBaseline().fit(rest).predict(held)
        out["baseline"].loc[held.index] = np.column_stack([price, price, price])
        seconds["baseline"] += time.perf_counter() - started
    return {"predictions": out, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", help="CSV export (contract or Avito format)")
    parser.add_argument("--generate", type=int, default=0, help="rows of a generated export")
    parser.add_argument("--typos", type=int, default=0, help="data-entry prices to inject")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--out", help="write the figures as JSON here too")
    args = parser.parse_args()
    if not args.path and not args.generate:
        parser.error("give PATH or --generate ROWS")
    params = Params.model_validate(load_params(args.params))
    raw, label = read_export(args)
    clean, report = validate_dataset(raw, Thresholds(**params.validate_.model_dump()))
    print(f"{label}: {report['rows_in']} rows, {report['rows_invalid']} invalid, "
          f"{report['rows_duplicate']} duplicate, {report['rows_outlier']} price outliers "
          f"left out -> {len(clean)} rows, {args.folds}-fold cross-validation")
    for row in report["outliers"][:10]:
        print(f"  outlier: {row['reason']}")
    found = cross_validate(clean.reset_index(drop=True), params, args.folds, args.seed)
    y = clean[schema.TARGET].to_numpy(dtype=float)
    table = {}
    for name, pred in found["predictions"].items():
        scored = metrics.regression_metrics(y, pred)
        table[name] = {k: round(scored[k], 4) for k in SHOWN}
        table[name]["fit_seconds"] = round(found["seconds"][name], 2)
    print(f"\n{'model':<18}" + "".join(f"{k:>12}" for k in (*SHOWN, "fit_seconds")))
    for name, row in table.items():
        shown = [("-" if name == "baseline" and k == "coverage" else f"{row[k]:.4f}")
                 for k in SHOWN]
        print(f"{name:<18}" + "".join(f"{v:>12}" for v in shown) + f"{row['fit_seconds']:>12}")
    if args.out:
        Path(args.out).write_text(json.dumps({"export": label, "rows": len(clean),
                                              "outliers": report["rows_outlier"],
                                              "folds": args.folds, "models": table}, indent=1))


if __name__ == "__main__":
    main()
