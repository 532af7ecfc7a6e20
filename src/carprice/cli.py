"""``carprice`` command: run one stage, the whole pipeline, a rollback, or make data.

    carprice ingest --set data.rows=5000       # one stage (any of pipeline.STAGES)
    carprice run --run-id demo                 # every stage in order, in this process
    carprice rollback [--to 3]                 # move production back
    carprice generate --rows 1000 --out cars.csv [--avito]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from carprice import pipeline


def run_stage(stage: str, argv: list[str]) -> int:
    module = importlib.import_module(f"carprice.stages.{stage}")
    from carprice.stages.runner import main

    return main(stage, module.run, argv)


def run_all(argv: list[str]) -> int:
    """All stages in order; a skip stops the chain but the report still runs."""
    code = 0
    for stage in pipeline.STAGES:
        code = run_stage(stage, argv)
        if code not in (0, pipeline.SKIP_EXIT_CODE) and stage != "report":
            return run_stage("report", argv) or code
    return code


def rollback(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="carprice rollback",
                                     description="Move the production alias back.")
    parser.add_argument("--to", default=None, help="version (default: previous_production)")
    parser.add_argument("--params", default=None)
    args = parser.parse_args(argv)
    from mlflow import MlflowClient

    from carprice.registry import RegistryError
    from carprice.registry import rollback as do_rollback

    name = pipeline.load_params(args.params)["registry"]["model_name"]
    try:
        result = do_rollback(MlflowClient(), name, args.to)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


def generate(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="carprice generate",
                                     description="Write synthetic listings as CSV.")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", required=True)
    parser.add_argument("--avito", action="store_true",
                        help="French headers, mileage ranges, latin1 (the Avito export)")
    args = parser.parse_args(argv)
    from carprice.sources.csv_source import to_avito
    from carprice.sources.synthetic import generate as make

    frame = make(args.rows, args.seed)
    if args.avito:
        to_avito(frame).to_csv(args.out, index=False, encoding="latin1")
    else:
        frame.to_csv(args.out, index=False)
    print(json.dumps({"rows": len(frame), "out": args.out, "avito": args.avito}))
    return 0


COMMANDS = {"run": run_all, "rollback": rollback, "generate": generate}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = [*pipeline.STAGES, *COMMANDS]
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in names:
        print(__doc__.strip(), file=sys.stderr)
        print(f"\ncommands: {', '.join(names)}", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    if command in COMMANDS:
        return COMMANDS[command](rest)
    return run_stage(command, rest)


if __name__ == "__main__":
    sys.exit(main())
