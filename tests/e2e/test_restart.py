"""Last of the e2e session: stop (with a run in flight) and start keep everything. (That a
reset wipes the registry and the runs is checked by the backup/restore scenario.)"""

from __future__ import annotations

import pytest
from stack_client import task_key

from tests.e2e.conftest import (
    compose,
    export_meta,
    log,
    pending_versions,
    promoted_by,
    script,
    stage_containers,
    start_run,
    wait_for,
    wait_task,
)

pytestmark = pytest.mark.e2e


def test_stop_with_a_run_in_flight_then_start_loses_nothing(stack, stack_env, facts):
    version = stack.alias_version("production")
    assert version
    run_id = start_run(stack, {"force": True})
    wait_task(stack, run_id, "train")
    stopping = script(stack_env, "docker-stop-full.sh", timeout=300)
    assert not compose(stack_env, "ps", "-q").stdout.strip(), "containers still running after stop"
    assert stage_containers(stack_env) == [], "a stage container outlived the stop"
    script(stack_env, "docker-start-full.sh", "--no-build", timeout=900)
    stack._token = None  # new api-server: log in again
    # The run in flight was at train: nothing can have moved production yet.
    assert stack.alias_version("production") == version, "registry lost or changed"
    assert str(export_meta(stack_env)["version"]) == version, "export lost or changed"
    states, seconds = wait_for(stack, stack_env, run_id)  # the run carries on, green
    # Afterwards production is what the run promoted, else still the version from before.
    expected = (promoted_by(stack, run_id) if states["promote_production"] == "success"
                else version)
    assert stack.alias_version("production") == expected, (states, expected)
    assert str(export_meta(stack_env)["version"]) == expected
    retried = {task_key(t): t["try_number"] for t in stack.task_instances(run_id)
               if t["try_number"] > 1}
    log(f"stop with train in flight: stop {stopping:.0f} s (warm), run green {seconds:.0f} s "
        f"after the start; tasks retried: {retried or 'none'}")
    assert stage_containers(stack_env) == [] and pending_versions(stack) == []
