"""Create or update the MLflow accounts named in the environment, their grants, and the
served registered model, before the server starts.

    python accounts.py            (mlflow/start.sh runs it; passwords only from the environment)

The server runs with default_permission = NO_PERMISSIONS and workspaces on (start.sh): an
account sees only what is granted here, and only a workspace grant (USE) lets it create
experiments or registered models. Accounts (user and password variables; .env is the
authority, so a changed password there is applied on the next start):
  MLFLOW_AUTH_ADMIN_USERNAME / _PASSWORD  administrator (the UI login)
  MLFLOW_TRAINER_USER / _PASSWORD    data and training stages: creates experiments, runs and
                                     logged models; READ on the served model (evaluate
                                     scores production) -- cannot register or move aliases
  MLFLOW_PROMOTER_USER / _PASSWORD   promotion, rollback and report stages: owns the served
                                     model (registers versions, moves aliases)
  MLFLOW_READER_USER / _PASSWORD     app and API: READ on the served model and on the runs
                                     its artifacts live in; no workspace grant, so no create
  CARPRICE_MODEL_NAME                the served model (default car-price), created here
Accounts of earlier versions of the stack (RETIRED) are deleted with their grants.
The auth tables live in the tracking database (their own alembic version table).
"""

from __future__ import annotations

import os
import sys

from mlflow.exceptions import MlflowException
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
from mlflow.utils.workspace_utils import DEFAULT_WORKSPACE_NAME

ADMIN, TRAINER, PROMOTER, READER = "admin", "trainer", "promoter", "reader"
ACCOUNTS = {  # role: (user variable, password variable)
    ADMIN: ("MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD"),
    TRAINER: ("MLFLOW_TRAINER_USER", "MLFLOW_TRAINER_PASSWORD"),
    PROMOTER: ("MLFLOW_PROMOTER_USER", "MLFLOW_PROMOTER_PASSWORD"),
    READER: ("MLFLOW_READER_USER", "MLFLOW_READER_PASSWORD"),
}
ENV_MODEL_NAME, DEFAULT_MODEL_NAME = "CARPRICE_MODEL_NAME", "car-price"
# The single stages account (MANAGE on everything) and the app account of earlier versions.
RETIRED = ("carprice-stages", "carprice-app")

# Workspace USE: may create experiments and registered models (the monitoring experiment
# is created by whichever of monitor or rollback runs first).
CREATORS = (TRAINER, PROMOTER)
# (role, resource type, pattern, permission); MODEL stands for the served model's name.
# Experiments are wildcards: they hold runs and model artifacts only (the registry is what
# the gate protects), and experiments made by the accounts of earlier versions stay usable.
MODEL = "<served model>"
GRANTS = (
    (TRAINER, "experiment", "*", "EDIT"),  # logs runs and candidates, in any experiment
    (TRAINER, "registered_model", MODEL, "READ"),  # evaluate scores production
    (PROMOTER, "experiment", "*", "EDIT"),  # stage runs, the report; reads the candidate
    (PROMOTER, "registered_model", MODEL, "MANAGE"),  # versions, tags, aliases
    (READER, "experiment", "*", "READ"),  # a version's artifacts live in its run
    (READER, "registered_model", MODEL, "READ"),
)


def apply_account(store: SqlAlchemyStore, user: str, password: str, admin: bool) -> None:
    if store.has_user(user):
        store.update_user(user, password=password, is_admin=admin)
        print(f"accounts: {user} up to date")
    else:
        store.create_user(user, password, is_admin=admin)
        print(f"accounts: {user} created")


def ensure_model(uri: str, name: str) -> None:
    """The served registered model exists before anyone can sign in, so no other account
    can claim its name."""
    registry = RegistryStore(uri)
    try:
        registry.get_registered_model(name)
    except MlflowException:
        registry.create_registered_model(name, description="Served by the app and the API; "
                                         "versions come only through the gate.")
        print(f"accounts: registered model {name} created")


def main() -> int:
    uri = os.environ["MLFLOW_BACKEND_STORE_URI"]
    users = {}
    for role, (user_var, password_var) in ACCOUNTS.items():
        user, password = os.environ.get(user_var, ""), os.environ.get(password_var, "")
        if not user or not password:
            print(f"accounts: {user_var} and {password_var} must be set", file=sys.stderr)
            return 1
        users[role] = (user, password)
    if len({user for user, _ in users.values()}) != len(users):
        print("accounts: the admin, trainer, promoter and reader must be four different "
              "users", file=sys.stderr)
        return 1
    model = os.environ.get(ENV_MODEL_NAME, "").strip() or DEFAULT_MODEL_NAME

    store = SqlAlchemyStore()
    store.init_db(uri)
    for role, (user, password) in users.items():
        apply_account(store, user, password, admin=role == ADMIN)
    current = {user for user, _ in users.values()}
    for user in RETIRED:
        if user not in current and store.has_user(user):
            store.delete_user(user)
            print(f"accounts: {user} (an account of an earlier version) deleted")
    ensure_model(uri, model)
    for role in CREATORS:
        store.set_workspace_permission(DEFAULT_WORKSPACE_NAME, users[role][0], "USE")
    for role, resource, pattern, permission in GRANTS:
        store.grant_user_permission(users[role][0], resource,
                                    model if pattern == MODEL else pattern, permission)
    return 0


if __name__ == "__main__":
    sys.exit(main())
