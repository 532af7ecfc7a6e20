"""The prediction API: FastAPI over the same serving code as the Streamlit app.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 uvicorn carprice.api:app --port 8000

Settings come from the environment, read by carprice.serving.model_source
(MLFLOW_TRACKING_URI, CARPRICE_MODELS_DIR, CARPRICE_MODEL_NAME, CARPRICE_ALIAS_TTL_SECONDS),
by carprice.serving.prediction_log (CARPRICE_PREDLOG_DSN) and here (CARPRICE_API_KEY,
required: /predict asks for it in X-API-Key; CARPRICE_API_RATE_LIMIT, see
carprice.api.guard). GET /metrics is Prometheus's, answered
by carprice.api.metrics's middleware (not in the OpenAPI schema).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from carprice.api.batching import MicroBatcher, price_all
from carprice.api.body_limit import BodyLimit
from carprice.api.guard import (
    API_KEY_HEADER,
    DEFAULT_RATE_LIMIT,
    ApiGuard,
    check_key,
    parse_rate_limit,
)
from carprice.api.metrics import ApiMetrics, MetricsMiddleware
from carprice.api.model_holder import ServedModel, Snapshot
from carprice.api.schemas import (
    MAX_BODY_BYTES,
    MAX_CARS,
    ModelInfo,
    PredictBody,
    PredictResponse,
)
from carprice.config import settings
from carprice.contract.validation import ValidationError
from carprice.serving import prediction_log
from carprice.serving.model_source import apply_client_defaults

SOURCE_HEADER, VERSION_HEADER = "X-Model-Source", "X-Model-Version"
MAX_ERRORS_SHOWN = 20
INLINE_PARSE_BYTES = 64 * 1024
BODY = TypeAdapter(PredictBody)
_BODY_SCHEMA = BODY.json_schema(ref_template="#/components/schemas/{model}")
BODY_DEFS = _BODY_SCHEMA.pop("$defs", {})
BODY_DOC = {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": _BODY_SCHEMA}}}}
DESCRIPTION = (
    "Prices of used cars from the model the pipeline promoted to production "
    "(`models:/<name>@production`, re-read every CARPRICE_ALIAS_TTL_SECONDS), or from "
    "its exported copy while MLflow is unreachable: every prediction says which, in the "
    f"`{SOURCE_HEADER}` and `{VERSION_HEADER}` headers. Inputs follow the data contract; "
    f"one request scores one car or a list of up to {MAX_CARS}. `/predict` needs the "
    f"stack's key in the `{API_KEY_HEADER}` header (401 without) and answers 429 with "
    "`Retry-After` past the per-client rate limit."
)
SECURITY_SCHEME = {"ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}}


class ModelUnavailable(Exception):
    """No model can be served; the message says why (a 503)."""


def field_of(loc: tuple | list) -> str:
    """('body', 'cars', 3, 'year') -> '[3].year'; ('body', 'car', 'year') -> 'year'."""
    parts = list(loc)
    if parts[:1] == ["body"]:
        parts = parts[1:]
    if parts[:1] in (["car"], ["cars"]):  # the body's union tag
        parts = parts[1:]
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    return text or "body"


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each bad field, without echoing the input back (it may be huge)."""
    errors = exc.errors()
    if errors and errors[0].get("type") == "json_invalid":
        errors = [{**errors[0], "loc": ("body",)}]  # the loc is a byte offset
    shown = [{"field": field_of(e["loc"]), "msg": e["msg"], "type": e["type"]}
             for e in errors[:MAX_ERRORS_SHOWN]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    message = "; ".join(f"{e['field']}: {e['msg']}" for e in shown[:3]) + more
    return JSONResponse({"message": message, "errors": len(errors), "detail": shown},
                        status_code=422)


async def _unavailable(request: Request, exc: ModelUnavailable) -> JSONResponse:
    return JSONResponse({"message": str(exc)}, status_code=503)


async def _invalid_car(request: Request, exc: ValidationError) -> JSONResponse:
    """A rule of the contract the request model does not express (e.g. a row rule)."""
    detail = [{"field": "body", "msg": str(exc), "type": "contract"}]
    return JSONResponse({"message": str(exc), "errors": 1, "detail": detail}, status_code=422)


def parse_cars(raw: bytes) -> list[dict]:
    """JSON bytes -> validated cars as dicts; RequestValidationError naming the fields."""
    try:
        body = BODY.validate_json(raw)
    except PydanticValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_input=False)]
        ) from None
    return [car.model_dump() for car in (body if isinstance(body, list) else [body])]


