"""Registry aliases (``staging``, ``production``), version tags and rollback.

Aliases only (``staging``, ``production``), never the deprecated stages. Models are
always scored and promoted by pinned version (``models:/<name>/<v>``): an alias is
resolved once, to a number, and never re-read mid-decision.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from carprice.errors import CarpriceError, FinalError
from carprice.registry import PRODUCTION_ALIAS, tags

if TYPE_CHECKING:  # mlflow is imported where used
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

class RegistryError(CarpriceError):
    """A registry operation that cannot be done, with a one-line reason."""


class RegistryRefusal(RegistryError, FinalError):
    """The registry's tags forbid the operation (e.g. promoting a version the gate did not
    pass): a retry cannot change that, and nothing was moved."""


def version_for_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points to now, or None (no model, or no such alias)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in {"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"}:
            return None
        raise


def tag_version(client: MlflowClient, name: str, version: str, values: dict) -> None:
    """Set every tag of ``values`` on the version (in no particular order: a tag that must
    come after the others, like the gate decision, takes a call of its own).

    MLflow has no batch call for version tags, and each tag costs two requests (the client
    first checks the model is not a prompt): a few threads set them side by side.
    """
    from concurrent.futures import ThreadPoolExecutor

    items = [(key, str(value)) for key, value in values.items()]
    if len(items) <= 1:
        for key, value in items:
            client.set_model_version_tag(name, version, key, value)
        return
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        for done in [pool.submit(client.set_model_version_tag, name, version, key, value)
                     for key, value in items]:
            done.result()  # the first failure is raised here


def close_pending(client: MlflowClient, name: str, pipeline_run_id: str, decision: str,
                  reason: str) -> list[str]:
    """Give ``decision`` to the versions ``pipeline_run_id`` registered that are still
    pending (an earlier try of train, a run that failed before the gate): no version is
    left pending forever. Returns their numbers."""
    closed = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        found = mv.tags or {}
        if (found.get(tags.PIPELINE_RUN_ID) == pipeline_run_id
                and found.get(tags.GATE_DECISION) == tags.GATE_PENDING):
            tag_version(client, name, str(mv.version),
                        {tags.GATE_DECISION: decision, tags.GATE_REASONS: reason})
            closed.append(str(mv.version))
    return closed


def register_candidate(client: MlflowClient, name: str, model_uri: str,
                       pipeline_run_id: str, initial_tags: dict | None = None) -> str:
    """The version of ``name`` made from the logged model ``model_uri`` for
    ``pipeline_run_id``: the one already registered (a retry of the registering stage) or a
    new one.

    A new version is created with its run id, ``initial_tags`` (train's provenance,
    evaluate's judgement) and a pending decision in one call, so a crash before its
    other tags never leaves an untraceable version. Versions this pipeline run
    registered for another logged model (train ran again after a registration) and still
    pending are closed as superseded first: no version stays pending forever.
    """
    import mlflow

    for mv in client.search_model_versions(f"name = '{name}'"):
        if ((mv.tags or {}).get(tags.PIPELINE_RUN_ID) == pipeline_run_id
                and mv.source == model_uri):
            return str(mv.version)
    close_pending(client, name, pipeline_run_id, tags.GATE_SUPERSEDED,
                  f"superseded by a later try of train in pipeline run {pipeline_run_id}")
    registered = mlflow.register_model(model_uri, name, tags={
        **(initial_tags or {}), tags.PIPELINE_RUN_ID: pipeline_run_id,
        tags.GATE_DECISION: tags.GATE_PENDING})
    return str(registered.version)


def move_alias(client: MlflowClient, name: str, alias: str, version: str,
               reason: str, audit: dict | None = None) -> str | None:
    """Tag ``version`` (since, reason, previous, and ``audit``: who moved it and why), then
    point ``alias`` at it; return the version the alias left.

    The alias moves last: a crash in between leaves the alias where it was (with the new
    version tagged, harmless), never an alias on a version without its since/reason/
    previous tags (a rollback reads ``previous_<alias>``).
    """
    previous = version_for_alias(client, name, alias)
    new_tags = {tags.alias_since(alias): time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                tags.alias_reason(alias): reason, **(audit or {})}
    if previous is not None and str(previous.version) != str(version):
        new_tags[tags.previous(alias)] = str(previous.version)
    tag_version(client, name, version, new_tags)
    client.set_registered_model_alias(name, alias, version)
    return str(previous.version) if previous is not None else None


def rollback(client: MlflowClient, name: str, to_version: str | None = None,
             audit: dict | None = None) -> dict:
    """Move ``production`` back to ``to_version`` or to the current one's previous_production;
    the target is tagged with ``audit`` (who, why) and rolled_back_from before the move."""
    from mlflow.exceptions import MlflowException

    current = version_for_alias(client, name, PRODUCTION_ALIAS)
    if current is None:
        raise RegistryError(f"model {name!r} has no {PRODUCTION_ALIAS} alias to roll back")
    target = to_version or current.tags.get(tags.PREVIOUS_PRODUCTION)
    if not target:
        raise RegistryError(f"{name} v{current.version} has no {tags.PREVIOUS_PRODUCTION}; "
                            "pass a version to roll back to")
    try:
        client.get_model_version(name, str(target))
    except MlflowException as exc:
        raise RegistryError(f"{name} has no version {target}") from exc
    if str(target) == str(current.version):
        raise RegistryError(f"{name} v{target} is already {PRODUCTION_ALIAS}")
    move_alias(client, name, PRODUCTION_ALIAS, str(target),
               reason=f"rollback from v{current.version}",
               audit={tags.ROLLED_BACK_FROM: str(current.version), **(audit or {})})
    tag_version(client, name, current.version, {tags.ROLLED_BACK_TO: target})
    return {"model": name, "from_version": str(current.version), "to_version": str(target)}
