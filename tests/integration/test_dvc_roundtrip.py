"""Data versioning end to end with the real dvc CLI: a run folder's raw.parquet goes to
the project's default (folder) remote with `dvc push`, a clean clone gets the same bytes
back with `dvc pull`, and `carprice data-restore` finds it by the md5 train tags."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from carprice import cli
from carprice.pipeline import run_folder
from carprice.sources import dvc_data
from carprice.sources.synthetic import generate
from tests.conftest import REPO

pytestmark = pytest.mark.integration
DVC = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
RAW = f"data/runs/local/{run_folder.RAW}"


def sh(*cmd: str, cwd: Path) -> str:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{' '.join(cmd)}: {out.stderr[-1500:]}"
    return out.stdout


def git(*args: str, cwd: Path) -> str:
    return sh("git", "-c", "user.name=t", "-c", "user.email=t@t", *args, cwd=cwd)


@pytest.mark.skipif(DVC is None, reason="the dvc CLI is in the dev extra")
def test_push_clone_pull_restore(tmp_path, capsys):
    project, remote, clone = tmp_path / "project", tmp_path / "remote", tmp_path / "clone"
    project.mkdir()
    git("init", "-q", cwd=project)
    shutil.copytree(REPO / ".dvc", project / ".dvc",
                    ignore=shutil.ignore_patterns("cache", "tmp", "config.local"))
    shutil.copy(REPO / ".dvcignore", project / ".dvcignore")
    raw = project / RAW
    raw.parent.mkdir(parents=True)
    generate(300, 5).to_parquet(raw, index=False)
    md5 = dvc_data.file_md5(raw)  # what ingest records and train tags (data_dvc_md5)

    sh(DVC, "add", "-q", RAW, cwd=project)
    assert f"md5: {md5}" in (project / f"{RAW}.dvc").read_text()  # DVC agrees on the hash
    assert dvc_data.object_path(project / ".dvc" / "cache", md5).is_file()
    git("add", "-A", cwd=project)
    git("commit", "-qm", "data", cwd=project)
    sh(DVC, "remote", "modify", "--local", "local", "url", str(remote), cwd=project)
    sh(DVC, "push", "-q", cwd=project)
    assert dvc_data.object_path(remote, md5).is_file()

    git("clone", "-q", str(project), str(clone), cwd=tmp_path)
    assert not (clone / RAW).exists()
    restored = tmp_path / "restored.parquet"  # from the remote alone: the clone has no cache
    assert cli.main(["data-restore", "--md5", md5, "--out", str(restored), "--repo",
                     str(clone), "--remote", str(remote)]) == 0
    assert json.loads(capsys.readouterr().out)["from"] == str(dvc_data.object_path(remote, md5))
    assert dvc_data.file_md5(restored) == md5

    sh(DVC, "remote", "modify", "--local", "local", "url", str(remote), cwd=clone)
    sh(DVC, "pull", "-q", cwd=clone)
    assert dvc_data.file_md5(clone / RAW) == md5
