"""The proxy's own behaviour, without the stack: the stack's Caddy image running
proxy/Caddyfile and proxy/entrypoint.sh as compose does, in front of one echo server that
answers to the four upstream names and shows the request it got. Checks what the e2e
(tests/e2e/test_proxy.py) cannot isolate: the TLS modes (local CA, the user's certificate),
the app's login, the Host rewrite for MLflow, and X-Forwarded-For set to the real peer.
Skipped without a Docker engine or the images (tests/e2e/run.sh provides them)."""

from __future__ import annotations

import datetime
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.integration
CADDY = os.environ.get("CADDY_IMAGE", "caddy:2.11")
PYTHON = os.environ.get("PYTHON_BASE_IMAGE", "python:3.11-slim-bookworm")
# containers and the network of a run: <prefix>-<random>
PREFIX = os.environ.get("CARPRICE_TEST_DOCKER_PREFIX", "proxytest")
UPSTREAMS = ("streamlit", "airflow-apiserver", "mlflow", "api")
ECHO = """
import json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"port": self.server.server_port,
                           "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
servers = [ThreadingHTTPServer(("0.0.0.0", p), H) for p in (8501, 8080, 5000, 8000)]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
"""


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {args[0]}: {proc.stderr[-500:]}")
    return proc.stdout.strip()


def usable() -> str | None:
    try:
        if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode:
            return "no Docker engine"
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return "no Docker engine"
    for image in (CADDY, PYTHON):
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
            return f"image {image} missing"
    return None


@pytest.fixture(scope="module")
def upstream():
    reason = usable()
    if reason:
        pytest.skip(reason)
    name = f"{PREFIX}-{secrets.token_hex(4)}"
    docker("network", "create", name)
    aliases = [arg for alias in UPSTREAMS for arg in ("--network-alias", alias)]
    docker("run", "-d", "--name", f"{name}-echo", "--network", name, *aliases, PYTHON,
           "python", "-c", ECHO)
    try:
        yield name
    finally:
        docker("rm", "-f", "-v", f"{name}-echo", check=False)
        docker("network", "rm", name, check=False)


def start_proxy(network: str, cert: Path | None = None, key: Path | None = None):
    """The proxy as compose runs it; (container name, {container port: host port}, pw)."""
    name, password = f"{network}-caddy-{secrets.token_hex(2)}", secrets.token_hex(8)
    ports = {port: free_port() for port in (8443, 8444, 8445, 8446)}
    published = [arg for port, host in ports.items()
                 for arg in ("-p", f"127.0.0.1:{host}:{port}")]
    env = {**os.environ, "STREAMLIT_PASSWORD": password}
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "--network", network,
         "-e", "PROXY_HOSTNAMES=localhost", "-e", "STREAMLIT_USER=carprice",
         "-e", "STREAMLIT_PASSWORD",  # from this process's environment, not argv
         "-v", f"{REPO / 'proxy' / 'Caddyfile'}:/etc/caddy/Caddyfile:ro",
         "-v", f"{REPO / 'proxy' / 'entrypoint.sh'}:/etc/caddy/entrypoint.sh:ro",
         "-v", f"{cert or '/dev/null'}:/etc/caddy/certs/cert.pem:ro",
         "-v", f"{key or '/dev/null'}:/etc/caddy/certs/key.pem:ro",
         *published, "--entrypoint", "sh", CADDY, "/etc/caddy/entrypoint.sh"],
        env=env, check=True, capture_output=True, timeout=120)
    return name, ports, password


def wait_tls(name: str, url: str, verify: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, verify=verify, timeout=5)
            return
        except requests.exceptions.SSLError:
            pass  # no certificate yet
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise AssertionError(f"proxy not serving TLS after {timeout} s: "
                         f"{docker('logs', name, check=False)[-1500:]}")


def test_local_ca_login_host_rewrite_and_forwarded_for(upstream, tmp_path):
    name, ports, password = start_proxy(upstream)
    try:
        ca = tmp_path / "root.crt"
        deadline = time.monotonic() + 180  # bcrypt and the CA on a busy machine
        while subprocess.run(["docker", "cp", f"{name}:/data/caddy/pki/authorities/local/"
                              "root.crt", str(ca)], capture_output=True).returncode:
            assert time.monotonic() < deadline, docker("logs", name, check=False)[-1500:]
            time.sleep(1)
        base = {port: f"https://localhost:{host}" for port, host in ports.items()}
        wait_tls(name, base[8444], str(ca))
        # verify= on every call: a Session's verify loses to REQUESTS_CA_BUNDLE when set
        with requests.Session() as http:
            assert http.get(base[8443], verify=str(ca), timeout=10).status_code == 401
            wrong = http.get(base[8443], auth=("carprice", "wrong"), verify=str(ca), timeout=30)
            assert wrong.status_code == 401
            app = http.get(base[8443], auth=("carprice", password), verify=str(ca), timeout=30)
            assert app.status_code == 200 and app.json()["port"] == 8501
            assert app.headers["Strict-Transport-Security"].startswith("max-age=")
            assert http.get(base[8444], verify=str(ca),
                            timeout=10).json()["port"] == 8080  # Airflow: its own login
            mlflow = http.get(base[8445], verify=str(ca), timeout=10).json()
            assert (mlflow["port"], mlflow["headers"]["Host"]) == (5000, "mlflow:5000")
            api = http.get(base[8446], headers={"X-Forwarded-For": "6.6.6.6", "X-API-Key": "k"},
                           verify=str(ca), timeout=10).json()
            assert api["port"] == 8000 and api["headers"]["X-Api-Key"] == "k"
            assert api["headers"]["X-Forwarded-For"] != "6.6.6.6"  # the real peer instead
        with pytest.raises(requests.exceptions.SSLError):  # the system CAs do not vouch
            requests.get(base[8444], verify=True, timeout=10)
    finally:
        docker("rm", "-f", "-v", name, check=False)


def test_the_users_certificate_replaces_the_local_ca(upstream, tmp_path):
    cert, key = self_signed(tmp_path)
    name, ports, _ = start_proxy(upstream, cert, key)
    try:
        url = f"https://localhost:{ports[8444]}"
        wait_tls(name, url, str(cert))
        # verified against that certificate alone: the proxy serves it, not the local CA's
        assert requests.get(url, verify=str(cert), timeout=10).json()["port"] == 8080
    finally:
        docker("rm", "-f", "-v", name, check=False)


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for localhost that is its own CA (what a user could bring)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o644)  # read by Caddy in its container
    return cert_path, key_path
