"""carprice: run one stage, the whole pipeline, a rollback, or make data.

    carprice ingest --set data.rows=5000       # one stage (any of the pipeline's stages)
    carprice run --run-id demo                 # every stage in order, in this process
    carprice rollback [--to 3]                 # move production back
    carprice generate --rows 1000 --out cars.csv [--avito]
    carprice data-restore --md5 <a version's data_dvc_md5> --out raw.parquet
    carprice signing-key [--public]            # a new model-signing pair, for .env

Every stage runs through carprice.pipeline.runner.run_stage, as
``python -m carprice.pipeline <stage>`` (the stage images, dvc.yaml) does; the stage flags
are defined once, in carprice.pipeline.stage_args.
"""

import inspect
import json
import sys
from functools import wraps
from typing import Annotated

import typer

from carprice.config.params import read_params
from carprice.pipeline import definition
from carprice.pipeline.runner import run_all, run_stage
from carprice.pipeline.stage_args import plain_typer, stage_options
from carprice.sources import dvc_data

app = plain_typer(help=__doc__.split("\n\n")[0], no_args_is_help=True)


def _stage_command(stage: str):
    @wraps(stage_options)
    def command(**kwargs) -> None:
        raise typer.Exit(run_stage(stage, stage_options(**kwargs).argv()))

    return command


for _stage in definition.STAGES:
    app.command(_stage, help=f"Run the {_stage} stage.")(_stage_command(_stage))


def run_command(through: str = definition.STAGES[-1], **kwargs) -> None:
    if through not in definition.STAGES:
        raise typer.BadParameter(f"expected one of {', '.join(definition.STAGES)}",
                                 param_hint="--through")
    raise typer.Exit(run_all(stage_options(**kwargs), through))


# The stage flags plus --through: typer reads the options from the signature.
run_command.__signature__ = inspect.signature(stage_options).replace(  # type: ignore[attr-defined]
    parameters=[*inspect.signature(stage_options).parameters.values(), inspect.Parameter(
        "through", inspect.Parameter.KEYWORD_ONLY, default=definition.STAGES[-1],
        annotation=Annotated[str, typer.Option(help="last stage to run")])],
    return_annotation=None)
app.command("run", help="Run every stage in order (or up to --through), in this process.")(
    run_command)


@app.command()
def rollback(
    to: Annotated[str | None, typer.Option(
        help="version to serve (default: the production version's previous_production)")
    ] = None,
    params: Annotated[str | None, typer.Option(help="params file (default params.yaml)")] = None,
) -> None:
    """Move the production alias back."""
    from mlflow import MlflowClient

    from carprice.registry.aliases import RegistryError
    from carprice.registry.aliases import rollback as do_rollback

    name = read_params(params).registry.model_name
    try:
        result = do_rollback(MlflowClient(), name, to)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(json.dumps(result))


@app.command()
def generate(
    out: Annotated[str, typer.Option(help="CSV file to write")],
    rows: Annotated[int, typer.Option(min=1)] = 1000,
    seed: Annotated[int, typer.Option(min=0)] = 42,
    avito: Annotated[bool, typer.Option(
        "--avito", help="French headers, mileage ranges, latin1 (the Avito export)")] = False,
    typos: Annotated[int, typer.Option(
        min=0, help="rows given a data-entry price of 5-10 M DH (outliers to catch)")] = 0,
) -> None:
    """Write synthetic listings as CSV."""
    from carprice.sources.csv_reader import to_avito
    from carprice.sources.synthetic import generate as make
    from carprice.sources.synthetic import with_typos

    frame, _ = with_typos(make(rows, seed), min(typos, rows), seed)
    if avito:
        to_avito(frame).to_csv(out, index=False, encoding="latin1")
    else:
        frame.to_csv(out, index=False)
    print(json.dumps({"rows": len(frame), "out": out, "avito": avito, "typos": typos}))


@app.command("data-restore")
def data_restore(
    md5: Annotated[str, typer.Option(help="the version's data_dvc_md5 tag")],
    out: Annotated[str, typer.Option(help="file to write, e.g. raw.parquet")],
    repo: Annotated[str, typer.Option(help="DVC project: its cache and default remote")] = ".",
    remote: Annotated[list[str] | None, typer.Option(
        help="another DVC 3 cache or local remote folder to look in (repeatable)")] = None,
) -> None:
    """Restore a model's training data (raw.parquet) by its DVC md5, verified."""
    from pathlib import Path

    from carprice.errors import CarpriceError

    try:
        places = dvc_data.stores(Path(repo)) + [Path(r) for r in remote or []]
        found = dvc_data.restore(md5, Path(out), places)
    except CarpriceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(json.dumps({"md5": dvc_data.check_md5(md5), "out": out, "from": str(found)}))


@app.command("signing-key")
def signing_key(
    public: Annotated[bool, typer.Option(
        "--public", help="print only the public key of $CARPRICE_SIGNING_KEY")] = False,
) -> None:
    """Print a new model-signing key pair as .env lines (the private key: keep it secret)."""
    from carprice.config import settings
    from carprice.errors import CarpriceError
    from carprice.registry import signing

    if public:
        try:
            private = settings.current().signing_key  # $CARPRICE_SIGNING_KEY only
            if not private:
                raise signing.SigningKeyError(f"{settings.ENV_SIGNING_KEY} is not set")
            print(f"{settings.ENV_SIGNING_PUBLIC_KEY}={signing.public_key_of(private)}")
        except CarpriceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None
        return
    private, public_hex = signing.new_key_pair()
    print(f"{settings.ENV_SIGNING_KEY}={private}\n{settings.ENV_SIGNING_PUBLIC_KEY}={public_hex}")


def main(argv: list[str] | None = None) -> int:
    """The console script; returns the exit code (a stage's, or 2 for bad flags)."""
    try:
        app(args=argv, prog_name="carprice")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
