"""Latency of the prediction API over real HTTP: uvicorn on a free loopback port.

    OMP_NUM_THREADS=1 python bench/bench_api.py --model models/production/model
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python bench/bench_api.py

Starts `uvicorn carprice.api:app` serving --model (an exported copy: the models folder or
its production/model folder; MLflow is then not used) or, without --model, whatever the
environment points at (MLFLOW_TRACKING_URI, CARPRICE_MODELS_DIR), as the service would.
Then, with an async HTTP client (httpx2) on loopback only and bounded request counts:
  * single-car POST /predict at 1, 8 and 32 concurrent clients (closed loop: each client
    sends its next request when the previous answer arrives): p50/p95/max latency,
    requests per second, and the server's and the client's CPU time per request;
  * one POST of a --batch-rows car list (body pre-encoded), best and median of a few;
  * GET /metrics, as Prometheus scrapes it: median time and size.
The prediction log is on if CARPRICE_PREDLOG_DSN is set (never passed on the command
line: it holds a password); --no-predlog unsets it, to compare. The server gets a fresh
API key (in its environment) that the client sends in X-API-Key, and a per-client rate limit
(--rate-limit) above what the bench sends: the check runs, nothing is refused.
Targets: single p50 <= 15 ms and p95 <= 60 ms at 8 clients; 10k-row batch <= 1 s.
Prints figures, asserts nothing. The client shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from carprice.api.guard import API_KEY_HEADER
from carprice.config import settings
from carprice.contract import schema
from carprice.model import pyfunc
from carprice.registry.export import EXPORT_DIRNAME
from carprice.sources import synthetic

REPO = Path(__file__).resolve().parents[1]
API_KEY = secrets.token_hex(16)  # this run's server only
KEY_HEADERS = {API_KEY_HEADER: API_KEY, "content-type": "application/json"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def models_dir_of(model: str) -> Path:
    """The models folder holding production/{model,meta.json}, from either path."""
    path = Path(model).resolve()
    for candidate in (path, path.parent.parent):
        if (candidate / EXPORT_DIRNAME / "meta.json").exists():
            return candidate
    sys.exit(f"{model} is not an exported model (no {EXPORT_DIRNAME}/meta.json beside it)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc), for CPU per request."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(args, port: int, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           settings.ENV_API_KEY: API_KEY, settings.ENV_API_RATE_LIMIT: args.rate_limit}
    if args.model:
        env["CARPRICE_MODELS_DIR"] = str(models_dir_of(args.model))
        env.pop("MLFLOW_TRACKING_URI", None)
    if args.no_predlog:
        env.pop(settings.ENV_PREDLOG_DSN, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"),
                                                      env.get("PYTHONPATH")]))
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "carprice.api:app", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(args.workers), "--no-access-log"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


async def wait_ready(client, proc: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        try:
            r = await client.get("/ready")
            if r.status_code == 200:
                return r.json()
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        await asyncio.sleep(0.3)
    raise TimeoutError(f"/ready did not answer 200 within {timeout:.0f} s")


async def closed_loop(client, body: bytes, clients: int, total: int) -> tuple[list, float]:
    """`clients` concurrent loops sharing `total` requests; (latencies, wall seconds)."""
    latencies: list[float] = []
    per_client = max(total // clients, 1)
    headers = KEY_HEADERS

    async def one_client() -> None:
        for _ in range(per_client):
            start = time.perf_counter()
            r = await client.post("/predict", content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            if r.status_code != 200:
                raise RuntimeError(f"/predict answered {r.status_code}: {r.text[:200]}")

    start = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies, time.perf_counter() - start


def summary(latencies: list[float], wall: float) -> dict:
    ms = np.array(latencies) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "max_ms": round(float(ms.max()), 1), "n": len(ms),
            "req_per_s": round(len(ms) / wall, 1)}


async def scrape_cost(client, repeat: int = 20) -> dict | None:
    """What a Prometheus scrape of GET /metrics costs (None: the API has no /metrics)."""
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        r = await client.get("/metrics")
        times.append(time.perf_counter() - start)
        if r.status_code != 200:
            return None
        size = len(r.content)
    return {"median_ms": round(statistics.median(times) * 1000, 2), "bytes": size}


async def run(args, base_url: str, proc: subprocess.Popen) -> dict:
    import httpx2

    single = json.dumps(pyfunc.example_car()).encode()
    cars = synthetic.generate(args.batch_rows, seed=11).drop(columns=[schema.TARGET])
    batch = json.dumps(cars.to_dict("records")).encode()
    limits = httpx2.Limits(max_connections=max(args.concurrency) + 1)
    async with httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:
        ready = await wait_ready(client, proc, args.ready_timeout)
        await closed_loop(client, single, 4, 40)  # warm-up
        out: dict = {"model": ready, "single": {}}
        for clients in args.concurrency:
            cpu = cpu_seconds(proc.pid) if args.workers == 1 else None
            client_cpu = time.process_time()
            lat, wall = await closed_loop(client, single, clients, args.requests)
            out["single"][clients] = summary(lat, wall)
            out["single"][clients]["client_cpu_ms_per_req"] = round(
                (time.process_time() - client_cpu) * 1000 / len(lat), 1)
            if cpu is not None:
                out["single"][clients]["server_cpu_ms_per_req"] = round(
                    (cpu_seconds(proc.pid) - cpu) * 1000 / len(lat), 1)
        runs, cpu = [], cpu_seconds(proc.pid) if args.workers == 1 else None
        for _ in range(args.batch_repeat):
            start = time.perf_counter()
            r = await client.post("/predict", content=batch, headers=KEY_HEADERS)
            runs.append(time.perf_counter() - start)
            if r.status_code != 200 or len(r.json()["predictions"]) != args.batch_rows:
                raise RuntimeError(f"batch answered {r.status_code}: {r.text[:200]}")
        out["batch"] = {"rows": args.batch_rows, "mib": round(len(batch) / 2**20, 2),
                        "best_s": round(min(runs), 3),
                        "median_s": round(statistics.median(runs), 3)}
        if cpu is not None:  # includes the prediction log's writer thread, if on
            out["batch"]["server_cpu_s"] = round((cpu_seconds(proc.pid) - cpu) / len(runs), 3)
        out["prediction_log"] = (await client.get("/health")).json()["prediction_log"]
        out["metrics"] = await scrape_cost(client)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="exported model: models folder or its production/model")
    parser.add_argument("--requests", type=int, default=400, help="single requests per level")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 8, 32])
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--batch-repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--no-predlog", action="store_true", help="unset CARPRICE_PREDLOG_DSN")
    parser.add_argument("--ready-timeout", type=float, default=180)
    parser.add_argument("--rate-limit", default="1000000/minute",
                        help="the server's per-client limit (CARPRICE_API_RATE_LIMIT)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="carprice-bench-api-") as tmp:
        log_path = Path(tmp) / "uvicorn.log"
        proc = start_server(args, port := free_port(), log_path)
        try:
            out = asyncio.run(run(args, f"http://127.0.0.1:{port}", proc))
        except Exception:
            print(log_path.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    load1 = os.getloadavg()[0]
    m = out["model"]
    print(f"model: {m['model_name']} v{m['version']} ({m['source']}); uvicorn workers "
          f"{args.workers}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')}; "
          f"prediction log {'on' if out['prediction_log'].get('enabled') else 'off'}; "
          f"load average {load1:.1f} on {os.cpu_count()} CPUs (client on the same machine)")
    for clients, s in out["single"].items():
        cpu = (f", server CPU {s['server_cpu_ms_per_req']} ms/req"
               if "server_cpu_ms_per_req" in s else "")
        cpu += f", client CPU {s['client_cpu_ms_per_req']} ms/req"
        print(f"single car, {clients:>2} concurrent clients: p50 {s['p50_ms']} ms, "
              f"p95 {s['p95_ms']} ms, max {s['max_ms']} ms, {s['req_per_s']} req/s{cpu}")
    b = out["batch"]
    cpu = f", server CPU {b['server_cpu_s']} s/request" if "server_cpu_s" in b else ""
    print(f"batch: {b['rows']} cars in one POST ({b['mib']} MiB): best {b['best_s']} s, "
          f"median {b['median_s']} s{cpu}  [target <= 1 s]")
    if out["metrics"]:
        print(f"GET /metrics: median {out['metrics']['median_ms']} ms, "
              f"{out['metrics']['bytes']} bytes")
    print(json.dumps({**out, "load_average": round(load1, 2), "workers": args.workers}))


if __name__ == "__main__":
    main()
