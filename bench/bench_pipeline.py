"""Wall time of the whole local pipeline on the default 25k synthetic rows.

    python bench/bench_pipeline.py [--dvc]

Runs in a fresh temporary folder (params.yaml copied, local MLflow store), so nothing
of the checkout is touched: `carprice run` (every stage in one process) and, with --dvc,
`dvc repro` on a clone of the repository (one command per stage, as DVC runs them), with
the warm stage processes (the default) and without (CARPRICE_WARM=0).
Each figure comes with the CPU seconds its processes used: on a shared 2-core machine the
wall time follows the other load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy: the warm stage processes are not
    children of the timed command, so its own rusage misses them."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def stop_warm_servers(tmp: Path) -> None:
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"carprice.stages.warm" in argv and str(tmp).encode() in argv:
            os.kill(int(proc.name), signal.SIGTERM)
    shutil.rmtree(tmp, ignore_errors=True)


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
            for label, warm_on in (("warm stage processes, the default", True),
                                   ("CARPRICE_WARM=0: a cold process per stage", False)):
                clone = Path(tmp) / f"clone-{warm_on}"
                subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
                # a $TMPDIR of its own: the warm server starts inside the timed run
                private = Path(tempfile.mkdtemp(prefix="bench", dir="/tmp"))
                extra = {"TMPDIR": str(private), "CARPRICE_WARM": "1" if warm_on else "0"}
                busy0 = machine_cpu()
                seconds, _, _ = timed(["dvc", "repro", "-q"], clone, extra)
                busy = machine_cpu() - busy0
                stop_warm_servers(private)
                print(f"local pipeline (dvc repro, {label}): {seconds:.1f} s wall, "
                      f"{busy:.1f} s CPU (whole machine)")
        print(f"load average {os.getloadavg()[0]:.2f}, OMP_NUM_THREADS "
              f"{os.environ.get('OMP_NUM_THREADS', 'all')}")


if __name__ == "__main__":
    main()
