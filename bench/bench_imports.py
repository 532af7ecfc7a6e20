"""Import cost of every stage module: what a cold stage process pays before it works.

    python bench/bench_imports.py [--repeat N] [--top K] [--python PY] [--module-format F]

For each stage, N fresh interpreters run ``import <module>`` (default module name
``carprice.pipeline.stages.<stage>``; --module-format takes e.g.
``carprice.stages.{stage}``, the layout before).
Prints the median wall and CPU seconds (user + sys of the child: on a shared 2-core machine
the wall time follows the other load, the CPU time much less), and, with --top, the K
heaviest top-level packages by cumulative `-X importtime` microseconds. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


from bench_stages_cold import children_cpu, importtime_rows, stages  # noqa: E402 - a script beside this one


def one(python: str, module: str, importtime: bool) -> tuple[float, float, str]:
    cmd = [python, *(["-X", "importtime"] if importtime else []), "-c", f"import {module}"]
    t0, c0 = time.perf_counter(), children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    wall, cpu = time.perf_counter() - t0, children_cpu() - c0
    if proc.returncode != 0:
        sys.exit(f"import {module} failed:\n{proc.stderr[-2000:]}")
    return wall, cpu, proc.stderr


def heaviest(importtime_log: str, top: int) -> list[tuple[str, float]]:
    """Top-level packages (first dotted part) by the largest cumulative time of any of
    their modules imported at nesting level 1 or 2."""
    best: dict[str, float] = {}
    for name, cumulative in importtime_rows(importtime_log):
        depth = (len(name) - len(name.lstrip())) // 2
        root = name.strip().split(".")[0]
        if depth <= 2:
            best[root] = max(best.get(root, 0), cumulative / 1e6)
    return sorted(best.items(), key=lambda kv: -kv[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=6)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--module-format", default="carprice.pipeline.stages.{stage}")
    parser.add_argument("--stages", nargs="*", default=None)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    total_cpu = 0.0
    for stage in args.stages or stages():
        module = args.module_format.format(stage=stage)
        one(args.python, module, False)  # warm the page cache and .pyc files
        runs = [one(args.python, module, False) for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        total_cpu += cpu
        line = f"{stage:20s} wall {wall:5.2f} s  CPU {cpu:5.2f} s"
        if args.top:
            _, _, log = one(args.python, module, True)
            line += "  heaviest: " + ", ".join(f"{k} {v:.2f}" for k, v in
                                               heaviest(log, args.top))
        print(line, flush=True)
    print(f"sum of per-stage import CPU: {total_cpu:.1f} s; load average at end: "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
