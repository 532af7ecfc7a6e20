"""Drift check time: reference rows (the training data) vs current rows.

    python bench/bench_drift.py [--reference 25000] [--current 10000] [--repeat 5]

Times drift.compare (27 feature tests + PSI, and the predicted-price column) and the
HTML page, on an undrifted and a drifted synthetic batch; prints the median of the
repeats. Model loading and prediction are not included (they depend on the model).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def median_seconds(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", type=int, default=25_000)
    parser.add_argument("--current", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from carprice import drift, drift_html, pipeline, schema
    from carprice.sources.synthetic import Drift, generate

    limits = drift.Thresholds.from_params(pipeline.load_params()["monitor"])
    reference = generate(args.reference, seed=42)
    # stand-in predictions with the model's scale: the true price
    ref_pred = reference[schema.TARGET].to_numpy()
    batches = {"undrifted": Drift(),
               "drifted": Drift(price_inflation=0.3, mileage_shift=0.5, new_models_share=0.3)}
    for name, knobs in batches.items():
        current = generate(args.current, seed=43, drift=knobs)
        cur_pred = current[schema.TARGET].to_numpy()

        def check(current=current, cur_pred=cur_pred):
            return drift.compare(reference, current, limits, ref_pred, cur_pred)

        summary = check()
        summary["retrain"], summary["reason"] = drift.decide(summary, True)
        compare_s = median_seconds(check, args.repeat)
        html_s = median_seconds(
            lambda summary=summary, current=current, cur_pred=cur_pred: drift_html.render(
                summary, reference, current, ref_pred, cur_pred), args.repeat)
        print(f"{name:>9}: {args.reference:,} reference vs {args.current:,} current rows: "
              f"compare {compare_s:.3f} s, html {html_s:.3f} s; drift share "
              f"{summary['drift_share']}, retrain {summary['retrain']} "
              f"(median of {args.repeat}, load avg {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
