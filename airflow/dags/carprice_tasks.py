"""How a CarPrice DAG runs one stage: a sibling container of the stage's image.

Shared by the DAGs in this folder, so every stage container gets the same network,
mounts, labels, user and clean-up. Deployment names come from the environment that
docker-compose-full.yml gives the Airflow services; nothing here recomputes them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import timedelta

from airflow.providers.docker.exceptions import DockerContainerFailedException
from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException
from docker.types import Mount

from carprice.config import gate_floor, settings
from carprice.config.params import FORM_ALIASES, field_schema, load_params
from carprice.monitoring import notify
from carprice.pipeline import container, definition

# A stage that runs longer is stuck (the whole default pipeline takes about a minute).
STAGE_TIMEOUT = timedelta(minutes=30)
DOCKER_URL = "unix://var/run/docker.sock"
def image_ref(image: str) -> str:
    """``name@sha256:...`` of the local image the stage runs (its name alone if unknown)."""
    try:
        import docker

        return f"{image}@{docker.DockerClient(base_url=DOCKER_URL).images.get(image).id}"
    except Exception:  # provenance only: never fail a task over it
        return image


# JSON-schema keywords of a params.yaml field that the trigger form enforces.
_FORM_KEYWORDS = ("enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                  "minLength", "maxLength", "pattern")


def _lookup(params: dict, dotted: str):
    node = params
    for part in dotted.split("."):
        node = node[part]
    return node


def form_schema(dotted: str, defaults: dict) -> dict:
    """The params model's JSON schema of ``dotted``; for a gate threshold, narrowed so the
    form can only tighten params.yaml's value (carprice.config.gate_floor): Airflow then
    refuses a looser trigger (UI or REST, HTTP 400) and creates no DAG run."""
    schema = field_schema(dotted)
    section, _, key = dotted.partition(".")
    if section == "gate":
        schema = {**schema, **gate_floor.form_bounds(key, defaults["gate"][key], schema)}
    return schema


def _param(name: str, dotted: str, default, defaults: dict) -> Param:
    """A form field typed like the params model's field (carprice.config.params): type, range,
    choices and description all come from there, the default from params.yaml."""
    schema = form_schema(dotted, defaults)
    limits = {key: schema[key] for key in _FORM_KEYWORDS if key in schema}
    kind = schema["type"]
    # A free-text field left blank keeps params.yaml's value; without null the UI would
    # demand a value (csv_uri is blank unless source=csv).
    # An optional value (a gate floor: blank = off) takes null too.
    nullable = (kind == "string" and "enum" not in schema) or schema.get("nullable", False)
    types = [kind, "null"] if nullable else kind
    return Param(default, type=types, title=name, description=schema["description"], **limits)


def trigger_params(aliases: dict[str, str]) -> dict[str, Param]:
    """One typed Param per trigger-form name (``aliases``: name -> dotted key of
    params.yaml), defaults from params.yaml."""
    defaults = load_params()
    return {name: _param(name, dotted, _lookup(defaults, dotted), defaults)
            for name, dotted in aliases.items()}


def params_json(params) -> str:
    """The trigger form's values as the stages' CARPRICE_PARAMS_JSON (dotted keys)."""
    return json.dumps({dotted: params[name] for name, dotted in FORM_ALIASES.items()
                       if name in params})


def last_summary(logs) -> dict:
    """The stage's one-line JSON summary (its last one in ``logs``: a line or a list of
    lines), or {} if there is none.

    Docker streams the stage's stderr and stdout separately and merges them as they
    arrive: the summary (stdout) can share a line with stderr text, before or after it,
    and a stderr line can arrive after it. So look back for the last line holding an
    opening '{"stage"' that decodes, and ignore what surrounds it.
    """
    if isinstance(logs, (str, bytes)):
        logs = [logs]
    decoder = json.JSONDecoder()
    for line in reversed(logs or []):
        text = line.decode(errors="replace") if isinstance(line, bytes) else str(line)
        start = text.rfind('{"stage"')
        while start >= 0:
            try:
                found, _ = decoder.raw_decode(text, start)
            except ValueError:
                found = None
            if isinstance(found, dict):
                return found
            start = text.rfind('{"stage"', 0, start)
    return {}


def notify_failed_run(context) -> None:
    """DAG on_failure_callback: one message with the failed tasks and a link to the run."""
    run = context["dag_run"]
    failed = [ti.task_id for ti in run.get_task_instances(state="failed")]
    base = os.environ.get("AIRFLOW__API__BASE_URL", "").rstrip("/")
    link = f"{base}/dags/{run.dag_id}/runs/{run.run_id}" if base else run.run_id
    notify.send(f"CarPrice: {run.dag_id} failed",
                f"Run {run.run_id} failed at {', '.join(failed) or 'a task'}.\n{link}",
                failure=True)


# Jinja helpers every CarPrice DAG registers (user_defined_macros / _filters).
MACROS = {"image_ref": image_ref}
FILTERS = {"safe_name": definition.safe_name, "carprice_params_json": params_json,
           "stage_summary": last_summary}


class StageOperator(DockerOperator):
    """DockerOperator that first removes the containers an earlier try left behind, hands
    the stage its secrets from the worker's environment at run time, and starts it with
    the spec's limits and hardening (StageContainer.host_config): DockerOperator 4.6 has
    mem_limit and shm_size, but its ``cpus`` is only a relative cpu_shares weight, and it
    has no pids limit, read-only root, tmpfs, cap_drop or security_opt parameter."""

    template_fields = (*DockerOperator.template_fields, "labels")

    def __init__(self, *, spec: container.StageContainer, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec

    def execute(self, context):
        self._remove_earlier_tries()
        # Read in the worker at run time: the secret is neither a templated nor a
        # serialized field, so it never reaches the UI, the DAG table or a log.
        self._private_environment = {**self._private_environment,
                                     **container.secret_values(self.spec, os.environ)}
        self._harden_host_config()
        try:
            return super().execute(context)
        except DockerContainerFailedException as exc:
            if self._oom_killed():
                # The same input would be killed again: fail at once, in one line.
                raise AirflowFailException(
                    f"{self.spec.stage} ran out of its {self.spec.limits.memory // 2**20} MiB "
                    f"memory limit ({settings.ENV_STAGE_MEM_LIMIT} in .env)") from exc
            summary = last_summary(exc.logs)
            if summary.get("exit_code") == definition.StageExit.NO_RETRY:
                # Bad data, params, a refused source, or the report of a failed run: a
                # retry cannot succeed.
                raise AirflowFailException(summary.get("reason") or str(exc)) from exc
            raise

    def _harden_host_config(self) -> None:
        # The hook's API client is cached: every container this task creates gets them.
        create, extra = self.cli.create_host_config, self.spec.host_config()
        self.cli.create_host_config = (  # type: ignore[method-assign]
            lambda *args, **kwargs: create(*args, **{**kwargs, **extra}))

    def _oom_killed(self) -> bool:
        try:
            return bool(self.cli.inspect_container(self.container["Id"])["State"]["OOMKilled"])
        except Exception:  # gone already, or no container: the usual failure path
            return False

    def _remove_earlier_tries(self) -> None:
        # a candidate's own label too: its siblings run at the same time
        labels = [f"{key}={self.labels[key]}"
                  for key in (container.LABEL_PROJECT, container.LABEL_STAGE,
                              container.LABEL_RUN, container.LABEL_CANDIDATE)
                  if key in self.labels]
        for old in self.cli.containers(all=True, filters={"label": labels}):
            self.log.info("removing container %s left by an earlier try", old["Names"])
            self.cli.remove_container(old["Id"], force=True)


# Who triggered the DAG run: the authenticated user Airflow recorded (a retrain the
# monitoring DAG triggers inherits its run's user), SCHEDULER_USER for a scheduled run.
# Never a form value: the audit tags of promotions and rollbacks name it.
TRIGGERED_BY = f"{{{{ dag_run.triggering_user_name or '{settings.SCHEDULER_USER}' }}}}"


def dag_stage_container(stage: str, dag_id: str, extra_env: dict[str, str] | None = None,
                        candidate: str = "") -> container.StageContainer:
    """The stage's container spec (carprice.pipeline.container), templated per DAG run."""
    return container.stage_container(
        stage, os.environ, run_id="{{ run_id }}",
        run_name="{{ run_id | safe_name(60) }}-{{ ti.try_number }}",
        dag_id="{{ dag.dag_id }}", params_json="{{ params | carprice_params_json }}",
        launcher_labels={container.LABEL_DAG: dag_id,
                         container.LABEL_TRY: "{{ ti.try_number }}"},
        extra_env={settings.ENV_TRIGGERED_BY: TRIGGERED_BY, **(extra_env or {})},
        candidate=candidate)


