"""Per-stage cost of the cold local pipeline (what `dvc repro` runs, minus DVC).

    python bench/bench_stages_cold.py [--command-format F]

Runs every stage, in order, as its own fresh process on a temporary copy of params.yaml with
a local MLflow store (MLFLOW_TRACKING_URI unset, as `dvc repro` locally), with
PYTHONPROFILEIMPORTTIME=1, and prints per stage: wall and CPU seconds of the process (CPU:
user + sys; on a shared 2-core machine the wall time follows the other load), the seconds
its imports took (sum of the top-level cumulative `-X importtime` figures; wall clock) and
the stage's own `seconds` (its JSON summary). Asserts nothing.

--command-format: the stage command, default
``{python} -m carprice.pipeline {stage} --run-id bench --soft-skip`` (dvc.yaml's command).
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
sys.path.insert(0, str(REPO / "src"))
DEFAULT_CMD = "{python} -m carprice.pipeline {stage} --run-id bench --soft-skip"


def stages() -> list[str]:
    from carprice.pipeline import definition

    return list(definition.STAGES)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def importtime_rows(log: str) -> list[tuple[str, int]]:
    """(module name with its nesting indent, cumulative microseconds) of each line that
    `python -X importtime` wrote to ``log``."""
    rows = []
    for line in log.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        try:
            rows.append((parts[2].rstrip(), int(parts[1])))
        except ValueError:  # the header line
            continue
    return rows


def import_seconds(stderr: str) -> tuple[float, list[tuple[str, float]]]:
    """Total of the top-level (not nested) imports, and the heaviest of them."""
    top = []
    for name, cumulative in importtime_rows(stderr):
        if not name.startswith("  "):  # nesting level 0: one space after the bar
            top.append((name.strip(), cumulative / 1e6))
    return sum(s for _, s in top), sorted(top, key=lambda kv: -kv[1])[:4]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command-format", default=DEFAULT_CMD)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(PYTHONPROFILEIMPORTTIME="1", CARPRICE_WARM="0")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    totals = [0.0, 0.0, 0.0, 0.0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(REPO / "params.yaml", work)
        for stage in stages():
            cmd = args.command_format.format(python=sys.executable, stage=stage).split()
            t0, c0 = time.perf_counter(), children_cpu()
            proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                                  check=False)
            wall, cpu = time.perf_counter() - t0, children_cpu() - c0
            if proc.returncode != 0:
                sys.exit(f"{stage} failed:\n{proc.stderr[-3000:]}")
            summary = [json.loads(x) for x in proc.stdout.splitlines()
                       if x.startswith('{"stage"')][-1]
            imports, heavy = import_seconds(proc.stderr)
            for i, v in enumerate((wall, cpu, imports, float(summary["seconds"]))):
                totals[i] += v
            print(f"{stage:20s} wall {wall:5.1f}  CPU {cpu:5.1f}  imports {imports:4.1f}  "
                  f"stage seconds {summary['seconds']:5.1f} ({summary['status']})  "
                  + ", ".join(f"{k} {v:.1f}" for k, v in heavy), flush=True)
    print(f"{'total':20s} wall {totals[0]:5.1f}  CPU {totals[1]:5.1f}  imports "
          f"{totals[2]:4.1f}  stage seconds {totals[3]:5.1f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
