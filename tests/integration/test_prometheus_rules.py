"""The monitoring configuration checked by the tools of the images that run it:
promtool check config / check rules / test rules (every alert firing and resolving on
synthetic series, monitoring/prometheus/alerts_test.yml) and amtool check-config. The
e2e runs the same promtool checks inside the live Prometheus (tests/e2e/test_alerts.py)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration
PROMETHEUS_IMAGE = os.environ.get("PROMETHEUS_IMAGE", "prom/prometheus:v2.42.0")
ALERTMANAGER_IMAGE = os.environ.get("ALERTMANAGER_IMAGE", "prom/alertmanager:v0.25.0")
MONITORING = REPO / "monitoring"


def have_image(image: str) -> bool:
    if not shutil.which("docker"):
        return False
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode:
        return False
    return subprocess.run(["docker", "image", "inspect", image],
                          capture_output=True).returncode == 0


def run_tool(image: str, mount: str, *args: str) -> subprocess.CompletedProcess:
    if not have_image(image):
        pytest.skip(f"no Docker engine or no {image} here (CI runs these checks in the e2e)")
    return subprocess.run(["docker", "run", "--rm", "-v", f"{mount}:/etc/carprice:ro",
                           "--workdir", "/etc/carprice", "--entrypoint", args[0], image,
                           *args[1:]], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args", [
    ("promtool", "check", "config", "/etc/carprice/prometheus.yml"),
    ("promtool", "check", "rules", "alerts.yml"),
    ("promtool", "test", "rules", "alerts_test.yml"),
])
def test_promtool(args):
    out = run_tool(PROMETHEUS_IMAGE, str(MONITORING / "prometheus"), *args)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr


def test_amtool_accepts_the_alertmanager_config():
    out = run_tool(ALERTMANAGER_IMAGE, str(MONITORING / "alertmanager"),
                   "amtool", "check-config", "/etc/carprice/alertmanager.yml")
    assert out.returncode == 0 and "SUCCESS" in out.stdout, out.stdout + out.stderr
