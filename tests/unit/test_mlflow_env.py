"""carprice.registry.mlflow_server: bounded client settings MLflow really reads, and a
pre-flight check against a real closed port and a real HTTP server."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mlflow import environment_variables as mlflow_env_vars

from carprice.config import settings
from carprice.registry import mlflow_server


@pytest.fixture
def clean_env(monkeypatch):
    for key in mlflow_server.CLIENT_ENV_DEFAULTS:
        monkeypatch.delenv(key, raising=False)  # restored after the test


def test_defaults_are_bounded_and_read_by_mlflow_itself(clean_env):
    assert mlflow_env_vars.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 7  # MLflow's own default
    mlflow_server.apply_client_defaults()
    assert mlflow_env_vars.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 2
    assert mlflow_env_vars.MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get() == 1
    assert mlflow_env_vars.MLFLOW_HTTP_REQUEST_TIMEOUT.get() == 10
    assert mlflow_env_vars.MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get() is False


def test_the_environment_wins_and_the_app_can_ask_for_no_retries(clean_env, monkeypatch):
    monkeypatch.setenv(mlflow_server.ENV_TIMEOUT, "30")
    mlflow_server.apply_client_defaults(retries=0)
    assert mlflow_env_vars.MLFLOW_HTTP_REQUEST_TIMEOUT.get() == 30
    assert mlflow_env_vars.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 0


def closed_port() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
    return sock, sock.getsockname()[1]


def test_a_closed_port_fails_with_one_line_naming_the_url():
    sock, port = closed_port()
    with sock, pytest.raises(mlflow_server.MlflowUnreachable) as info:
        mlflow_server.check_reachable(f"http://127.0.0.1:{port}", attempts=2, wait=0)
    message = str(info.value)
    assert message.startswith(f"MLflow at http://127.0.0.1:{port} is unreachable: ")
    assert "connection refused" in message and "\n" not in message
    # infrastructure, not bad input: the stage runner may retry it
    assert not isinstance(info.value, ValueError)


class Health(BaseHTTPRequestHandler):
    answers: list[int] = []  # status of each successive /health call; the last one repeats
    calls = 0

    def do_GET(self):  # noqa: N802 - http.server's name
        cls = type(self)
        status = cls.answers[min(cls.calls, len(cls.answers) - 1)]
        cls.calls += 1
        body = b"OK" if self.path == "/health" and status == 200 else b"no"
        self.send_response(status if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_healthy_server_passes(health_server):
    Health.answers, Health.calls = [200], 0
    assert mlflow_server.check_reachable(health_server + "/") == f"{health_server}/health"
    assert Health.calls == 1


def test_a_server_that_recovers_within_the_attempts_passes(health_server):
    Health.answers, Health.calls = [503, 503, 200], 0
    assert mlflow_server.check_reachable(health_server, attempts=3, wait=0)
    assert Health.calls == 3


def test_a_server_that_keeps_failing_is_unreachable_with_its_status(health_server):
    Health.answers, Health.calls = [503], 0
    with pytest.raises(mlflow_server.MlflowUnreachable,
                       match=rf"^MLflow at {health_server} is unreachable: HTTP 503"):
        mlflow_server.check_reachable(health_server, attempts=2, wait=0)
    assert Health.calls == 2


def test_the_uri_comes_from_the_environment_and_local_stores_need_no_probe(monkeypatch):
    sock, port = closed_port()
    with sock:
        monkeypatch.setenv(settings.ENV_TRACKING_URI, f"http://127.0.0.1:{port}")
        with pytest.raises(mlflow_server.MlflowUnreachable, match=str(port)):
            mlflow_server.check_reachable(attempts=1)
    for local in ("", "sqlite:///mlflow.db", "file:///tmp/mlruns"):
        monkeypatch.setenv(settings.ENV_TRACKING_URI, local)
        assert mlflow_server.check_reachable() is None


def test_credentials_in_the_uri_stay_out_of_the_message():
    sock, port = closed_port()
    with sock, pytest.raises(mlflow_server.MlflowUnreachable) as info:
        mlflow_server.check_reachable(f"http://admin:s3cret@127.0.0.1:{port}", attempts=1)
    assert "s3cret" not in str(info.value) and f"127.0.0.1:{port}" in str(info.value)
