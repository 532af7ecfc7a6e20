"""Drive a running stack through its REST APIs (standard library only).

    python scripts/stack_client.py trigger [--wait] [--conf '{"rows": 5000}']
    python scripts/stack_client.py alias [production]

Settings come from the environment, else from .env (CARPRICE_ENV_FILE): AIRFLOW_PORT,
MLFLOW_PORT, AIRFLOW_ADMIN_USER, AIRFLOW_ADMIN_PASSWORD. Used by tests/e2e and bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

DAG_ID = "car_price_predictor_pipeline"
REPO = Path(__file__).resolve().parent.parent
FINISHED = {"success", "failed"}


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                out[key.strip()] = value.strip()
    return out


class Stack:
    def __init__(self, env_file: str | Path | None = None, host: str = "127.0.0.1"):
        env_file = Path(env_file or os.environ.get("CARPRICE_ENV_FILE") or REPO / ".env")
        settings = {**read_env_file(env_file), **os.environ}
        self.airflow = f"http://{host}:{settings.get('AIRFLOW_PORT', '8080')}"
        self.mlflow = f"http://{host}:{settings.get('MLFLOW_PORT', '5000')}"
        self.streamlit = f"http://{host}:{settings.get('STREAMLIT_PORT', '8501')}"
        self.user = settings.get("AIRFLOW_ADMIN_USER", "admin")
        self.password = settings.get("AIRFLOW_ADMIN_PASSWORD", "")
        self._token: str | None = None

    # --- HTTP -------------------------------------------------------------------------
    @staticmethod
    def request(
        method: str,
        url: str,
        body: dict | None = None,
        headers: dict | None = None,
        timeout: float = 30,
    ) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        if self._token is None:
            status, text = self.request(
                "POST",
                f"{self.airflow}/auth/token",
                {"username": self.user, "password": self.password},
            )
            if status not in (200, 201):
                raise RuntimeError(f"POST /auth/token -> {status}: {text[:300]}")
            self._token = json.loads(text)["access_token"]
        status, text = self.request(
            method, f"{self.airflow}{path}", body, {"Authorization": f"Bearer {self._token}"}
        )
        if status >= 300:
            raise RuntimeError(f"{method} {path} -> {status}: {text[:500]}")
        return json.loads(text) if text.strip().startswith(("{", "[")) else {"text": text}

    # --- Airflow ------------------------------------------------------------------------
    def wait_for_dag(self, timeout: float = 180) -> None:
        """Until the dag-processor has parsed the DAG."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.api("GET", f"/api/v2/dags/{DAG_ID}")
                return
            except (RuntimeError, OSError) as exc:  # not up yet / not parsed yet
                if time.monotonic() > deadline:
                    raise TimeoutError(f"DAG {DAG_ID} not registered after {timeout}s") from exc
            time.sleep(3)

    def unpause(self) -> None:
        self.api("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})

    def trigger(self, conf: dict | None = None) -> str:
        run = self.api(
            "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": conf or {}}
        )
        return run["dag_run_id"]

    def run_state(self, run_id: str) -> str:
        quoted = urllib.parse.quote(run_id, safe="")
        return self.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{quoted}")["state"]

    def task_states(self, run_id: str) -> dict[str, str]:
        quoted = urllib.parse.quote(run_id, safe="")
        tis = self.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{quoted}/taskInstances")
        return {t["task_id"]: t["state"] for t in tis["task_instances"]}

    def task_log(self, run_id: str, task_id: str, try_number: int = 1) -> str:
        quoted = urllib.parse.quote(run_id, safe="")
        out = self.api(
            "GET",
            f"/api/v2/dags/{DAG_ID}/dagRuns/{quoted}/taskInstances/"
            f"{task_id}/logs/{try_number}?full_content=true",
        )
        content = out.get("content", out.get("text", ""))
        if isinstance(content, list):  # structured log lines
            return "\n".join(
                c.get("event", str(c)) if isinstance(c, dict) else str(c) for c in content
            )
        return str(content)

    def failed_task_logs(self, run_id: str) -> str:
        parts = []
        for task_id, state in self.task_states(run_id).items():
            if state in {"failed", "up_for_retry"}:
                try:
                    log = self.task_log(run_id, task_id)
                    parts.append(f"--- log of {task_id} ({state}) ---\n{log}")
                except (RuntimeError, OSError) as exc:  # not up yet / not parsed yet
                    parts.append(f"--- log of {task_id}: unavailable ({exc})")
        return "\n".join(parts)

    def wait_run(self, run_id: str, timeout: float = 600, poll: float = 3, progress=print) -> str:
        """Wait until the run finishes; returns its state ('success' or 'failed')."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            state = self.run_state(run_id)
            tasks = self.task_states(run_id)
            line = " ".join(f"{t}={s}" for t, s in tasks.items() if s)
            if progress and line != last:
                progress(f"[{state}] {line}")
                last = line
            if state in FINISHED:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {state} after {timeout}s: {line}")
            time.sleep(poll)

    # --- MLflow ---------------------------------------------------------------------------
    def alias_version(self, alias: str = "production", model: str = "car-price") -> str | None:
        query = urllib.parse.urlencode({"name": model, "alias": alias})
        status, text = self.request(
            "GET", f"{self.mlflow}/api/2.0/mlflow/registered-models/alias?{query}"
        )
        if status == 200:
            return json.loads(text)["model_version"]["version"]
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    trig = sub.add_parser("trigger", help="unpause and trigger the DAG")
    trig.add_argument("--wait", action="store_true", help="wait until the run finishes")
    trig.add_argument("--conf", default="{}", help="JSON of trigger-form params")
    trig.add_argument("--timeout", type=float, default=900)
    al = sub.add_parser("alias", help="model version behind an alias")
    al.add_argument("alias", nargs="?", default="production")
    args = parser.parse_args(argv)
    stack = Stack()
    if args.cmd == "alias":
        version = stack.alias_version(args.alias)
        print(version or f"no {args.alias} alias")
        return 0 if version else 1
    stack.wait_for_dag()
    stack.unpause()
    run_id = stack.trigger(json.loads(args.conf))
    print(f"triggered {run_id}")
    if not args.wait:
        return 0
    started = time.monotonic()
    state = stack.wait_run(run_id, timeout=args.timeout)
    print(f"run {run_id}: {state} in {time.monotonic() - started:.0f} s")
    if state != "success":
        print(stack.failed_task_logs(run_id), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
