"""MLflow client settings for stages and the app, and a pre-flight reachability check.

MLflow's client defaults are 7 retries with exponential backoff and a 120 s timeout per
request: with the server down, one stage spent minutes per try before failing.
Bounded settings make a dead server cost seconds, and the pre-flight check turns it into
one clear line naming the URL before the stage does any work.
"""

from __future__ import annotations

import os

import requests
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_fixed,
)

from carprice.config import settings
from carprice.errors import CarpriceError
from carprice.request_errors import describe_request_error, redact_url

# Names and types checked against mlflow/environment_variables.py of MLflow 3.17
# (retries, backoff factor and timeout are read as int).
ENV_MAX_RETRIES = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
ENV_BACKOFF_FACTOR = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"
ENV_TIMEOUT = "MLFLOW_HTTP_REQUEST_TIMEOUT"
ENV_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
DEFAULT_RETRIES = 2
# Worst case per call with the server gone: 3 tries x 10 s + about 1 + 2 s of backoff.
CLIENT_ENV_DEFAULTS: dict[str, str] = {
    ENV_MAX_RETRIES: str(DEFAULT_RETRIES),
    ENV_BACKOFF_FACTOR: "1",
    ENV_TIMEOUT: "10",
    ENV_PROGRESS_BAR: "false",  # progress bars would bury the stages' one-line summaries
}
HEALTH_PATH = "/health"  # answered without credentials, even with basic auth on
PROBE_ATTEMPTS = 3
PROBE_TIMEOUT = (3.0, 5.0)  # seconds to connect, to answer
PROBE_WAIT = 2.0
PROBE_BUDGET = 25.0  # no new attempt after this many seconds


class MlflowUnreachable(CarpriceError):
    """The tracking server did not answer: an infrastructure problem, worth retrying later
    (unlike bad input)."""


def apply_client_defaults(retries: int = DEFAULT_RETRIES) -> None:
    """Bounded MLflow HTTP retries and timeout, unless the environment already chose others.

    The app passes ``retries=0``: a page falls back to the exported model rather than wait.
    """
    for key, value in {**CLIENT_ENV_DEFAULTS, ENV_MAX_RETRIES: str(int(retries))}.items():
        os.environ.setdefault(key, value)


def tracking_uri() -> str | None:
    return settings.current().tracking_uri


def check_reachable(uri: str | None = None, attempts: int = PROBE_ATTEMPTS,
                    wait: float = PROBE_WAIT) -> str | None:
    """GET <uri>/health until it answers 200; MlflowUnreachable (one line) if it never does.

    Returns the probed URL, or None when the tracking URI is not an http(s) server
    (unset, a local folder, sqlite:...): there is nothing to reach.
    """
    uri = uri if uri is not None else tracking_uri()
    if not uri or not uri.lower().startswith(("http://", "https://")):
        return None
    base = uri.rstrip("/")
    url = base + HEALTH_PATH
    retrying = Retrying(
        stop=stop_after_attempt(max(1, attempts)) | stop_after_delay(PROBE_BUDGET),
        wait=wait_fixed(wait), retry=retry_if_exception_type(requests.RequestException),
        reraise=True)
    try:
        for attempt in retrying:
            with attempt:
                resp = requests.get(url, timeout=PROBE_TIMEOUT, allow_redirects=False)
                resp.raise_for_status()
                if resp.status_code != 200:  # a redirect (to a login page?) is no health
                    raise requests.HTTPError(response=resp)
    except requests.RequestException as exc:
        raise MlflowUnreachable(f"MLflow at {redact_url(base)} is unreachable: "
                                f"{describe_request_error(exc)}") from exc
    return url
