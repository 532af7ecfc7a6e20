"""docker-compose-full.yml, the image Dockerfiles and .env.example agree with each other and
with carprice.pipeline.definition. Rendered by `docker compose config` when Docker is present,
else parsed as YAML (anchors and merge keys resolved by PyYAML)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from carprice.config import settings
from carprice.pipeline import container, definition

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose-full.yml"
ENV_EXAMPLE = REPO / ".env.example"
ONE_SHOT = {"airflow-init"}
SOCKET = "/var/run/docker.sock"
# The shared recipe of the carprice package's images (user, lock, package, params), written
# once as ONBUILD steps; every image below starts FROM the image built from it.
BASE_SERVICE, BASE_DOCKERFILE = "carprice-base", "docker/base.Dockerfile"
STAGE_DOCKERFILE = "stages/Dockerfile"
# service -> (its Dockerfile, its dependency set EXTRA); the stage-<set> services besides.
CARPRICE_IMAGES = {
    "streamlit": ("app/Dockerfile", "app"),
    "api": ("src/carprice/api/Dockerfile", "api"),
    "dvc-runner": ("stages/dvc-runner.Dockerfile", "dev"),
}


def example_env(tmp_path: Path) -> Path:
    """.env.example with every empty setting filled, as docker-start-full.sh would."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#") and not value:
            filler = {"DOCKER_GID": "0", "CARPRICE_INBOX_HOST_DIR": "/srv/carprice/data/inbox",
                      "CARPRICE_NOTIFY_URLS": "", "PROXY_CERT_FILE": "", "PROXY_KEY_FILE": "",
                      "AIRFLOW_PUBLIC_URL": ""}.get(key, "test-" + key.lower())
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


_DEFAULT = re.compile(r"\$\{[A-Za-z0-9_]+:?-([^}]*)\}")


def plain(value) -> str:
    """A value as compose renders it by default: in the raw YAML (no `docker compose`
    here) each ``${VAR:-default}`` becomes its default; rendered values pass through."""
    return _DEFAULT.sub(r"\1", str(value))


def port_bindings(service: dict) -> list[tuple[str, int]]:
    """(host address, container port) of each published port, rendered or raw
    (``"${BIND_ADDRESS:-127.0.0.1}:${PORT:-8080}:8080"``)."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append((port.get("host_ip", ""), int(port["target"])))
        else:
            parts = plain(port).split(":")
            out.append((parts[0] if len(parts) == 3 else "", int(parts[-1])))
    return out


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
    assert services["flower"].get("profiles") == ["flower", "monitoring"]
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
    """Loopback, except the HTTPS proxy: the one door to other machines."""
    for name, svc in services.items():
        if name == "proxy":
            continue
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
    env = services["dvc-runner"]["environment"]
    assert {container.ENV_PROJECT, container.ENV_DOCKER_NETWORK, container.ENV_DATA_VOLUME,
            container.ENV_MODELS_VOLUME, container.ENV_STAGE_MLFLOW_URI,
            *container.TRAINER_ACCOUNT, *container.PROMOTER_ACCOUNT} <= set(env)
    # stages as sibling containers, not in-process (also ENV in stages/dvc-runner.Dockerfile)
    assert str(env["CARPRICE_DVC_DOCKER"]) == "1"
    assert services["dvc-runner"]["build"]["dockerfile"] == "stages/dvc-runner.Dockerfile"
    assert container.CONTAINER_DATA_DIR in {target(v) for v in services["dvc-runner"]["volumes"]}


def copied_sources(dockerfile: str) -> list[str]:
    """The build-context paths the COPY instructions of a Dockerfile name."""
    sources = []
    for line in instructions(dockerfile):
        words = line.split()
        if words[0] == "COPY":
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def test_the_dvc_runner_workspace_holds_every_file_dvc_yaml_depends_on():
    """dvc repro in the dvc-runner hashes the deps: each must be in its workspace."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    deps = {dep for stage in stages.values() for dep in stage.get("deps", [])
            if not dep.startswith("data/")}  # run folders: the data volume
    copied = copied_sources("stages/dvc-runner.Dockerfile")
    assert STAGE_DOCKERFILE in copied
    for dep in deps:
        assert any(dep == src.rstrip("/") or dep.startswith(src.rstrip("/") + "/")
                   for src in copied), f"{dep}: not in the dvc-runner's workspace"


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


