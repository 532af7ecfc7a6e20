"""Wall time of the whole local pipeline on the default 25k synthetic rows.

    python bench/bench_pipeline.py [--dvc]

Runs in a fresh temporary folder (params.yaml copied, local MLflow store), so nothing
of the checkout is touched: `carprice run` (every stage in one process) and, with --dvc,
`dvc repro` on a clone of the repository (one cold process per stage, as DVC runs them).
Each figure comes with the CPU seconds its processes used: on a shared 2-core machine the
wall time follows the other load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, extra: dict[str, str] | None = None
          ) -> tuple[float, str, float]:
    """(wall seconds, stdout, CPU seconds of the command and its children)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(extra or {})
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    t0, cpu0 = time.perf_counter(), children_cpu()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return time.perf_counter() - t0, out.stdout, children_cpu() - cpu0


def summaries(stdout: str) -> dict[str, dict]:
    rows = [json.loads(x) for x in stdout.splitlines() if x.startswith('{"stage"')]
    return {r["stage"]: r for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dvc", action="store_true", help="also time `dvc repro`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "inprocess"
        work.mkdir()
        shutil.copy(REPO / "params.yaml", work)
        seconds, stdout, cpu = timed([sys.executable, "-m", "carprice.cli", "run", "--run-id",
                                      "bench"], work)
        s = summaries(stdout)
        ev = json.loads((work / "data/runs/bench/evaluation.json").read_text())["metrics"]
        stages = ", ".join(f"{k} {v['seconds']}" for k, v in s.items())
        print(f"local pipeline (carprice run, 25k rows): {seconds:.1f} s wall, {cpu:.1f} s CPU; "
              f"outcome {s['report'].get('outcome')}; stages (s): {stages}")
        print(f"model on test: RMSE(log) {ev['rmse_log']:.4f} = "
              f"{ev['rmse_log_over_sigma']:.3f} x sigma {ev['noise_sigma']}, "
              f"80% interval coverage {ev['coverage']:.3f}, MAPE {ev['mape']:.3f}, "
              f"R2 {ev['r2']:.3f}")
        if args.dvc:
            clone = Path(tmp) / "clone"
            subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
            seconds, _, cpu = timed(["dvc", "repro", "-q"], clone)
            print(f"local pipeline (dvc repro, a cold process per stage): {seconds:.1f} s "
                  f"wall, {cpu:.1f} s CPU")
        print(f"load average {os.getloadavg()[0]:.2f}, OMP_NUM_THREADS "
              f"{os.environ.get('OMP_NUM_THREADS', 'all')}")


if __name__ == "__main__":
    main()
