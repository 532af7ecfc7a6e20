"""carprice.sources.safe_read: csv_uri may name only inbox files and public http(s) URLs.

URL checks take an injected resolver where a name must resolve to a given address; the
download tests talk to a real HTTP server on 127.0.0.1 (allowed by name where needed).
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from carprice.config import settings
from carprice.pipeline import container
from carprice.sources import SourceError, load, safe_read
from carprice.sources.csv_reader import read_csv

CSV = b"brand,model,price_dh\nDacia,Logan,90000\nRenault,Clio,80000\n"
PUBLIC = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]


def public(host: str, port: int) -> list[str]:
    return PUBLIC


def must_not_resolve(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} was resolved although it is allowed by name")


@pytest.fixture
def inbox(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "cars.csv").write_bytes(CSV)
    monkeypatch.setenv(settings.ENV_INBOX_DIR, str(folder))
    monkeypatch.delenv(settings.ENV_SOURCE_ALLOWED_HOSTS, raising=False)
    monkeypatch.delenv(settings.ENV_SOURCE_MAX_BYTES, raising=False)
    return folder


def refused(uri: str, match: str, kind: type[Exception] = SourceError) -> str:
    """``uri`` fails before any data is read: one short line, of the given kind (refusals
    are input errors, never retried; an unreachable source may answer later)."""
    with pytest.raises(kind, match=match) as info:
        safe_read.read_source(uri)
    message = str(info.value)
    assert "\n" not in message and len(message) <= 500
    return message


# ---------------------------------------------------------------- local files


def test_inbox_defaults_to_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(settings.ENV_INBOX_DIR, raising=False)
    monkeypatch.delenv(container.ENV_DATA_DIR, raising=False)
    assert safe_read.inbox_dir() == Path("data/inbox")
    monkeypatch.setenv(container.ENV_DATA_DIR, "/app/data")
    assert safe_read.inbox_dir() == Path("/app/data/inbox")
    monkeypatch.setenv(settings.ENV_INBOX_DIR, str(tmp_path))
    assert safe_read.inbox_dir() == tmp_path


@pytest.mark.parametrize("name", ["inbox/cars.csv", "cars.csv", "./cars.csv", "ABSOLUTE"])
def test_an_inbox_file_is_read_however_it_is_named(inbox, name):
    uri = str(inbox / "cars.csv") if name == "ABSOLUTE" else name
    assert safe_read.read_source(uri) == CSV


def test_the_pipeline_source_reads_an_inbox_csv(inbox):
    sub = inbox / "2026" / "june.csv"
    sub.parent.mkdir()
    sub.write_bytes(CSV)
    frame = load({"source": "csv", "csv_uri": "inbox/2026/june.csv"})
    assert list(frame.columns) == ["brand", "model", "price_dh"]
    assert frame["price_dh"].tolist() == ["90000", "80000"]


@pytest.mark.parametrize("uri, match", [
    ("/etc/passwd", "outside the data inbox"),
    ("../outside.csv", "must not contain '..'"),
    ("inbox/../inbox/cars.csv", "must not contain '..'"),
    ("sub/../../outside.csv", "must not contain '..'"),
    ("inbox", "names the inbox folder"),
    ("inbox/", "names the inbox folder"),
    ("cars\x00.csv", "NUL"),
])
def test_paths_outside_the_inbox_are_refused(inbox, uri, match):
    (inbox.parent / "outside.csv").write_bytes(CSV)
    refused(uri, match)


def test_an_absolute_path_with_dots_is_refused_even_if_it_lands_inside(inbox):
    refused(f"{inbox}/../{inbox.name}/cars.csv", "must not contain '..'")


def test_symlinks_are_refused_wherever_they_are(inbox, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_bytes(CSV)
    (inbox / "link.csv").symlink_to(secret)
    (inbox / "inner.csv").symlink_to(inbox / "cars.csv")  # even one staying inside
    (inbox / "dir").symlink_to(tmp_path)
    refused("inbox/link.csv", r"'inbox/link.csv' is a symbolic link")
    refused("inner.csv", "is a symbolic link")
    refused("inbox/dir/secret.csv", r"'inbox/dir' is a symbolic link")
    refused(str(inbox / "link.csv"), "is a symbolic link")


def test_a_missing_file_names_its_inbox_path_and_the_folder(inbox):
    message = refused("inbox/2025/cars.csv", "CSV file not found")
    assert "'inbox/2025/cars.csv'" in message and str(inbox) in message


def test_a_missing_inbox_folder_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.ENV_INBOX_DIR, str(tmp_path / "nowhere"))
    refused("cars.csv", "does not exist")


def test_special_files_and_folders_are_not_read(inbox):
    os.mkfifo(inbox / "pipe.csv")  # opening a FIFO for reading would hang
    (inbox / "folder.csv").mkdir()
    refused("pipe.csv", "not a regular file")
    refused("folder.csv", "not a regular file")


def test_local_files_are_capped_in_size(inbox, monkeypatch):
    monkeypatch.setenv(settings.ENV_SOURCE_MAX_BYTES, str(len(CSV) - 1))
    refused("cars.csv", "larger than")
    monkeypatch.setenv(settings.ENV_SOURCE_MAX_BYTES, str(len(CSV)))
    assert safe_read.read_source("cars.csv") == CSV
    monkeypatch.setenv(settings.ENV_SOURCE_MAX_BYTES, "lots")
    refused("cars.csv", f"{settings.ENV_SOURCE_MAX_BYTES} must be a positive number")


# ---------------------------------------------------------------- URL checks


@pytest.mark.parametrize("url, kind", [
    ("http://127.0.0.1:5000/api/2.0/mlflow/experiments/search", "loopback"),
    ("http://localhost/cars.csv", "loopback"),
    ("http://[::1]:8080/cars.csv", "loopback"),
    ("http://2130706433/cars.csv", "loopback"),  # 127.0.0.1 written as one number
    ("http://[::ffff:127.0.0.1]/cars.csv", "loopback"),
    ("http://[2002:7f00:1::]/cars.csv", "loopback"),  # 6to4 around 127.0.0.1
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.1.2.3/cars.csv", "private"),
    ("http://172.16.5.4/cars.csv", "private"),
    ("http://192.168.1.10/cars.csv", "private"),
    ("http://0.0.0.0:5000/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://100.64.0.1/", "non-public"),  # carrier-grade NAT
])
def test_urls_to_internal_addresses_are_refused(url, kind):
    with pytest.raises(SourceError, match=f"a {kind} address"):
        safe_read.check_url(url, allowed=())


def test_a_stack_service_name_is_refused_by_what_it_resolves_to():
    def docker_dns(host, port):
        assert (host, port) == ("mlflow", 5000)
        return ["172.18.0.3"]

    with pytest.raises(SourceError, match=r"resolves to 172\.18\.0\.3, a private address"):
        safe_read.check_url("http://mlflow:5000/api/2.0/mlflow/registered-models/search",
                        resolve=docker_dns, allowed=())


def test_every_address_of_a_name_must_be_public():
    with pytest.raises(SourceError, match="10.0.0.5"):
        safe_read.check_url("https://mixed.example.org/cars.csv",
                        resolve=lambda h, p: [*PUBLIC, "10.0.0.5"], allowed=())


def test_a_public_url_passes_the_check():
    safe_read.check_url("https://data.example.org/exports/cars.csv?token=x", resolve=public,
                    allowed=())


def test_an_allowed_host_is_not_resolved_at_all(monkeypatch):
    monkeypatch.setenv(settings.ENV_SOURCE_ALLOWED_HOSTS, " files.internal. , MLflow ")
    assert safe_read.allowed_hosts() == {"files.internal", "mlflow"}
    safe_read.check_url("http://files.internal/cars.csv", resolve=must_not_resolve)
    safe_read.check_url("http://mlflow:5000/x.csv", resolve=must_not_resolve)
    with pytest.raises(SourceError, match="private"):
        safe_read.check_url("http://other:80/x.csv", resolve=lambda h, p: ["10.0.0.1"])


@pytest.mark.parametrize("uri", [
    "file:///etc/passwd", "FILE:/etc/passwd", "ftp://example.org/cars.csv",
    "data:text/csv,brand%0ADacia", "gopher://example.org/", "jar:http://x/y!/z",
])
def test_other_schemes_are_refused_before_reading(inbox, uri):
    refused(uri, "scheme .* is not allowed")


def test_unresolvable_and_malformed_urls_get_one_line_reasons(inbox):
    refused("http://host.invalid/cars.csv", "cannot resolve the host", safe_read.SourceUnavailable)
    refused("http://example.org:99999/cars.csv", "not a valid URL")
    refused("http:///cars.csv", "has no host")


def test_credentials_and_query_never_reach_the_message():
    with pytest.raises(SourceError) as info:
        safe_read.check_url("http://user:hunter2@127.0.0.1/c.csv?sig=s3cr3t", allowed=())
    assert "hunter2" not in str(info.value) and "s3cr3t" not in str(info.value)


# ---------------------------------------------------------------- downloads (real server)


class Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict, bytes]] = {}

    def do_GET(self):  # noqa: N802 - http.server's name
        status, headers, body = self.routes.get(self.path, (404, {}, b"no"))
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **headers}.items():
            if value is not None:
                self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    Handler.routes = {
        "/cars.csv": (200, {}, CSV),
        "/to-cars": (302, {"Location": "/cars.csv"}, b""),
        "/to-localhost": (302, {"Location": base.replace("127.0.0.1", "localhost") + "/cars.csv"},
                          b""),
        "/to-file": (301, {"Location": "file:///etc/passwd"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/unsized": (200, {"Content-Length": None}, CSV * 100),
    }
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def allow_loopback(inbox, monkeypatch):
    monkeypatch.setenv(settings.ENV_SOURCE_ALLOWED_HOSTS, "127.0.0.1")


def test_a_download_from_an_allowed_host_is_read(server, allow_loopback):
    assert safe_read.read_source(f"{server}/cars.csv") == CSV
    frame = read_csv(f"{server}/to-cars")
    assert frame["model"].tolist() == ["Logan", "Clio"]


def test_the_peer_is_checked_even_when_dns_said_public(server, inbox):
    """A name answering a public address to the check and loopback to the connection
    (DNS rebinding) is stopped when the connection is made."""
    with pytest.raises(SourceError, match="127.0.0.1, a loopback address"):
        safe_read.fetch_url(f"{server}/cars.csv", resolve=public)


@pytest.mark.parametrize("path, match", [
    ("/to-localhost", "localhost.* a loopback address"),  # allowed host -> unlisted host
    ("/to-file", "scheme 'file' is not allowed"),
    ("/loop", "more than 5 redirects"),
    ("/missing.csv", "HTTP 404"),
])
def test_redirects_are_checked_hop_by_hop(server, allow_loopback, path, match):
    refused(f"{server}{path}", match)


def test_downloads_are_capped_in_size(server, allow_loopback, monkeypatch):
    monkeypatch.setenv(settings.ENV_SOURCE_MAX_BYTES, str(len(CSV) * 10))
    refused(f"{server}/unsized", "larger than")  # counted while streaming
    monkeypatch.setenv(settings.ENV_SOURCE_MAX_BYTES, str(len(CSV) - 1))
    refused(f"{server}/cars.csv", "larger than")  # refused on Content-Length


def test_a_closed_port_is_a_one_line_download_error(allow_loopback):
    import socket

    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        refused(f"http://127.0.0.1:{port}/cars.csv", "cannot download .*connection refused",
                safe_read.SourceUnavailable)