def stage_task(stage: str, dag_id: str, *, extra_env: dict[str, str] | None = None,
               **kwargs) -> StageOperator:
    """The task that runs ``stage`` (a name of carprice.pipeline.definition) in its own
    container; a stage that changes the registry runs in the registry pool (one at a time
    across every DAG)."""
    spec = dag_stage_container(stage, dag_id, extra_env)
    return StageOperator(**_operator_kwargs(stage, spec, **kwargs))


# What differs between the candidates of a mapped stage (carprice.pipeline.container).
MAPPED_FIELDS = ("command", "container_name", "labels")


def mapped_stage_task(stage: str, dag_id: str, candidates: Sequence[str], *,
                      extra_env: dict[str, str] | None = None, **kwargs):
    """``stage`` once per candidate, side by side: a dynamic task map whose grid shows each
    candidate by name. Each candidate is its own container (its command, labels and name
    carry the candidate, so an earlier try's clean-up never removes a sibling's)."""
    specs = [dag_stage_container(stage, dag_id, extra_env, candidate=name)
             for name in candidates]
    # the stage's own spec for what candidates share (image, mounts, secrets' names)
    common = _operator_kwargs(stage, dag_stage_container(stage, dag_id, extra_env), **kwargs)
    for key in MAPPED_FIELDS:
        del common[key]
    return StageOperator.partial(
        **common, map_index_template=f"{{{{ task.labels['{container.LABEL_CANDIDATE}'] }}}}",
    ).expand_kwargs([{"command": s.command, "container_name": s.name, "labels": s.labels}
                     for s in specs])


def _operator_kwargs(stage: str, spec: container.StageContainer, **kwargs) -> dict:
    if stage in definition.REGISTRY_WRITERS:
        kwargs.setdefault("pool", definition.REGISTRY_POOL)
    return dict(
        spec=spec,
        task_id=stage,
        image=spec.image,
        command=spec.command,
        docker_url=DOCKER_URL,
        network_mode=spec.network,
        mount_tmp_dir=False,
        # Also in host_config(); set here so the task's rendered fields show it.
        mem_limit=spec.limits.memory,
        mounts=[Mount(target=m.target, source=m.source, type=m.type, read_only=m.read_only)
                for m in spec.mounts],
        auto_remove="success",
        execution_timeout=STAGE_TIMEOUT,
        user=spec.user,
        container_name=spec.name,
        labels=spec.labels,
        # Provenance tag of registered versions: image name + local image id.
        environment={**spec.environment,
                     container.ENV_IMAGE: f"{{{{ image_ref('{spec.image}') }}}}"},
        skip_on_exit_code=definition.SKIP_EXIT_CODE,
        do_xcom_push=True,
        **kwargs,
    )
