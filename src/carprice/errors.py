"""The project's expected failures: each carries a one-line reason for a person to read.

``CarpriceError`` is a failure the code foresaw (a registry refusal, a pipeline that
failed upstream, ...): report the reason, no traceback; a retry may help.
``InputError`` is bad input (data, params, a refused contract or source): a retry with
the same input can never succeed. Anything else is a bug and keeps its traceback.

Standard library only: the Airflow image imports carprice.pipeline, which imports this.
"""

from __future__ import annotations


class CarpriceError(Exception):
    """An expected failure, explained in one line."""


class InputError(CarpriceError):
    """Bad input (data, params, contract, source): retrying with it cannot help."""


def one_line(exc: BaseException | str, limit: int = 500) -> str:
    """An exception's message (or a text) on one line, at most ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
