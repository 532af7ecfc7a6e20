"""Stack benchmark: prints figures, asserts nothing.

    python bench/bench_stack.py [--keep] [--skip-build]

1. builds every image (cached after the first time) and starts the stack as its own
   Compose project (carprice-bench, ports 28080/25000/28501);
2. cold start: ./docker-stop-full.sh, then ./docker-start-full.sh --no-build until every
   service is healthy (images built, volumes kept: the usual restart);
   idle memory: the sum of `docker stats` over the project's containers, 30 s after healthy;
3. DAG wall time on the default data (trigger with force=true -> run success);
4. the same stages in-process (`python -m carprice.pipeline <stage>` in STAGES order, what
   `dvc repro` runs) against the same MLflow server, and DAG time / in-process time;
5. wipes the bench project unless --keep.

Needs Docker, and a Python with carprice[ml] for step 4 (the dev venv). Figures go to
stdout and bench/results/stack.json. Targets (issue): cold start <= 60 s, DAG <= 90 s,
DAG / in-process <= 1.5.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "src")]

from stack_client import Stack, read_env_file  # noqa: E402

from carprice.config import settings  # noqa: E402
from carprice.config.params import load_params  # noqa: E402
from carprice.pipeline import container, definition  # noqa: E402

PROJECT = "carprice-bench"
PORTS = {"AIRFLOW_PORT": "28080", "MLFLOW_PORT": "25000", "STREAMLIT_PORT": "28501"}
RESULTS = REPO / "bench" / "results"
# docker-compose-full.yml's account names when .env does not set them
DEFAULT_USERS = {container.ENV_TRAINER_USER: "carprice-trainer",
                 container.ENV_PROMOTER_USER: "carprice-promoter"}


def run_script(env: dict, *cmd: str) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(
        [str(REPO / cmd[0]), *cmd[1:]],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        print(proc.stdout[-5000:])
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode})")
    return elapsed, proc.stdout


def build_times(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"built (\S+) in (\d+) s", output)
            if m[1] != "in"}


def idle_memory_mib(project: str) -> tuple[float, dict[str, float]]:
    """Memory of every running container of the project (docker stats, one sample)."""
    names = subprocess.run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={project}",
         "--format", "{{.Names}}"], capture_output=True, text=True, check=True,
    ).stdout.split()
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}",
                          *names], capture_output=True, text=True, check=True).stdout
    units = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}
    per = {}
    for line in out.splitlines():
        name, usage = line.split(" ", 1)
        m = re.match(r"([\d.]+)(\w+)", usage.split("/")[0].strip())
        if m:
            if not name.startswith(f"{project}-"):
                continue  # a container someone ran on the project network
            per[name.removeprefix(f"{project}-")] = round(float(m[1]) * units[m[2]], 1)
    return round(sum(per.values()), 1), per


def in_process_seconds(stack: Stack, run_id: str, env_file: Path) -> tuple[float, dict[str, float]]:
    """Every stage as a plain process, in order, on a fresh run folder, signed in with the
    account the DAG gives that stage (and the signing pair, as the stack's launchers)."""
    stack_settings = read_env_file(env_file)
    candidates = list(load_params(REPO / "params.yaml")["candidates"])
    per_stage = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": stack.mlflow,
            settings.ENV_PARAMS_FILE: str(REPO / "params.yaml"),
            settings.ENV_PARAMS_JSON: json.dumps({"force": True}),
            "PYTHONPATH": str(REPO / "src"),
            settings.ENV_SIGNING_KEY: stack_settings[settings.ENV_SIGNING_KEY],
            settings.ENV_SIGNING_PUBLIC_KEY: stack_settings[settings.ENV_SIGNING_PUBLIC_KEY],
        }
        common = ["--run-id", run_id, "--data-dir", f"{tmp}/data", "--models-dir", f"{tmp}/models"]
        total_start = time.monotonic()
        for stage in definition.STAGES:
            user_var, password_var = container.stage_account(stage)
            user = stack_settings.get(user_var) or DEFAULT_USERS[user_var]
            account = {"MLFLOW_TRACKING_USERNAME": user,
                       "MLFLOW_TRACKING_PASSWORD": stack_settings[password_var]}
            # a mapped stage once per candidate, one after the other (dvc repro's order)
            runs = ([["--candidate", name] for name in candidates]
                    if stage in definition.MAPPED_STAGES else [[]])
            started = time.monotonic()
            for extra in runs:
                proc = subprocess.run(
                    [sys.executable, "-m", "carprice.pipeline", stage, *common, *extra],
                    cwd=REPO,
                    env={**env, **account},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if proc.returncode not in (0, definition.SKIP_EXIT_CODE):
                    print(proc.stderr[-3000:])
                    raise SystemExit(f"in-process {stage} {extra} failed ({proc.returncode})")
            per_stage[stage] = round(time.monotonic() - started, 1)
        return time.monotonic() - total_start, per_stage


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the bench stack running")
    parser.add_argument("--skip-build", action="store_true", help="images are already built")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    env_file = RESULTS / "bench.env"
    env = {
        **os.environ,
        **PORTS,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "CARPRICE_ENV_FILE": str(env_file),
        "CARPRICE_SCHEDULE": "none",
        "CARPRICE_MAINTENANCE_SCHEDULE": "none",
    }
    figures: dict = {}
    try:
        first = ["docker-start-full.sh"] + (["--no-build"] if args.skip_build else [])
        elapsed, out = run_script(env, *first)
        figures["first_start_s"] = round(elapsed)
        figures["image_builds_s"] = build_times(out)
        total = re.search(r"all images built in (\d+) s", out)
        if total:
            figures["all_images_build_s"] = int(total[1])
        print(f"first start (incl. builds): {elapsed:.0f} s; builds: {figures['image_builds_s']}")

        run_script(env, "docker-stop-full.sh")
        elapsed, out = run_script(env, "docker-start-full.sh", "--no-build")
        figures["cold_start_s"] = round(elapsed)
        healthy = re.search(r"all services healthy; stack up in (\d+) s", out)
        print(f"cold start (images built) to all-healthy: {elapsed:.0f} s")
        time.sleep(30)
        figures["idle_memory_mib"], figures["idle_memory_by_service_mib"] = idle_memory_mib(PROJECT)
        print(f"idle memory, every container: {figures['idle_memory_mib']:.0f} MiB "
              f"{figures['idle_memory_by_service_mib']}")

        stack = Stack(env_file=env_file)
        stack.wait_for_dag()
        stack.unpause()
        run_id = stack.trigger({"force": True})
        started = time.monotonic()
        state = stack.wait_run(run_id, timeout=1200, progress=None)
        dag_s = time.monotonic() - started
        if state != "success":
            print(stack.failed_task_logs(run_id))
            raise SystemExit(f"DAG run {run_id} ended {state}")
        figures["dag_wall_s"] = round(dag_s)
        print(f"DAG wall time (default data, trigger -> success): {dag_s:.0f} s")

        inproc_s, per_stage = in_process_seconds(
            stack, f"bench-inprocess-{int(time.time())}", env_file)
        figures["in_process_s"] = round(inproc_s)
        figures["in_process_stages_s"] = per_stage
        figures["dag_over_in_process"] = round(dag_s / inproc_s, 2)
        print(f"in-process stages: {inproc_s:.0f} s {per_stage}")
        print(f"DAG / in-process: {dag_s / inproc_s:.2f}")
        if healthy:
            figures["services_healthy_after_up_s"] = int(healthy[1])
    finally:
        (RESULTS / "stack.json").write_text(json.dumps(figures, indent=2))
        if not args.keep:
            subprocess.run(
                [str(REPO / "docker-reset-full.sh"), "--yes", "--no-start"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            env_file.unlink(missing_ok=True)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
