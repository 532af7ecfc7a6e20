"""The ``carprice`` command and the stage flags (one definition: carprice.pipeline.stage_args)."""

import json

import pandas as pd
import pytest
import typer

from carprice import cli
from carprice.pipeline import container, definition
from carprice.pipeline.definition import StageExit
from carprice.pipeline.stage_args import StageArgs, parse_stage_args
from tests.conftest import REPO


def test_stage_flags():
    args = parse_stage_args("train", ["--run-id", "r1", "--data-dir", "d", "--models-dir", "m",
                                      "--params", "p.yaml", "--set", "a.b=1", "--set", "c=2",
                                      "--soft-skip"])
    assert args == StageArgs(run_id="r1", data_dir="d", models_dir="m", params="p.yaml",
                             set=["a.b=1", "c=2"], soft_skip=True)
    assert parse_stage_args("train", args.argv()) == args


def test_stage_flag_defaults_come_from_the_environment(monkeypatch):
    for name in (container.ENV_RUN_ID, container.ENV_DATA_DIR, container.ENV_MODELS_DIR):
        monkeypatch.delenv(name, raising=False)
    assert parse_stage_args("ingest", []) == StageArgs()
    monkeypatch.setenv(container.ENV_RUN_ID, "manual__1")
    monkeypatch.setenv(container.ENV_DATA_DIR, "/app/data")
    args = parse_stage_args("ingest", [])
    assert (args.run_id, args.data_dir, args.models_dir) == ("manual__1", "/app/data", "models")
    assert parse_stage_args("ingest", ["--run-id", "flag"]).run_id == "flag"


def test_a_bad_stage_flag_exits_2_with_a_last_line_reason(capsys):
    with pytest.raises(SystemExit) as info:
        parse_stage_args("train", ["--bogus"])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "Error: No such option: --bogus"


def test_stage_help_exits_0(capsys):
    with pytest.raises(SystemExit) as info:
        parse_stage_args("train", ["--help"])
    assert info.value.code == 0
    assert "--soft-skip" in capsys.readouterr().out


def test_commands():
    names = set(typer.main.get_command(cli.app).commands)
    assert names == {*definition.STAGES, "run", "rollback", "generate", "data-restore",
                     "signing-key"}


@pytest.mark.parametrize("argv, code", [([], 2), (["nope"], 2), (["--help"], 0),
                                        (["generate"], 2), (["generate", "--out", "x",
                                                             "--rows", "0"], 2)])
def test_usage_exit_codes(argv, code):
    assert cli.main(argv) == code


def test_a_bad_set_fails_the_stage_in_one_line(tmp_path, capsys):
    code = cli.main(["ingest", "--params", str(REPO / "params.yaml"), "--data-dir",
                     str(tmp_path), "--set", "data.rows=abc"])
    out, err = capsys.readouterr()
    assert code == StageExit.NO_RETRY  # bad input: never retried
    reason = "params: data.rows must be an integer, got 'abc'"
    assert err.strip().splitlines()[-1] == f"error: ingest failed: {reason}"
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary == {"stage": "ingest", "status": "failed", "reason": reason,
                       "exit_code": 2, "seconds": summary["seconds"]}


@pytest.mark.parametrize("avito", [False, True])
def test_generate_writes_a_csv(tmp_path, capsys, avito):
    out = tmp_path / "cars.csv"
    argv = ["generate", "--rows", "40", "--seed", "3", "--out", str(out)]
    assert cli.main(argv + (["--avito"] if avito else [])) == 0
    assert json.loads(capsys.readouterr().out) == {"rows": 40, "out": str(out), "avito": avito,
                                                        "typos": 0}
    frame = pd.read_csv(out, encoding="latin1" if avito else "utf-8")
    assert len(frame) == 40
    assert ("Marque" in frame.columns) is avito


def test_signing_key_prints_a_matching_pair_for_env(capsys, monkeypatch):
    from carprice.config import settings
    from carprice.registry import signing

    assert cli.main(["signing-key"]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    private = lines[settings.ENV_SIGNING_KEY]
    assert lines[settings.ENV_SIGNING_PUBLIC_KEY] == signing.public_key_of(private)
    monkeypatch.setenv(settings.ENV_SIGNING_KEY, private)
    assert cli.main(["signing-key", "--public"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{settings.ENV_SIGNING_PUBLIC_KEY}={lines[settings.ENV_SIGNING_PUBLIC_KEY]}")
    monkeypatch.delenv(settings.ENV_SIGNING_KEY)
    assert cli.main(["signing-key", "--public"]) == 1
    assert f"{settings.ENV_SIGNING_KEY} is not set" in capsys.readouterr().err
