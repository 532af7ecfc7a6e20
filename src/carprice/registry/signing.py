"""Signatures of promoted model files: Ed25519 (``cryptography``) over the exact bytes.

promote_staging signs a version once the gate passed, with the private key only that
stage holds ($CARPRICE_SIGNING_KEY); the signature and the files' digest are
version tags, copied into the export's meta.json. Serving verifies with the public key
($CARPRICE_SIGNING_PUBLIC_KEY) before it loads anything: files changed after the gate,
a version nobody signed, or a signature of another key are refused.

Digest: sha256 over "<relative path>\\t<sha256 of the file>\\n", paths sorted, every file
of the model folder. The signed message binds the model name and version to it, so a
signature cannot be moved to another version.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from carprice.config import settings
from carprice.errors import CarpriceError
from carprice.registry import tags

MESSAGE_PREFIX = b"carprice-model-signature-v1\n"


class SignatureError(CarpriceError):
    """A model that must not be served: unsigned, tampered, or not verifiable here."""


class SigningKeyError(CarpriceError):
    """A signing key that is missing or not a hex Ed25519 key."""


@dataclass(frozen=True)
class Signature:
    digest: str  # folder_digest of the signed files
    signature: str  # hex Ed25519 signature of message(name, version, digest)
    public_key: str  # hex public key of the signer (tells "another key" apart)

    def as_tags(self) -> dict[str, str]:
        return {tags.MODEL_DIGEST: self.digest, tags.MODEL_SIGNATURE: self.signature,
                tags.MODEL_SIGNED_BY: self.public_key}

    @classmethod
    def from_tags(cls, found: Mapping | None) -> Signature | None:
        """From version tags or the export's meta.json; None when unsigned."""
        found = found or {}
        values = [found.get(t) for t in (tags.MODEL_DIGEST, tags.MODEL_SIGNATURE,
                                         tags.MODEL_SIGNED_BY)]
        if not all(isinstance(v, str) and v for v in values):
            return None
        return cls(*values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- digest and message


def read_folder(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``: relative POSIX path -> bytes (read once, so what is
    verified is what is loaded)."""
    if not folder.is_dir():
        raise SignatureError(f"no model folder at {folder}")
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def folder_digest(files: Mapping[str, bytes]) -> str:
    lines = "".join(f"{path}\t{hashlib.sha256(files[path]).hexdigest()}\n"
                    for path in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def message(name: str, version: str, digest: str) -> bytes:
    return MESSAGE_PREFIX + f"{name}\n{version}\n{digest}\n".encode()


# ---------------------------------------------------------------- keys


def _key_bytes(value: str, variable: str) -> bytes:
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise SigningKeyError(f"{variable} must be 64 hex digits (a 32-byte Ed25519 key)")
    return raw


def _private_key(private_hex: str):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(
        _key_bytes(private_hex, settings.ENV_SIGNING_KEY))


def public_key_of(private_hex: str) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return _private_key(private_hex).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw).hex()


def new_key_pair() -> tuple[str, str]:
    """(private, public) as hex, for $CARPRICE_SIGNING_KEY / $CARPRICE_SIGNING_PUBLIC_KEY."""
    import secrets

    private = secrets.token_bytes(32).hex()
    return private, public_key_of(private)


# A local registry (no MLflow server: ./mlflow.db) gets its own pair, kept in the data
# folder (git-ignored, mode 600), so `carprice run`, `dvc repro` and a local app work with
# no setup. Never with an MLflow server: the stack hands each service its key in .env.
LOCAL_KEY_FILE = "signing.key"


def local_key_file() -> Path | None:
    """Where the local pair lives; None when this process talks to an MLflow server."""
    current = settings.current()
    if (current.tracking_uri or "").startswith(("http://", "https://")):
        return None
    return current.data_dir / LOCAL_KEY_FILE


def _local_key(create: bool) -> str | None:
    path = local_key_file()
    if path is None:
        return None
    if not path.is_file():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_key_pair()[0] + "\n")
    return path.read_text().strip()


def signing_key() -> str:
    """The private key of this process (a local registry: the local pair's);
    SigningKeyError (one line) when it has none."""
    value = settings.current().signing_key or _local_key(create=True)
    if not value:
        raise SigningKeyError(
            f"{settings.ENV_SIGNING_KEY} is not set: promote_staging signs the versions "
            "the gate passed (docker-start-full.sh puts a pair in .env; `carprice signing-key` "
            "prints one)")
    return value


def trusted_public_key() -> str | None:
    """The key signatures are checked against: $CARPRICE_SIGNING_PUBLIC_KEY, else (the
    signing stage) the public half of $CARPRICE_SIGNING_KEY, else (a local registry) the
    local pair's; None when there is none."""
    current = settings.current()
    if current.signing_public_key:
        return current.signing_public_key
    private = current.signing_key or _local_key(create=False)
    return public_key_of(private) if private else None


# ---------------------------------------------------------------- sign and verify


def sign(files: Mapping[str, bytes], name: str, version: str,
         private_hex: str) -> Signature:
    digest = folder_digest(files)
    signed = _private_key(private_hex).sign(message(name, version, digest))
    return Signature(digest, signed.hex(), public_key_of(private_hex))


def verify(files: Mapping[str, bytes], name: str, version: str,
           signature: Signature | None, public_hex: str | None) -> None:
    """Return only when ``signature`` is the trusted key's signature of exactly these
    files as ``name`` v``version``; else SignatureError saying why in one line."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    label = f"{name} v{version}"
    if not public_hex:
        raise SignatureError(f"refused {label}: {settings.ENV_SIGNING_PUBLIC_KEY} is not set, "
                             "so no model signature can be verified")
    trusted = _key_bytes(public_hex, settings.ENV_SIGNING_PUBLIC_KEY)
    if signature is None:
        raise SignatureError(f"refused {label}: it is not signed (never promoted by the "
                             "pipeline's gate)")
    if signature.public_key.lower() != trusted.hex():
        raise SignatureError(f"refused {label}: signed by another key "
                             f"({signature.public_key[:12]}…, trusted {trusted.hex()[:12]}…)")
    digest = folder_digest(files)
    if digest != signature.digest:
        raise SignatureError(f"refused {label}: its files changed after they were signed")
    try:
        Ed25519PublicKey.from_public_bytes(trusted).verify(
            bytes.fromhex(signature.signature), message(name, version, digest))
    except (InvalidSignature, ValueError):
        raise SignatureError(f"refused {label}: the signature does not match "
                             "(another model name or version, or a forged signature)") from None


def download_folder(client, name: str, version: str, dst: Path,
                    tracking_uri: str | None = None) -> Path:
    """Download the model folder of a registered version into ``dst`` through
    ``tracking_uri`` (default: the process's, as ``client``'s); its local path.

    Through the version's download URI, never ``models:/<name>/<version>``: MLflow adds a
    registered_model_meta file to a models:/ download, which the signature did not cover.
    """
    from mlflow.artifacts import download_artifacts

    location = client.get_model_version_download_uri(name, version)
    return Path(download_artifacts(artifact_uri=location, dst_path=str(dst),
                                   tracking_uri=tracking_uri))


def download_version(client, name: str, version: str, dst: Path,
                     tracking_uri: str | None = None) -> dict[str, bytes]:
    """The files of a registered version (its model folder), downloaded into ``dst``."""
    return read_folder(download_folder(client, name, version, dst, tracking_uri))


def sign_version(client, name: str, version: str) -> Signature:
    """Sign the files of ``name`` v``version`` with this process's key and tag the version
    with the signature (promote_staging, once the gate passed)."""
    from carprice.registry.aliases import tag_version

    private_hex = signing_key()  # before the download: a missing key fails at once
    with tempfile.TemporaryDirectory(prefix="carprice-sign-") as tmp:
        signature = sign(download_version(client, name, version, Path(tmp)), name, version,
                         private_hex)
    tag_version(client, name, version, signature.as_tags())
    return signature
