"""The project's expected failures: each carries a one-line reason for a person to read.

``CarpriceError`` is a failure the code foresaw (a registry refusal, a pipeline that
failed upstream, ...): report the reason, no traceback; a retry may help.
``InputError`` is bad input (data, params, a refused contract or source): a retry with
the same input can never succeed. ``FinalError`` (InputError's base) is any failure a
retry cannot change: never retried. Anything else is a bug and keeps its traceback.

Standard library only: the Airflow image imports carprice.pipeline, which imports this.
"""

from __future__ import annotations


class CarpriceError(Exception):
    """An expected failure, explained in one line: the message is folded to one short line
    here, so a reason quoting untrusted input (a form value, a CSV cell) stays readable."""

    def __init__(self, message: object = "", *args: object):
        super().__init__(one_line(str(message)) if str(message) else "", *args)


class FinalError(CarpriceError):
    """A failure a retry cannot change (bad input, a run that already failed)."""


class InputError(FinalError):
    """Bad input (data, params, contract, source): retrying with it cannot help."""


def one_line(exc: object, limit: int = 500) -> str:
    """An exception's message (or a text) on one line, at most ``limit`` characters;
    control characters (from untrusted input) shown as '?'."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
