"""CarPrice: price a used car with the model the pipeline promoted to production.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 streamlit run app/streamlit_app.py

The logic lives in carprice: which model to serve and loading it (served), scoring
(scoring), form choices (choices), registry history and evaluation (model_page),
monitoring (monitoring_view). This file only lays out the page.
"""

from __future__ import annotations

import logging
from pathlib import Path

from carprice.serving import model_source

model_source.apply_client_defaults()  # before any MLflow call: a dead server costs seconds

import altair as alt  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from carprice.contract import catalog, schema  # noqa: E402
from carprice.errors import CarpriceError, InputError, one_line  # noqa: E402
from carprice.model.estimator import LOWER, OUTPUT_COLUMNS, PREDICTED, PRICE, UPPER  # noqa: E402
from carprice.model.pyfunc import example_car, model_categories, smoke_examples  # noqa: E402
from carprice.monitoring import notify  # noqa: E402
from carprice.pipeline.run_folder import (  # noqa: E402
    ERROR_BY_BRAND,
    ERROR_BY_PRICE_BAND,
    TEST_PREDICTIONS,
)
from carprice.registry import tags  # noqa: E402
from carprice.serving import prediction_log  # noqa: E402
from carprice.serving.last_good import LastGood, Outcome  # noqa: E402
from carprice.serving.model_source import Resolution, Source  # noqa: E402
from carprice.serving.pricing import (  # noqa: E402
    BatchResult,
    predict_one,
    results_csv,
    score_upload,
)
from carprice.webapp import model_page, monitoring_view  # noqa: E402
from carprice.webapp.form_choices import Choices, form_choices  # noqa: E402

LOG = logging.getLogger("carprice.app")
TTL = model_source.alias_ttl()
SOURCE_LABEL = {Source.REGISTRY: "MLflow registry",
                Source.EXPORT: "exported copy (MLflow unreachable)"}
TABS = ("Price a car", "Price a CSV", "Model")
METRIC_LABELS = {"rmse_log": "RMSE (log)", "mape": "MAPE", "r2": "R²", "coverage": "80% coverage"}


# ---------------------------------------------------------------- cached model access


@st.cache_resource(show_spinner=False)
def prediction_writer() -> prediction_log.PredictionLog | prediction_log.DisabledLog:
    """One background writer per app process (off when CARPRICE_PREDLOG_DSN is unset)."""
    writer = prediction_log.from_env()
    writer.start()
    return writer


def log_predictions(source: str, res: Resolution, cars: list, outputs: list) -> None:
    """Queue predictions for the log; a logging problem never costs the user the price."""
    try:
        prediction_writer().log(prediction_log.records(source, res.model_name, res.version, cars,
                                             outputs))
    except Exception as exc:  # noqa: BLE001 - the log is a record, not the service
        LOG.warning("prediction not logged: %s", one_line(exc))


@st.cache_data(ttl=TTL, show_spinner=False)
def current_resolution(name: str, uri: str | None, export_dir: str) -> Resolution:
    """The production alias resolved to a pinned version, re-read every TTL seconds."""
    return model_source.resolve_production(name, uri or "", Path(export_dir))


@st.cache_resource(max_entries=3, show_spinner="Loading the model…")
def cached_model(cache_key: str, _resolution: Resolution):
    """One loaded model per pinned version (or export); kept across reruns and sessions."""
    return model_source.load_model(_resolution)


@st.cache_data(ttl=TTL, show_spinner=False)
def cached_history(name: str, uri: str) -> pd.DataFrame:
    return model_page.registry_history(name, uri)


@st.cache_data(ttl=3600, show_spinner="Downloading the evaluation…")
def cached_evaluation(name: str, version: str, uri: str) -> dict[str, pd.DataFrame]:
    return model_page.evaluation_tables(name, version, uri)


last_good = st.cache_resource(show_spinner=False)(  # for every session of the process
    lambda: LastGood("app", notify.send, retry_after=TTL))


def serving_model() -> Outcome:
    """Falls back to the export; a refused model never replaces the last good one."""
    uri = model_source.tracking_uri()
    try:
        res = current_resolution(model_source.model_name(), uri, str(model_source.models_dir()))
    except CarpriceError as exc:
        res = Resolution(Source.NONE, "", problem=one_line(exc), tracking_uri=uri)
    return last_good().load(res, lambda r: cached_model(r.cache_key, r))


