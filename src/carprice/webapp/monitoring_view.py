"""The Model page's monitoring section (Streamlit): the served version's latest drift
check, drift over time per feature (the drift tables), predictions per day (the
prediction log), and the service as Prometheus sees it. Every source is optional: one
missing or down says so in one line and the rest still shows.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from carprice.errors import one_line
from carprice.serving import model_source, prediction_log
from carprice.serving.model_source import Resolution, Source
from carprice.webapp import model_page, prometheus

DRIFT_CHART_TITLE = "Drift over time"  # the e2e finds the section by this heading
# keys of the containers of the two drift charts: Streamlit gives a keyed container the
# CSS class st-key-<key>, which the browser tests look for
DRIFT_CHART_KEYS = ("drift-share", "drift-features")
FEATURE_COLUMNS = 4  # small charts per row


@st.cache_data(ttl=60, show_spinner=False)
def cached_counts() -> pd.DataFrame | None:
    dsn = prediction_log.configured_dsn()
    return prediction_log.counts_per_day(dsn) if dsn else None


@st.cache_data(ttl=30, show_spinner=False)
def cached_drift_history() -> tuple[pd.DataFrame, pd.DataFrame] | None:
    dsn = prediction_log.configured_dsn()
    return model_page.drift_history(dsn) if dsn else None


@st.cache_data(ttl=15, show_spinner=False)
def cached_service_health() -> prometheus.ServiceHealth | None:
    prom = prometheus.Prometheus.from_env()
    return prometheus.service_health(prom) if prom else None


def render(res: Resolution) -> None:
    service_health()
    if res.source == Source.REGISTRY and res.version and res.tracking_uri:
        latest_check(res.model_name, res.version, res.tracking_uri)
    drift_over_time()


def service_health() -> None:
    health = cached_service_health()
    if health is None:
        st.caption(prometheus.PROFILE_OFF)
        return
    served, p95, errors = st.columns(3)
    served.metric("Served by the API (Prometheus)", ", ".join(health.served) or "nothing")
    p95.metric("Request latency p95, 5 min",
               "no traffic" if health.latency_p95_ms is None else f"{health.latency_p95_ms:.1f} ms")
    errors.metric("Error rate (5xx), 5 min",
                  "no traffic" if health.error_rate is None else f"{health.error_rate:.2%}")
    if health.problem:
        st.caption(f"Service metrics incomplete: {health.problem}")


def latest_check(name: str, version: str, uri: str) -> None:
    """The latest drift check of the served version and the predictions per day."""
    try:
        found = model_page.latest_drift(name, version, uri, model_source.monitor_experiment())
        counts = cached_counts()
    except Exception as exc:  # noqa: BLE001 - monitoring data is optional on this page
        st.caption(f"Monitoring data unavailable: {one_line(exc)}")
        return
    left, right = st.columns(2)
    if found is None:
        left.info(f"v{version} has not been checked for drift yet "
                  "(DAG car_price_monitoring).")
    else:
        say = left.warning if found["retrain"] else left.success
        say(f"Drift of v{version}: {found['reason']}")
        left.caption(f"Report: MLflow run {found['run_id']}, artifact {found['report']}")
    if counts is not None and len(counts):
        right.markdown("**Predictions per day** (prediction log)")
        right.bar_chart(counts.pivot_table(index="day", columns="source",
                                           values="predictions", aggfunc="sum"))


def drift_over_time() -> None:
    """The drift share of every stored report, then each feature's score over time."""
    st.subheader(DRIFT_CHART_TITLE)
    try:
        history = cached_drift_history()
    except Exception as exc:  # noqa: BLE001 - the database is optional on this page
        st.caption(f"Drift history unavailable: {one_line(exc)}")
        return
    if history is None:
        st.caption("No drift history: the prediction log database is not configured "
                   "(CARPRICE_PREDLOG_DSN).")
        return
    reports, scores = history
    if reports.empty:
        st.info("No drift report stored yet: run the DAG car_price_monitoring.")
        return
    share = model_page.drift_share_series(reports)
    st.markdown(f"**Share of drifted features**: {len(share)} drift reports, "
                f"{share['created_at'].iloc[0]:%Y-%m-%d %H:%M} to "
                f"{share['created_at'].iloc[-1]:%Y-%m-%d %H:%M} UTC")
    time_axis = alt.X("created_at:T", title=None)
    share_chart = alt.Chart(share).mark_line(point=True).encode(
        x=time_axis, y=alt.Y("drift_share:Q", title="drift share", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("model_version:N", title="version"),
        tooltip=["created_at:T", "model_version", "drift_share", "retrain"])
    st.container(key=DRIFT_CHART_KEYS[0]).altair_chart(share_chart, use_container_width=True)
    features = model_page.feature_series(scores)
    if features.empty:
        return
    st.markdown("**Drift score per feature** (Wasserstein distance in reference standard "
                "deviations for numbers, Jensen-Shannon distance for categories)")
    # one line per feature, its points colored by the verdict of each report
    base = alt.Chart().encode(x=time_axis, y=alt.Y("score:Q", title="score"),
                              tooltip=["feature", "created_at:T", "score", "drifted"])
    points = base.mark_point(filled=True, size=40).encode(
        color=alt.Color("drifted:N", title="drifted",
                        scale=alt.Scale(domain=[False, True], range=["#4c78a8", "#e45756"])))
    per_feature = (alt.layer(base.mark_line(color="#9ca3af"), points, data=features)
                   .properties(width=260, height=140)
                   .facet(facet=alt.Facet("feature:N", title=None,
                                          sort=list(dict.fromkeys(features["feature"]))),
                          columns=FEATURE_COLUMNS)
                   .resolve_scale(y="independent"))
    st.container(key=DRIFT_CHART_KEYS[1]).altair_chart(per_feature)
