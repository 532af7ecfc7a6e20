"""dvc.yaml against the code: the stages of carprice.pipeline.definition.STAGES in order, each
run by ``python -m carprice.pipeline`` with the one run-id var (a mapped stage: once per
candidate of params.yaml, with foreach), and each stage's deps naming exactly the carprice
modules its process imports (walked with ast, lazy imports inside functions included) and
what its image is built from."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from carprice.pipeline import definition
from tests.conftest import REPO

SRC = REPO / "src"
DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())
RUN_DIR = "data/runs/${run_id}/"


def body(stage: str) -> dict:
    """The stage's definition: a mapped stage's is its foreach's ``do``."""
    found = DVC["stages"][stage]
    return found["do"] if stage in definition.MAPPED_STAGES else found


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None  # a name inside a module (a function, a class)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_files(path: Path) -> set[Path]:
    """carprice modules one file imports, with the packages whose __init__ runs first."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this file's package
                package = module_name(path).split(".")
                package = package if path.name == "__init__.py" else package[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    out = set()
    for name in names:
        parts = name.split(".")
        if parts[0] != "carprice":
            continue
        for end in range(1, len(parts) + 1):
            found = module_file(".".join(parts[:end]))
            if found:
                out.add(found)
    return out


def import_closure(path: Path) -> set[str]:
    seen: set[Path] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += imported_files(current)
    return {p.relative_to(REPO).as_posix() for p in seen}


def source_files(deps: list[str]) -> set[str]:
    """The .py files the src/ deps cover (a folder dep covers every file under it)."""
    out = set()
    for dep in deps:
        if not dep.startswith("src/"):
            continue
        path = REPO / dep
        assert path.exists(), f"dvc.yaml dep {dep} does not exist"
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        out |= {f.relative_to(REPO).as_posix() for f in files}
    return out


def produced(stage: dict) -> set[str]:
    """Paths a stage declares as outs, metrics or plots."""
    out = set()
    for key in ("outs", "metrics", "plots"):
        for entry in stage.get(key, []):
            out |= set(entry) if isinstance(entry, dict) else {entry}
    return out


def test_the_run_id_is_one_var_and_a_valid_folder_name():
    assert DVC["vars"] == [{"run_id": DVC["vars"][0]["run_id"]}]
    run_id = DVC["vars"][0]["run_id"]
    assert definition.safe_name(run_id) == run_id
    assert f"runs/{run_id}/" not in (REPO / "dvc.yaml").read_text(), "use ${run_id}"


def test_stages_follow_the_pipeline_order():
    assert tuple(DVC["stages"]) == definition.STAGES


@pytest.mark.parametrize("stage", definition.STAGES)
def test_each_cmd_runs_its_stage_with_the_run_id_var(stage):
    cmd = body(stage)["cmd"]
    candidate = "--candidate ${key} " if stage in definition.MAPPED_STAGES else ""
    assert cmd == (f"python -m carprice.pipeline {stage} {candidate}--run-id ${{run_id}} "
                   "--soft-skip")


@pytest.mark.parametrize("stage", sorted(definition.MAPPED_STAGES))
def test_a_mapped_stage_runs_once_per_candidate_with_its_own_outputs(stage):
    assert DVC["stages"][stage]["foreach"] == "${candidates}"
    assert "candidates.${key}" in body(stage)["params"]
    assert produced(body(stage)) == {f"{RUN_DIR}{stage}.${{key}}.json",
                                     f"{RUN_DIR}train_info/${{key}}.json"}
    later = definition.STAGES[definition.STAGES.index(stage) + 1]
    assert "candidates" in body(later)["params"]  # evaluate chooses among them


def image_deps(stage: str) -> set[str]:
    """What the stage's image is built from: the Dockerfile and its dependency lock."""
    return {"stages/Dockerfile", f"requirements/{definition.IMAGE_EXTRAS[stage]}.txt"}


@pytest.mark.parametrize("stage", definition.STAGES)
def test_deps_name_every_module_the_stage_runs(stage):
    # the entry point imports the stage module by name (importlib): both closures run
    needed = (import_closure(SRC / "carprice" / "pipeline" / "stages" / f"{stage}.py")
              | import_closure(SRC / "carprice" / "pipeline" / "__main__.py"))
    listed = source_files(body(stage)["deps"])
    assert not needed - listed, f"dvc.yaml {stage}: add deps {sorted(needed - listed)}"
    assert not listed - needed, f"dvc.yaml {stage}: not imported {sorted(listed - needed)}"


def test_the_import_walk_sees_lazy_imports():
    # cli.py imports the registry and the sources inside its commands
    closure = import_closure(SRC / "carprice" / "cli.py")
    assert {"src/carprice/registry/aliases.py", "src/carprice/sources/csv_reader.py",
            "src/carprice/pipeline/runner.py", "src/carprice/config/params.py"} <= closure


@pytest.mark.parametrize("stage", definition.STAGES)
def test_run_folder_deps_come_from_earlier_stages(stage):
    index = definition.STAGES.index(stage)
    earlier = set().union(*(produced(body(s)) for s in definition.STAGES[:index]))
    deps = body(stage)["deps"]
    assert image_deps(stage) <= set(deps), f"{stage}: add deps {sorted(image_deps(stage))}"
    for dep in deps:
        assert (REPO / dep.replace("${run_id}", "x")).exists() or dep.startswith(RUN_DIR), dep
        if not dep.startswith("src/") and dep not in image_deps(stage):
            # a folder dep: an earlier mapped stage's outputs inside it (DVC links them)
            assert dep.startswith(RUN_DIR) and (
                dep in earlier or any(p.startswith(f"{dep}/") for p in earlier)), f"{stage}: {dep}"
    for path in produced(body(stage)):
        assert path.startswith(RUN_DIR), f"{stage}: {path}"


def test_evaluation_tables_and_images_are_plots():
    plots = {Path(next(iter(p))).name for p in DVC["stages"]["evaluate"]["plots"]}
    assert {"error_by_brand.csv", "error_by_price_band.csv", "test_predictions.csv",
            "feature_importance.csv"} <= plots
    assert any(name.endswith(".png") for name in plots)