# ---------------------------------------------------------------- page parts


def fmt_dh(value: float) -> str:
    return f"{round(value, -2):,.0f} DH".replace(",", " ")


def sidebar(res: Resolution) -> None:
    with st.sidebar:
        st.header("Served model")
        if res.source == Source.NONE:
            st.write("No model is served yet.")
        else:
            info = res.info
            st.markdown(f"**{res.model_name} v{res.version}**  \nfrom the "
                        f"{SOURCE_LABEL[res.source]}")
            # Plain text, not st.metric: the prediction is the page's only metric, which
            # browser tests read at [data-testid='stMetricValue'].
            shown = [f"{label} **{value:.1%}**" if key in {"mape", "coverage"}
                     else f"{label} **{value:.3f}**"
                     for key, label in METRIC_LABELS.items()
                     if (value := info.get("metrics", {}).get(key)) is not None]
            if shown:
                st.markdown("Test set: " + " · ".join(shown))
            gate = info.get(tags.GATE_DECISION) or "unknown"
            st.markdown(
                f"- gate decision: **{gate}**\n"
                f"- trained: {info.get('trained_at') or 'unknown'}\n"
                f"- training rows: {info.get('train_rows') or 'unknown'}\n"
                f"- data hash: `{info.get('data_hash') or 'unknown'}`\n"
                f"- pipeline run: `{info.get('pipeline_run_id') or 'unknown'}`"
                + (f"\n- production since: {info['production_since']}"
                   if info.get("production_since") else ""))
            if info.get("gate_reasons"):
                with st.expander("Gate reasons"):
                    for reason in str(info["gate_reasons"]).split(" | "):
                        st.write(reason)
        st.caption(f"The production alias is re-read every {TTL:g} s: a new promotion is "
                   "served without a restart.")
        if st.button("Check for a new model now"):
            current_resolution.clear()
            cached_history.clear()
            st.rerun()


def banner(res: Resolution, refused: str | None) -> None:
    if refused:  # the last good model answers meanwhile
        st.error(f"**A newer model was refused: still serving v{res.version}.** {refused}")
    if res.source == Source.EXPORT:
        st.warning(f"**MLflow is unreachable: serving the exported copy of "
                   f"{res.model_name} v{res.version}** from `{res.info.get('exported_to')}`. "
                   f"It may be behind the registry until MLflow is back.  \n"
                   f"Reason: {res.problem}", icon="⚠️")


def no_model(res: Resolution) -> None:
    st.warning("**No model to serve yet.**", icon="🛠️")
    st.markdown(model_page.HOW_TO_GET_A_MODEL)
    st.caption(f"Details: {res.problem}")


def car_form(choices: Choices) -> dict | None:
    """The single-car form; returns the car when "Predict price" is pressed."""
    defaults = example_car()
    left, right = st.columns(2)
    brands = choices.brands
    brand = left.selectbox("Brand", brands, index=brands.index(defaults["brand"])
                           if defaults["brand"] in brands else 0, key="brand")
    models = choices.models_by_brand.get(brand, [])
    model = right.selectbox("Model", models, key=f"model_{brand}",
                            index=models.index(defaults["model"])
                            if defaults["model"] in models else 0)
    with st.form("car"):
        c1, c2, c3 = st.columns(3)
        lo, hi = schema.RANGES["year"]
        year = c1.number_input("Year", int(lo), int(hi), defaults["year"], step=1)
        lo, hi = schema.RANGES["mileage_km"]
        mileage = c2.number_input("Mileage (km)", int(lo), int(hi), defaults["mileage_km"],
                                  step=5000)
        lo, hi = schema.RANGES["fiscal_power_cv"]
        power = c3.number_input("Fiscal power (CV)", int(lo), int(hi),
                                defaults["fiscal_power_cv"], step=1)

        def pick(col, label, options, where):
            # shows the export's accented spelling ('Très bon'); the value stays the code
            return where.selectbox(label, options, index=options.index(defaults[col])
                                   if defaults[col] in options else 0, key=f"pick_{col}",
                                   format_func=lambda code: schema.label(col, code))

        fuel = pick("fuel_type", "Fuel", choices.closed["fuel_type"], c1)
        gearbox = pick("gearbox", "Gearbox", choices.closed["gearbox"], c2)
        lo, hi = schema.RANGES["doors"]
        doors = c3.number_input("Doors", int(lo), int(hi), defaults["doors"], step=1)
        origin = pick("origin", "Origin", choices.closed["origin"], c1)
        condition = pick("condition", "Condition", choices.closed["condition"], c2)
        city = pick("city", "City", choices.cities, c3)
        first_owner = st.checkbox("First owner", value=defaults["first_owner"])
        with st.expander("Equipment", expanded=False):
            cols = st.columns(3)
            equipment = {col: cols[i % 3].checkbox(catalog.EQUIPMENT[col], value=defaults[col],
                                                   key=f"eq_{col}")
                         for i, col in enumerate(schema.EQUIPMENT)}
        submitted = st.form_submit_button("Predict price", type="primary")
    if not submitted:
        return None
    return {"brand": brand, "model": model, "year": year, "mileage_km": mileage,
            "fuel_type": fuel, "gearbox": gearbox, "fiscal_power_cv": power, "doors": doors,
            "origin": origin, "first_owner": first_owner, "condition": condition,
            "city": city, **equipment}


