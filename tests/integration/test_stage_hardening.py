"""A stage container as the dvc-runner starts it (carprice.pipeline.docker_launch with the
one container spec), for real on the local Docker engine: the limits and the hardening
hold inside the container. The stage image is replaced by the plain Python base image and
the stage command by a probe, so no MLflow or stack is needed; everything else (user,
env, tmpfs, read-only root, capabilities, no-new-privileges, memory, CPU, pids) is the
spec's. Skipped without a Docker engine or the base image."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess

import pytest

from carprice.config import settings
from carprice.pipeline import container, docker_launch
from tests.unit.test_stage_container import ENV

pytestmark = pytest.mark.integration
IMAGE = os.environ.get("PYTHON_BASE_IMAGE", "python:3.11-slim-bookworm")

PROBE = r"""
import json, os, pathlib
def writable(path):
    try:
        pathlib.Path(path, "probe").write_text("x"); return True
    except OSError:
        return False
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\t" in line)
limit = next((p for p in ("/sys/fs/cgroup/memory.max",
                          "/sys/fs/cgroup/memory/memory.limit_in_bytes") if os.path.exists(p)))
pids = next((p for p in ("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max")
             if os.path.exists(p)))
print(json.dumps({"root": writable("/"), "usr": writable("/usr"), "tmp": writable("/tmp"),
                  "home": os.environ["HOME"], "home_writable": writable(os.environ["HOME"]),
                  "uid": os.getuid(), "cap_eff": status["CapEff"].strip(),
                  "no_new_privs": status["NoNewPrivs"].strip(),
                  "memory": open(limit).read().strip(), "pids": open(pids).read().strip()}))
"""


def engine_and_image() -> str | None:
    try:
        out = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "no Docker engine"
    return None if out.returncode == 0 else f"image {IMAGE} not present"


@pytest.mark.skipif(engine_and_image() is not None, reason=str(engine_and_image()))
def test_a_stage_container_is_limited_and_hardened_inside(capfd):
    env = {**ENV, container.ENV_PROJECT: f"it-hardening-{os.getpid()}",
           container.ENV_DOCKER_NETWORK: "none",  # the probe needs no network
           settings.ENV_STAGE_MEM_LIMIT: "300m", settings.ENV_STAGE_PIDS: "64",
           settings.ENV_STAGE_CPUS: "0.5"}
    spec = docker_launch.dvc_stage_container("validate", ["--run-id", "probe"], env)
    volume = f"{spec.name}-data"
    subprocess.run(["docker", "volume", "create", volume], check=True, capture_output=True)
    try:
        probe = dataclasses.replace(
            spec, image=IMAGE, command=["python", "-c", PROBE],
            mounts=(container.Mount(volume, container.CONTAINER_DATA_DIR),))
        code = docker_launch.run_container(probe, container.secret_values(spec, env))
    finally:
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)
    out = capfd.readouterr().out
    assert code == 0, out
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["root"] is False and seen["usr"] is False  # read-only root filesystem
    assert seen["tmp"] is True and seen["home"] == "/tmp" and seen["home_writable"] is True
    assert seen["uid"] == 1000
    assert int(seen["cap_eff"], 16) == 0  # every capability dropped
    assert seen["no_new_privs"] == "1"
    assert int(seen["memory"]) == 300 * 2**20
    assert seen["pids"] == "64"
