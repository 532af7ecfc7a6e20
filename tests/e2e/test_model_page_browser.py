"""The Model page's drift over time in a real headless Chromium, locally: a `streamlit run`
process serving the exported model (MLflow down) whose prediction-log database (a real
throwaway Postgres cluster) holds three drift reports. Skipped without chromium,
playwright or the PostgreSQL binaries, except under CI=true where that is a failure.
The screenshot lands in the test's tmp dir.
"""

from __future__ import annotations

import os

import pytest

from carprice.serving import drift_store
from tests.conftest import REPO, free_port, in_ci
from tests.e2e.browser import browser_available, streamlit_app
from tests.e2e.model_page_browser import model_page_in_browser
from tests.integration.test_predlog import PgCluster, pg_bin

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def needs():
    reason = browser_available() or (None if pg_bin() else "PostgreSQL binaries not found")
    if reason:
        if in_ci():
            pytest.fail(f"browser test cannot run under CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def reports_dsn(needs):
    cluster = PgCluster(pg_bin())
    cluster.start()
    try:
        for share, year, brand in ((0.0, 0.01, 0.02), (0.2, 0.08, 0.3), (0.6, 0.5, 0.4)):
            drift_store.write_report(cluster.dsn, {
                "model_version": "7", "current_rows": 1000, "drift_share": share,
                "dataset_drift": share >= 0.5, "retrain": share >= 0.5,
                "prediction": {"score": share / 2},
                "features": [{"column": "year", "score": year, "drifted": year > 0.1},
                             {"column": "brand", "score": brand, "drifted": brand > 0.2}]})
        yield cluster.dsn
    finally:
        cluster.remove()


@pytest.fixture(scope="module")
def app_url(reports_dsn, export_dir, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("app")
    (workdir / "params.yaml").write_text((REPO / "params.yaml").read_text())
    log_path = workdir / "streamlit.log"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",  # down
           "CARPRICE_MODELS_DIR": str(export_dir), "CARPRICE_PREDLOG_DSN": reports_dsn,
           "OMP_NUM_THREADS": "1"}
    for name in ("CARPRICE_PROMETHEUS_URL", "PROMETHEUS_USER", "PROMETHEUS_PASSWORD"):
        env.pop(name, None)
    with streamlit_app(env, workdir, log_path) as url:
        yield url


def test_the_model_page_charts_drift_over_time(app_url, tmp_path):
    shot = tmp_path / "model_page.png"
    page = model_page_in_browser(app_url, shot)
    assert page.reports == 3, page.text[:1500]
    assert page.charts == 2, page.text[:1500]  # drift share, then per feature
    assert "monitoring` profile is off" in page.text or "monitoring profile is off" in page.text
    assert shot.is_file() and shot.stat().st_size > 20_000
