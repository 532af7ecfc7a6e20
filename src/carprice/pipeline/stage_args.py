"""The flags of one stage run, defined once for ``python -m carprice.pipeline <stage>``
(the stage images, dvc.yaml) and ``carprice <stage>`` / ``carprice run`` (carprice.cli).

Kept apart from carprice.cli so that a change to the other commands does not make
every stage out of date for ``dvc repro``.
"""

from dataclasses import dataclass, field
from functools import wraps
from typing import Annotated

import typer

from carprice.config import settings
from carprice.pipeline import container, definition


@dataclass(frozen=True)
class StageArgs:
    """The flags of one stage run."""

    run_id: str = "local"
    data_dir: str = "data"
    models_dir: str = "models"
    params: str | None = None
    set: list[str] = field(default_factory=list)
    soft_skip: bool = False
    candidate: str = ""

    def argv(self) -> list[str]:
        out = ["--run-id", self.run_id, "--data-dir", self.data_dir,
               "--models-dir", self.models_dir]
        out += ["--params", self.params] if self.params else []
        out += ["--candidate", self.candidate] if self.candidate else []
        for item in self.set:
            out += ["--set", item]
        return out + (["--soft-skip"] if self.soft_skip else [])


def stage_options(
    run_id: Annotated[str, typer.Option(
        envvar=container.ENV_RUN_ID,
        help="pipeline run id; the run folder is <data dir>/runs/<run id>")] = "local",
    data_dir: Annotated[str, typer.Option(envvar=container.ENV_DATA_DIR)] = "data",
    models_dir: Annotated[str, typer.Option(envvar=container.ENV_MODELS_DIR)] = "models",
    params: Annotated[str | None, typer.Option(
        help=f"params file (default ${settings.ENV_PARAMS_FILE}, else params.yaml)")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE",
        help="override a param, e.g. --set model.max_iter=300 (repeatable)")] = None,
    soft_skip: Annotated[bool, typer.Option(
        "--soft-skip", help=f"exit 0 instead of {definition.SKIP_EXIT_CODE} when the stage "
        "is skipped (for dvc repro)")] = False,
    candidate: Annotated[str, typer.Option(
        envvar=settings.ENV_CANDIDATE,
        help=f"the candidate (a name under params candidates) of a stage run once per "
             f"candidate: {', '.join(sorted(definition.MAPPED_STAGES))}")] = "",
) -> StageArgs:
    return StageArgs(run_id=run_id, data_dir=data_dir, models_dir=models_dir, params=params,
                     set=list(set_ or []), soft_skip=soft_skip, candidate=candidate)


def parse_stage_args(stage: str, argv: list[str] | None = None) -> StageArgs:
    """The stage flags of ``python -m carprice.pipeline <stage>``; exits 2 on bad flags."""
    parsed: list[StageArgs] = []
    app = plain_typer(help=f"Run the {stage} stage.")

    @app.command()
    @wraps(stage_options)
    def parse(**kwargs) -> None:
        parsed.append(stage_options(**kwargs))

    try:
        app(args=argv, prog_name=f"carprice {stage}")
    except SystemExit as exc:  # typer exits after every command, after --help and on errors
        if parsed and not exc.code:
            return parsed[0]
        raise
    raise AssertionError("typer returned without exiting")  # pragma: no cover


def plain_typer(**kwargs) -> typer.Typer:
    # Plain text: stage logs are read in Airflow and CI, and a flag error must end on
    # its one-line reason ("Error: ..."), not on the border of a box.
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                       rich_markup_mode=None, **kwargs)
