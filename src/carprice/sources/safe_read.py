"""Which data sources a pipeline run may read.

``data.csv_uri`` can be typed into the Airflow trigger form, so it is untrusted: without
this guard a run could read any file of the stage container (/etc/passwd) or make the
container call the stack's own services (http://mlflow:5000/api/...). Allowed:

- a file inside the data inbox (``$CARPRICE_INBOX_DIR``, default ``<data dir>/inbox``),
  named ``inbox/<file>``, ``<file>`` or by its absolute path; no ``..``, no symlinks;
- an http(s) URL whose host resolves only to public addresses, or whose host is listed
  in ``$CARPRICE_SOURCE_ALLOWED_HOSTS`` (comma-separated names). Redirects are followed
  by hand and every hop is checked again; the connected peer is checked too, so a DNS
  answer that changes between the check and the connection cannot slip through.

Every refusal is a SourceError with a one-line reason, raised before anything is read.

Parquet (``read_parquet``): every parquet a stage loads, its own run folder's included, is
checked by its footer first: more rows or more uncompressed bytes than the stage's memory
limit holds (carprice.config.limits) is refused in one line before any column is read.
"""

from __future__ import annotations

import io
import ipaddress
import os
import socket
import stat
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from carprice.config import limits, settings
from carprice.errors import CarpriceError, InputError, one_line
from carprice.request_errors import describe_request_error, redact_url

INBOX_PREFIX = "inbox"  # csv_uri "inbox/cars.csv" means <inbox dir>/cars.csv
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0  # seconds to connect, and between two received chunks
MAX_DOWNLOAD_SECONDS = 900.0  # a slow trickle must not hold a worker slot for hours
MAX_REDIRECTS = 5
URL_SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Resolver = Callable[[str, int], Iterable[str]]


class SourceError(InputError):
    """A source that may not or cannot ever be read, with a one-line reason (never retried)."""


class SourceUnavailable(CarpriceError):
    """A source that could not be reached this time (DNS, network, server error): retried."""


# ---------------------------------------------------------------- settings


def inbox_dir() -> Path:
    """The only folder local CSVs are read from."""
    return _settings().inbox


def allowed_hosts() -> frozenset[str]:
    """Host names exempt from the public-address rule (e.g. an internal file server)."""
    raw = _settings().source_allowed_hosts
    return frozenset(_host_key(h) for h in raw.split(",") if h.strip())


def max_bytes() -> int:
    return int(_settings().source_max_bytes or DEFAULT_MAX_BYTES)


def timeout() -> float:
    return _settings().source_timeout or DEFAULT_TIMEOUT


def _settings() -> settings.Settings:
    try:
        return settings.current()
    except settings.SettingsError as exc:  # a source refused for its settings: not retried
        raise SourceError(str(exc)) from None


def _host_key(host: str) -> str:
    return host.strip().lower().rstrip(".")


def is_url(uri: str) -> bool:
    """Anything with a scheme (http:, file:, ftp:, data:...) is a URL, not an inbox path."""
    try:
        return bool(urlsplit(uri).scheme)
    except ValueError:
        return True  # unparsable: let check_url refuse it with a reason


# ---------------------------------------------------------------- local files


def _quote(uri: str) -> str:
    """A csv_uri quoted for a one-line message, however long or strange it is."""
    return repr(uri) if len(uri) <= 120 else repr(uri[:117] + "...")


def _inbox_relative(uri: str, root: Path) -> PurePosixPath:
    """The part of ``uri`` below the inbox, refusing anything that points elsewhere."""
    path = PurePosixPath(uri)
    if ".." in path.parts:
        raise SourceError(f"csv_uri {_quote(uri)} must not contain '..': name a file in the "
                          f"inbox folder {root}")
    if path.is_absolute():
        normal = PurePosixPath(os.path.normpath(uri))
        for base in (root, Path(os.path.realpath(root))):
            if normal.is_relative_to(base):
                return normal.relative_to(base)
        raise SourceError(f"csv_uri {_quote(uri)} is outside the data inbox {root}: put the CSV "
                          f"there and set csv_uri to {INBOX_PREFIX}/<file name>")
    parts = path.parts[1:] if path.parts[:1] == (INBOX_PREFIX,) else path.parts
    return PurePosixPath(*parts)