def test_compose_builds_one_stage_image_per_dependency_set(services):
    """Build-only services (scale 0), stage-<set>, make `docker compose build` build every
    stage image: one per dependency set, named as the DAG and the dvc-runner name it."""
    built = {}
    for name, svc in stage_services(services).items():
        build = svc["build"]
        extra = build["args"]["EXTRA"]
        assert (build["dockerfile"], build.get("target")) == (STAGE_DOCKERFILE, None), name
        assert name == f"stage-{extra}"
        assert int(svc.get("scale", 1)) == 0, f"{name} must never run as a service"
        # What the DAG mounts; declared so Compose owns (and reset removes) the volume.
        assert container.CONTAINER_DATA_DIR in {target(v) for v in svc["volumes"]}, name
        built[svc["image"]] = extra
    assert built == {definition.image_name(stage): extra
                     for stage, extra in definition.IMAGE_EXTRAS.items()}
    assert len(built) == len(set(definition.IMAGE_EXTRAS.values())), "one image per set"


def test_app_api_and_dvc_runner_images_build_from_their_own_dockerfiles(services):
    for name, (dockerfile, extra) in CARPRICE_IMAGES.items():
        build = services[name]["build"]
        assert (build["dockerfile"], build.get("target"), build["args"]["EXTRA"]) == (
            dockerfile, None, extra), name
        assert (REPO / dockerfile).is_file(), dockerfile
    assert not (REPO / "Dockerfile").exists(), "each image's Dockerfile lives in its folder"


