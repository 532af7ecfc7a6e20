"""Training time and peak memory at 100k and 1M synthetic rows, and RMSE(log)/sigma.

    python bench/bench_training.py [--rows 100000 1000000]

Each size runs in a fresh process so its peak RSS is its own. Prints one line per size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def one(rows: int) -> dict:
    from sklearn.model_selection import train_test_split

    from carprice.config.params import load_params
    from carprice.contract import schema
    from carprice.model import metrics
    from carprice.model.estimator import from_params
    from carprice.sources.synthetic import generate

    params = load_params()
    data = generate(rows, seed=params["data"]["seed"], noise_sigma=params["data"]["noise_sigma"])
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    train, rest = train_test_split(data, test_size=0.3, random_state=0)
    valid, test = train_test_split(rest, test_size=0.5, random_state=0)
    del data, rest
    model = from_params(params["model"])
    t0 = time.perf_counter()
    model.fit(train, train[schema.TARGET], valid, valid[schema.TARGET])
    fit_s = time.perf_counter() - t0
    m = metrics.regression_metrics(test[schema.TARGET], model.predict_interval(test),
                                   params["data"]["noise_sigma"])
    return {"rows": rows, "train_rows": len(train), "fit_seconds": round(fit_s, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "rss_after_data_mb": round(rss_data),
            "rmse_log": round(m["rmse_log"], 4),
            "rmse_log_over_sigma": round(m["rmse_log_over_sigma"], 3),
            "coverage": round(m["coverage"], 3),
            "threads": os.environ.get("OMP_NUM_THREADS", "all"),
            "load_avg": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one(args.child)))
        return
    for rows in args.rows:
        out = subprocess.run([sys.executable, __file__, "--child", str(rows)], check=True,
                             capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"train {r['rows']:>9,} rows: fit {r['fit_seconds']:6.1f} s, peak RSS "
              f"{r['peak_rss_mb']:5d} MB (data alone {r['rss_after_data_mb']} MB), "
              f"RMSE(log) {r['rmse_log']} = {r['rmse_log_over_sigma']} x sigma, "
              f"coverage {r['coverage']}, OMP threads {r['threads']}, load {r['load_avg']}")


if __name__ == "__main__":
    main()
