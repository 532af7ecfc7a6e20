"""Limits and hardening of the stage containers (carprice.pipeline.container), the input
caps derived from the memory limit (carprice.config.limits, params ``rows``), and the
networks each kind of stage joins. Built without Docker; the DAG's operator arguments are
checked in test_dag.py, a real hardened container in tests/integration/test_stage_hardening.py.
"""

from __future__ import annotations

import pytest

from carprice.config import limits, params, settings
from carprice.config.params import ParamsError, load_params
from carprice.pipeline import container, definition, docker_launch
from tests.conftest import REPO
from tests.unit.test_stage_container import ENV

STAGES = sorted(definition.IMAGE_EXTRAS)


def spec(stage: str, env=ENV) -> container.StageContainer:
    flags = ["--run-id", "r1", *(["--candidate", "hgb"] if stage == "train" else [])]
    return docker_launch.dvc_stage_container(stage, flags, env)


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_container_is_hardened_and_limited(stage):
    s = spec(stage)
    hc = s.host_config()
    assert hc["read_only"] is True
    assert hc["cap_drop"] == ["ALL"]
    assert hc["security_opt"] == ["no-new-privileges:true"]
    # /tmp is the one writable place besides the mounted volumes; HOME and caches live there
    assert set(hc["tmpfs"]) == {"/tmp"} and "size=" in hc["tmpfs"]["/tmp"]
    for name in ("HOME", "MPLCONFIGDIR", "XDG_CACHE_HOME", "JOBLIB_TEMP_FOLDER", "TMPDIR"):
        assert s.environment[name].startswith("/tmp"), name
    writable = {m.target for m in s.mounts if not m.read_only} | set(hc["tmpfs"])
    assert container.CONTAINER_DATA_DIR in writable
    # the .env defaults: 2 GB without swap on top, one CPU, 256 processes
    assert hc["mem_limit"] == hc["memswap_limit"] == 2 * 2**30
    assert hc["nano_cpus"] == 1_000_000_000 and hc["pids_limit"] == 256


def test_the_env_overrides_reach_the_container_and_the_stage_itself():
    env = {**ENV, settings.ENV_STAGE_MEM_LIMIT: "2g", settings.ENV_STAGE_CPUS: "0.5",
           settings.ENV_STAGE_PIDS: "128"}
    s = spec("train", env)
    assert s.limits == container.Limits(2 * 2**30, 0.5, 128)
    assert s.host_config()["nano_cpus"] == 500_000_000
    # the stage computes its caps from the same limit as its launcher
    assert limits.stage_memory_bytes(s.environment) == 2 * 2**30
    assert limits.stage_max_rows(s.environment) == limits.max_rows(2 * 2**30)


@pytest.mark.parametrize("name,value", [(settings.ENV_STAGE_MEM_LIMIT, "lots"),
                                        (settings.ENV_STAGE_MEM_LIMIT, "0m"),
                                        (settings.ENV_STAGE_CPUS, "two"),
                                        (settings.ENV_STAGE_CPUS, "0"),
                                        (settings.ENV_STAGE_PIDS, "8")])
def test_a_bad_limit_setting_is_refused_in_one_line(name, value):
    with pytest.raises(limits.LimitError, match=f"^{name}=") as caught:
        spec("train", {**ENV, name: value})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text,size", [("1536m", 1536 * 2**20), ("2g", 2 * 2**30),
                                       ("2GiB", 2 * 2**30), ("805306368", 805306368),
                                       ("512k", 512 * 2**10), ("1.5g", 3 * 2**29)])
def test_memory_sizes_in_dockers_syntax(text, size):
    assert limits.parse_memory(text) == size


@pytest.mark.parametrize("stage", STAGES)
def test_only_ingest_reaches_the_internet_and_only_the_prediction_log_stages_postgres(stage):
    # monitor reads the prediction log, maintenance prunes it
    expected = {"ingest": "carprice-egress", "monitor": "carprice-predlog",
                "maintenance": "carprice-predlog"}
    assert spec(stage).network == expected.get(stage, "carprice-stages")


def test_the_announcing_stages_reach_the_internet_only_when_notifications_are_set():
    announcing = {"promote_production", "rollback"}
    assert announcing == container.NOTIFYING_STAGES
    with_urls = {**ENV, settings.ENV_NOTIFY_URLS: "json://hooks.example.com/carprice"}
    for stage in STAGES:
        expected = spec(stage).network
        if stage in announcing:
            expected = "carprice-egress"
        assert spec(stage, with_urls).network == expected, stage
    assert {spec(s).network for s in announcing} == {"carprice-stages"}


@pytest.mark.parametrize("missing", [container.ENV_EGRESS_NETWORK,
                                     container.ENV_PREDLOG_NETWORK])
def test_a_missing_stage_network_is_one_line(missing):
    stage = "ingest" if missing == container.ENV_EGRESS_NETWORK else "monitor"
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(container.DeploymentError, match=f"^{missing} is not set"):
        spec(stage, env)
    assert spec("train", env).network == "carprice-stages"


def test_the_rows_cap_follows_the_memory_limit_and_keeps_the_measured_headroom():
    small, default, large = (limits.max_rows(limits.parse_memory(m))
                             for m in ("1g", limits.DEFAULT_STAGE_MEMORY, "4g"))
    assert small < default < large
    # what the cap allows, at the measured cost, stays within HEADROOM of the limit
    memory = limits.parse_memory(limits.DEFAULT_STAGE_MEMORY)
    planned = limits.PEAK_FIXED_BYTES + default * limits.PEAK_BYTES_PER_ROW
    assert planned <= memory * limits.HEADROOM
    assert default % limits.ROWS_STEP == 0
    # params.yaml's own value fits, with room (the default run is far below the cap)
    assert load_params(REPO / "params.yaml")["data"]["rows"] * 4 <= default


def test_params_refuse_more_rows_than_the_limit_holds_in_one_line():
    cap = params.MAX_ROWS
    assert cap == limits.stage_max_rows()
    assert load_params(REPO / "params.yaml", {"data.rows": cap})["data"]["rows"] == cap
    with pytest.raises(ParamsError, match="data.rows") as caught:
        load_params(REPO / "params.yaml", {"data.rows": cap + 1})
    assert "\n" not in str(caught.value)
    assert params.field_schema("data.rows")["maximum"] == cap  # the trigger form's maximum
