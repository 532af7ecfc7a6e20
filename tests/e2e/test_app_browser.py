"""A prediction through the running app in a real headless Chromium.

The app runs as its own `streamlit run` process on a free loopback port, against the
integration fixtures' MLflow server and promoted model (no Docker). Skipped when
chromium or playwright is missing, except under CI=true where that is a failure.
The screenshot lands in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import REPO, in_ci
from tests.e2e.browser import browser_available, predict_in_browser, streamlit_app

pytestmark = pytest.mark.integration

ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture(scope="module")
def browser_ready():
    reason = browser_available()
    if reason:
        if in_ci():
            pytest.fail(f"browser test cannot run under CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def app_url(browser_ready, mlflow_server, promoted_model, tmp_path_factory):
    """A `streamlit run app/streamlit_app.py` process serving the promoted model."""
    log_path = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server,
           "CARPRICE_MODELS_DIR": str(promoted_model["models_dir"]),
           "CARPRICE_ALIAS_TTL_SECONDS": "5", "OMP_NUM_THREADS": "1"}
    with streamlit_app(env, promoted_model["workdir"], log_path) as url:
        yield url


def test_prediction_in_a_real_browser(app_url):
    shot = ARTIFACTS / "app_prediction.png"
    price = predict_in_browser(app_url, shot)
    assert re.fullmatch(r"[\d ]+ DH", price), price
    assert int(price.removesuffix(" DH").replace(" ", "")) > 1000
    assert shot.is_file() and shot.stat().st_size > 10_000
