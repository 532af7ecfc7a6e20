"""The prediction API (`uvicorn carprice.api:app`): FastAPI over carprice.serving.model_source and
carprice.serving.pricing.

Needs the `api` extra (fastapi, uvicorn, psycopg2 for the prediction log). `app` is built
on first access, so importing this package (e.g. for create_app in tests) reads no
environment and starts nothing.
"""

from __future__ import annotations

from typing import Any

from carprice.api.service import configure_logging, create_app

__all__ = ["app", "create_app"]
_app = None


def __getattr__(name: str) -> Any:
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        configure_logging()
        _app = create_app()
    return _app
