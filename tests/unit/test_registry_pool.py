"""definition.REGISTRY_WRITERS (the stages that run in the one-slot registry pool) is the set
of stages whose code changes the MLflow registry: read from the stages' source, so a stage
that starts or stops writing cannot be forgotten. The DAG side (every writer's task is in
the pool) is tests/unit/test_dag.py."""

from __future__ import annotations

import ast

from carprice.pipeline import definition
from tests.conftest import REPO

SRC = REPO / "src" / "carprice"
# MLflow client / fluent calls that change the registry.
MLFLOW_WRITES = frozenset({
    "register_model", "create_registered_model", "create_model_version",
    "update_registered_model", "update_model_version", "rename_registered_model",
    "delete_registered_model", "delete_model_version", "set_registered_model_tag",
    "delete_registered_model_tag", "set_model_version_tag", "delete_model_version_tag",
    "set_registered_model_alias", "delete_registered_model_alias",
    "transition_model_version_stage",
})


def called(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def registry_helpers() -> set[str]:
    """Functions of carprice.registry (and the stages) that call a registry write."""
    found = set(MLFLOW_WRITES)
    files = [*(SRC / "registry").glob("*.py"), *(SRC / "pipeline" / "stages").glob("*.py")]
    trees = [ast.parse(path.read_text()) for path in files]
    while True:  # helpers that call helpers
        more = {fn.name for tree in trees for fn in ast.walk(tree)
                if isinstance(fn, ast.FunctionDef) and fn.name != "run" and called(fn) & found}
        if more <= found:
            return found
        found |= more


def writes_registry(stage: str) -> bool:
    tree = ast.parse((SRC / "pipeline" / "stages" / f"{stage}.py").read_text())
    return bool(called(tree) & registry_helpers())


def test_the_registry_writers_are_the_stages_that_change_the_registry():
    writers = {stage for stage in definition.IMAGE_EXTRAS if writes_registry(stage)}
    assert writers == set(definition.REGISTRY_WRITERS)


def test_the_scan_sees_the_known_helpers():
    helpers = registry_helpers()
    assert {"move_alias", "tag_version", "close_pending", "rollback"} <= helpers
    assert not writes_registry("ingest") and writes_registry("promote_production")
