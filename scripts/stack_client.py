"""Drive a running stack through its REST APIs (requests; waits with tenacity).

    python scripts/stack_client.py trigger [--wait] [--conf '{"rows": 5000}']
    python scripts/stack_client.py alias [production]

Settings come from the environment, else from .env (CARPRICE_ENV_FILE): AIRFLOW_PORT,
MLFLOW_PORT, AIRFLOW_ADMIN_USER, AIRFLOW_ADMIN_PASSWORD, MLFLOW_ADMIN_USER,
MLFLOW_ADMIN_PASSWORD, API_PORT and API_KEY (``Stack.api_headers``: what POST /predict
needs). Used by tests/e2e and bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import requests
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from carprice.config.params import load_params
from carprice.pipeline.definition import DAG_ID
from carprice.registry import PRODUCTION_ALIAS

REPO = Path(__file__).resolve().parent.parent
FINISHED = {"success", "failed"}
TIMEOUT = 30  # seconds per HTTP request
# Worth waiting out: a service still starting, a restart, a DAG not parsed yet.
NOT_READY = (RuntimeError, requests.ConnectionError, requests.Timeout)


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                out[key.strip()] = value.strip()
    return out


def task_key(ti: dict) -> str:
    """A task instance's name: its task id, and for a mapped one (train, once per candidate)
    the name the grid shows, e.g. ``train[ridge]`` (its map index if none was rendered)."""
    index = ti.get("map_index", -1)
    if index is None or index < 0:
        return ti["task_id"]
    return f"{ti['task_id']}[{ti.get('rendered_map_index') or index}]"


class Stack:
    def __init__(self, env_file: str | Path | None = None, host: str = "127.0.0.1"):
        env_file = Path(env_file or os.environ.get("CARPRICE_ENV_FILE") or REPO / ".env")
        settings = {**read_env_file(env_file), **os.environ}
        self.airflow = f"http://{host}:{settings.get('AIRFLOW_PORT', '8080')}"
        self.mlflow = f"http://{host}:{settings.get('MLFLOW_PORT', '5000')}"
        self.streamlit = f"http://{host}:{settings.get('STREAMLIT_PORT', '8501')}"
        self.api_url = f"http://{host}:{settings.get('API_PORT', '8000')}"
        # the prediction API's key (carprice.api.guard.API_KEY_HEADER), for POST /predict
        self.api_headers = {"X-API-Key": settings.get("API_KEY", "")}
        self.user = settings.get("AIRFLOW_ADMIN_USER", "admin")
        self.password = settings.get("AIRFLOW_ADMIN_PASSWORD", "")
        self.mlflow_auth = (settings.get("MLFLOW_ADMIN_USER", "admin"),
                            settings.get("MLFLOW_ADMIN_PASSWORD", ""))
        self.model_name = load_params(REPO / "params.yaml")["registry"]["model_name"]
        self.http = requests.Session()
        self._token: str | None = None  # None: log in on the next call (e.g. after a restart)

    # --- Airflow REST -----------------------------------------------------------------
    def _login(self) -> str:
        resp = self.http.post(f"{self.airflow}/auth/token", timeout=TIMEOUT,
                              json={"username": self.user, "password": self.password})
        if resp.status_code not in (200, 201):
            raise RuntimeError(f"POST /auth/token -> {resp.status_code}: {resp.text[:300]}")
        return resp.json()["access_token"]

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        if self._token is None:
            self._token = self._login()
        resp = self.http.request(method, f"{self.airflow}{path}", json=body, timeout=TIMEOUT,
                                 headers={"Authorization": f"Bearer {self._token}"})
        if resp.status_code >= 300:
            raise RuntimeError(f"{method} {path} -> {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.text.strip().startswith(("{", "[")) else {"text": resp.text}

    def wait_for_dag(self, timeout: float = 180, dag_id: str = DAG_ID) -> None:
        """Until the API answers and the dag-processor has parsed the DAG."""
        waiting = Retrying(retry=retry_if_exception_type(NOT_READY),
                           stop=stop_after_delay(timeout), wait=wait_fixed(3))
        try:
            waiting(self.api, "GET", f"/api/v2/dags/{dag_id}")
        except RetryError as exc:
            raise TimeoutError(f"DAG {dag_id} not registered after {timeout}s: "
                               f"{exc.last_attempt.exception()}") from None

    def unpause(self, dag_id: str = DAG_ID) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, conf: dict | None = None, dag_id: str = DAG_ID) -> str:
        run = self.api(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}}
        )
        return run["dag_run_id"]

    def runs(self, dag_id: str = DAG_ID) -> list[dict]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def _run_path(self, run_id: str, dag_id: str = DAG_ID) -> str:
        return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"

    def run_state(self, run_id: str, dag_id: str = DAG_ID) -> str:
        return self.api("GET", self._run_path(run_id, dag_id))["state"]

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict]:
        path = f"{self._run_path(run_id, dag_id)}/taskInstances"
        return self.api("GET", path)["task_instances"]

    def task_states(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, str]:
        """{task key: state}; a mapped task's instances as ``train[hgb]`` (task_key)."""
        return {task_key(t): t["state"] for t in self.task_instances(run_id, dag_id)}

    def task_log(self, run_id: str, task_id: str, try_number: int = 1,
                 dag_id: str = DAG_ID, map_index: int = -1) -> str:
        out = self.api(
            "GET",
            f"{self._run_path(run_id, dag_id)}/taskInstances/{task_id}/logs/{try_number}"
            f"?full_content=true&map_index={map_index}",
        )
        content = out.get("content", out.get("text", ""))
        if isinstance(content, list):  # structured log lines
            return "\n".join(
                c.get("event", str(c)) if isinstance(c, dict) else str(c) for c in content
            )
        return str(content)

    def failed_task_logs(self, run_id: str, dag_id: str = DAG_ID) -> str:
        parts = []
        for ti in self.task_instances(run_id, dag_id):
            key, state = task_key(ti), ti["state"]
            if state in {"failed", "up_for_retry"}:
                try:
                    log = self.task_log(run_id, ti["task_id"], dag_id=dag_id,
                                        map_index=ti.get("map_index", -1))
                    parts.append(f"--- log of {key} ({state}) ---\n{log}")
                except (RuntimeError, requests.RequestException) as exc:
                    parts.append(f"--- log of {key}: unavailable ({exc})")
        return "\n".join(parts)

    def wait_run(self, run_id: str, timeout: float = 600, poll: float = 3,
                 progress: Callable[[str], object] | None = print,
                 dag_id: str = DAG_ID) -> str:
        """Wait until the run finishes; returns its state ('success' or 'failed')."""
        shown: list[str] = []

        def look() -> tuple[str, str]:
            state = self.run_state(run_id, dag_id)
            line = " ".join(f"{t}={s}" for t, s in self.task_states(run_id, dag_id).items() if s)
            if progress and shown[-1:] != [line]:
                progress(f"[{state}] {line}")
                shown.append(line)
            return state, line

        waiting = Retrying(
            # a dropped connection or a 5xx while polling (a database restart) is retried
            # like an unfinished run
            retry=retry_if_result(lambda seen: seen[0] not in FINISHED)
            | retry_if_exception_type(NOT_READY),
            stop=stop_after_delay(timeout), wait=wait_fixed(poll))
        try:
            return waiting(look)[0]
        except RetryError as exc:
            last = exc.last_attempt
            seen = last.exception() or " ".join(last.result())
            raise TimeoutError(f"run {run_id} not finished after {timeout}s: {seen}") from None

    # --- MLflow ---------------------------------------------------------------------------
    def mlflow_api(self, method: str, path: str, **kwargs) -> requests.Response:
        """A call to the stack's MLflow as its administrator (anonymous calls get 401)."""
        return self.http.request(method, f"{self.mlflow}{path}", auth=self.mlflow_auth,
                                 timeout=TIMEOUT, **kwargs)

    def alias_version(self, alias: str = PRODUCTION_ALIAS) -> str | None:
        """The version ``alias`` points at; None when the model or the alias does not exist."""
        resp = self.mlflow_api("GET", "/api/2.0/mlflow/registered-models/alias",
                               params={"name": self.model_name, "alias": alias})
        if resp.status_code == 200:
            return resp.json()["model_version"]["version"]
        if resp.status_code in (400, 404):  # RESOURCE_DOES_NOT_EXIST / INVALID_PARAMETER_VALUE
            return None
        raise RuntimeError(f"MLflow alias lookup -> {resp.status_code}: {resp.text[:300]}")


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
