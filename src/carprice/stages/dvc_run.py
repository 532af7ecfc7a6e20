"""``python -m carprice.stages.dvc_run <stage> [stage flags]``: the command of every
dvc.yaml stage, so one dvc.yaml serves both places `dvc repro` runs.

- Locally ($CARPRICE_DVC_DOCKER unset): the stage runs exactly as
  ``python -m carprice.stages.<stage>`` would, in a child of a warm process that already
  imported the libraries (carprice.stages.warm), or in this process if none can start.
- In the stack's dvc-runner service ($CARPRICE_DVC_DOCKER=1): the stage runs in its own
  image (pipeline.image_name) as a sibling container, like the Airflow DAG runs it: the
  stack's network, the run-data volume, uid 1000, MLflow with the stages' account. Its
  output is streamed here and its exit code is this process's.

The runner's params.yaml (``dvc exp run -S`` edits it) reaches the container as
$CARPRICE_PARAMS_JSON; secrets go in the container's environment, never its command line.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Mapping

from carprice import pipeline
from carprice.stages.flags import StageArgs, parse_stage_args

ENV_DOCKER = "CARPRICE_DVC_DOCKER"


def in_docker(env: Mapping[str, str]) -> bool:
    return env.get(ENV_DOCKER, "").strip().lower() in {"1", "true", "yes"}


def dotted(params: Mapping, prefix: str = "") -> dict:
    """{"model.max_iter": 250, ...}: every leaf of the params, as $CARPRICE_PARAMS_JSON takes."""
    out = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        out.update(dotted(value, f"{name}.") if isinstance(value, Mapping) else {name: value})
    return out


def container_spec(stage: str, args: StageArgs, params: Mapping,
                   env: Mapping[str, str]) -> dict:
    """Keyword arguments of docker's ``containers.run`` for one stage (no Docker call)."""
    p = pipeline
    image = p.image_name(stage)
    project = env.get(p.ENV_PROJECT, "").strip() or "carprice"
    volumes = {p.deployment_value(p.ENV_DATA_VOLUME, env): {"bind": p.CONTAINER_DATA_DIR,
                                                             "mode": "rw"}}
    if env.get(p.ENV_MODELS_VOLUME, "").strip():  # promote_production exports there
        volumes[env[p.ENV_MODELS_VOLUME].strip()] = {"bind": p.CONTAINER_MODELS_DIR,
                                                     "mode": "rw"}
    environment = {
        "MLFLOW_TRACKING_URI": p.deployment_value(p.ENV_STAGE_MLFLOW_URI, env),
        "MLFLOW_TRACKING_USERNAME": p.deployment_value(p.ENV_STAGE_USER, env),
        "MLFLOW_TRACKING_PASSWORD": p.deployment_value(p.ENV_STAGE_PASSWORD, env),
        p.ENV_OVERRIDES: json.dumps(dotted(params)),
        p.ENV_IMAGE: image,
        "PYTHONUNBUFFERED": "1",
    }
    if env.get(p.ENV_GIT_COMMIT):
        environment[p.ENV_GIT_COMMIT] = env[p.ENV_GIT_COMMIT]
    command = StageArgs(run_id=args.run_id, data_dir=p.CONTAINER_DATA_DIR,
                        models_dir=p.CONTAINER_MODELS_DIR, set=list(args.set),
                        soft_skip=args.soft_skip).argv()
    return {
        "image": image, "command": command, "environment": environment,
        "network": p.deployment_value(p.ENV_DOCKER_NETWORK, env), "volumes": volumes,
        "user": p.CONTAINER_USER,
        "name": f"{project}-dvc-{stage.replace('_', '-')}-{p.safe_name(args.run_id, 60)}",
        "labels": {p.LABEL_PROJECT: project, p.LABEL_STAGE: stage, p.LABEL_RUN: args.run_id,
                   p.LABEL_DVC: "1"},
        "detach": True,
    }


def run_in_container(spec: dict) -> int:
    """Start the stage container, stream its output, remove it; its exit code."""
    import docker
    from docker.errors import NotFound

    client = docker.from_env()
    with contextlib.suppress(NotFound):  # left by an interrupted run, it holds the name
        client.containers.get(spec["name"]).remove(force=True)
    container = client.containers.run(**spec)
    try:
        for chunk in container.logs(stream=True, follow=True):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        return int(container.wait()["StatusCode"])
    finally:
        container.remove(force=True)


def run_here(stage: str, flags: list[str]) -> int:
    """Run the stage in this process, as ``python -m carprice.stages.<stage>`` does."""
    from carprice.stages.runner import main as run_stage

    return run_stage(stage, importlib.import_module(f"carprice.stages.{stage}").run, flags)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in pipeline.STAGES:
        print(f"usage: python -m carprice.stages.dvc_run <{'|'.join(pipeline.STAGES)}> "
              "[stage flags]", file=sys.stderr)
        return int(pipeline.StageExit.NO_RETRY)
    stage, flags = argv[0], argv[1:]
    if not in_docker(os.environ):
        from carprice.stages import warm

        code = warm.run(stage, flags)
        return run_here(stage, flags) if code is None else code
    args = parse_stage_args(stage, flags)
    try:
        spec = container_spec(stage, args, pipeline.load_params(args.params), os.environ)
        return run_in_container(spec)
    except Exception as exc:  # noqa: BLE001 - Docker or config: one line, non-zero exit
        from carprice.errors import one_line

        print(f"error: {stage} (container) failed: {one_line(exc)}", file=sys.stderr)
        return int(pipeline.StageExit.FAILED)


if __name__ == "__main__":
    sys.exit(main())
