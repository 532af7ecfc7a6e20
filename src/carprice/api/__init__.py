"""The prediction API (`uvicorn carprice.api:app`): FastAPI over carprice.predictor.

Needs the `api` extra (fastapi, uvicorn, psycopg2 for the prediction log)."""

from carprice.api.app import configure_logging, create_app

configure_logging()
app = create_app()

__all__ = ["app", "create_app"]
