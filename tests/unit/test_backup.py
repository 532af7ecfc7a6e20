"""The backup archive's manifest: built from the parts, then every way an archive can be
damaged is refused by verify (truncated, a flipped byte, a part missing, added or changed,
no manifest), through the functions and through the CLI restore.sh runs."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carprice.pipeline import backup
from carprice.pipeline.definition import safe_name

REPO = Path(__file__).resolve().parents[2]
PARTS = {
    "airflow.dump": b"PGDMP" + os.urandom(3000),
    "mlflow.dump": b"PGDMP" + bytes(range(256)) * 40,
    "predictions.dump": b"PGDMP" + b"rows" * 5000,
    "runs.tar": os.urandom(20000),
    "models.tar": b"",  # an empty part is still a part
}


def tar_of(files: dict[str, bytes], gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name if "/" in name else f"{backup.ROOT}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def manifest_of(parts: dict[str, bytes]) -> dict:
    return backup.build_manifest(io.BytesIO(tar_of(parts)), "carprice", "20261205T150000Z",
                                 "abc123")


def archive(parts: dict[str, bytes], manifest: dict | None = None) -> bytes:
    manifest = manifest_of(parts) if manifest is None else manifest
    return tar_of({**parts, backup.MANIFEST: json.dumps(manifest).encode()}, gz=True)


def refused(data: bytes) -> str:
    with pytest.raises(backup.BackupError) as err:
        backup.verify(io.BytesIO(data))
    assert "\n" not in str(err.value)  # restore.sh prints it as its one line
    return str(err.value)


def test_manifest_lists_every_part_with_its_size_and_sha256():
    manifest = manifest_of(PARTS)
    assert manifest["format"] == backup.FORMAT and manifest["project"] == "carprice"
    assert [p["name"] for p in manifest["parts"]] == sorted(PARTS)
    for part in manifest["parts"]:
        data = PARTS[part["name"]]
        assert part == {"name": part["name"], "size": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()}
    assert backup.verify(io.BytesIO(archive(PARTS))) == manifest


def test_a_truncated_archive_is_refused():
    data = archive(PARTS)
    for cut in (len(data) // 2, len(data) - 4, 30):  # mid-stream, in the gzip trailer, header
        assert "unreadable archive" in refused(data[:cut])


def test_a_flipped_byte_anywhere_is_refused():
    data = archive(PARTS)
    for at in (len(data) // 3, len(data) // 2, len(data) - 6):  # data, data, trailer CRC
        flipped = bytearray(data)
        flipped[at] ^= 0x40
        assert re.search(r"unreadable archive|does not match|malformed", refused(bytes(flipped)))


def test_a_changed_part_in_a_valid_gzip_is_refused_by_its_sha256():
    changed = dict(PARTS, **{"mlflow.dump": PARTS["mlflow.dump"][:-1] + b"X"})
    assert "part mlflow.dump does not match" in refused(archive(changed, manifest_of(PARTS)))


def test_a_wrong_sha_or_size_in_the_manifest_is_refused():
    manifest = manifest_of(PARTS)
    manifest["parts"][0]["sha256"] = "0" * 64
    assert f"part {manifest['parts'][0]['name']} does not match" in refused(
        archive(PARTS, manifest))
    manifest = manifest_of(PARTS)
    manifest["parts"][1]["size"] += 1
    assert "does not match" in refused(archive(PARTS, manifest))


def test_a_missing_or_unlisted_part_is_refused():
    fewer = {k: v for k, v in PARTS.items() if k != "predictions.dump"}
    assert "part predictions.dump is listed in manifest.json but missing" in refused(
        archive(fewer, manifest_of(PARTS)))
    more = {**PARTS, "extra.tar": b"x"}
    assert "parts not in manifest.json: extra.tar" in refused(archive(more, manifest_of(PARTS)))


def test_no_manifest_a_bad_one_or_a_stray_member_is_refused():
    assert "no carprice-backup/manifest.json" in refused(tar_of(PARTS, gz=True))
    bad = tar_of({**PARTS, backup.MANIFEST: b"{not json"}, gz=True)
    assert "manifest.json is malformed" in refused(bad)
    newer = dict(manifest_of(PARTS), format=backup.FORMAT + 1)
    assert "format" in refused(archive(PARTS, newer))
    stray = tar_of({**PARTS, "elsewhere/x": b"1"}, gz=True)
    assert "unexpected member 'elsewhere/x'" in refused(stray)
    assert "unreadable archive" in refused(b"not a gzip at all")


def run_cli(*args: str, stdin: bytes, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "carprice.pipeline.backup", *args],
                          input=stdin, capture_output=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})})


def test_the_cli_as_the_scripts_run_it(tmp_path):
    made = run_cli("manifest", "--project", "p", "--created", "t", stdin=tar_of(PARTS))
    assert made.returncode == 0, made.stderr
    manifest = json.loads(made.stdout)
    good = archive(PARTS, manifest)
    ok = run_cli("verify", stdin=good)
    assert ok.returncode == 0 and b"5 parts" in ok.stdout, ok.stderr
    bad = run_cli("verify", stdin=good[: len(good) // 2])
    assert bad.returncode == 1
    assert bad.stderr.decode().count("\n") == 1 and bad.stderr.startswith(b"refused: ")
    marked = run_cli("marker", "--archive", "carprice-p-t.tar.gz", stdin=good,
                     env={"CARPRICE_DATA_DIR": str(tmp_path)})
    assert marked.returncode == 0, marked.stderr
    record = json.loads((tmp_path / backup.MARKER).read_text())
    assert record["archive"] == "carprice-p-t.tar.gz"
    assert record["sha256"] == hashlib.sha256(good).hexdigest() == marked.stdout.decode().strip()
    assert datetime.fromisoformat(record["created"]).tzinfo is not None


def test_marker_is_replaced_whole(tmp_path):
    first = backup.write_marker(tmp_path, "a.tar.gz", "1" * 64, datetime(2026, 1, 1, tzinfo=UTC))
    backup.write_marker(tmp_path, "b.tar.gz", "2" * 64, datetime(2026, 1, 2, tzinfo=UTC))
    assert json.loads(first.read_text()) == {"created": "2026-01-02T00:00:00+00:00",
                                             "archive": "b.tar.gz", "sha256": "2" * 64}
    assert sorted(p.name for p in first.parent.iterdir()) == ["last-backup.json"]


def test_run_folders_are_the_safe_names_of_the_registered_runs(tmp_path):
    present = "manual__2026-12-05T10:00:00+00:00"
    (tmp_path / safe_name(present)).mkdir()
    keep, missing = backup.run_folder_names([present, present, "gone__1"], tmp_path)
    assert keep == [safe_name(present)] and missing == ["gone__1"]


def test_the_scripts_agree_with_the_module():
    common = (REPO / "scripts" / "stack-common.sh").read_text()
    assert f"BACKUP_ROOT={backup.ROOT}\n" in common
    assert "BACKUP_DATABASES=(airflow mlflow predictions)" in common
