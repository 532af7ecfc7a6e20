"""scripts/stack_client.py (the e2e and bench driver) against a real MLflow server:
the MLflow half of the client; the Airflow half runs in tests/e2e."""

from __future__ import annotations

import sys
from urllib.parse import urlparse

import pytest
from mlflow import MlflowClient

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))

from stack_client import Stack  # noqa: E402

pytestmark = pytest.mark.integration


def test_alias_version_reads_the_registry(promoted_model, mlflow_server, tmp_path,
                                          monkeypatch):
    monkeypatch.delenv("MLFLOW_PORT", raising=False)
    settings = tmp_path / "stack.env"
    settings.write_text(f"# ports of this stack\nMLFLOW_PORT={urlparse(mlflow_server).port}\n")
    stack = Stack(env_file=settings)
    assert stack.mlflow == mlflow_server
    name = promoted_model["model_name"]
    assert stack.model_name == name  # both from params.yaml
    served = MlflowClient().get_model_version_by_alias(name, "production").version
    assert stack.alias_version("production") == served
    assert stack.alias_version("no-such-alias") is None
    stack.model_name = "no-such-model"
    assert stack.alias_version("production") is None