def resolve_local(uri: str, inbox: Path | None = None) -> Path:
    """The inbox file ``uri`` names; SourceError if it is outside, a link or missing."""
    root = Path(os.path.abspath(inbox if inbox is not None else inbox_dir()))
    if "\x00" in uri:
        raise SourceError("csv_uri contains a NUL character")
    rel = _inbox_relative(uri, root)
    shown = _quote(f"{INBOX_PREFIX}/{rel}")
    if not rel.parts:
        raise SourceError(f"csv_uri {_quote(uri)} names the inbox folder {root}, "
                          "not a CSV file in it")
    real_root = Path(os.path.realpath(root))
    if not real_root.is_dir():
        raise SourceError(f"CSV file not found: {shown} (the inbox folder {root} does not "
                          f"exist; create it and put the CSV there)")
    current, info = real_root, None
    for part in rel.parts:  # lstat each step: a link anywhere below the inbox is refused
        current = current / part
        try:
            info = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            raise SourceError(f"CSV file not found: {shown} (looked in the inbox folder "
                              f"{root})") from None
        except OSError as exc:
            raise SourceError(f"cannot read {shown} in the inbox folder {root}: "
                              f"{exc.strerror or type(exc).__name__}") from None
        if stat.S_ISLNK(info.st_mode):
            link = _quote(f"{INBOX_PREFIX}/{current.relative_to(real_root)}")
            raise SourceError(f"{link} is a symbolic link; links are not followed: "
                              f"copy the file into {root}")
    if info is None or not stat.S_ISREG(info.st_mode):
        raise SourceError(f"{shown} in the inbox folder {root} is not a regular file")
    if not Path(os.path.realpath(current)).is_relative_to(real_root):
        raise SourceError(f"{shown} resolves outside the inbox folder {root}")
    return current


