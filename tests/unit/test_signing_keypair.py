"""The key pair docker-start-full.sh writes into .env: scripts/signing_keypair.py (the
no-openssl path, standard library only) and the script's openssl path agree with the
package's `cryptography` keys."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from carprice.registry import signing
from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "signing_keypair.py"


def load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("signing_keypair", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [bytes(32), bytes(range(32)), os.urandom(32)])
def test_the_stdlib_derivation_matches_cryptography(seed):
    assert load_script().public_key(seed).hex() == signing.public_key_of(seed.hex())


def test_the_script_prints_a_pair_on_stdin_alone():
    """As docker-start-full.sh runs it: the program on stdin, nothing on the command line."""
    out = subprocess.run([sys.executable, "-"], input=SCRIPT.read_text(), text=True,
                         capture_output=True, check=True, timeout=60).stdout.split()
    private, public = out
    assert len(private) == 64 and signing.public_key_of(private) == public
    files = {"f": b"x"}
    signing.verify(files, "m", "1", signing.sign(files, "m", "1", private), public)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl on this machine")
def test_the_start_script_pair_from_openssl_is_a_matching_pair(tmp_path):
    """signing_key_pair of docker-start-full.sh (the openssl path), run for real."""
    script = (f'. "{REPO}/scripts/stack-common.sh"; '
              f'eval "$(sed -n "/^signing_key_pair()/,/^}}/p" "{REPO}/docker-start-full.sh")"; '
              "signing_key_pair")
    out = subprocess.run(["bash", "-c", script], text=True, capture_output=True,
                         check=True, timeout=60, cwd=tmp_path).stdout.split()
    private, public = out
    assert len(private) == 64 and signing.public_key_of(private) == public
