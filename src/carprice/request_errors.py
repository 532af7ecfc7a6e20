"""Small HTTP helpers shared by the data-source guard and the MLflow pre-flight check:
URLs shown without secrets, and request failures told in a few words."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

from carprice.errors import one_line

_ERRNO = re.compile(r"\[Errno (-?\d+)\] ([^'\"\)\]\(]+)")


def redact_url(url: str, limit: int = 150) -> str:
    """scheme://host[:port]/path: no user, password, query or fragment (they may hold tokens)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<malformed URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    query = "?…" if parts.query else ""
    return one_line(f"{parts.scheme}://{netloc}{parts.path}", limit) + query


def redact_source(uri: str) -> str:
    """A csv_uri as it may be stored (MLflow params and tags, run files, the export): a URL
    through redact_url (its userinfo or query may hold a token), an inbox path as is."""
    try:
        is_url = bool(urlsplit(uri).scheme)
    except ValueError:
        return "<malformed URL>"
    return redact_url(uri) if is_url else uri


def describe_request_error(exc: BaseException, limit: int = 200) -> str:
    """A short reason for a failed request, e.g. 'connection refused (errno 111)'.

    requests' own messages repeat the whole URL (query included) and nest three
    exception reprs; the errno text is what a reader needs.
    """
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return one_line(f"HTTP {exc.response.status_code} {exc.response.reason or ''}", limit)
    if isinstance(exc, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.ReadTimeout):
        return "no answer within the read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        prefix = "TLS error"
    elif isinstance(exc, requests.ConnectionError):
        prefix = "connection failed"
    else:
        prefix = type(exc).__name__
    found = _ERRNO.search(str(exc))
    if found:
        return one_line(f"{found.group(2).strip().lower()} (errno {found.group(1)})", limit)
    text = re.sub(r"\?[^\s'\")]*", "?…", str(exc))
    return one_line(f"{prefix}: {text}" if text.strip() else prefix, limit)