def read_local(uri: str, inbox: Path | None = None, limit: int | None = None) -> bytes:
    """Bytes of an inbox file, opened without following a link (swapped in after the check)."""
    path = resolve_local(uri, inbox)
    limit = max_bytes() if limit is None else limit
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SourceError(f"cannot open {_quote(uri)}: "
                          f"{exc.strerror or type(exc).__name__}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceError(f"{_quote(uri)} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise SourceError(f"{_quote(uri)} is larger than {limit} bytes "
                          f"({settings.ENV_SOURCE_MAX_BYTES})")
    return data


# ---------------------------------------------------------------- URLs


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (what the connection may end up using)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def address_problem(address: str) -> str | None:
    """Why a source may not be fetched from this IP ('loopback', 'private'...), or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "unparsable"
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    if ip.version == 6:  # IPv4 wrapped in IPv6 (mapped, 6to4, NAT64) is checked as IPv4
        candidates += [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
        if ip in _NAT64:
            candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    candidates.append(ip)
    for one in candidates:
        for label, hit in (("loopback", one.is_loopback), ("link-local", one.is_link_local),
                           ("unspecified", one.is_unspecified), ("multicast", one.is_multicast),
                           ("private", one.is_private), ("reserved", one.is_reserved),
                           ("non-public", not one.is_global)):
            if hit:
                return label
    return None


def check_url(url: str, resolve: Resolver | None = None,
              allowed: Iterable[str] | None = None) -> None:
    """Refuse a URL that is not http(s) or whose host resolves to a non-public address."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise SourceError(f"csv_uri is not a valid URL: {one_line(str(exc), 100)}") from None
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        raise SourceError(f"csv_uri scheme {scheme[:20]!r} is not allowed: use an http(s) URL "
                          f"or a file in the data inbox ({INBOX_PREFIX}/<file name>)")
    if not host:
        raise SourceError(f"csv_uri {shown} has no host")
    allowed = allowed_hosts() if allowed is None else {_host_key(h) for h in allowed}
    if _host_key(host) in allowed:
        return
    try:
        addresses = list((resolve or system_resolve)(host, port or _default_port(scheme)))
    except (OSError, UnicodeError) as exc:
        reason = one_line(getattr(exc, "strerror", None) or type(exc).__name__)
        raise SourceUnavailable(f"cannot resolve the host of {shown}: {reason}") from None
    if not addresses:
        raise SourceError(f"the host of {shown} resolves to no address")
    for address in addresses:
        problem = address_problem(address)
        if problem:
            raise SourceError(_refusal(shown, address, problem))


def _refusal(shown: str, address: str, problem: str) -> str:
    return (f"{shown} resolves to {address}, a {problem} address: only public hosts are "
            f"fetched, unless listed in {settings.ENV_SOURCE_ALLOWED_HOSTS}")


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _check_peer(conn: HTTPConnection, sock: socket.socket) -> None:
    """After connecting: the address actually reached must pass the same rule."""
    if _host_key(conn.host) in allowed_hosts():
        return
    address = str(sock.getpeername()[0])
    problem = address_problem(address)
    if problem:
        sock.close()
        raise SourceError(_refusal(f"host {conn.host}", address, problem))


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool,
                                                   "https": _GuardedHTTPSPool}


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: the peer check must see the host
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fetch_url(url: str, limit: int | None = None, resolve: Resolver | None = None) -> bytes:
    """Download a checked URL: redirects re-checked hop by hop, size and time bounded."""
    limit = max_bytes() if limit is None else limit
    wait = timeout()
    deadline = time.monotonic() + MAX_DOWNLOAD_SECONDS
    with _session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url, resolve)
            try:
                resp = session.get(url, stream=True, allow_redirects=False, timeout=wait)
            except requests.RequestException as exc:
                raise SourceUnavailable(f"cannot download {redact_url(url)}: "
                                        f"{describe_request_error(exc)}") from exc
            with resp:
                if resp.is_redirect:
                    url = urljoin(url, resp.headers["location"])
                    continue
                return _body(resp, redact_url(url), limit, deadline)
    raise SourceError(f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")


def _body(resp: requests.Response, shown: str, limit: int, deadline: float) -> bytes:
    if not resp.ok:  # a server error may pass; a 4xx will not
        error = SourceUnavailable if resp.status_code >= 500 or resp.status_code == 429 \
            else SourceError
        raise error(f"cannot download {shown}: HTTP {resp.status_code} "
                    f"{one_line(resp.reason or '', 60)}".rstrip())
    too_big = f"{shown} is larger than {limit} bytes ({settings.ENV_SOURCE_MAX_BYTES})"
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise SourceError(too_big)
    chunks, size = [], 0
    try:
        for chunk in resp.iter_content(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise SourceError(too_big)
            if time.monotonic() > deadline:
                raise SourceUnavailable(f"{shown} took longer than "
                                        f"{MAX_DOWNLOAD_SECONDS:.0f} s to download")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise SourceUnavailable(f"cannot download {shown}: "
                                f"{describe_request_error(exc)}") from exc
    return b"".join(chunks)


# ---------------------------------------------------------------- parquet


def check_parquet(source: Path | bytes, shown: str, memory: int | None = None) -> None:
    """Refuse a parquet whose footer declares more rows or uncompressed bytes than a stage
    with ``memory`` bytes (default: this process's stage limit) can load."""
    import pyarrow.parquet as pq

    memory = limits.stage_memory_bytes() if memory is None else memory
    try:
        meta = pq.ParquetFile(io.BytesIO(source) if isinstance(source, bytes)
                              else source).metadata
    except (OSError, ValueError) as exc:  # pyarrow's errors are ValueError/OSError
        raise SourceError(f"cannot read {shown} as parquet: {one_line(exc, 200)}") from None
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    rows_cap, bytes_cap = limits.max_rows(memory), limits.max_parquet_bytes(memory)
    within = f"within the stage memory limit of {memory // 2**20} MiB " \
             f"({settings.ENV_STAGE_MEM_LIMIT})"
    if meta.num_rows > rows_cap:
        raise SourceError(f"{shown} has {meta.num_rows:,} rows; at most {rows_cap:,} fit "
                          f"{within}")
    if size > bytes_cap:
        raise SourceError(f"{shown} holds {size // 2**20:,} MiB uncompressed; at most "
                          f"{bytes_cap // 2**20:,} MiB fit {within}")


def read_parquet(source: str | Path | bytes, shown: str | None = None):
    """A parquet file or its bytes as a DataFrame, after check_parquet."""
    import pandas as pd

    data = source if isinstance(source, bytes) else Path(source)
    shown = shown or (Path(source).name if not isinstance(source, bytes) else "parquet")
    check_parquet(data, shown)
    try:
        return pd.read_parquet(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read {shown} as parquet: {one_line(exc, 200)}") from None


# ---------------------------------------------------------------- entry point


def read_source(uri: str) -> bytes:
    """Bytes of a csv_uri: an inbox file or a checked http(s) URL."""
    uri = uri.strip()
    if not uri:
        raise SourceError("csv_uri is empty")
    return fetch_url(uri) if is_url(uri) else read_local(uri)
