"""The stage exit contract (carprice.pipeline.runner.main): exit code, the JSON summary as
the last output line, one stderr line for an expected failure, a traceback for a bug.

Small stage functions stand in for the stages' work; everything around them is real
(params, the run folder, runs on the session's MLflow server)."""

from __future__ import annotations

import gc
import json
import uuid

import pytest

from carprice.config.params import ParamsError
from carprice.contract.validation import ValidationError
from carprice.errors import CarpriceError, FinalError, InputError
from carprice.pipeline.definition import StageExit
from carprice.pipeline.run_folder import stage_summary
from carprice.pipeline.runner import (
    RunFailed,
    StageFailed,
    StageSkipped,
    imports_loaded,
    main,
    one_line,
)
from carprice.registry.aliases import RegistryError
from carprice.sources import SourceError
from carprice.sources.csv_reader import CsvError

STAGE = "preprocess"  # any stage run once (not mapped); the functions are the tests'


def run_stage(func, capsys, data_dir, *extra: str) -> tuple[int, dict, str]:
    """(exit code, last stdout line as JSON, stderr) of one runner.main call."""
    argv = ["--run-id", f"unit-{uuid.uuid4().hex[:8]}", "--data-dir", str(data_dir),
            "--set", "registry.experiment=unit-runner", *extra]
    code = main(STAGE, func, argv)
    out, err = capsys.readouterr()
    return code, json.loads(out.strip().splitlines()[-1]), err


def raising(exc: BaseException):
    def stage(ctx):
        raise exc
    return stage


@pytest.fixture
def data_dir(workdir, mlflow_server):
    return workdir / "data"


def test_a_stage_that_works_exits_0_with_its_summary(capsys, data_dir):
    code, summary, err = run_stage(lambda ctx: {"rows": 3}, capsys, data_dir)
    assert code == StageExit.OK == 0
    assert summary["status"] == "ok" and summary["rows"] == 3 and summary["exit_code"] == 0
    assert summary["stage"] == STAGE and "error" not in err
    run_dir = data_dir / "runs" / summary["run_id"]
    assert json.loads((run_dir / stage_summary(STAGE)).read_text()) == summary


@pytest.mark.parametrize(("exc", "expected"), [
    (ValidationError("3 rows invalid\n(max 1)"), StageExit.NO_RETRY),
    (ParamsError("parameter 'rows' expects int"), StageExit.NO_RETRY),
    (CsvError("cars.csv is empty"), StageExit.NO_RETRY),
    (SourceError("unknown data.source 'ftp'"), StageExit.NO_RETRY),
    (RegistryError("staging no longer points at v3"), StageExit.FAILED),
    (StageFailed("model export failed"), StageExit.FAILED),
    (RunFailed("pipeline failed: validate failed: missing columns"), StageExit.NO_RETRY),
    (FileNotFoundError("data/runs/x/train.parquet"), StageExit.FAILED),
])
def test_an_expected_failure_exits_with_its_code_and_one_line(capsys, data_dir, exc, expected):
    code, summary, err = run_stage(raising(exc), capsys, data_dir)
    assert code == expected
    assert summary["status"] == "failed" and summary["exit_code"] == int(expected)
    assert summary["reason"] == one_line(exc) and "\n" not in summary["reason"]
    assert err.strip().splitlines() == [f"error: {STAGE} failed: {summary['reason']}"]
    assert "Traceback" not in err


def test_input_errors_are_the_ones_a_retry_cannot_fix():
    for kind in (ValidationError, ParamsError, CsvError, SourceError):
        assert issubclass(kind, InputError)
    for kind in (RegistryError, StageFailed):
        assert issubclass(kind, CarpriceError) and not issubclass(kind, InputError)
    # The report of a failed run is final too, though not bad input.
    assert issubclass(RunFailed, FinalError) and not issubclass(RunFailed, InputError)


def test_bad_params_fail_before_the_stage_runs(capsys, data_dir):
    ran = []
    code, summary, err = run_stage(ran.append, capsys, data_dir, "--set", "model.nope=1")
    assert code == StageExit.NO_RETRY and not ran
    assert summary["status"] == "failed" and "unknown key model.nope" in summary["reason"]
    assert "Traceback" not in err


def test_a_bug_keeps_its_traceback(capsys, data_dir):
    def buggy(ctx):
        return {"share": 1 / 0}

    code, summary, err = run_stage(buggy, capsys, data_dir)
    assert code == StageExit.FAILED
    assert summary["status"] == "failed" and summary["reason"] == "division by zero"
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert err.strip().splitlines()[-1] == f"error: {STAGE} failed: division by zero"


def test_a_skip_exits_99_or_0_when_soft(capsys, data_dir):
    skip = raising(StageSkipped("data and params unchanged"))
    code, summary, err = run_stage(skip, capsys, data_dir)
    assert code == StageExit.SKIPPED == 99
    assert summary["status"] == "skipped" and summary["reason"] == "data and params unchanged"
    assert summary["exit_code"] == 99 and "error" not in err and "Traceback" not in err
    code, summary, _ = run_stage(skip, capsys, data_dir, "--soft-skip")
    assert code == 0 and summary["status"] == "skipped" and summary["exit_code"] == 0


def test_one_line_explains_a_bare_missing_path():
    assert one_line(FileNotFoundError("data/runs/x/raw.parquet")) == (
        "file not found: data/runs/x/raw.parquet (run the earlier stages of this run first)")


def test_one_line_folds_whitespace_and_truncates():
    assert one_line(ValueError("a\n  b")) == "a b"
    assert len(one_line(ValueError("x" * 900))) == 500


def test_a_stage_works_with_the_collector_on_after_a_paused_start_up(capsys, data_dir):
    seen = {}

    def stage(ctx):
        seen["collecting"] = gc.isenabled()
        return {}

    gc.disable()  # as the entry point (python -m carprice.pipeline) starts
    try:
        code, summary, _ = run_stage(stage, capsys, data_dir)
        frozen = gc.get_freeze_count()
    finally:
        gc.enable()
        gc.unfreeze()
    assert code == StageExit.OK, summary
    assert seen == {"collecting": True}
    assert frozen > 0  # start-up's objects left out of later passes


def test_imports_loaded_freezes_nothing_where_the_collector_already_runs():
    gc.unfreeze()
    imports_loaded()  # carprice run: every stage in one process
    assert gc.isenabled() and gc.get_freeze_count() == 0
