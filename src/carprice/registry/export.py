"""The exported production copy: what the app and the API serve while MLflow is down."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from carprice.registry import signing, tags
from carprice.request_errors import redact_source

# The exported production copy: <models dir>/EXPORT_DIRNAME/{EXPORT_MODEL/, EXPORT_META}.
# EXPORT_DIRNAME is a symbolic link to one of the versioned copies in EXPORTS_DIRNAME, and
# a new copy is switched in by renaming a new link over it: a reader finds the old copy or
# the new one, never none. The copy before the current one is kept (a reader may still be
# loading it); older ones are pruned.
EXPORT_DIRNAME = "production"
EXPORTS_DIRNAME = "exports"
KEEP_EXPORTS = 2
EXPORT_MODEL = "model"
EXPORT_META = "meta.json"
EXPORT_SIGNATURE = "signature"  # meta.json: the version's signing.Signature tags


def export_version(name: str, version: str, models_dir: Path, info: dict) -> Path:
    """Copy a registered model to ``models_dir/production`` for serving without MLflow.

    Written to a new versioned folder, then switched in (switch_export): a reader never
    sees half a model, nor no model.
    The version's signature (its tags, in ``info["tags"]``) goes into meta.json, and the
    copy is verified against it first when this process has a key to verify with.
    """
    from mlflow import MlflowClient

    exports = models_dir / EXPORTS_DIRNAME
    exports.mkdir(parents=True, exist_ok=True)
    folder = exports / f"v{version}-{time.time_ns()}"
    staging_dir = folder.with_name(f".{folder.name}.tmp")
    staging_dir.mkdir()
    try:
        # the same files promote_staging signed (signing.download_folder)
        signing.download_folder(MlflowClient(), name, version,
                                staging_dir / ".download").rename(staging_dir / EXPORT_MODEL)
        found = info.get("tags")
        signature = signing.Signature.from_tags(found if isinstance(found, dict) else {})
        trusted = signing.trusted_public_key()
        if trusted:  # refuse here what serving would refuse
            signing.verify(signing.read_folder(staging_dir / EXPORT_MODEL), name, version,
                           signature, trusted)
        (staging_dir / EXPORT_META).write_text(json.dumps(
            {"model_name": name, "version": version, **redact_info(info),
             EXPORT_SIGNATURE: signature.as_tags() if signature else None},
            indent=2, default=str))
        staging_dir.rename(folder)
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    return switch_export(models_dir, folder)


def switch_export(models_dir: Path, folder: Path) -> Path:
    """Point ``models_dir/production`` at ``folder`` (a copy in exports/) with one rename,
    then prune all but the KEEP_EXPORTS newest copies; returns the link."""
    link = models_dir / EXPORT_DIRNAME
    new_link = models_dir / f".{EXPORT_DIRNAME}.{os.getpid()}.link"
    new_link.unlink(missing_ok=True)
    new_link.symlink_to(folder.relative_to(models_dir))  # relative: any mount point works
    if link.is_dir() and not link.is_symlink():  # a real folder (an export of before): once
        link.rename(folder.parent / f"v-before-{time.time_ns()}")
    os.replace(new_link, link)
    copies = sorted((p for p in folder.parent.iterdir()
                     if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in copies[KEEP_EXPORTS:]:
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return link


def redact_info(info: dict) -> dict:
    """``info`` with the data source of its copied version tags redacted: a version
    registered before train redacted it may hold a URL's token."""
    found = info.get("tags")
    if not isinstance(found, dict) or not found.get(tags.DATA_SOURCE):
        return info
    return {**info, "tags": {**found, tags.DATA_SOURCE: redact_source(found[tags.DATA_SOURCE])}}


def read_export(models_dir: Path) -> tuple[Path, dict] | None:
    """(model folder, meta) of the exported production copy, if there is one."""
    meta = models_dir / EXPORT_DIRNAME / EXPORT_META
    if not meta.is_file():
        return None
    return models_dir / EXPORT_DIRNAME / EXPORT_MODEL, json.loads(meta.read_text())
