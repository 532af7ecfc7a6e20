"""What every stage shares: arguments, the run folder, MLflow runs, the exit contract.

Contract: read inputs from the run folder and params, write outputs there, log to
MLflow under the pipeline's parent run, print ONE JSON summary as the LAST output line
(stage, status, reason, exit_code, ...), and exit with a definition.StageExit code:
OK, SKIPPED (deliberately), NO_RETRY (bad input, or a failure already final: retrying
cannot help) or FAILED.
An expected failure (carprice.errors) prints one line to stderr; a bug its traceback too.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import json
import os
import secrets
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from carprice import errors
from carprice.config import settings
from carprice.config.params import Params, ParamsError, load_params, parse_set_args
from carprice.errors import CarpriceError, FinalError
from carprice.pipeline import definition, run_folder
from carprice.pipeline.definition import StageExit
from carprice.pipeline.stage_args import StageArgs, parse_stage_args
from carprice.registry import mlflow_server, tags

# Bounded MLflow client retries: a dead server fails a stage in seconds, not minutes.
mlflow_server.apply_client_defaults()

STATUS_OK, STATUS_SKIPPED, STATUS_FAILED = "ok", "skipped", "failed"


class StageSkipped(Exception):
    """Nothing to do (unchanged data, refused candidate); not a failure. ``details`` go
    into the stage's summary (the refused candidate's version)."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.details = details


class StageFailed(CarpriceError):
    """A failure already explained in one line (no traceback needed)."""


class RunFailed(FinalError):
    """The pipeline run failed upstream and that is now recorded: retrying cannot help."""


@dataclass
class StageContext:
    stage: str
    run_id: str
    run_dir: Path
    models_dir: Path
    params: Params  # params.yaml with the run's overrides, typed
    dag_id: str
    candidate: str = ""  # a mapped stage's candidate (definition.MAPPED_STAGES)

    def path(self, name: str) -> Path:
        return self.run_dir / name

    def read_json(self, name: str) -> dict:
        path = self.path(name)
        if not path.is_file():
            raise FileNotFoundError(
                f"{name} missing in {self.run_dir}: run the earlier stages first")
        return json.loads(path.read_text())

    def write_json(self, name: str, obj: dict) -> Path:
        path = self.path(name)
        write_atomic(path, json.dumps(obj, indent=2, default=str))
        return path

    def summary(self, stage: str) -> dict | None:
        """An earlier stage's summary in this run, if it ran; a mapped stage's combines
        its candidates' (mapped_summary)."""
        if stage in definition.MAPPED_STAGES:
            return mapped_summary(stage, {name: self.summary_of(stage, name)
                                          for name in self.params.candidates})
        return self.summary_of(stage)

    def summary_of(self, stage: str, candidate: str = "") -> dict | None:
        path = self.path(run_folder.stage_summary(stage, candidate))
        return json.loads(path.read_text()) if path.is_file() else None

    @property
    def model_name(self) -> str:
        return self.params.registry.model_name

    @property
    def run_info(self) -> dict:
        return self.read_json(run_folder.RUN)

    def registered_version(self) -> str:
        """The candidate's version, registered by promote_staging in this run."""
        found = (self.summary("promote_staging") or {}).get("model_version")
        if not found:
            raise FileNotFoundError(f"model_version missing in {self.run_dir}/"
                                    f"{run_folder.stage_summary('promote_staging')}: run "
                                    "promote_staging first")
        return str(found)

    def version_tags(self) -> dict:
        """Provenance tags every registered version carries (train records them,
        promote_staging sets them when it registers the version)."""
        return {
            tags.PIPELINE_RUN_ID: self.run_id,
            tags.AIRFLOW_DAG_ID: self.dag_id,
            tags.GIT_COMMIT: git_commit(),
            tags.IMAGE: settings.current().image,
            tags.MLFLOW_PARENT_RUN_ID: self.run_info.get("parent_run_id", ""),
        }


