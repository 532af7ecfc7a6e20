"""What one stage container may use, and the input sizes that fit in it.

The launchers (the Airflow DAG, the dvc-runner) start every stage container with the
memory, CPU and pids limits below (carprice.pipeline.container), read from the
environment docker-compose-full.yml gives them (.env overrides the defaults). The stage
gets the same values, so the input caps here agree on both sides: the trigger form's
``rows`` maximum, and the parquet metadata check before any parquet is loaded
(carprice.sources.safe_read.read_parquet). An input past a cap is refused in one line,
before it is read, instead of the kernel killing the stage (or a neighbour) mid-way.

Defaults fit a 2-core 8 GB host: the stack idles at about 2.5 GB, and the train stage
runs one container per candidate side by side (2 today): 2 x 2 GB on top stays at
6.5 GB, leaving room for the page cache (in practice a train stage at the row cap peaks
near 0.5 GB; only evaluate, which runs alone, comes near its limit).

The binding stage is evaluate, not train: measured in real stage containers (read-only,
1 CPU; bench/stage_peaks.sh, cgroup peak), at 410,000 rows train peaks at 929 MiB (ridge;
hgb 601), validate 700, preprocess 417, ingest 344, but evaluate at 3,394 MiB (killed at
1536m: its bootstrap and behaviour checks hold several copies of the test rows' frames),
against 402 MiB at 25,000 rows.

Imports the standard library only: the Airflow image and params.py read it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from carprice.config.settings import ENV_STAGE_CPUS, ENV_STAGE_MEM_LIMIT, ENV_STAGE_PIDS
from carprice.errors import InputError

DEFAULT_STAGE_MEMORY = "2g"
DEFAULT_STAGE_CPUS = 1.0
DEFAULT_STAGE_PIDS = 256
# /tmp of a stage container (a tmpfs: it counts against the memory limit when filled).
STAGE_TMPFS_SIZE = "256m"

# Peak memory of the heaviest stage per generated row (the form's ``rows``) and its fixed
# part (imports, models): evaluate, 402 MiB at 25k rows and 3,394 MiB at 410k, i.e. 8,150
# bytes per row and 208 MiB fixed; rounded up. (The train stage alone, in-process,
# bench/bench_stage_memory.py: ridge 356 / 661 / 948 MiB at 50k / 200k / 400k rows,
# 1,774 bytes per row.)
PEAK_BYTES_PER_ROW = 8_200
PEAK_FIXED_BYTES = 220 * 2**20
# Share of the limit a run may plan to use: the rest absorbs what the figure does not
# measure (a different machine's allocator, a candidate with more trees).
HEADROOM = 0.75
ROWS_STEP = 10_000  # a round cap reads better in the form
# A parquet file's uncompressed size may be at most this share of the limit: pandas needs
# a few times the column bytes while it converts (strings become Python objects).
PARQUET_SHARE = 0.25

_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30}


class LimitError(InputError):
    """A limit setting that cannot be read, or an input larger than a limit allows."""


def parse_memory(text: str) -> int:
    """Docker's memory syntax (``1536m``, ``2g``, ``805306368``) -> bytes."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?\s*", str(text).lower())
    if not found or float(found.group(1)) <= 0:
        raise LimitError(f"{ENV_STAGE_MEM_LIMIT}={str(text)[:40]!r} is not a memory size "
                         "(e.g. 1536m, 2g)")
    return int(float(found.group(1)) * _UNITS[found.group(2)])


def _env(env: Mapping[str, str] | None, name: str) -> str:
    return (os.environ if env is None else env).get(name, "").strip()


def stage_memory_bytes(env: Mapping[str, str] | None = None) -> int:
    return parse_memory(_env(env, ENV_STAGE_MEM_LIMIT) or DEFAULT_STAGE_MEMORY)


def stage_cpus(env: Mapping[str, str] | None = None) -> float:
    raw = _env(env, ENV_STAGE_CPUS)
    try:
        value = float(raw) if raw else DEFAULT_STAGE_CPUS
    except ValueError:
        value = -1.0
    if not 0 < value <= 64:
        raise LimitError(f"{ENV_STAGE_CPUS}={raw[:40]!r} is not a number of CPUs (e.g. 1.0)")
    return value


def stage_pids(env: Mapping[str, str] | None = None) -> int:
    raw = _env(env, ENV_STAGE_PIDS)
    if raw and not (raw.isdigit() and int(raw) >= 32):
        raise LimitError(f"{ENV_STAGE_PIDS}={raw[:40]!r} is not a process count >= 32")
    return int(raw) if raw else DEFAULT_STAGE_PIDS


def max_rows(memory_bytes: int) -> int:
    """The most rows a run may ask for so every stage (evaluate, the heaviest) stays
    within ``memory_bytes``."""
    usable = memory_bytes * HEADROOM - PEAK_FIXED_BYTES
    rows = int(usable // PEAK_BYTES_PER_ROW) // ROWS_STEP * ROWS_STEP
    return max(rows, ROWS_STEP)


def max_parquet_bytes(memory_bytes: int) -> int:
    """Largest uncompressed parquet a stage with ``memory_bytes`` loads."""
    return int(memory_bytes * PARQUET_SHARE)


def stage_max_rows(env: Mapping[str, str] | None = None) -> int:
    """max_rows of this process's stage limit (its launcher's, or the stage's own)."""
    return max_rows(stage_memory_bytes(env))
