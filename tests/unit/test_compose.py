"""docker-compose-full.yml, the image Dockerfiles and .env.example agree with each other and
with carprice.pipeline. Rendered by `docker compose config` when Docker is present, else
parsed as YAML (anchors and merge keys resolved by PyYAML)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from carprice.pipeline import container, definition

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose-full.yml"
ENV_EXAMPLE = REPO / ".env.example"
ONE_SHOT = {"airflow-init"}
SOCKET = "/var/run/docker.sock"


def example_env(tmp_path: Path) -> Path:
    """.env.example with every empty setting filled, as docker-start-full.sh would."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#") and not value:
            filler = {"DOCKER_GID": "0", "CARPRICE_INBOX_HOST_DIR": "/srv/carprice/data/inbox",
                      "CARPRICE_NOTIFY_URLS": ""}.get(key, "test-" + key.lower())
            line = f"{key}={filler}"
        lines.append(line)
    path = tmp_path / "test.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def docker_compose_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    env = example_env(tmp_path_factory.mktemp("env"))
    if docker_compose_available():
        out = subprocess.run(
            [
                "docker",
                "compose",
                "-f",
                str(COMPOSE),
                "--env-file",
                str(env),
                "-p",
                "carprice",
                "--profile",
                "*",
                "config",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout)
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(config) -> dict:
    return config["services"]


def volume_sources(service: dict) -> list[str]:
    out = []
    for vol in service.get("volumes", []):
        out.append(vol["source"] if isinstance(vol, dict) else vol.split(":", 1)[0])
    return out


def target(volume) -> str:
    return volume["target"] if isinstance(volume, dict) else volume.split(":")[1]


def test_all_services_present(services):
    expected = {
        "postgres",
        "redis",
        "mlflow",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "streamlit",
        "flower",
    }
    assert expected <= set(services)
    assert services["flower"].get("profiles") == ["flower"]
    assert services["airflow-cli"].get("profiles") == ["debug"]
    assert services["dvc-runner"].get("profiles") == ["dvc"]


def test_every_long_running_service_has_a_healthcheck(services):
    for name, svc in services.items():
        if name in ONE_SHOT or name in {"airflow-cli", "dvc-runner"} or int(
                svc.get("scale", 1)) == 0:
            continue
        test = (svc.get("healthcheck") or {}).get("test")
        assert test, f"{name} has no healthcheck"
        assert not (svc["healthcheck"].get("disable")), name


def test_postgres_and_redis_publish_no_port(services):
    for name in ("postgres", "redis"):
        assert not services[name].get("ports"), name


def test_published_ports_bind_to_configured_address(config, services):
    for name, svc in services.items():
        for port in svc.get("ports", []):
            if isinstance(port, dict):  # rendered
                assert port.get("host_ip") == "127.0.0.1", (name, port)
            else:
                assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), (name, port)


def test_only_the_stage_starters_mount_the_docker_socket(services):
    with_socket = {name for name, svc in services.items() if SOCKET in volume_sources(svc)}
    assert with_socket == {"airflow-worker", "dvc-runner"}  # dvc-runner: profile dvc only
    for name in with_socket:
        assert services[name].get("group_add"), f"{name} needs the socket's group"


def test_the_dvc_runner_gets_every_name_its_stage_containers_need(services):
    from carprice.pipeline import runner

    env = services["dvc-runner"]["environment"]
    assert {container.ENV_PROJECT, container.ENV_DOCKER_NETWORK, container.ENV_DATA_VOLUME,
            container.ENV_MODELS_VOLUME, container.ENV_STAGE_MLFLOW_URI, container.ENV_STAGE_USER,
            container.ENV_STAGE_PASSWORD} <= set(env)
    assert str(env[runner.ENV_DVC_DOCKER]) == "1"
    assert services["dvc-runner"]["build"]["target"] == "dvc-runner"
    assert container.CONTAINER_DATA_DIR in {target(v) for v in services["dvc-runner"]["volumes"]}


def test_dependencies_wait_on_conditions(services):
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on without conditions"
        for dep, spec in deps.items():
            assert spec.get("condition"), (name, dep)
    assert (
        services["airflow-scheduler"]["depends_on"]["airflow-init"]["condition"]
        == "service_completed_successfully"
    )
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_fixed_network_and_run_data_volume_names(config):
    def names(suffix):  # rendered, or raw YAML
        return {f"carprice-{suffix}", "${COMPOSE_PROJECT_NAME:-carprice}-" + suffix}

    assert config["networks"]["default"]["name"] in names("net")
    assert config["volumes"]["data"]["name"] in names("data")
    assert config["volumes"]["models"]["name"] in names("models")


