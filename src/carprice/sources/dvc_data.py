"""Training data as DVC versions it: the md5 DVC 3 gives a file, where DVC stores that
object, and restoring it by hash (``carprice data-restore``).

DVC 3 hashes a file's bytes with plain md5 and stores the object, in the cache and in
every remote alike, at ``<root>/files/md5/<first 2 hex>/<other 30 hex>``. train tags
each registered version with the md5 of its run's raw.parquet (tags.DATA_DVC_MD5), so
the exact rows behind a model come back from the cache or the remote by that hash.
"""

from __future__ import annotations

import configparser
import hashlib
import re
import shutil
import tempfile
from pathlib import Path

from carprice.errors import CarpriceError, InputError

MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1 << 20


class RestoreError(CarpriceError):
    """The object is in none of the places looked at, or its bytes do not match."""


def file_md5(path: Path) -> str:
    """The md5 DVC 3 records for a file (``dvc add`` / a stage out): md5 of its bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(md5: str) -> str:
    value = md5.strip().lower()
    if not MD5_RE.match(value):
        raise InputError(f"not an md5 (32 hex digits): {md5[:80]!r}")
    return value


def object_path(root: Path, md5: str) -> Path:
    """Where a DVC 3 cache or local remote at ``root`` keeps the file with this md5."""
    md5 = check_md5(md5)
    return Path(root) / "files" / "md5" / md5[:2] / md5[2:]


def _section(config: configparser.ConfigParser, name: str) -> dict:
    # DVC writes ['remote "local"'] (configobj quoting); accept it with or without quotes
    for section in config.sections():
        if section.strip("'") == name:
            return dict(config[section])
    return {}


def stores(repo: Path) -> list[Path]:
    """The cache folder and the default remote (if it is a local folder) of a DVC project."""
    dvc_dir = Path(repo) / ".dvc"
    config = configparser.ConfigParser(interpolation=None)
    config.read([dvc_dir / "config", dvc_dir / "config.local"])
    cache_dir = _section(config, "cache").get("dir")
    found = [dvc_dir / cache_dir if cache_dir else dvc_dir / "cache"]
    remote = _section(config, "core").get("remote")
    url = _section(config, f'remote "{remote}"').get("url", "") if remote else ""
    if url and "://" not in url:  # a folder remote; relative urls are relative to .dvc/
        found.append((dvc_dir / url).resolve())
    return found


def restore(md5: str, out: Path, places: list[Path]) -> Path:
    """Copy the object with this md5 from the first place holding it to ``out``, verified.

    Written to a temporary file beside ``out`` and moved in only when its md5 matches.
    """
    md5 = check_md5(md5)
    found = next((p for p in (object_path(r, md5) for r in places) if p.is_file()), None)
    if found is None:
        raise RestoreError(f"no object {md5} in {', '.join(str(p) for p in places) or '-'} "
                           "(dvc push it from the project that trained the model)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.",
                                     delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        shutil.copyfile(found, partial)
        got = file_md5(partial)
        if got != md5:
            raise RestoreError(f"{found} has md5 {got}, not {md5}: the store is corrupt")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return found
