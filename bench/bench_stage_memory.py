"""Peak memory per row of the train stage, in-process (no Docker, no MLflow): one of the
figures behind params.py's ``rows`` cap (carprice.config.limits). The binding stage is
evaluate, measured in real stage containers by bench/stage_peaks.sh.

    python bench/bench_stage_memory.py [--rows 50000 200000 400000]

For each size, one fresh process generates the synthetic listings and writes the train and
valid splits as parquet (what ingest .. preprocess leave in the run folder; its peak RSS is
printed as "prepare"), then one fresh process per candidate of params.yaml does what the
train stage does before logging: reads both splits and fits the candidate. Bytes per row is
the slope of the peak RSS between the smallest and the largest size (the fixed part, the
imports, cancels out), per row of the GENERATED data (the form's ``rows``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def prepare(rows: int, folder: Path) -> dict:
    from sklearn.model_selection import train_test_split

    from carprice.config.params import load_params
    from carprice.sources.synthetic import generate

    params = load_params()
    data = generate(rows, seed=params["data"]["seed"], noise_sigma=params["data"]["noise_sigma"])
    hold = params["split"]["valid_size"] + params["split"]["test_size"]
    train, rest = train_test_split(data, test_size=hold, random_state=0)
    valid, _ = train_test_split(rest, test_size=0.5, random_state=0)
    train.to_parquet(folder / "train.parquet")
    valid.to_parquet(folder / "valid.parquet")
    return {"peak_rss": peak_rss()}


def train(candidate: str, folder: Path) -> dict:
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from carprice.config.params import read_params
    from carprice.contract import schema
    from carprice.model.estimator import from_candidate

    params = read_params()
    tr = pd.read_parquet(folder / "train.parquet")
    va = pd.read_parquet(folder / "valid.parquet")
    model = from_candidate(params.candidate(candidate), random_state=params.split.seed)
    with threadpool_limits(limits=1, user_api="openmp"):  # as the train stage
        model.fit(tr, tr[schema.TARGET], va, va[schema.TARGET])
    model.predict_interval(va)
    return {"peak_rss": peak_rss()}


def child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 200_000, 400_000])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, value, folder = args.child
        result = prepare(int(value), Path(folder)) if kind == "prepare" \
            else train(value, Path(folder))
        print(json.dumps(result))
        return
    from carprice.config.params import read_params

    candidates = list(read_params().candidates)
    peaks: dict[str, dict[int, int]] = {"prepare": {}, **{c: {} for c in candidates}}
    for rows in sorted(args.rows):
        with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
            peaks["prepare"][rows] = child("prepare", str(rows), tmp)["peak_rss"]
            for name in candidates:
                peaks[name][rows] = child("train", name, tmp)["peak_rss"]
        print(f"{rows:>9,} rows: " + ", ".join(
            f"{k} {v[rows] / 2**20:,.0f} MiB" for k, v in peaks.items()), flush=True)
    lo, hi = min(args.rows), max(args.rows)
    for name, by_rows in peaks.items():
        slope = (by_rows[hi] - by_rows[lo]) / (hi - lo)
        fixed = by_rows[lo] - slope * lo
        print(f"{name}: {slope:,.0f} bytes per row, fixed {fixed / 2**20:,.0f} MiB "
              f"(peak RSS, {lo:,} -> {hi:,} rows)")


if __name__ == "__main__":
    main()
