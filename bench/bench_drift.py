"""Drift check time: reference rows (the training data) vs current rows, with Evidently.

    python bench/bench_drift.py [--reference 25000] [--current 10000] [--repeat 5]

Times drift.compare (Evidently's report: 27 feature ValueDrifts, DriftedColumnsCount and
the predicted and true price) and the same with Evidently's HTML report written, on an
undrifted and a drifted synthetic batch; prints the median of the repeats, wall and CPU
time (the machine may be shared), and the one-off ``import evidently``. Model loading and
prediction are not included (they depend on the model).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def timed(func) -> tuple[float, float]:
    """(wall, CPU) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - wall, time.process_time() - cpu


def median_seconds(func, repeat: int) -> tuple[float, float]:
    walls, cpus = zip(*(timed(func) for _ in range(repeat)), strict=True)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", type=int, default=25_000)
    parser.add_argument("--current", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from carprice.config.params import load_params
    from carprice.contract import schema
    from carprice.monitoring import drift, evidently_compat
    from carprice.sources.synthetic import Drift, generate

    def load() -> None:
        evidently_compat.allow_import()
        import evidently.presets  # noqa: F401

    import_wall, import_cpu = timed(load)
    print(f"import evidently: {import_wall:.1f} s wall, {import_cpu:.1f} s CPU (once per process)")
    limits = drift.Thresholds.from_params(load_params()["monitor"])
    reference = generate(args.reference, seed=42)
    # stand-in predictions with the model's scale: the true price
    ref_pred = reference[schema.TARGET].to_numpy()
    batches = {"undrifted": Drift(),
               "drifted": Drift(price_inflation=0.3, mileage_shift=0.5, new_models_share=0.3)}
    html = Path(tempfile.mkdtemp()) / "drift_report.html"
    for name, knobs in batches.items():
        current = generate(args.current, seed=43, drift=knobs)
        cur_pred = current[schema.TARGET].to_numpy()

        def check(current=current, cur_pred=cur_pred, report_path=None):
            return drift.compare(reference, current, limits, ref_pred, cur_pred,
                                 report_path=report_path)

        summary = check()
        retrain, _ = drift.decide(summary, True)
        wall, cpu = median_seconds(check, args.repeat)
        html_wall, html_cpu = median_seconds(lambda check=check: check(report_path=html),
                                             args.repeat)
        print(f"{name:>9}: {args.reference:,} reference vs {args.current:,} current rows: "
              f"compare {wall:.2f} s wall / {cpu:.2f} s CPU, with the HTML report "
              f"{html_wall:.2f} s / {html_cpu:.2f} s CPU ({html.stat().st_size / 1e6:.1f} MB); "
              f"drift share {summary['drift_share']}, retrain {retrain} "
              f"(median of {args.repeat}, load avg {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
