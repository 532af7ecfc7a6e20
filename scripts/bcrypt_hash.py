"""Print the bcrypt hash of $HASH_PASSWORD (Prometheus's web login), or $HASH_CURRENT when
it already matches: docker-start-full.sh runs this in the Python base image with both in
the container's environment (never on a command line). Standard library only: the C
library's crypt (libxcrypt on Debian) makes $2b$ hashes."""

import os
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # crypt: gone in 3.13, here 3.11
    import crypt

password = os.environ.get("HASH_PASSWORD", "")
current = os.environ.get("HASH_CURRENT", "").strip("'")
if not password:
    sys.exit("bcrypt_hash: HASH_PASSWORD is empty")
if current.startswith("$2") and crypt.crypt(password, current) == current:
    print(current)
else:
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10))
    if not hashed or not hashed.startswith("$2"):
        sys.exit("bcrypt_hash: this C library cannot make bcrypt hashes")
    print(hashed)
