"""The exported production copy: what the app and the API serve while MLflow is down."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from carprice.registry import signing, tags
from carprice.request_errors import redact_source

# The exported production copy: <models dir>/EXPORT_DIRNAME/{EXPORT_MODEL/, EXPORT_META}
EXPORT_DIRNAME = "production"
EXPORT_MODEL = "model"
EXPORT_META = "meta.json"
EXPORT_SIGNATURE = "signature"  # meta.json: the version's signing.Signature tags


def export_version(name: str, version: str, models_dir: Path, info: dict) -> Path:
    """Copy a registered model to ``models_dir/production`` for serving without MLflow.

    Written to a temporary folder then swapped in, so a reader never sees half a model.
    The version's signature (its tags, in ``info["tags"]``) goes into meta.json, and the
    copy is verified against it first when this process has a key to verify with.
    """
    from mlflow import MlflowClient

    models_dir.mkdir(parents=True, exist_ok=True)
    staging_dir = models_dir / f".{EXPORT_DIRNAME}.tmp"
    shutil.rmtree(staging_dir, ignore_errors=True)
    staging_dir.mkdir()
    # the same files promote_staging signed (signing.download_folder)
    signing.download_folder(MlflowClient(), name, version, staging_dir / ".download").rename(
        staging_dir / EXPORT_MODEL)
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
    final = models_dir / EXPORT_DIRNAME
    old = models_dir / f".{EXPORT_DIRNAME}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging_dir.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


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