def test_streamlit_reads_the_model_export_read_only(services):
    st = services["streamlit"]
    (models,) = [v for v in st["volumes"] if target(v) == "/app/models"]
    read_only = models.get("read_only") if isinstance(models, dict) else models.endswith(":ro")
    assert read_only
    assert st["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"


def test_postgres_init_script_creates_both_databases(services):
    mounts = services["postgres"]["volumes"]
    targets = [target(v) for v in mounts]
    assert any(t.startswith("/docker-entrypoint-initdb.d/") and t.endswith(".sh") for t in targets)
    script = (REPO / "scripts" / "postgres-init.sh").read_text()
    assert "create_db airflow" in script and "create_db mlflow" in script


def test_no_secret_in_the_compose_file():
    text = COMPOSE.read_text()
    secret_key = r"^\s+[A-Z_]*(PASSWORD|SECRET|FERNET_KEY)[A-Z_]*:\s*(\S+)"
    for match in re.finditer(secret_key, text, re.M):
        assert match.group(2).startswith("${"), match.group(0)
    for match in re.finditer(r"://[^:@/\s]+:([^@\s]+)@", text):
        assert match.group(1).startswith("${"), match.group(0)


def test_every_compose_variable_is_documented_in_env_example():
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))
    documented = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    set_by_start_script = {"CARPRICE_GIT_COMMIT"}
    assert used - documented - set_by_start_script == set()


def stage_services(services: dict) -> dict[str, dict]:
    return {name: svc for name, svc in services.items() if name.startswith("stage-")}


def test_compose_builds_one_image_per_pipeline_stage(services):
    """Build-only services (scale 0) make `docker compose build` build every stage image."""
    built = {}
    for name, svc in stage_services(services).items():
        args = svc["build"]["args"]
        assert svc["build"]["target"] == "stage", name
        assert int(svc.get("scale", 1)) == 0, f"{name} must never run as a service"
        built[args["STAGE"]] = (svc["image"], args["EXTRA"])
    assert built == {s: (definition.image_name(s), extra)
                     for s, extra in definition.IMAGE_EXTRAS.items()}


def test_app_image_is_a_target_of_the_package_dockerfile(services):
    build = services["streamlit"]["build"]
    assert (build["dockerfile"], build["target"], build["args"]["EXTRA"]) == (
        "Dockerfile", "app", "app")


def test_stages_and_the_app_reach_the_same_mlflow_which_accepts_that_host(services):
    env = services["airflow-worker"]["environment"]
    uri = env["CARPRICE_STAGE_MLFLOW_URI"]
    assert services["streamlit"]["environment"]["MLFLOW_TRACKING_URI"] == uri
    host = uri.split("://", 1)[1].rstrip("/")
    allowed = services["mlflow"]["environment"]["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert host in allowed and host.split(":")[0] in allowed


def test_both_launchers_get_every_deployment_name_the_container_spec_reads(services):
    spec_source = (REPO / "src" / "carprice" / "pipeline" / "container.py").read_text()
    wanted = {getattr(container, name)
              for name in re.findall(r"deployment_value\((ENV_[A-Z_]+)", spec_source)}
    assert container.ENV_INBOX_HOST_DIR in wanted, "container.py reads no deployment names?"
    for name in ("airflow-scheduler", "airflow-worker", "airflow-dag-processor", "dvc-runner"):
        assert wanted <= set(services[name]["environment"]), name


def test_the_stage_entry_point_runs_the_stage_it_is_given(tmp_path):
    import sys

    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src")}
    bad = subprocess.run([sys.executable, "-m", "carprice.pipeline", "nope"], env=env,
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "unknown stage 'nope'" in bad.stderr
    ok = subprocess.run([sys.executable, "-m", "carprice.pipeline", "ingest", "--help"],
                        env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "Run the ingest stage" in ok.stdout


def test_images_install_dependencies_before_the_code():
    """Dependency layers stay cached after a code-only change."""
    for path in ("Dockerfile", "airflow/Dockerfile", "mlflow/Dockerfile"):
        lines = (REPO / path).read_text().splitlines()
        install = next(i for i, line in enumerate(lines) if "pip install -r" in line)
        code = [i for i, line in enumerate(lines) if line.startswith("COPY src")]
        assert all(i > install for i in code), path


SCRIPTS = [
    "docker-start-full.sh",
    "docker-stop-full.sh",
    "docker-reset-full.sh",
    "scripts/stack-common.sh",
    "scripts/postgres-init.sh",
    "airflow/init.sh",
    "airflow/worker.sh",
    "mlflow/start.sh",
    "scripts/backup.sh",
    "scripts/restore.sh",
    "tests/e2e/run.sh",
    "tests/unit/run_airflow_tests.sh",
]


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck not installed")
def test_stack_scripts_are_shellcheck_clean():
    proc = subprocess.run(
        ["shellcheck", "-x", *SCRIPTS], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout


def test_stack_scripts_are_strict_and_executable():
    for name in SCRIPTS:
        path = REPO / name
        text = path.read_text()
        if name != "scripts/stack-common.sh":  # sourced, inherits the caller's options
            assert "set -euo pipefail" in text or "set -eu" in text, name
            assert path.stat().st_mode & 0o111, f"{name} is not executable"


def test_the_stop_script_removes_stage_containers_by_the_label_they_carry():
    common = (REPO / "scripts" / "stack-common.sh").read_text()
    assert f"STAGE_LABEL={container.LABEL_PROJECT}\n" in common
