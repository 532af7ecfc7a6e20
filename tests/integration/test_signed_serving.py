"""Only what the promotion signed is served, against the real MLflow server: a version
registered and aliased `production` by hand (unsigned, signed with another key, or with
another version's signature) is refused by serving's loader while the holder keeps the
previous model; an exported copy edited on disk is refused too. The pipeline run of the
session (tests/conftest.py promoted_model) signs what it promotes.
"""

from __future__ import annotations

import json
import uuid

import mlflow
import pytest
from mlflow import MlflowClient

from carprice.api.model_holder import ServedModel
from carprice.config import settings
from carprice.model import pyfunc
from carprice.registry import PRODUCTION_ALIAS, mlflow_server, signing, tags
from carprice.registry.export import EXPORT_DIRNAME, EXPORT_META, export_version, read_export
from carprice.serving import model_source
from carprice.serving.pricing import predict_one
from tests.conftest import free_port
from tests.unit.app_model import register_small_model

pytestmark = pytest.mark.integration
CAR = pyfunc.example_car()


@pytest.fixture(autouse=True)
def short_client_timeouts(monkeypatch):
    """What the API sets: a dead server costs seconds, not MLflow's retry minutes."""
    for key, value in mlflow_server.CLIENT_ENV_DEFAULTS.items():
        monkeypatch.setenv(key, value)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry(mlflow_server, tmp_path):
    """A fresh registered model with a signed production v1, and a holder serving it."""
    name = f"it-signed-{uuid.uuid4().hex[:8]}"
    client = MlflowClient()
    first = register_small_model(mlflow_server, name, {tags.PIPELINE_RUN_ID: "signed"})
    client.set_registered_model_alias(name, PRODUCTION_ALIAS, first)
    clock = Clock()
    holder = ServedModel(
        lambda: model_source.resolve_production(name, mlflow_server, tmp_path / "no-export"),
        model_source.load_model, ttl=1, clock=clock)
    return {"name": name, "client": client, "first": first, "holder": holder, "clock": clock,
            "uri": mlflow_server}


def alias_by_hand(reg, version: str):
    """Move production as anyone with alias rights could, then let the holder re-read it."""
    reg["client"].set_registered_model_alias(reg["name"], PRODUCTION_ALIAS, version)
    reg["clock"].now += 2
    return reg["holder"].refresh()


def test_versions_aliased_by_hand_are_refused_and_the_previous_model_keeps_serving(
        registry, monkeypatch):
    holder, name = registry["holder"], registry["name"]
    good = holder.get()
    assert good.ready and good.resolution.version == registry["first"]
    price = predict_one(good.model, CAR)

    unsigned = register_small_model(registry["uri"], name, {}, signed=False)
    snap = alias_by_hand(registry, unsigned)
    assert snap.model is good.model and snap.resolution.version == registry["first"]
    assert f"refused {name} v{unsigned}: it is not signed" in snap.refused

    # signed, but with a key that is not the one serving trusts
    with monkeypatch.context() as patched:
        patched.setenv(settings.ENV_SIGNING_KEY, signing.new_key_pair()[0])
        other_key = register_small_model(registry["uri"], name, {})
    snap = alias_by_hand(registry, other_key)
    assert snap.model is good.model
    assert f"refused {name} v{other_key}: signed by another key" in snap.refused

    # the same files with the genuine signature of v1: bound to v1, so refused
    client = registry["client"]
    first = client.get_model_version(name, registry["first"])
    copied = mlflow.register_model(first.source, name,
                                   tags=signing.Signature.from_tags(first.tags).as_tags())
    snap = alias_by_hand(registry, str(copied.version))
    assert snap.model is good.model
    assert f"v{copied.version}: the signature does not match" in snap.refused
    assert predict_one(snap.model, CAR) == price

    # back on the signed version: served, no problem left
    snap = alias_by_hand(registry, registry["first"])
    assert snap.refused is None and snap.resolution.version == registry["first"]


def test_the_loader_itself_refuses_before_anything_is_loaded(registry, tmp_path):
    name = registry["name"]
    unsigned = register_small_model(registry["uri"], name, {}, signed=False)
    registry["client"].set_registered_model_alias(name, PRODUCTION_ALIAS, unsigned)
    res = model_source.resolve_production(name, registry["uri"], tmp_path)
    assert res.version == unsigned and res.signature is None
    with pytest.raises(signing.SignatureError, match="it is not signed"):
        model_source.load_model(res)


def test_an_export_edited_on_disk_is_refused(registry, tmp_path, monkeypatch):
    """export_version (what promote_production and rollback call) copies the signature; a
    byte changed afterwards in the model folder, and MLflow down: nothing is served, and
    /ready's reason says why."""
    name, client = registry["name"], registry["client"]
    first = client.get_model_version(name, registry["first"])
    folder = export_version(name, registry["first"], tmp_path, {"tags": first.tags})
    assert read_export(tmp_path)[1]["signature"] == signing.Signature.from_tags(
        first.tags).as_tags()
    dead = f"http://127.0.0.1:{free_port()}"
    res = model_source.resolve_production(name, dead, tmp_path)
    assert predict_one(model_source.load_model(res), CAR)["price_dh"] > 0  # as exported

    skops_file = folder / "model" / "artifacts" / "estimator.skops"
    data = bytearray(skops_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    skops_file.write_bytes(bytes(data))
    holder = ServedModel(lambda: model_source.resolve_production(name, dead, tmp_path),
                         model_source.load_model, ttl=1, clock=Clock())
    snap = holder.get()
    assert not snap.ready
    assert f"refused {name} v{registry['first']}: its files changed" in snap.problem


def test_export_version_refuses_to_export_an_unsigned_version(registry, tmp_path):
    name = registry["name"]
    unsigned = register_small_model(registry["uri"], name, {}, signed=False)
    with pytest.raises(signing.SignatureError, match="it is not signed"):
        export_version(name, unsigned, tmp_path, {"tags": {}})
    assert read_export(tmp_path) is None  # nothing swapped in


def test_the_pipeline_signs_what_it_promotes(promoted_model):
    """promote_staging signed the version (tags), promote_production exported the
    signature, and both verify with the public key."""
    name, version = promoted_model["model_name"], promoted_model["version"]
    mv = MlflowClient().get_model_version(name, version)
    signature = signing.Signature.from_tags(mv.tags)
    assert signature is not None and signature.public_key == signing.trusted_public_key()
    meta = json.loads((promoted_model["models_dir"] / EXPORT_DIRNAME / EXPORT_META).read_text())
    assert meta["signature"] == signature.as_tags()
    files = signing.read_folder(promoted_model["models_dir"] / EXPORT_DIRNAME / "model")
    signing.verify(files, name, version, signature, signing.trusted_public_key())