def instructions(dockerfile: str) -> list[str]:
    """A Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / dockerfile).read_text())
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def carprice_image_dockerfiles(services: dict) -> dict[str, str]:
    """service -> Dockerfile, for every image that starts FROM carprice-base."""
    names = [*stage_services(services), *CARPRICE_IMAGES]
    return {name: services[name]["build"]["dockerfile"] for name in names}


def test_every_carprice_image_starts_from_the_shared_base_built_first(services):
    base = services[BASE_SERVICE]
    assert base["build"]["dockerfile"] == BASE_DOCKERFILE
    assert int(base.get("scale", 1)) == 0, "built, never run"
    for name, dockerfile in carprice_image_dockerfiles(services).items():
        lines = instructions(dockerfile)
        froms = [line for line in lines if line.startswith("FROM ")]
        assert froms == ["FROM ${CARPRICE_BASE_IMAGE}"], dockerfile
        assert f"ARG CARPRICE_BASE_IMAGE={base['image']}" in lines, dockerfile
        # Build order: Compose builds carprice-base before the images that need it.
        assert BASE_SERVICE in services[name]["depends_on"], name


def test_the_shared_recipe_is_written_once(services):
    """User, lock install, package install, params: only in docker/base.Dockerfile, as
    ONBUILD steps run in each image built FROM it (with that image's EXTRA)."""
    base = instructions(BASE_DOCKERFILE)
    for step in ("ONBUILD ARG EXTRA", "ONBUILD COPY requirements/${EXTRA}.txt",
                 "ONBUILD COPY src", "ONBUILD COPY params.yaml", "useradd --uid 1000",
                 "ONBUILD LABEL io.carprice.extra", "ONBUILD ENV CARPRICE_PARAMS_FILE"):
        assert any(line.startswith(step) or step in line for line in base), step
    assert not any("GIT_COMMIT" in line for line in base), "the base must not change per commit"
    for dockerfile in carprice_image_dockerfiles(services).values():
        text = "\n".join(instructions(dockerfile))
        for step in ("pip install", "useradd", "requirements/${EXTRA}", "CARPRICE_PARAMS_FILE",
                     "io.carprice.extra"):
            assert step not in text, f"{dockerfile} repeats the shared recipe ({step})"


def test_stage_images_run_the_stage_their_command_names():
    entrypoints = [line for line in instructions(STAGE_DOCKERFILE) if line.startswith("ENTRYPOINT")]
    assert [json.loads(line.split(None, 1)[1]) for line in entrypoints] == [
        ["python", "-m", "carprice.pipeline"]]


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


def test_stage_entry_point_runs_the_stage_its_command_names():
    """The stage images' entry point, `python -m carprice.pipeline <stage> [flags]`."""
    import sys

    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src")}
    bad = subprocess.run([sys.executable, "-m", "carprice.pipeline", "nope"], env=env,
                         capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "nope" in bad.stderr
    ok = subprocess.run([sys.executable, "-m", "carprice.pipeline", "ingest", "--help"], env=env,
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "ingest" in ok.stdout


def test_images_install_dependencies_before_the_code():
    """Dependency layers stay cached after a code-only change (the base's ONBUILD steps run
    in the order written)."""
    for path in (BASE_DOCKERFILE, "airflow/Dockerfile", "mlflow/Dockerfile"):
        lines = [line.removeprefix("ONBUILD ") for line in instructions(path)]
        install = next(i for i, line in enumerate(lines) if "pip install -r" in line)
        code = [i for i, line in enumerate(lines) if line.startswith(("COPY src", "COPY params"))]
        assert all(i > install for i in code), path


def test_a_new_commit_only_retags_the_images(services):
    """ARG GIT_COMMIT comes after every build step: nothing below it but ENV and metadata."""
    dockerfiles = [*carprice_image_dockerfiles(services).values(), "airflow/Dockerfile"]
    for dockerfile in dockerfiles:
        lines = instructions(dockerfile)
        at = lines.index("ARG GIT_COMMIT=unknown")
        assert "ENV CARPRICE_GIT_COMMIT=${GIT_COMMIT}" in lines[at:], dockerfile
        after = {line.split()[0] for line in lines[at + 1:]}
        assert after <= {"ENV", "EXPOSE", "CMD", "ENTRYPOINT", "LABEL"}, dockerfile


SCRIPTS = [
    "docker-start-full.sh",
    "docker-stop-full.sh",
    "docker-reset-full.sh",
    "scripts/stack-common.sh",
    "scripts/postgres-init.sh",
    "airflow/init.sh",
    "monitoring/probe.sh",
    "monitoring/prometheus/entrypoint.sh",
    "airflow/worker.sh",
    "mlflow/start.sh",
    "scripts/backup.sh",
    "scripts/restore.sh",
    "tests/e2e/run.sh",
    "tests/unit/run_airflow_tests.sh",
    "proxy/entrypoint.sh",
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


def test_the_signing_key_reaches_only_the_stage_starters_and_serving_gets_the_public_key(
        services):
    """The private key goes to the services that start the stages (which hand it on to
    promote_staging only: test_stage_container.py); the API and the app only
    verify, and tell CARPRICE_NOTIFY_URLS when they refuse a model."""
    private, public = settings.ENV_SIGNING_KEY, settings.ENV_SIGNING_PUBLIC_KEY
    holders = {name for name, svc in services.items()
               if private in (svc.get("environment") or {})}
    assert holders == {"airflow-worker", "dvc-runner"}
    for name in ("streamlit", "api", "dvc-runner", "airflow-dag-processor", "airflow-worker"):
        assert public in services[name]["environment"], name
    for name in ("streamlit", "api"):
        assert settings.ENV_NOTIFY_URLS in services[name]["environment"], name


def test_each_service_holds_only_the_mlflow_accounts_it_needs():
    """Least privilege (mlflow/accounts.py): the promoter only where promotion stages start.
    Read from the file as written: the variables' names are what tells the accounts apart."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]

    def accounts(name):
        text = json.dumps(services[name].get("environment", {}))
        return {role for role in ("TRAINER", "PROMOTER", "READER", "STAGE", "APP")
                if f"MLFLOW_{role}_PASSWORD" in text}

    assert accounts("airflow-worker") == accounts("dvc-runner") == {"TRAINER", "PROMOTER"}
    # The app and the API read as the reader; train_with_mlflow.py in the app container
    # gets the trainer, never the promoter.
    assert accounts("streamlit") == {"READER", "TRAINER"}
    assert accounts("api") == {"READER"}
    assert accounts("mlflow") == {"TRAINER", "PROMOTER", "READER"}
    for name in services:
        if name not in {"airflow-worker", "dvc-runner", "streamlit", "api", "mlflow"}:
            assert not accounts(name), name


def test_the_model_mlflow_creates_at_start_is_the_one_the_pipeline_registers():
    from carprice.config.params import load_params

    served = load_params(REPO / "params.yaml")["registry"]["model_name"]
    mlflow_env = yaml.safe_load(COMPOSE.read_text())["services"]["mlflow"]["environment"]
    assert mlflow_env["CARPRICE_MODEL_NAME"] == f"${{CARPRICE_MODEL_NAME:-{served}}}"
    assert f"CARPRICE_MODEL_NAME={served}" in ENV_EXAMPLE.read_text().splitlines()


def test_the_proxy_is_the_only_service_published_beyond_loopback(services):
    proxy = services["proxy"]
    assert proxy.get("profiles") == ["proxy"]
    ports = port_bindings(proxy)
    assert sorted(port for _, port in ports) == [8443, 8444, 8445, 8446]
    assert {host for host, _ in ports} == {"0.0.0.0"}  # PROXY_BIND_ADDRESS's default
    limits = proxy["deploy"]["resources"]["limits"]
    assert limits["memory"] and limits["cpus"] and limits["pids"]


def test_the_proxy_routes_to_the_services_and_ports_compose_defines(services):
    caddyfile = (REPO / "proxy" / "Caddyfile").read_text()
    entrypoint = (REPO / "proxy" / "entrypoint.sh").read_text()
    upstreams = dict(re.findall(r"reverse_proxy ([a-z-]+):(\d+)", caddyfile))
    assert upstreams == {"streamlit": "8501", "airflow-apiserver": "8080", "mlflow": "5000",
                         "api": "8000"}
    for name, port in upstreams.items():
        assert name in services and name in services["proxy"]["depends_on"], name
        assert int(port) in {target for _, target in port_bindings(services[name])}, name
    # each site block of the Caddyfile is given its port by the entrypoint
    sites = dict(re.findall(r'([A-Z]+_SITES)="\$\(sites (\d+)\)"', entrypoint))
    assert set(sites) == set(re.findall(r"^\{\$([A-Z]+_SITES)\}", caddyfile, re.M))
    assert sorted(int(p) for p in sites.values()) == [8443, 8444, 8445, 8446]
    # the app's password reaches the proxy only, and the proxy only hashes it (stdin)
    holders = [n for n, svc in services.items()
               if "STREAMLIT_PASSWORD" in (svc.get("environment") or {})]
    assert holders == ["proxy"]
    assert "| caddy hash-password" in entrypoint and "unset STREAMLIT_PASSWORD" in entrypoint


def test_only_the_api_holds_its_key(services):
    holders = [n for n, svc in services.items()
               if "CARPRICE_API_KEY" in (svc.get("environment") or {})]
    assert holders == ["api"]
    assert services["api"]["environment"]["FORWARDED_ALLOW_IPS"] == "*"


def test_every_service_has_memory_cpu_and_pids_limits_overridable_from_env(services):
    raw = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, svc in services.items():
        got = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        assert {"memory", "cpus", "pids"} <= set(got), name
        assert float(plain(got["cpus"])) > 0 and int(plain(got["pids"])) >= 64, name
        memory = got["memory"]  # rendered: bytes; raw YAML: the ${VAR:-default} text
        assert str(memory).isdigit() or str(memory).startswith("${"), name
        # each one comes from .env: the raw file names a variable for all three
        limits_text = json.dumps(raw[name].get("deploy", {}))
        assert limits_text.count("${") >= 3 or "stage-" in name, name
    # the defaults fit a 2-core host: no service may take more than its 2 cores, and only
    # the API (latency: a quota throttles in 100 ms periods) more than 1.5
    assert all(float(plain(s["deploy"]["resources"]["limits"]["cpus"]))
               <= (2.0 if n == "api" else 1.5) for n, s in services.items())


def test_stages_reach_mlflow_only_and_only_mlflow_and_postgres_join_their_networks(config,
                                                                                   services):
    networks = config["networks"]
    names = {key: networks[key]["name"] for key in ("stages", "egress", "predlog")}
    assert networks["stages"].get("internal") is True
    assert networks["predlog"].get("internal") is True
    assert not networks["egress"].get("internal")  # ingest may download a csv_uri
    joined = {name: set(svc.get("networks") or {"default": None})
              for name, svc in services.items()}
    assert joined["mlflow"] >= {"default", "stages", "egress", "predlog"}
    assert joined["postgres"] == {"default", "predlog"}
    for name, nets in joined.items():
        if name not in ("mlflow", "postgres"):
            assert nets == {"default"}, name  # Redis among them: never on a stage network
    for launcher in ("airflow-worker", "dvc-runner", "airflow-dag-processor"):
        env = services[launcher]["environment"]
        assert {env[container.ENV_DOCKER_NETWORK], env[container.ENV_EGRESS_NETWORK],
                env[container.ENV_PREDLOG_NETWORK]} == set(names.values()), launcher
        for key in (settings.ENV_STAGE_MEM_LIMIT, settings.ENV_STAGE_CPUS,
                    settings.ENV_STAGE_PIDS):
            assert str(env[key]), (launcher, key)


def test_streamlits_upload_cap_defaults_to_the_apps_own_config(services):
    import tomllib

    app_config = tomllib.loads((REPO / "app" / ".streamlit" / "config.toml").read_text())
    env = services["streamlit"]["environment"]
    assert str(env["STREAMLIT_SERVER_MAX_UPLOAD_SIZE"]) in (
        str(app_config["server"]["maxUploadSize"]), "${STREAMLIT_MAX_UPLOAD_MB:-50}")
    assert app_config["server"]["maxUploadSize"] == 50


MONITORING = {"prometheus", "alertmanager", "postgres-exporter-airflow",
              "postgres-exporter-predictions", "alert-relay"}


def test_monitoring_services_are_an_optional_profile_with_health_and_limits(services):
    for name in MONITORING:
        svc = services[name]
        assert svc.get("profiles") == ["monitoring"], name
        assert svc.get("restart") == "unless-stopped", name
        assert (svc.get("healthcheck") or {}).get("test"), name
        limits = svc["deploy"]["resources"]["limits"]
        assert limits.get("memory") and limits.get("cpus") and limits.get("pids"), name
    # only Prometheus is published (on the configured address: tested above); the rest
    # answer on the stack network only
    assert [p.get("published") if isinstance(p, dict) else p
            for p in services["prometheus"]["ports"]]
    for name in MONITORING - {"prometheus"}:
        assert not services[name].get("ports"), name


def test_without_the_profile_the_stack_is_unchanged(tmp_path):
    """COMPOSE_PROFILES unset: exactly the services of before (the monitoring ones and
    Flower join with COMPOSE_PROFILES=monitoring)."""
    if not docker_compose_available():
        pytest.skip("docker compose is not installed")
    env = example_env(tmp_path)

    def names(profiles: str) -> set[str]:
        out = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "--env-file", str(env),
                              "config", "--services"], capture_output=True, text=True,
                             check=True, env={**os.environ, "COMPOSE_PROFILES": profiles})
        return set(out.stdout.split())

    off, on = names(""), names("monitoring")
    assert not off & (MONITORING | {"flower"})
    assert on - off == MONITORING | {"flower"}


def test_prometheus_scrapes_every_part_and_holds_no_secret():
    prom = yaml.safe_load((REPO / "monitoring/prometheus/prometheus.yml").read_text())
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    assert set(jobs) == {"prometheus", "api", "mlflow", "flower", "airflow-db",
                         "predictions-db", "alertmanager", "alert-relay"}
    for name, job in jobs.items():
        for target_ in job["static_configs"][0]["targets"]:
            host = target_.split(":")[0]
            assert host == "localhost" or host in services, (name, target_)
        auth = job.get("basic_auth")
        if auth:  # passwords only as files the entrypoint writes from the environment
            assert set(auth) == {"username", "password_file"}, name
    assert {n for n, j in jobs.items() if "basic_auth" in j} == {"prometheus", "mlflow",
                                                                 "flower"}


def test_the_airflow_exporter_queries_the_pipeline_dag():
    text = (REPO / "monitoring/postgres-exporter/airflow-queries.yaml").read_text()
    assert f"dag_id = '{definition.DAG_ID}'" in text
    assert "carprice_airflow_dag_latest" in yaml.safe_load(text)


def test_only_the_worker_hands_airflow_db_clean_the_metadata_dsn(services):
    holders = [n for n, svc in services.items()
               if settings.ENV_AIRFLOW_METADATA_DSN in (svc.get("environment") or {})]
    assert holders == ["airflow-worker"]
    env = services["airflow-worker"]["environment"]
    assert env[settings.ENV_AIRFLOW_METADATA_DSN] == env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
