"""carprice.registry.signing: the digest of a model folder, Ed25519 signatures of it bound
to a model name and version, and every way a model must be refused."""

from __future__ import annotations

import pytest

from carprice.config import settings
from carprice.registry import signing, tags
from carprice.registry.signing import Signature, SignatureError, SigningKeyError

FILES = {"MLmodel": b"flavors: {}\n", "artifacts/estimator.skops": bytes(range(256)) * 40,
         "python_model.pkl": b"\x80\x05pickle"}


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return signing.new_key_pair()


@pytest.fixture(scope="module")
def signed(pair) -> Signature:
    return signing.sign(FILES, "car-price", "4", pair[0])


def test_the_digest_covers_every_path_and_byte_in_a_stable_order():
    digest = signing.folder_digest(FILES)
    assert digest == signing.folder_digest(dict(reversed(list(FILES.items()))))
    assert len(digest) == 64
    changed = {**FILES, "python_model.pkl": b"\x80\x05pickle!"}
    renamed = {("artifacts/other.skops" if k.endswith(".skops") else k): v
               for k, v in FILES.items()}
    added = {**FILES, "extra.py": b""}
    removed = {k: v for k, v in FILES.items() if k != "python_model.pkl"}
    others = {signing.folder_digest(f) for f in (changed, renamed, added, removed)}
    assert len(others) == 4 and digest not in others


def test_a_folder_is_read_with_relative_posix_paths(tmp_path):
    (tmp_path / "artifacts").mkdir()
    for path, data in FILES.items():
        (tmp_path / path).write_bytes(data)
    assert signing.read_folder(tmp_path) == FILES
    with pytest.raises(SignatureError, match="no model folder"):
        signing.read_folder(tmp_path / "missing")


def test_a_signature_verifies_for_exactly_its_files_name_and_version(pair, signed):
    signing.verify(FILES, "car-price", "4", signed, pair[1])
    assert signed.public_key == pair[1] == signing.public_key_of(pair[0])
    assert signed.digest == signing.folder_digest(FILES)


@pytest.mark.parametrize("position", [0, 5000, 10239])
def test_one_byte_changed_anywhere_is_refused(pair, signed, position):
    data = bytearray(FILES["artifacts/estimator.skops"])
    data[position] ^= 1
    tampered = {**FILES, "artifacts/estimator.skops": bytes(data)}
    with pytest.raises(SignatureError, match="files changed after they were signed"):
        signing.verify(tampered, "car-price", "4", signed, pair[1])


def test_a_file_added_to_the_folder_is_refused(pair, signed):
    with pytest.raises(SignatureError, match="files changed"):
        signing.verify({**FILES, "sitecustomize.py": b"import os"}, "car-price", "4", signed,
                       pair[1])


@pytest.mark.parametrize(("name", "version"), [("car-price", "5"), ("other-model", "4")])
def test_a_signature_moved_to_another_version_or_model_is_refused(pair, signed, name,
                                                                  version):
    with pytest.raises(SignatureError, match="signature does not match"):
        signing.verify(FILES, name, version, signed, pair[1])


def test_another_key_is_refused(pair):
    other_private, _ = signing.new_key_pair()
    theirs = signing.sign(FILES, "car-price", "4", other_private)
    with pytest.raises(SignatureError, match="signed by another key"):
        signing.verify(FILES, "car-price", "4", theirs, pair[1])


def test_a_forged_signature_claiming_the_trusted_key_is_refused(pair):
    other_private, _ = signing.new_key_pair()
    theirs = signing.sign(FILES, "car-price", "4", other_private)
    forged = Signature(theirs.digest, theirs.signature, pair[1])  # claims the trusted key
    with pytest.raises(SignatureError, match="signature does not match"):
        signing.verify(FILES, "car-price", "4", forged, pair[1])
    garbage = Signature(theirs.digest, "zz-not-hex", pair[1])
    with pytest.raises(SignatureError, match="signature does not match"):
        signing.verify(FILES, "car-price", "4", garbage, pair[1])


def test_unsigned_and_unverifiable_are_refused_with_one_clear_line(pair, signed):
    with pytest.raises(SignatureError, match="v4: it is not signed") as unsigned:
        signing.verify(FILES, "car-price", "4", None, pair[1])
    with pytest.raises(SignatureError,
                       match=f"{settings.ENV_SIGNING_PUBLIC_KEY} is not set") as no_key:
        signing.verify(FILES, "car-price", "4", signed, None)
    for caught in (unsigned, no_key):
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, "00" * 31, "00" * 33])
def test_a_malformed_key_is_named_without_echoing_it(bad, signed):
    with pytest.raises(SigningKeyError, match=settings.ENV_SIGNING_KEY) as caught:
        signing.sign(FILES, "car-price", "4", bad)
    assert bad not in str(caught.value)
    with pytest.raises(SigningKeyError, match=settings.ENV_SIGNING_PUBLIC_KEY):
        signing.verify(FILES, "car-price", "4", signed, bad)


def test_the_signature_travels_as_tags(signed):
    found = signed.as_tags()
    assert set(found) == {tags.MODEL_DIGEST, tags.MODEL_SIGNATURE, tags.MODEL_SIGNED_BY}
    assert Signature.from_tags({**found, "other": "x"}) == signed
    assert Signature.from_tags({}) is None and Signature.from_tags(None) is None
    assert Signature.from_tags({**found, tags.MODEL_SIGNATURE: ""}) is None


def test_keys_come_from_the_environment(monkeypatch, pair):
    monkeypatch.setenv(settings.ENV_SIGNING_KEY, pair[0])
    monkeypatch.delenv(settings.ENV_SIGNING_PUBLIC_KEY, raising=False)
    assert signing.signing_key() == pair[0]
    # a promoting stage verifies with the public half of its own key
    assert signing.trusted_public_key() == pair[1]
    other = signing.new_key_pair()[1]
    monkeypatch.setenv(settings.ENV_SIGNING_PUBLIC_KEY, other)
    assert signing.trusted_public_key() == other  # the configured trust wins
    monkeypatch.delenv(settings.ENV_SIGNING_KEY)
    monkeypatch.delenv(settings.ENV_SIGNING_PUBLIC_KEY)
    # with an MLflow server there is no local pair: no key at all is an error
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert signing.trusted_public_key() is None
    with pytest.raises(SigningKeyError, match=f"{settings.ENV_SIGNING_KEY} is not set"):
        signing.signing_key()
    assert pair[0] not in repr(settings.current())


def test_a_local_registry_gets_its_own_private_pair(monkeypatch, tmp_path):
    """No MLflow server (./mlflow.db) and no key in the environment: `carprice run` signs
    with a pair kept in the data folder, readable by its owner only, and a local app
    trusts it; nothing is created by merely verifying."""
    for name in (settings.ENV_SIGNING_KEY, settings.ENV_SIGNING_PUBLIC_KEY,
                 "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(settings.ENV_DATA_DIR, str(tmp_path))
    assert signing.trusted_public_key() is None
    assert not (tmp_path / signing.LOCAL_KEY_FILE).exists()
    private = signing.signing_key()
    key_file = tmp_path / signing.LOCAL_KEY_FILE
    assert key_file.read_text().strip() == private
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert signing.signing_key() == private  # the same pair on the next run
    assert signing.trusted_public_key() == signing.public_key_of(private)