def mapped_summary(stage: str, found: Mapping[str, dict | None]) -> dict | None:
    """One summary of a mapped stage's candidate runs: ok when one succeeded (the pipeline
    goes on with it), skipped when all were skipped, failed otherwise; None if none ran."""
    ran = {name: s for name, s in found.items() if s}
    if not ran:
        return None
    statuses = {s.get("status") for s in ran.values()}
    status = (STATUS_OK if STATUS_OK in statuses
              else STATUS_SKIPPED if statuses == {STATUS_SKIPPED} else STATUS_FAILED)
    missing = [name for name in found if name not in ran]
    why = [f"{name} {s.get('status')}: {s['reason']}" for name, s in ran.items()
           if s.get("reason")] + [f"{name} did not run or did not finish" for name in missing]
    return {"stage": stage, "status": status, "reason": "; ".join(why),
            "seconds": max(float(s.get("seconds") or 0) for s in ran.values()),
            "candidates": {name: s.get("status", "not run") for name, s in ran.items()}}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``: a
    reader (or the stage's retry) sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def git_commit() -> str:
    known = settings.current().git_commit
    if known:
        return known
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def params_hash(params: Params | Mapping[str, Any]) -> str:
    """Hash of the params that change the model (run.force and monitoring excluded)."""
    plain = params.as_dict() if isinstance(params, Params) else params
    relevant = {k: v for k, v in plain.items()
                if k != "run" and k not in definition.MONITOR_PARAM_SECTIONS}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def parse_args(stage: str, argv: list[str] | None) -> StageArgs:
    """The stage flags (carprice.pipeline.stage_args; ``carprice <stage>`` parses the same)."""
    return parse_stage_args(stage, argv)


def make_context(stage: str, args: StageArgs) -> StageContext:
    params = Params.model_validate(load_params(args.params, parse_set_args(args.set)))
    if stage in definition.MAPPED_STAGES:
        if not args.candidate:
            raise ParamsError(f"{stage} runs once per candidate: give --candidate, one of "
                              f"{', '.join(params.candidates)}")
        params.candidate(args.candidate)  # one line if params has no such candidate
    elif args.candidate:
        raise ParamsError(f"{stage} takes no --candidate (only "
                          f"{', '.join(sorted(definition.MAPPED_STAGES))} do)")
    run_dir = run_folder.run_folder(Path(args.data_dir), args.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    return StageContext(stage=stage, run_id=args.run_id, run_dir=run_dir,
                        models_dir=Path(args.models_dir), params=params,
                        dag_id=settings.current().dag_id, candidate=args.candidate)


def upstream_skip(ctx: StageContext) -> str | None:
    """Reason to skip because an earlier stage of this run was skipped."""
    if ctx.stage not in definition.STAGES:  # monitoring stages have no earlier stages
        return None
    for earlier in definition.STAGES[: definition.STAGES.index(ctx.stage)]:
        summary = ctx.summary(earlier)
        if summary and summary.get("status") == STATUS_SKIPPED:
            return f"{earlier} skipped: {summary.get('reason', '')}"
    return None


def ensure_parent_run(ctx: StageContext) -> str:
    """The pipeline's parent MLflow run, created by the first stage of the run folder."""
    from mlflow import MlflowClient  # deferred: bare installs (Airflow image) lack mlflow

    run_file = ctx.path(run_folder.RUN)
    if run_file.is_file():
        return json.loads(run_file.read_text())["parent_run_id"]
    client = MlflowClient()
    name = ctx.params.registry.experiment
    exp = client.get_experiment_by_name(name)
    exp_id = exp.experiment_id if exp else client.create_experiment(name)
    parent = client.create_run(exp_id, run_name=f"pipeline {ctx.run_id}", tags={
        tags.RUN_PIPELINE_RUN_ID: ctx.run_id, tags.RUN_DAG_ID: ctx.dag_id,
        tags.RUN_GIT_COMMIT: git_commit(), tags.RUN_TRIGGERED_BY: settings.current().triggered_by})
    # Atomic (write_json): a stage that reads run.json never sees half of it.
    ctx.write_json(run_folder.RUN, {"run_id": ctx.run_id, "parent_run_id": parent.info.run_id,
                                  "experiment_id": exp_id, "started": time.time()})
    return parent.info.run_id


def _execute(ctx: StageContext, func: Callable[[StageContext], dict]) -> dict:
    mlflow_server.check_reachable()  # one line naming the server, within about 25 s
    import mlflow
    from mlflow import MlflowClient

    imports_loaded()
    if ctx.stage in definition.MONITOR_STAGES:  # one run of its own, no pipeline parent
        mlflow.set_experiment(ctx.params.monitor.experiment)
        with mlflow.start_run(run_name=f"{ctx.stage} {ctx.run_id}", tags={
                tags.RUN_STAGE: ctx.stage, tags.RUN_PIPELINE_RUN_ID: ctx.run_id,
                tags.RUN_DAG_ID: ctx.dag_id}):
            return func(ctx) or {}
    parent_id = ensure_parent_run(ctx)
    exp_id = ctx.run_info["experiment_id"]
    # A mapped stage: one run per candidate, named and tagged with it.
    child = MlflowClient().create_run(
        exp_id, run_name=f"{ctx.stage} {ctx.candidate}".strip(), tags={
            tags.RUN_PARENT: parent_id, tags.RUN_STAGE: ctx.stage,
            tags.RUN_PIPELINE_RUN_ID: ctx.run_id,
            **({tags.RUN_CANDIDATE: ctx.candidate} if ctx.candidate else {})})
    with mlflow.start_run(run_id=child.info.run_id):
        return func(ctx) or {}


def imports_loaded() -> None:
    """Resume the cyclic garbage collector the entry point paused for start-up, with what
    is loaded so far moved out of its later passes. A no-op where it runs (``carprice
    run`` runs every stage in one process, and freezes nothing)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def main(stage: str, func: Callable[[StageContext], dict], argv: list[str] | None = None) -> int:
    """Run one stage and return its exit code (callers pass it to sys.exit)."""
    started = time.time()
    args = parse_args(stage, argv)
    summary: dict = {"stage": stage, **({"candidate": args.candidate} if args.candidate else {})}
    ctx: StageContext | None = None
    try:
        ctx = make_context(stage, args)
        summary["run_id"] = ctx.run_id
        reason = upstream_skip(ctx) if stage != "report" else None
        if reason:
            raise StageSkipped(reason)
        summary.update(_execute(ctx, func))
        summary["status"] = STATUS_OK
        code = StageExit.OK
    except StageSkipped as exc:
        summary.update(exc.details)
        summary.update(status=STATUS_SKIPPED, reason=str(exc))
        code = StageExit.OK if args.soft_skip else StageExit.SKIPPED
    except Exception as exc:  # noqa: BLE001 - the contract: one line, non-zero exit
        reason = one_line(exc)
        if not isinstance(exc, EXPECTED_ERRORS):
            traceback.print_exc(file=sys.stderr)  # a bug: keep the trace for the log
        print(f"error: {stage} failed: {reason}", file=sys.stderr, flush=True)
        summary.update(status=STATUS_FAILED, reason=reason)
        code = exit_code(exc)
    summary["exit_code"] = int(code)
    summary["seconds"] = round(time.time() - started, 2)
    if ctx is not None:
        ctx.write_json(run_folder.stage_summary(stage, ctx.candidate), summary)
    sys.stderr.flush()
    print(json.dumps(summary, default=str), flush=True)
    return int(code)


# Failures explained by their message: no traceback. A missing file in the run folder
# means an earlier stage did not run (pandas raises it with a bare path).
EXPECTED_ERRORS = (CarpriceError, FileNotFoundError)


def exit_code(exc: BaseException) -> StageExit:
    """NO_RETRY for bad input or a final failure (a retry cannot help), FAILED for anything else."""
    return StageExit.NO_RETRY if isinstance(exc, FinalError) else StageExit.FAILED


def one_line(exc: BaseException) -> str:
    text = errors.one_line(exc)
    if isinstance(exc, FileNotFoundError) and "missing" not in text:  # pandas gives a bare path
        text = errors.one_line(
            f"file not found: {text} (run the earlier stages of this run first)")
    return text


def run_stage(stage: str, argv: list[str] | None = None) -> int:
    """Run ``stage`` in this process and return its exit code: the one way every launcher
    (the stage images, dvc.yaml, ``carprice <stage>``, ``carprice run``) runs a stage."""
    if stage not in definition.IMAGE_EXTRAS:
        print(f"error: unknown stage {stage!r}; expected one of "
              f"{', '.join(definition.IMAGE_EXTRAS)}", file=sys.stderr)
        return int(StageExit.NO_RETRY)
    module = importlib.import_module(f"carprice.pipeline.stages.{stage}")
    return main(stage, module.run, argv)


def run_all(args: StageArgs, through: str = definition.STAGES[-1]) -> int:
    """The training stages in order, up to ``through``; a mapped stage once per candidate
    of params.yaml, one after the other. A failure stops the chain (a mapped stage's: when
    every candidate failed); the report still runs when it is in the range. Without the
    report, the pipeline's parent MLflow run is closed here."""
    if args.candidate:
        print("error: a run trains every candidate: --candidate is for one stage",
              file=sys.stderr)
        return int(StageExit.NO_RETRY)
    argv = args.argv()
    stages = definition.STAGES[: definition.STAGES.index(through) + 1]
    code = 0
    for stage in stages:
        code = (run_candidates(stage, args) if stage in definition.MAPPED_STAGES
                else run_stage(stage, argv))
        if code not in (StageExit.OK, StageExit.SKIPPED) and stage != "report":
            return (run_stage("report", argv) or code) if "report" in stages else code
    if "report" not in stages:
        close_parent_run(run_folder.run_folder(Path(args.data_dir), args.run_id))
    return code


def run_candidates(stage: str, args: StageArgs) -> int:
    """The mapped ``stage`` once per candidate: OK (or SKIPPED) when one succeeded (or was
    skipped), else the first failure's exit code."""
    names = Params.model_validate(load_params(args.params, parse_set_args(args.set))).candidates
    codes = [run_stage(stage, replace(args, candidate=name).argv()) for name in names]
    for done in (StageExit.OK, StageExit.SKIPPED):
        if done in codes:
            return int(done)
    return codes[0]


def close_parent_run(run_dir: Path) -> None:
    from mlflow import MlflowClient

    run_file = run_dir / run_folder.RUN
    if run_file.is_file():
        MlflowClient().set_terminated(json.loads(run_file.read_text())["parent_run_id"])


def run_stage_command(argv: list[str]) -> int:
    """``python -m carprice.pipeline <stage> [flags]``: in this process, or as the stage's
    container when the stack's dvc-runner asks for it ($CARPRICE_DVC_DOCKER=1)."""
    if not argv:
        print(f"usage: python -m carprice.pipeline <{'|'.join(definition.IMAGE_EXTRAS)}> "
              "[stage flags]", file=sys.stderr)
        return int(StageExit.NO_RETRY)
    stage, flags = argv[0], argv[1:]
    if not settings.current().dvc_docker:
        return run_stage(stage, flags)
    from carprice.pipeline import docker_launch

    imports_loaded()  # only a launcher here: the stage loads in its container
    return docker_launch.run_dvc_stage(stage, flags)

