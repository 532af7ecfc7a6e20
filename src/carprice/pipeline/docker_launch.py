"""The dvc-runner's launcher: a dvc.yaml stage as a sibling container of its image,
started through the Docker SDK with the same spec as the Airflow DAG's
(carprice.pipeline.container). Its output is streamed here; its exit code is ours.

The runner's params.yaml (``dvc exp run -S`` edits it) reaches the container as
$CARPRICE_PARAMS_JSON; secrets go in the container's environment, never its command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys

from carprice.config.params import dotted, load_params, parse_set_args
from carprice.config.settings import ENV_STAGE_MEM_LIMIT
from carprice.errors import one_line
from carprice.pipeline import container
from carprice.pipeline.definition import StageExit, safe_name
from carprice.pipeline.stage_args import parse_stage_args

DVC_DAG_ID = "dvc"  # what the stage records as its orchestrator


def dvc_stage_container(stage: str, flags: list[str],
                        env: dict[str, str] | os._Environ) -> container.StageContainer:
    args = parse_stage_args(stage, flags)
    params = load_params(args.params, parse_set_args(args.set))
    return container.stage_container(
        stage, env, run_id=args.run_id, run_name=f"dvc-{safe_name(args.run_id, 60)}",
        dag_id=DVC_DAG_ID, params_json=json.dumps(dotted(params)),
        flags=("--soft-skip",) if args.soft_skip else (),
        launcher_labels={container.LABEL_DVC: "1"}, candidate=args.candidate)


def run_dvc_stage(stage: str, flags: list[str]) -> int:
    try:
        spec = dvc_stage_container(stage, flags, os.environ)
        return run_container(spec, container.secret_values(spec, os.environ))
    except Exception as exc:  # noqa: BLE001 - Docker or config: one line, non-zero exit
        print(f"error: {stage} (container) failed: {one_line(exc)}", file=sys.stderr)
        return int(StageExit.FAILED)


def run_container(spec: container.StageContainer, secrets: dict[str, str]) -> int:
    """Start the stage container, stream its output, remove it; its exit code."""
    import docker
    from docker.errors import NotFound

    client = docker.from_env()
    with contextlib.suppress(NotFound):  # left by an interrupted run, it holds the name
        client.containers.get(spec.name).remove(force=True)
    volumes = {m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
               for m in spec.mounts}
    started = client.containers.run(
        spec.image, spec.command, environment={**spec.environment, **secrets},
        network=spec.network, volumes=volumes, user=spec.user, name=spec.name,
        labels=spec.labels, detach=True, **spec.host_config())
    try:
        for chunk in started.logs(stream=True, follow=True):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        code = int(started.wait()["StatusCode"])
        started.reload()
        if started.attrs.get("State", {}).get("OOMKilled"):
            print(f"error: {spec.stage} ran out of its {spec.limits.memory // 2**20} MiB "
                  f"memory limit ({ENV_STAGE_MEM_LIMIT})", file=sys.stderr)
        return code
    finally:
        started.remove(force=True)
