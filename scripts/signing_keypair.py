"""Print a new model-signing key pair: "<private hex> <public hex>" (Ed25519, RFC 8032).

    python - < scripts/signing_keypair.py

Standard library only: docker-start-full.sh pipes this file into the base Python image's
stdin when the host has no openssl, so the key is never on a command line. The public
key is derived from the private one here (the RFC's reference arithmetic); the package
itself signs and verifies with `cryptography` (carprice.registry.signing), and
tests/unit/test_signing_keypair.py checks that both agree.
"""

from __future__ import annotations

import hashlib
import os

P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P
Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)


def _add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e = (y1 - x1) * (y2 - x2) % P
    f = (y1 + x1) * (y2 + x2) % P
    g = t1 * 2 * D * t2 % P
    h = z1 * 2 * z2 % P
    e, f, g, h = f - e, h - g, h + g, f + e
    return e * f % P, g * h % P, f * g % P, e * h % P


def _base() -> Point:
    y = 4 * pow(5, P - 2, P) % P
    xx = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    if x & 1:
        x = P - x
    return x, y, 1, x * y % P


def public_key(seed: bytes) -> bytes:
    """The Ed25519 public key of a 32-byte private key (seed)."""
    h = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(h[:32], "little")
    scalar = (scalar & ((1 << 254) - 8)) | (1 << 254)
    result, addend = (0, 1, 1, 0), _base()
    while scalar:
        if scalar & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        scalar >>= 1
    x, y, z, _ = result
    zinv = pow(z, P - 2, P)
    x, y = x * zinv % P, y * zinv % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


if __name__ == "__main__":
    private = os.urandom(32)
    print(private.hex(), public_key(private).hex())
