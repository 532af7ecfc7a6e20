"""What scripts/backup.sh and scripts/restore.sh need from Python: the archive's manifest
(built, then verified before anything is touched), the run folders worth keeping, and the
last-backup marker. Run inside a stack container (the host needs only bash and Docker),
every stream on stdin / stdout:

    python -m carprice.pipeline.backup manifest --project P --created T --git-commit C < parts.tar
    python -m carprice.pipeline.backup verify < archive.tar.gz      # exit 1, one line, if bad
    python -m carprice.pipeline.backup run-folders > runs.tar       # registered versions' runs
    python -m carprice.pipeline.backup marker --archive NAME < archive.tar.gz
    python -m carprice.pipeline.backup swap-sql --restoring S --replaced S DB...  # restore's swap

Archive layout: ``carprice-backup/<part>`` for every part, plus ``carprice-backup/manifest.json``
naming each part with its size and sha256.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from carprice.config import settings
from carprice.pipeline.definition import safe_name

ROOT = "carprice-backup"  # the one folder inside an archive
MANIFEST = "manifest.json"
FORMAT = 1  # manifest format: bumped when a reader could misread a newer one
# Contract 5 (house reads it): where the last good backup is recorded, in the data volume.
MARKER = Path("ops") / "last-backup.json"
CHUNK = 1 << 20


class BackupError(Exception):
    """An archive that must not be restored, in one line."""


def _digest(stream: IO[bytes]) -> tuple[str, int]:
    sha, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        sha.update(chunk)
        size += len(chunk)
    return sha.hexdigest(), size


def _part_name(member: tarfile.TarInfo) -> str | None:
    """The part a regular file of the archive is (``None`` for folders)."""
    if member.isdir():
        return None
    head, _, name = member.name.lstrip("./").partition("/")
    if head != ROOT or not name or "/" in name or not member.isfile():
        raise BackupError(f"unexpected member {member.name!r} (parts live in {ROOT}/)")
    return name


def _hash_parts(tar: tarfile.TarFile) -> tuple[dict[str, dict[str, Any]], bytes | None]:
    """{part: {"size", "sha256"}} of every part of a tar stream, and the manifest's bytes."""
    parts: dict[str, dict[str, Any]] = {}
    manifest = None
    for member in tar:
        name = _part_name(member)
        if name is None:
            continue
        fileobj = tar.extractfile(member)
        assert fileobj is not None  # a regular file (_part_name)
        if name == MANIFEST:
            manifest = fileobj.read()
            continue
        if name in parts:
            raise BackupError(f"part {name} appears twice")
        sha, size = _digest(fileobj)
        parts[name] = {"size": size, "sha256": sha}
    return parts, manifest


def build_manifest(parts_tar: IO[bytes], project: str, created: str,
                   git_commit: str) -> dict[str, Any]:
    """The manifest of the parts in an uncompressed tar stream of ``ROOT/``."""
    with tarfile.open(fileobj=parts_tar, mode="r|") as tar:
        parts, _ = _hash_parts(tar)
    if not parts:
        raise BackupError("no parts to back up")
    return {"format": FORMAT, "project": project, "created": created,
            "git_commit": git_commit,
            "parts": [{"name": name, **parts[name]} for name in sorted(parts)]}


def verify(archive: IO[bytes]) -> dict[str, Any]:
    """Check a .tar.gz stream end to end: readable to its last byte (gzip CRC and length
    included), a manifest, every part it lists present with its size and sha256, and no
    part it does not list. Returns the manifest; BackupError names the first problem."""
    try:
        gz = gzip.GzipFile(fileobj=archive, mode="rb")
        with tarfile.open(fileobj=gz, mode="r|") as tar:
            found, raw = _hash_parts(tar)
        while gz.read(CHUNK):  # to the gzip trailer: its CRC and length are checked there
            pass
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BackupError(f"unreadable archive (truncated or corrupt: {exc})") from None
    if raw is None:
        raise BackupError(f"no {ROOT}/{MANIFEST}: not a CarPrice backup")
    try:
        manifest = json.loads(raw)
        listed = {p["name"]: p for p in manifest["parts"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{MANIFEST} is malformed ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{MANIFEST} has format {manifest.get('format')!r}, "
                          f"this restore reads {FORMAT}")
    for name, entry in sorted(listed.items()):
        got = found.get(name)
        if got is None:
            raise BackupError(f"part {name} is listed in {MANIFEST} but missing")
        if got["size"] != entry.get("size") or got["sha256"] != entry.get("sha256"):
            raise BackupError(f"part {name} does not match {MANIFEST} "
                              f"(sha256 {got['sha256'][:12]}..., {got['size']} bytes)")
    extra = sorted(set(found) - set(listed))
    if extra:
        raise BackupError(f"parts not in {MANIFEST}: {', '.join(extra)}")
    return manifest


def write_marker(data_dir: Path, archive_name: str, sha256: str, now: datetime) -> Path:
    """Contract 5: {"created", "archive", "sha256"} at <data dir>/ops/last-backup.json,
    replaced atomically (house's check never reads half a file)."""
    path = data_dir / MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"created": now.astimezone(UTC).isoformat(timespec="seconds"),
                       "archive": archive_name, "sha256": sha256})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".last-backup.")
    with os.fdopen(fd, "w") as out:
        out.write(body + "\n")
    os.replace(tmp, path)
    return path


