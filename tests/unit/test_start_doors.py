"""docker-start-full.sh's door check, run for real up to the point where it refuses: a
BIND_ADDRESS beyond loopback is refused in one line, with or without the proxy profile,
before any container, volume or network is touched (a throwaway settings file only)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def engine_answers() -> bool:
    return bool(shutil.which("docker")) and subprocess.run(
        ["docker", "info"], capture_output=True, timeout=60).returncode == 0


pytestmark = pytest.mark.skipif(not engine_answers(),
                                reason="the start script checks the Docker engine first")


def start(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess:
    # Should the check ever be missing, the script still stops before starting anything:
    # its preflight refuses an AIRFLOW_PORT already in use (this listening socket).
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {**os.environ, "CARPRICE_ENV_FILE": str(tmp_path / "doors.env"),
               "COMPOSE_PROJECT_NAME": "carprice-doors-test",
               "AIRFLOW_PORT": str(busy.getsockname()[1])}
        env.pop("COMPOSE_PROFILES", None)
        env.update(settings)
        return subprocess.run([str(REPO / "docker-start-full.sh"), "--no-build"], env=env,
                              capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("bind", ["0.0.0.0", "192.168.1.20", "::"])
def test_a_network_bind_address_is_refused_in_one_line(tmp_path, bind):
    proc = start(tmp_path, BIND_ADDRESS=bind)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"[carprice] ERROR: BIND_ADDRESS={bind} would publish Airflow, "
                           "MLflow, Streamlit and the API on the network unencrypted"), last
    assert "COMPOSE_PROFILES=proxy" in last
    # the generated settings hold the new secrets (mode 600)
    settings = (tmp_path / "doors.env").read_text()
    for key in ("API_KEY", "STREAMLIT_PASSWORD"):
        value = next(line.split("=", 1)[1] for line in settings.splitlines()
                     if line.startswith(f"{key}="))
        assert len(value) == 32, key
    assert (tmp_path / "doors.env").stat().st_mode & 0o077 == 0


def test_with_the_proxy_the_services_still_stay_on_loopback(tmp_path):
    proc = start(tmp_path, BIND_ADDRESS="0.0.0.0", COMPOSE_PROFILES="monitoring,proxy")
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "beside the proxy" in last and "keep BIND_ADDRESS=127.0.0.1" in last, last
