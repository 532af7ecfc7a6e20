"""Last of the e2e session: stop/start keeps the registry, reset wipes it."""

from __future__ import annotations

import pytest

from carprice import pipeline
from tests.e2e.conftest import compose, script

pytestmark = pytest.mark.e2e


def test_stop_then_start_keeps_everything(stack, stack_env, facts):
    version = stack.alias_version("production")
    assert version
    script(stack_env, "docker-stop-full.sh", timeout=300)
    assert not compose(stack_env, "ps", "-q").stdout.strip(), "containers still running after stop"
    script(stack_env, "docker-start-full.sh", "--no-build", timeout=900)
    stack._token = None  # new api-server: log in again
    assert stack.alias_version("production") == version, "registry lost across stop/start"


def test_reset_wipes_registry_and_runs(stack, stack_env):
    script(stack_env, "docker-reset-full.sh", "--yes", "--no-build", timeout=900)
    assert stack.alias_version("production") is None, "production alias survived the reset"
    stack._token = None
    stack.wait_for_dag()
    runs = stack.api("GET", f"/api/v2/dags/{pipeline.DAG_ID}/dagRuns")
    assert runs["total_entries"] == 0, "DAG runs survived the reset"
