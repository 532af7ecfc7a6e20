"""Where a forced DAG run's time goes, per stage, on a running stack.

    python bench/bench_dag.py [--runs N] [--env-file PATH] [--out FILE]

Triggers N forced runs (force=true, default data) of car_price_predictor_pipeline through the
Airflow REST API, one after the other, and for each prints a table per stage:

  gap        previous task's end (or the run's start) -> this task queued  (scheduler)
  queue      queued -> task start            (Celery delivery, task process, DAG parse)
  pre        task start -> container started (templates, Docker calls, container create)
  container  container started -> died       (interpreter + imports + the stage itself)
  stage      the stage's own `seconds` (its JSON summary, the XCom): work after imports
  imports    container - stage               (interpreter start, imports, exit)
  post       container died -> task end      (logs, XCom, removal, state report)

Container times come from `docker events` (the containers are removed on success); task
times from the REST API. Needs the stack's project name (COMPOSE_PROJECT_NAME or the env
file). Figures go to stdout and --out (JSON); asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "src")]

from stack_client import Stack, read_env_file, task_key  # noqa: E402

LABEL_PROJECT, LABEL_STAGE = "io.carprice.project", "io.carprice.stage"
LABEL_RUN = "io.carprice.run"
LABEL_CANDIDATE = "io.carprice.candidate"  # train runs once per candidate
DAG = "car_price_predictor_pipeline"


def ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


class Events:
    """docker events of the project's stage containers, in a thread."""

    def __init__(self, project: str):
        self.rows: list[dict] = []
        self.proc = subprocess.Popen(
            ["docker", "events", "--format", "{{json .}}", "--filter", "type=container",
             "--filter", f"label={LABEL_PROJECT}={project}"],
            stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.rows.append(json.loads(line))

    def times(self, run_id: str) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for ev in self.rows:
            attrs = ev.get("Actor", {}).get("Attributes", {})
            if attrs.get(LABEL_RUN) != run_id:
                continue
            stage = attrs.get(LABEL_STAGE)
            if attrs.get(LABEL_CANDIDATE):  # named as stack_client.task_key names the task
                stage = f"{stage}[{attrs[LABEL_CANDIDATE]}]"
            when = ev.get("timeNano", 0) / 1e9
            out.setdefault(stage, {}).setdefault(ev.get("Action") or ev.get("status"), when)
        return out

    def stop(self) -> None:
        self.proc.terminate()


def one_run(stack: Stack, events: Events) -> dict:
    load0 = os.getloadavg()[0]
    t0 = time.time()
    run_id = stack.trigger({"force": True})
    state = stack.wait_run(run_id, timeout=1200, poll=1, progress=None)
    wall = time.time() - t0
    time.sleep(1)  # the last events
    run = stack.api("GET", stack._run_path(run_id))
    tis = sorted((t for t in stack.task_instances(run_id) if t.get("start_date")),
                 key=lambda t: ts(t["start_date"]))
    containers = events.times(run_id)
    rows = []
    prev_end = ts(run.get("start_date")) or t0
    for ti in tis:
        task = task_key(ti)
        queued, start, end = ts(ti.get("queued_when")), ts(ti["start_date"]), ts(ti["end_date"])
        c = containers.get(task, {})
        c_start, c_die = c.get("start"), c.get("die")
        seconds = None
        try:
            path = f"{stack._run_path(run_id)}/taskInstances/{ti['task_id']}"
            xcom = stack.api("GET", f"{path}/xcomEntries/return_value"
                                    f"?map_index={ti.get('map_index', -1)}")
            value = xcom.get("value")
            value = json.loads(value) if isinstance(value, str) else value
            seconds = (value or {}).get("seconds")
        except RuntimeError:
            pass
        row = {"task": task, "state": ti["state"], "try": ti.get("try_number"),
               "gap": queued - prev_end if queued else None,
               "queue": start - queued if queued else None,
               "pre": c_start - start if c_start else None,
               "container": c_die - c_start if c_start and c_die else None,
               "stage": seconds,
               "post": end - c_die if c_die and end else None,
               "task_total": end - start if end else None}
        if row["container"] is not None and seconds is not None:
            row["imports"] = row["container"] - seconds
        rows.append(row)
        prev_end = end or prev_end
    return {"run_id": run_id, "state": state, "wall": wall, "load_start": load0,
            "load_end": os.getloadavg()[0],
            "run_duration": (ts(run.get("end_date")) or 0) - (ts(run.get("start_date")) or 0),
            "tasks": rows}


def fmt(v) -> str:
    return f"{v:6.1f}" if isinstance(v, (int, float)) else "     -"


def show(result: dict) -> None:
    print(f"run {result['run_id']}: {result['state']}, trigger->finished {result['wall']:.1f} s, "
          f"run start->end {result['run_duration']:.1f} s, load average "
          f"{result['load_start']:.2f} -> {result['load_end']:.2f}")
    cols = ("gap", "queue", "pre", "container", "imports", "stage", "post", "task_total")
    print(f"  {'task':26s}" + "".join(f"{c:>10s}" for c in cols))
    sums = dict.fromkeys(cols, 0.0)
    for row in result["tasks"]:
        print(f"  {row['task']:26s}" + "".join(f"    {fmt(row.get(c))}" for c in cols))
        for c in cols:
            sums[c] += row.get(c) or 0.0
    print(f"  {'sum':26s}" + "".join(f"    {fmt(sums[c])}" for c in cols), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--env-file", default=os.environ.get("CARPRICE_ENV_FILE", REPO / ".env"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    settings = {**read_env_file(Path(args.env_file)), **os.environ}
    project = settings.get("COMPOSE_PROJECT_NAME", "carprice")
    stack = Stack(env_file=args.env_file)
    stack.wait_for_dag()
    stack.unpause()
    events = Events(project)
    results = []
    try:
        for _ in range(args.runs):
            results.append(one_run(stack, events))
            show(results[-1])
    finally:
        events.stop()
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
