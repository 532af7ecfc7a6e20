"""Shared test helpers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A folder with params.yaml, as a user's checkout would have; cwd moves there."""
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    for var in ("CARPRICE_PARAMS_JSON", "CARPRICE_PARAMS_FILE", "CARPRICE_RUN_ID",
                "CARPRICE_DATA_DIR", "CARPRICE_MODELS_DIR"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