def _openapi_with_body_models(app: FastAPI) -> dict:
    """FastAPI's schema plus the request body's models (Car), declared by hand above."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(BODY_DEFS)
        # declared, not enforced here (carprice.api.guard does): /docs gets "Authorize"
        components["securitySchemes"] = SECURITY_SCHEME
        for path, operations in schema.get("paths", {}).items():
            if path.startswith("/predict"):
                for operation in operations.values():
                    operation["security"] = [{"ApiKey": []}]
        app.openapi_schema = schema
    return app.openapi_schema


def _lineage(info: dict) -> dict:
    return {k: v for k, v in info.items() if k not in {"version", "metrics"} and v is not None}


def create_app(served: ServedModel | None = None, log_writer: Any = None,
               api_key: str | None = None, rate_limit: str | None = None) -> FastAPI:
    """A new app; tests pass their own ServedModel / log, uvicorn uses carprice.api.app.
    The key and the rate limit default to CARPRICE_API_KEY / CARPRICE_API_RATE_LIMIT; an
    empty key is refused (SettingsError): the API never serves predictions to anyone."""
    current = settings.current()
    api_key = current.api_key if api_key is None else api_key
    rate_limit = rate_limit or current.api_rate_limit or DEFAULT_RATE_LIMIT
    # now, not at the first request (Starlette builds its middleware lazily)
    check_key(api_key)
    parse_rate_limit(rate_limit)
    apply_client_defaults()  # before any MLflow call: a dead server costs seconds
    served = served if served is not None else ServedModel()
    plog = log_writer if log_writer is not None else prediction_log.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        plog.start()
        served.peek()  # loads in the background: /health answers meanwhile
        yield
        await run_in_threadpool(plog.close)

    app = FastAPI(title="CarPrice API", description=DESCRIPTION, version="1",
                  lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    # outside the body limit: a request without the key is refused before its body is read
    app.add_middleware(ApiGuard, api_key=api_key, rate_limit=rate_limit)
    metrics = ApiMetrics(served.peek, plog.stats)
    # added last, so outermost: /metrics is answered before the body limit
    app.add_middleware(MetricsMiddleware, metrics=metrics,
                       routes=lambda: [getattr(r, "path", "") for r in app.routes])
    # FastAPI's decorator, called: Starlette's add_exception_handler is typed for handlers
    # of any Exception, not of the class they are registered for.
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(ModelUnavailable)(_unavailable)
    app.exception_handler(ValidationError)(_invalid_car)
    app.state.served, app.state.predlog, app.state.metrics = served, plog, metrics

    batcher = MicroBatcher()

    def servable(snap: Snapshot) -> Snapshot:
        if not snap.ready:
            raise ModelUnavailable(snap.problem or "no model to serve")
        return snap

    @app.get("/health", summary="Liveness: 200 while the process runs")
    async def health() -> dict:
        return {"status": "ok", "prediction_log": plog.stats()}

    @app.get("/ready", summary="Readiness: 200 only when a model is loaded",
             responses={503: {"description": "no model loaded; the reason in one line"}})
    async def ready():
        snap = served.peek()
        if snap is None or not snap.ready:
            reason = "the model is still loading" if snap is None else snap.problem
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        res = snap.resolution
        # a newer model refused: still ready (the last good one answers), and why
        return {"ready": True, "model_name": res.model_name, "version": res.version,
                "source": res.source, **({"problem": snap.refused} if snap.refused else {})}

    @app.get("/model", response_model=ModelInfo, summary="The served model and its lineage",
             responses={503: {"description": "the model is still loading"}})
    async def model_info():
        snap = served.peek()
        if snap is None:
            return JSONResponse({"message": "the model is still loading"}, status_code=503)
        res = snap.resolution
        # source: a Source is a StrEnum, whose members are the Literal's strings
        return ModelInfo(model_name=res.model_name, version=res.version,
                         source=res.source,  # type: ignore[arg-type]
                         problem=snap.problem, model_uri=res.model_uri,
                         metrics=res.info.get("metrics", {}), lineage=_lineage(res.info),
                         resolved_at=snap.resolved_wall, alias_ttl_seconds=served.ttl)

    @app.post("/predict", response_model=PredictResponse, summary="Price one car or a list",
              openapi_extra=BODY_DOC,
              responses={413: {"description": "request body too large"},
                         422: {"description": "a field breaks the data contract"},
                         503: {"description": "no model to serve"}})
    async def predict(request: Request):
        raw = await request.body()
        # Small bodies are parsed on the event loop (microseconds); a long list is parsed,
        # scored and logged in the threadpool, so it never stalls single predictions.
        if len(raw) > INLINE_PARSE_BYTES:
            return await run_in_threadpool(answer_many, raw)
        cars = parse_cars(raw)
        snap = served.peek()
        if snap is None:  # not `peek() or ...`: mypy would infer Snapshot | None from it
            snap = await run_in_threadpool(served.get)
        if len(cars) > 1:
            return await run_in_threadpool(answer_list, snap, cars)
        outputs = [await batcher.price(servable(snap).model, cars[0])]
        return answer(snap, cars, outputs)

    def answer_many(raw: bytes) -> JSONResponse:
        cars = parse_cars(raw)
        return answer_list(served.get(), cars)

    def answer_list(snap: Snapshot, cars: list[dict]) -> JSONResponse:
        return answer(snap, cars, price_all(servable(snap).model, cars))

    def answer(snap: Snapshot, cars: list[dict], outputs: list[dict]) -> JSONResponse:
        res = servable(snap).resolution
        response = JSONResponse(
            {"model": {"name": res.model_name, "version": res.version, "source": res.source},
             "predictions": outputs},
            headers={SOURCE_HEADER: res.source, VERSION_HEADER: str(res.version)})
        # Queued once the body is rendered: a big batch wakes the log's writer thread, which
        # would otherwise take turns on the GIL with this rendering.
        plog.log(prediction_log.records("api", res.model_name, res.version, cars, outputs))
        metrics.observe_predictions(res.source, outputs)
        return response

    # FastAPI's documented way to extend its schema ("Extending OpenAPI"): replace the method
    app.openapi = lambda: _openapi_with_body_models(app)  # type: ignore[method-assign]
    return app


def configure_logging() -> None:
    """carprice's own lines (model swaps, prediction-log outages) on stderr under uvicorn."""
    logger = logging.getLogger("carprice")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
