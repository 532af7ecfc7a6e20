"""The API's request and response models, generated from the data contract (schema.py).

Nothing here lists a feature: the Car model is built with pydantic.create_model over
schema.FEATURES, so a column, range or closed category added to the contract reaches
the API, its validation and its OpenAPI page without an edit here.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, create_model

from carprice.contract import schema
from carprice.contract.validation import REQUIRED
from carprice.model.estimator import OUTPUT_COLUMNS

# One request scores at most this many cars; the body limit follows from it.
MAX_CARS = 10_000
MAX_BODY_BYTES = MAX_CARS * 2048
MAX_TEXT_LENGTH = 100


def _canonical(column: str):
    """Closed labels match ignoring accents and case ('tres bon' -> 'Tres bon'), as in
    the CSV path (validation.parse_category); anything else is left for Literal to refuse."""
    labels = schema.CANONICAL.get(column, {})

    @functools.lru_cache(maxsize=1024)  # a few labels repeat: fold() once per spelling
    def canonical(text: str) -> str:
        return labels.get(schema.fold(text), text)

    def convert(value: Any) -> Any:
        return canonical(value) if isinstance(value, str) else value

    return convert


def _feature_type(column: str) -> Any:
    if column in schema.CLOSED_CATEGORIES:
        allowed = Literal[schema.CLOSED_CATEGORIES[column]]  # type: ignore[valid-type]
        return Annotated[allowed | None, BeforeValidator(_canonical(column))]
    if column in schema.CATEGORICAL:
        return Annotated[str, Field(strict=True, max_length=MAX_TEXT_LENGTH)] | None
    if column in schema.NUMERIC:
        low, high = schema.RANGES.get(column, (None, None))
        return Annotated[float, Field(strict=True, ge=low, le=high, allow_inf_nan=False)] | None
    if column in schema.BOOLEAN:
        return Annotated[bool, Field(strict=True)]
    raise ValueError(f"schema column {column!r} has no API type")


def _feature_field(column: str) -> tuple[Any, Any]:
    # The contract's required columns (categories, numbers) must be sent, null meaning
    # "unknown" (the model imputes it); booleans are optional and default to False.
    kind = ("category" if column in schema.CATEGORICAL else
            "number" if column in schema.NUMERIC else "flag")
    if column in REQUIRED:
        return _feature_type(column), Field(..., description=f"{kind}; null if unknown")
    return _feature_type(column), Field(False, description=f"{kind}; false if absent")


# Field name -> (type, FieldInfo), typed Any: create_model's keywords also hold its options
# (__config__, __doc__), which a tuple would not match.
_CAR_FIELDS: dict[str, Any] = {col: _feature_field(col) for col in schema.FEATURES}
_PREDICTION_FIELDS: dict[str, Any] = {col: (float, ...) for col in OUTPUT_COLUMNS}

if TYPE_CHECKING:  # built at run time from the contract; to a type checker, pydantic models
    Car = BaseModel
    Prediction = BaseModel
else:
    Car = create_model(
        "Car",
        __config__=ConfigDict(extra="forbid"),
        __doc__="One car in the data contract's fields (carprice.contract.schema).",
        **_CAR_FIELDS,
    )
    Prediction = create_model(
        "Prediction",
        __doc__="Price and 80% interval of one car, in dirhams.",
        **_PREDICTION_FIELDS,
    )


def _body_kind(value: Any) -> str:
    return "cars" if isinstance(value, list) else "car"


# One car (an object) or several (a list); the tag picks the branch, so an error
# names the field of the branch that was sent instead of both.
PredictBody = Annotated[
    Annotated[Car, Tag("car")]
    | Annotated[list[Car], Tag("cars"), Field(min_length=1, max_length=MAX_CARS)],
    Discriminator(_body_kind),
]


class ServedModelRef(BaseModel):
    name: str
    version: str
    source: Literal["registry", "export"]


class PredictResponse(BaseModel):
    model: ServedModelRef
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    model_name: str
    version: str | None
    source: Literal["registry", "export", "none"]
    problem: str | None
    model_uri: str | None
    metrics: dict[str, float]
    lineage: dict[str, Any]
    resolved_at: str
    alias_ttl_seconds: float
