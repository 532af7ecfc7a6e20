"""The rules of housekeeping, defined once: which run folders and files go, how free disk
and the last backup are judged, and Airflow's own clean-up command.

Used by the maintenance stage (carprice.pipeline.stages.maintenance: the data volume) and
by the carprice_maintenance DAG's Airflow tasks (task logs, Airflow's metadata). Imports
the standard library only: the Airflow image reads it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

DAY_SECONDS = 86_400
# Written by scripts/backup.sh after a good archive (contract with the backup script):
# {"created": "<ISO-8601 UTC>", "archive": "<file name>", "sha256": "<hex>"}.
BACKUP_MARKER = Path("ops") / "last-backup.json"
# The title of the message the maintenance DAG sends when alerts() found something.
ALERT_TITLE = "CarPrice: maintenance needs you"


def cutoff(now: datetime, days: int) -> datetime:
    """The moment before which things are old (``now`` minus ``days``), in UTC."""
    return now.astimezone(UTC) - timedelta(days=days)


@dataclass(frozen=True)
class RunFolder:
    name: str  # the folder's name under <data>/runs (a run id made safe)
    newest: float  # newest modification time in it (epoch seconds)
    registered: bool  # its run left the summary of a registered model version


def run_folders_to_remove(folders: Iterable[RunFolder], keep: Collection[str], now: float,
                          days: int) -> list[str]:
    """Names of the run folders to remove: untouched for ``days``, and their run registered
    nothing. ``keep``: folder names something still needs (a registered version's training
    data, the exported model's), never removed whatever their age."""
    limit = now - days * DAY_SECONDS
    return sorted(f.name for f in folders
                  if not f.registered and f.name not in keep and f.newest < limit)


def newest_mtime(path: Path) -> float:
    """Newest modification time of ``path`` and everything under it (links not followed):
    a folder a stage still writes to is never old."""
    newest = path.lstat().st_mtime
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                newest = max(newest, (Path(root) / name).lstat().st_mtime)
            except FileNotFoundError:  # removed while we looked
                continue
    return newest


def old_files(root: Path, now: float, days: int) -> list[Path]:
    """Files under ``root`` not modified for ``days`` (links are not followed)."""
    limit = now - days * DAY_SECONDS
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            try:
                if path.lstat().st_mtime < limit:
                    found.append(path)
            except FileNotFoundError:
                continue
    return sorted(found)


def remove_old_files(root: Path, now: float, days: int) -> dict[str, int]:
    """Remove the files ``old_files`` names, then the folders that left empty (or found
    empty and old; never ``root``, never a young empty folder a task is about to fill);
    what went: {"files", "bytes", "folders"}."""
    removed = {"files": 0, "bytes": 0, "folders": 0}
    if not root.is_dir():
        return removed
    emptied: set[Path] = set()
    for path in old_files(root, now, days):
        try:
            size = path.lstat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        removed["files"] += 1
        removed["bytes"] += size
        emptied.add(path.parent)
    limit = now - days * DAY_SECONDS
    for folder, _dirs, _files in sorted(os.walk(root), key=lambda w: -len(Path(w[0]).parts)):
        path = Path(folder)
        if path == root or any(path.iterdir()):
            continue
        if path in emptied or path.lstat().st_mtime < limit:
            path.rmdir()
            removed["folders"] += 1
            emptied.add(path.parent)
    return removed


def remove_tree(path: Path) -> int:
    """Remove a folder and what it holds; its size in bytes."""
    size = sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())
    shutil.rmtree(path)
    return size


@dataclass(frozen=True)
class DiskReport:
    path: str
    total_bytes: int
    free_bytes: int

    @property
    def free_percent(self) -> float:
        return 100.0 * self.free_bytes / self.total_bytes if self.total_bytes else 0.0

    def line(self) -> str:
        gib = 1024**3
        return (f"free disk at {self.path}: {self.free_bytes / gib:.1f} GiB of "
                f"{self.total_bytes / gib:.1f} GiB ({self.free_percent:.1f}%)")


def disk_report(path: Path) -> DiskReport:
    usage = shutil.disk_usage(path)
    return DiskReport(str(path), usage.total, usage.free)


def backup_age_days(marker: Path, now: datetime) -> float | None:
    """Days since the last good backup the marker records; None if there is none (no
    marker, or one that does not say when)."""
    try:
        created = datetime.fromisoformat(json.loads(marker.read_text())["created"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if created.tzinfo is None:  # the contract says UTC
        created = created.replace(tzinfo=UTC)
    return max(0.0, (now - created).total_seconds() / DAY_SECONDS)


def alerts(disk: DiskReport, min_free_percent: float, backup_age: float | None,
           max_backup_age_days: int) -> list[str]:
    """One line per thing people must act on: too little free disk, a backup too old or
    missing (max_backup_age_days 0: backups are not watched)."""
    found = []
    if disk.free_percent < min_free_percent:
        found.append(f"low disk: {disk.line()}, below the {min_free_percent:g}% threshold")
    if max_backup_age_days > 0:
        if backup_age is None:
            found.append("no backup: no good backup recorded yet (run scripts/backup.sh)")
        elif backup_age > max_backup_age_days:
            found.append(f"old backup: the last good backup is {backup_age:.1f} days old, "
                         f"more than {max_backup_age_days}")
    return found


def airflow_db_clean_command(before: datetime) -> list[str]:
    """Airflow's own clean-up of its metadata (runs, task instances, XComs, logs table)
    older than ``before``, without keeping archive tables (they would grow instead)."""
    return ["airflow", "db", "clean", "--clean-before-timestamp", before.isoformat(),
            "--yes", "--skip-archive"]
