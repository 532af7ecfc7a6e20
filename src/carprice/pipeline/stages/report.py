"""report: summarise the run from the stages' summaries, close the parent MLflow run
and fail if any stage failed, so a broken pipeline never ends green."""

from __future__ import annotations

from carprice import registry
from carprice.pipeline import definition, run_folder
from carprice.pipeline.runner import (
    STATUS_FAILED,
    STATUS_SKIPPED,
    RunFailed,
    StageContext,
)
from carprice.registry import tags
from carprice.registry.aliases import close_pending


def outcome(summaries: dict[str, dict | None]) -> tuple[str, str]:
    """(outcome, explanation): promoted, refused, unchanged or failed."""
    for stage in definition.STAGES[:-1]:
        s = summaries.get(stage)
        if s is None:
            return "failed", f"{stage} did not run or did not finish"
        if s["status"] == STATUS_FAILED:
            return "failed", f"{stage} failed: {s.get('reason', '')}"
        if s["status"] == STATUS_SKIPPED:
            kind = "unchanged" if stage == "ingest" else "refused"
            return kind, s.get("reason", "")
    promoted = summaries["promote_production"]
    assert promoted is not None  # the loop above returned otherwise
    v = promoted.get("model_version")
    return "promoted", f"v{v} is now {registry.PRODUCTION_ALIAS}"


def markdown(run_id: str, result: str, why: str, summaries: dict[str, dict | None]) -> str:
    lines = [f"# Pipeline run {run_id}: {result.upper()}", "", why, "",
             "| stage | status | seconds |", "|---|---|---|"]
    for stage in definition.STAGES[:-1]:
        s = summaries.get(stage) or {}
        lines.append(f"| {stage} | {s.get('status', 'not run')} | {s.get('seconds', '')} |")
    return "\n".join(lines) + "\n"


def run(ctx: StageContext) -> dict:
    from mlflow import MlflowClient

    summaries = {s: ctx.summary(s) for s in definition.STAGES[:-1]}
    result, why = outcome(summaries)
    ctx.path(run_folder.PIPELINE_REPORT_MD).write_text(
        markdown(ctx.run_id, result, why, summaries))
    report = {"outcome": result, "explanation": why, "stages": summaries}
    if ctx.path(run_folder.EVALUATION).is_file():
        report["evaluation"] = ctx.read_json(run_folder.EVALUATION)
    ctx.write_json(run_folder.PIPELINE_REPORT_JSON, report)

    client = MlflowClient()
    parent = ctx.run_info["parent_run_id"]
    client.log_artifact(parent, str(ctx.path(run_folder.PIPELINE_REPORT_MD)))
    client.log_artifact(parent, str(ctx.path(run_folder.PIPELINE_REPORT_JSON)))
    client.set_tag(parent, tags.RUN_OUTCOME, result)
    client.set_tag(parent, tags.RUN_EXPLANATION, why[:5000])
    client.set_terminated(parent, "FAILED" if result == "failed" else "FINISHED")
    if result == "failed":
        close_pending(client, ctx.model_name, ctx.run_id, tags.GATE_FAILED,
                      f"pipeline run failed before the gate: {why}")
        raise RunFailed(f"pipeline failed: {why}")
    return {"outcome": result, "explanation": why}
