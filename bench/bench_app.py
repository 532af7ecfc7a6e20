"""Latency of the app's prediction path with the model already loaded (cached).

    OMP_NUM_THREADS=1 MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python bench/bench_app.py
    OMP_NUM_THREADS=1 python bench/bench_app.py --model models/production/model --apptest

Measures, on the model the app would serve (production alias, else the exported copy,
else --model):
  * one prediction through carprice.serving.pricing.predict_one (what "Predict price" runs),
    p50/p95 over --repeat calls; for reference also the generic pyfunc path
    (serving.score with enforce_schema: text coercion + pyfunc schema enforcement);
  * a 10k-row CSV upload through scoring.score_upload (decode, parse, validate, score
    in chunks), best and median of --batch-repeat runs;
  * with --apptest, a whole "Predict price" click in streamlit's AppTest (script rerun,
    widgets, metrics), i.e. the server-side time of one prediction on the page.
Targets (issue 4): p50 single <= 20 ms, 10k batch <= 1 s. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from carprice.serving import model_source

model_source.apply_client_defaults()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from carprice.contract import schema  # noqa: E402
from carprice.model.pyfunc import example_car, score  # noqa: E402
from carprice.serving.pricing import predict_one, score_upload  # noqa: E402
from carprice.sources import synthetic  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class Samples(list):
    """Wall-clock seconds per call, plus the process CPU seconds (load-independent)."""

    cpu: list[float]


def percentiles(samples: Samples) -> dict:
    ms = np.array(samples) * 1000
    cpu = np.array(samples.cpu) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "max_ms": round(float(ms.max()), 2),
            "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2), "n": len(samples)}


def timed(func, repeat: int, warmup: int = 5) -> Samples:
    for _ in range(warmup):
        func()
    out = Samples()
    out.cpu = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        func()
        out.append(time.perf_counter() - start)
        out.cpu.append(time.process_time() - cpu)
    return out


def load(model_arg: str | None):
    import mlflow.pyfunc

    if model_arg:
        return model_arg, mlflow.pyfunc.load_model(model_arg)
    res = model_source.resolve_production()
    if res.model_uri is None:
        sys.exit(f"no model to benchmark: {res.problem}\n{model_source.HOW_TO_GET_A_MODEL}\n"
                 "or pass --model <folder or models:/name/version>")
    return f"{res.model_uri} ({res.source})", model_source.load_model(res)


def bench_apptest(repeat: int) -> dict:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    at = AppTest.from_file(str(REPO / "app" / "streamlit_app.py"), default_timeout=120)
    at.run()  # loads and caches the model

    def click():
        next(b for b in at.button if b.label == "Predict price").click().run()
        assert at.metric and not at.exception

    return percentiles(timed(click, repeat, warmup=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model folder or models:/ URI (default: as the app)")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--batch-repeat", type=int, default=5)
    parser.add_argument("--apptest", action="store_true", help="also time a click in AppTest")
    args = parser.parse_args()

    label, model = load(args.model)
    car = example_car()
    one_raw = pd.DataFrame([car])
    single = percentiles(timed(lambda: predict_one(model, car), args.repeat))
    generic = percentiles(timed(lambda: score(model, one_raw, enforce_schema=True),
                                max(args.repeat // 3, 20)))

    cars = synthetic.generate(args.batch_rows, seed=11).drop(columns=[schema.TARGET])
    data = cars.to_csv(index=False).encode()
    runs = timed(lambda: score_upload(model, data, "bench.csv"), args.batch_repeat, warmup=1)
    result = score_upload(model, data, "bench.csv")
    batch = {"rows": args.batch_rows, "scored": len(result.scored),
             "best_s": round(min(runs), 3), "median_s": round(statistics.median(runs), 3),
             "csv_mib": round(len(data) / 2**20, 2)}

    load1 = os.getloadavg()[0]
    print(f"model: {label}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"load average {load1:.1f} on {os.cpu_count()} CPUs (wall times grow with load)")
    print(f"single prediction (predict_one, model cached): p50 {single['p50_ms']} ms, "
          f"p95 {single['p95_ms']} ms (CPU p50 {single['cpu_p50_ms']} ms)  [target p50 <= 20 ms]")
    print(f"  for reference, generic pyfunc path (serving.score): p50 {generic['p50_ms']} ms, "
          f"p95 {generic['p95_ms']} ms")
    print(f"batch: {batch['rows']} rows CSV upload ({batch['csv_mib']} MiB): best "
          f"{batch['best_s']} s, median {batch['median_s']} s  [target <= 1 s]")
    out = {"model": label, "load_average": round(load1, 2), "single": single,
           "single_generic_pyfunc": generic, "batch": batch}
    if args.apptest:
        out["apptest_click"] = bench_apptest(max(args.repeat // 15, 10))
        print(f"page click in AppTest (rerun + predict + render): p50 "
              f"{out['apptest_click']['p50_ms']} ms, p95 {out['apptest_click']['p95_ms']} ms")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
