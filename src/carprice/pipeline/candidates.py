"""Which trained candidate evaluate gates: the one with the lowest validation RMSE(log).

Only validation decides: the test rows stay for the gate, which then judges one model,
so comparing several candidates does not bias the gate's test metrics."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from carprice.errors import FinalError
from carprice.pipeline import run_folder

CHOSEN, TRAINED, NOT_TRAINED = "chosen", "trained", "not trained"


class NoCandidate(FinalError):
    """No candidate of params.yaml was trained in this run (a retry cannot help)."""


def trained_infos(run_dir: Path, names: list[str]) -> dict[str, dict | None]:
    """Each candidate's train info in ``run_dir`` (None: it failed or did not run)."""
    out: dict[str, dict | None] = {}
    for name in names:
        path = run_dir / run_folder.train_info(name)
        out[name] = json.loads(path.read_text()) if path.is_file() else None
    return out


def choose(infos: Mapping[str, dict | None]) -> tuple[str, list[dict]]:
    """(the chosen candidate's name, the table of every candidate): the lowest validation
    RMSE(log) among the trained ones; a tie goes to the one listed first in params."""
    trained = {name: info for name, info in infos.items() if info is not None}
    if not trained:
        raise NoCandidate(f"no candidate was trained in this run ({', '.join(infos)}): "
                          "see the train tasks")
    best = min(trained, key=lambda name: float(trained[name]["valid_rmse_log"]))
    table = []
    for name, info in infos.items():
        row: dict = {"candidate": name,
                     "status": CHOSEN if name == best else TRAINED if info else NOT_TRAINED}
        if info:
            row.update(estimator=info.get("estimator", ""), model_uri=info["model_uri"],
                       mlflow_run_id=info.get("mlflow_run_id", ""),
                       **{f"valid_{k}": v for k, v in
                          (info.get("valid_metrics") or
                           {"rmse_log": info["valid_rmse_log"]}).items()})
        table.append(row)
    return best, table