def single_tab(model, res: Resolution, choices: Choices) -> None:
    car = car_form(choices)
    if car is None:
        return
    try:
        pred = predict_one(model, car)
    except InputError as exc:
        st.error(f"Cannot price this car: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - never a traceback on the page
        st.error(f"The model could not score this car: {one_line(exc)}")
        return
    log_predictions("app", res, [car], [pred])
    c1, c2, c3 = st.columns(3)
    c1.metric("Estimated price", fmt_dh(pred[PRICE]))
    c2.metric("Low (80% interval)", fmt_dh(pred[LOWER]))
    c3.metric("High (80% interval)", fmt_dh(pred[UPPER]))
    st.caption("8 cars in 10 like this one sell between the low and the high price.")
    unseen = choices.unseen(car)
    if unseen:
        st.info("Not in this model's training data: " + ", ".join(unseen)
                + ". The estimate relies on the other features for it.")


def batch_tab(model, res: Resolution) -> None:
    st.markdown("Upload a CSV in the contract's columns (`"
                + "`, `".join(schema.FEATURES[:6]) + "`, …) or in the Avito export format "
                "(`Marque`, `Modèle`, `Année-Modèle`, …). UTF-8 or latin1; `,` `;` or tab.")
    example = smoke_examples().to_csv(index=False).encode()
    st.download_button("Example CSV", example, "carprice_example.csv", "text/csv",
                       on_click="ignore")
    upload = st.file_uploader("CSV file", type=["csv", "txt"], key="upload")
    if upload is None:
        return
    key = (upload.file_id, res.cache_key)
    stored = st.session_state.get("batch")
    if stored is None or stored[0] != key:
        bar = st.progress(0.0, text="Scoring…")
        try:
            result = score_upload(
                model, upload.getvalue(), upload.name,
                progress=lambda done, total: bar.progress(
                    done / max(total, 1), text=f"Scored {done} of {total} rows"))
        except InputError as exc:
            bar.empty()
            st.error(f"Cannot score {upload.name}: {exc}")
            return
        except Exception as exc:  # noqa: BLE001
            bar.empty()
            st.error(f"Scoring {upload.name} failed: {one_line(exc)}")
            return
        bar.empty()
        st.session_state["batch"] = stored = (key, result)
        log_predictions("batch", res, result.scored[list(schema.FEATURES)].to_dict("records"),
                        result.scored[list(OUTPUT_COLUMNS)].to_dict("records"))
    result: BatchResult = stored[1]
    (st.success if result.errors.empty else st.warning)(
        f"{upload.name}: {result.summary} (model v{res.version}).")
    if len(result.scored):
        shown = result.scored.copy()
        for col in OUTPUT_COLUMNS:
            shown[col] = shown[col].round(-2)
        first = ["row", *OUTPUT_COLUMNS]
        st.dataframe(shown[first + [c for c in shown.columns if c not in first]],
                     hide_index=True)
        st.download_button("Download predictions (CSV)", results_csv(result),
                           f"{Path(upload.name).stem}_priced.csv", "text/csv",
                           type="primary", on_click="ignore")
    if len(result.errors):
        st.markdown(f"**Rejected rows ({len(result.errors)})**: row numbers count data rows "
                    "from 1 (the header is not a row).")
        st.dataframe(result.errors, hide_index=True)


def model_tab(res: Resolution) -> None:
    if res.source != Source.REGISTRY:
        st.info("The registry history and evaluation charts need MLflow, which cannot be "
                "reached right now.")
        monitoring_view.render(res)
        return
    try:
        history = cached_history(res.model_name, res.tracking_uri)
    except Exception as exc:  # noqa: BLE001
        st.error(f"Cannot read the registry history: {one_line(exc)}")
        return
    st.subheader(f"Registry history of {res.model_name}")
    st.dataframe(history, hide_index=True)
    st.markdown(f"**Test set of v{res.version}**: bootstrap interval (low, high) at "
                "`gate.confidence`; the gate's baseline on the same rows")
    st.dataframe(model_page.metric_table(res.info.get("metrics", {})), hide_index=True)
    monitoring_view.render(res)
    versions = [str(v) for v in history["version"]] if len(history) else [res.version]
    version = st.selectbox("Evaluation of version", versions,
                           index=versions.index(res.version) if res.version in versions else 0)
    try:
        tables = cached_evaluation(res.model_name, version, res.tracking_uri)
    except Exception as exc:  # noqa: BLE001
        st.error(f"Cannot read the evaluation of v{version}: {one_line(exc)}")
        return
    if not tables:
        st.info(f"v{version} has no logged evaluation.")
        return
    left, right = st.columns(2)
    preds = tables.get(TEST_PREDICTIONS)
    actual = schema.TARGET
    if preds is not None and {actual, PREDICTED} <= set(preds.columns):
        left.markdown(f"**Predicted vs actual** (test set, {len(preds)} cars)")
        lo = float(min(preds[actual].min(), preds[PREDICTED].min()))
        hi = float(max(preds[actual].max(), preds[PREDICTED].max()))
        points = alt.Chart(preds).mark_circle(size=14, opacity=0.5).encode(
            x=alt.X(f"{actual}:Q", title="actual price (DH)", scale=alt.Scale(type="log")),
            y=alt.Y(f"{PREDICTED}:Q", title="predicted price (DH)", scale=alt.Scale(type="log")),
            tooltip=["brand", "model", "year", actual, PREDICTED])
        ideal = alt.Chart(pd.DataFrame({"x": [lo, hi], "y": [lo, hi]})).mark_line(
            color="gray", strokeDash=[4, 4]).encode(x="x:Q", y="y:Q")
        left.altair_chart(points + ideal)
    brands = tables.get(ERROR_BY_BRAND)
    if brands is not None and {"group", "mape"} <= set(brands.columns):
        right.markdown("**Error by brand** (mean absolute % error)")
        right.altair_chart(alt.Chart(brands).mark_bar().encode(
            x=alt.X("mape:Q", title="MAPE", axis=alt.Axis(format="%")),
            y=alt.Y("group:N", title=None, sort="-x"),
            tooltip=["group", "count", "mae", "mape", "rmse_log"]))
    bands = tables.get(ERROR_BY_PRICE_BAND)
    if bands is not None:
        with st.expander("Error by price band"):
            st.dataframe(bands, hide_index=True)


def main() -> None:
    st.set_page_config(page_title="CarPrice", page_icon="🚗", layout="wide")
    st.title("CarPrice: used-car price estimate")
    res, model, refused = serving_model()
    sidebar(res)
    if model is None:
        no_model(res)
        return
    banner(res, refused)
    choices = form_choices(model_categories(model))
    # Lazy tabs: only the open tab runs, so a prediction does not re-send the charts.
    single, batch, page = st.tabs(list(TABS), key="tab", on_change="rerun")
    if single.open:
        single_tab(model, res, choices)
    if batch.open:
        batch_tab(model, res)
    if page.open:
        model_tab(res)


main()
