"""Create or update the MLflow accounts named in the environment, before the server starts.

    python accounts.py            (mlflow/start.sh runs it; passwords only from the environment)

Accounts (user name and password variables; .env is the authority, so a changed password
there is applied on the next start):
  MLFLOW_AUTH_ADMIN_USERNAME / _PASSWORD   administrator (the UI login)
  MLFLOW_STAGE_USER / MLFLOW_STAGE_PASSWORD  pipeline stages: create runs, register models
  MLFLOW_APP_USER / MLFLOW_APP_PASSWORD      app and API: read only (default_permission READ)
The auth tables live in the tracking database (their own alembic version table).
"""

from __future__ import annotations

import os
import sys

from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

ACCOUNTS = (  # (user variable, password variable, administrator)
    ("MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD", True),
    ("MLFLOW_STAGE_USER", "MLFLOW_STAGE_PASSWORD", False),
    ("MLFLOW_APP_USER", "MLFLOW_APP_PASSWORD", False),
)


def main() -> int:
    store = SqlAlchemyStore()
    store.init_db(os.environ["MLFLOW_BACKEND_STORE_URI"])
    for user_var, password_var, admin in ACCOUNTS:
        user, password = os.environ.get(user_var, ""), os.environ.get(password_var, "")
        if not user or not password:
            print(f"accounts: {user_var} and {password_var} must be set", file=sys.stderr)
            return 1
        if store.has_user(user):
            store.update_user(user, password=password, is_admin=admin)
            print(f"accounts: {user} up to date")
        else:
            store.create_user(user, password, is_admin=admin)
            print(f"accounts: {user} created")
    return 0


if __name__ == "__main__":
    sys.exit(main())
