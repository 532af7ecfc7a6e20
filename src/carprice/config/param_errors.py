"""One pydantic error of params.yaml as one line: ``<dotted key> must be ..., got <value>``
(carprice.config.params)."""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails

from carprice.errors import one_line

_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
           "less_than_equal": "<="}
_EXPECTED = {
    "int_parsing": "an integer", "int_from_float": "an integer", "int_type": "an integer",
    "float_parsing": "a number", "float_type": "a number", "finite_number": "a finite number",
    "bool_parsing": "true or false", "bool_type": "true or false", "string_type": "text",
    "model_type": "a section of keys", "model_attributes_type": "a section of keys",
    "dict_type": "a section of keys",
}


def describe(error: ErrorDetails) -> str:
    """One pydantic error as ``<dotted key> must be ..., got <value>``."""
    key = ".".join(str(p) for p in error["loc"]) or "params.yaml"
    kind, ctx = error["type"], error.get("ctx", {})
    got = _shown(error.get("input"))
    if kind == "extra_forbidden":
        return f"unknown key {key}"
    if kind == "missing":
        return f"missing key {key}"
    if kind in _BOUNDS:
        return f"{key} must be {_BOUNDS[kind]} {next(iter(ctx.values())):g}, got {got}"
    if kind in _EXPECTED:
        return f"{key} must be {_EXPECTED[kind]}, got {got}"
    if kind == "literal_error":
        return f"{key} must be {ctx['expected']}, got {got}"
    if kind == "string_too_short":
        return f"{key} must not be empty"
    if kind == "value_error":
        return f"{key}: {ctx['error']}"
    return f"{key}: {one_line(error['msg'])}, got {got}"


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return one_line(text if len(text) <= 60 else text[:57] + "...")

