"""The local DVC path for real: `dvc repro` of the project's own dvc.yaml runs the nine
stages through warm stage processes (carprice.stages.warm), ends with a `production`
alias in the local MLflow store, and a second `dvc repro` skips every stage. Then the warm
path's contract on its own: exit codes, output, a dead server, Ctrl-C, and staleness."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from carprice.stages import warm

from carprice import registry
from carprice.pipeline import definition
from tests.conftest import REPO

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
DVC = shutil.which("dvc", path=str(BIN)) or shutil.which("dvc")


def project_copy(dest: Path, rows: int) -> Path:
    """The repository's files (tracked or new, as `git ls-files` lists them) in a new git
    repository, with fewer synthetic rows."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["data"]["rows"] = rows
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    """A user's shell: the venv on PATH, no tracking server (local mlflow.db), and a
    private temporary folder, so this test's warm server is its own."""
    env = {k: v for k, v in os.environ.items()
           if k != "MLFLOW_TRACKING_URI" and not k.startswith("CARPRICE_")}
    return {**env, "PATH": f"{BIN}:{env['PATH']}", "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1",
            **extra}


def servers(tmp: Path) -> dict[str, int]:
    """{socket path: pid} of the warm servers started with sockets under ``tmp``."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"carprice.stages.warm" in argv and argv[-2].startswith(str(tmp).encode()):
            found[argv[-2].decode()] = int(proc.name)
    return found


@pytest.fixture
def private_tmp():
    """A short $TMPDIR of the test's own (socket paths are limited to 107 bytes)."""
    tmp = Path(tempfile.mkdtemp(prefix="cpw", dir="/tmp"))
    yield tmp
    for pid in servers(tmp).values():  # do not wait the idle minute
        os.kill(pid, signal.SIGTERM)
    shutil.rmtree(tmp, ignore_errors=True)


def stage_cmd(stage: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", "carprice.stages.dvc_run", stage, *flags]


@pytest.mark.skipif(DVC is None, reason="the dvc CLI is in the dev extra")
def test_dvc_repro_runs_the_pipeline_warm_then_skips_every_stage(tmp_path, private_tmp):
    project = project_copy(tmp_path / "project", rows=5000)
    env = env_for(private_tmp)
    first = subprocess.run([DVC, "repro"], cwd=project, env=env, capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    summaries = {s["stage"]: s for s in map(json.loads, (
        line for line in first.stdout.splitlines() if line.startswith('{"stage"')))}
    assert list(summaries) == list(definition.STAGES)
    assert all(s["status"] == "ok" for s in summaries.values()), summaries
    assert summaries["report"]["outcome"] == "promoted"
    assert len(servers(private_tmp)) == 1, "the stages did not go through one warm server"

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    name = summaries["train"]["model_name"]
    version = client.get_model_version_by_alias(name, registry.PRODUCTION_ALIAS)
    assert str(version.version) == summaries["train"]["model_version"]

    second = subprocess.run([DVC, "repro"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    for stage in definition.STAGES:
        assert f"Stage '{stage}' didn't change, skipping" in second.stdout, second.stdout
    assert '{"stage"' not in second.stdout  # no stage ran


def test_the_warm_path_keeps_exit_codes_output_and_survives_a_dead_server(workdir,
                                                                          private_tmp):
    env = env_for(private_tmp)
    bad = stage_cmd("validate", "--run-id", "r", "--set", "model.max_iter=0")
    out = subprocess.run(bad, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == definition.StageExit.NO_RETRY, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["exit_code"] == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: validate failed: params:")
    (sock, pid), = servers(private_tmp).items()

    again = subprocess.run(bad, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and servers(private_tmp) == {sock: pid}  # the same server

    os.kill(pid, signal.SIGKILL)  # its socket file stays behind, nobody answers on it
    time.sleep(0.2)
    after = subprocess.run(bad, env=env, capture_output=True, text=True, timeout=120)
    assert after.returncode == 2 and '"exit_code": 2' in after.stdout
    assert set(servers(private_tmp)) == {sock} and servers(private_tmp)[sock] != pid

    off = subprocess.run(bad, env={**env, warm.ENV_WARM: "0"}, capture_output=True,
                         text=True, timeout=120)
    assert off.returncode == 2 and untimed(off.stdout) == untimed(after.stdout)


def untimed(stdout: str) -> dict:
    summary = json.loads(stdout.splitlines()[-1])
    summary.pop("seconds")
    return summary


def test_ctrl_c_reaches_the_stage_in_the_warm_child(workdir, private_tmp):
    env = env_for(private_tmp)
    subprocess.run(stage_cmd("validate", "--run-id", "r", "--set", "model.max_iter=0"),
                   env=env, capture_output=True, timeout=120)  # the server is up
    server = next(iter(servers(private_tmp).values()))
    caller = subprocess.Popen(stage_cmd("ingest", "--run-id", "big", "--set",
                                        "data.rows=3000000"),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not children(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = children(server)
    assert child, "the stage never started in a warm child"
    time.sleep(0.5)  # let the caller install its signal forwarding
    caller.send_signal(signal.SIGINT)
    assert caller.wait(timeout=60) == 130
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child[0]}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child[0]}").exists(), "the stage kept running"


def children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().split()[3]) == pid:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_edited_code_or_thread_settings_mean_another_server(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    env = {"OMP_NUM_THREADS": "1", "HOME": "/root"}
    key = warm.server_key(package, env)
    assert warm.server_key(package, {**env, "HOME": "/elsewhere"}) == key
    assert warm.server_key(package, {**env, "OMP_NUM_THREADS": "2"}) != key
    (package / "a.py").write_text("x = 22\n")
    assert warm.server_key(package, env) != key


def test_a_shared_socket_folder_or_a_too_long_path_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = tmp_path / f"carprice-warm-{os.getuid()}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    assert warm.private_dir() is None
    assert warm.run("validate", ["--run-id", "r"]) is None  # the caller runs the stage itself
    folder.chmod(0o700)
    assert warm.private_dir() == folder
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    assert warm.private_dir() is not None and warm.run("validate", ["--run-id", "r"]) is None