def run_folder_names(run_ids: Iterable[str], runs_dir: Path) -> tuple[list[str], list[str]]:
    """(folders to keep, run ids without a folder) for the pipeline runs of ``run_ids``."""
    keep: set[str] = set()
    missing: set[str] = set()
    for run_id in run_ids:
        folder = safe_name(run_id)
        (keep if (runs_dir / folder).is_dir() else missing).add(folder)
    return sorted(keep), sorted(missing)


def registered_run_ids() -> list[str]:
    """The pipeline runs named by any registered version of the served model.

    Any version can serve again (a rollback, or the production one now), and the monitor
    then reads its run's train.parquet: all of them are kept, refused ones too (simplest
    rule; their folders are small next to the artifacts)."""
    from mlflow import MlflowClient

    from carprice.registry import tags
    from carprice.serving.model_source import model_name

    client, name, ids, token = MlflowClient(), model_name(), set(), None
    while True:
        page = client.search_model_versions(f"name = '{name}'", max_results=1000,
                                            page_token=token)
        ids |= {v.tags[tags.PIPELINE_RUN_ID] for v in page if v.tags.get(tags.PIPELINE_RUN_ID)}
        token = page.token
        if not token:
            return sorted(ids)


def write_run_folders(out: IO[bytes], data_dir: Path) -> list[str]:
    """A tar (to ``out``) of the run folders registered versions name; returns them."""
    runs_dir = data_dir / "runs"
    keep, missing = run_folder_names(registered_run_ids(), runs_dir)
    if missing:
        print(f"[carprice] WARNING: no run folder for {', '.join(missing)}", file=sys.stderr)
    with tarfile.open(fileobj=out, mode="w|") as tar:
        for folder in keep:
            tar.add(runs_dir / folder, arcname=folder)
    return keep


def _sql_list(names: Iterable[str]) -> str:
    return ", ".join("'" + n.replace("'", "''") + "'" for n in names)


def swap_sql(databases: list[str], restoring: str, replaced: str) -> str:
    """One transaction that puts every restored database (``<db><restoring>``) in place of
    the live one (renamed ``<db><replaced>``), all or none: renames are transactional
    (only CREATE and DROP DATABASE are not), and a rename needs the database unused, so
    whatever still holds a connection is closed first (waiting up to 5 s for each)."""
    def ident(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    lines = ["BEGIN;",
             "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
             f"WHERE datname IN ({_sql_list(databases)}) AND pid <> pg_backend_pid();"]
    for db in databases:
        lines += [f"ALTER DATABASE {ident(db)} RENAME TO {ident(db + replaced)};",
                  f"ALTER DATABASE {ident(db + restoring)} RENAME TO {ident(db)};"]
    return "\n".join([*lines, "COMMIT;", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carprice.pipeline.backup")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("manifest", help="manifest.json of a tar of the parts on stdin")
    build.add_argument("--project", required=True)
    build.add_argument("--created", required=True)
    build.add_argument("--git-commit", default="unknown")
    sub.add_parser("verify", help="check the archive on stdin; exit 1 with one line if bad")
    sub.add_parser("run-folders", help="tar of the run folders registered versions need")
    mark = sub.add_parser("marker", help="record the archive on stdin as the last backup")
    mark.add_argument("--archive", required=True)
    swap = sub.add_parser("swap-sql", help="the SQL that swaps restored databases in")
    swap.add_argument("--restoring", required=True)
    swap.add_argument("--replaced", required=True)
    swap.add_argument("databases", nargs="+")
    args = parser.parse_args(argv)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    data_dir = settings.current().data_dir
    try:
        if args.command == "manifest":
            manifest = build_manifest(stdin, args.project, args.created, args.git_commit)
            stdout.write(json.dumps(manifest, indent=1).encode() + b"\n")
        elif args.command == "verify":
            manifest = verify(stdin)
            print(f"archive verified: {len(manifest['parts'])} parts, sha256 and sizes match")
        elif args.command == "swap-sql":
            stdout.write(swap_sql(args.databases, args.restoring, args.replaced).encode())
        elif args.command == "run-folders":
            kept = write_run_folders(stdout, data_dir)
            print(f"[carprice] run folders kept: {len(kept)}", file=sys.stderr)
        else:
            sha, _ = _digest(stdin)
            write_marker(data_dir, args.archive, sha, datetime.now(UTC))
            print(sha)
    except BackupError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
