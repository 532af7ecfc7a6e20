#!/bin/sh
# Start command of the MLflow image: upgrade the schema first (fails loudly), set up the
# accounts, their grants and the served model, then serve with basic authentication
# (anonymous calls get 401; /health stays open). Least privilege: an account gets nothing
# it was not granted (default_permission NO_PERMISSIONS), and workspaces are on because
# only there does creating need a grant (a workspace USE grant, accounts.py): without
# them any signed-in account could create experiments and claim model names.
#   MLFLOW_BACKEND_STORE_URI     postgresql+psycopg2://user:pass@postgres:5432/mlflow (required)
#   MLFLOW_SERVER_ALLOWED_HOSTS  Host headers accepted (replaces MLflow's defaults; required)
#   MLFLOW_FLASK_SERVER_SECRET_KEY, MLFLOW_AUTH_ADMIN_USERNAME/_PASSWORD and the accounts of
#   accounts.py, CARPRICE_MODEL_NAME (required but the model name; from .env)
#   MLFLOW_WORKERS               server worker processes (default 1)
#   MLFLOW_LISTEN_HOST / _PORT, MLFLOW_ARTIFACTS_DIR, CARPRICE_ACCOUNTS_SCRIPT: defaults
#   for the image (0.0.0.0, 5000, /mlflow/artifacts, /usr/local/lib/carprice/accounts.py)
set -eu
: "${MLFLOW_BACKEND_STORE_URI:?MLFLOW_BACKEND_STORE_URI is not set}"
: "${MLFLOW_SERVER_ALLOWED_HOSTS:?MLFLOW_SERVER_ALLOWED_HOSTS is not set}"
: "${MLFLOW_FLASK_SERVER_SECRET_KEY:?MLFLOW_FLASK_SERVER_SECRET_KEY is not set}"
echo "mlflow-start: upgrading the tracking schema"
# `mlflow db upgrade` takes the URL (with the password) as an argument: run the same
# command in-process, fed from the environment, so no secret is on a command line.
python - <<'PY'
import os
from mlflow.db import upgrade
upgrade.main([os.environ["MLFLOW_BACKEND_STORE_URI"]], standalone_mode=False)
PY

# The auth settings hold the database password: a file only this user can read, written
# from the environment so no secret is ever on a command line.
umask 077
MLFLOW_AUTH_CONFIG_PATH="$(mktemp /tmp/basic-auth.XXXXXX.ini)"
export MLFLOW_AUTH_CONFIG_PATH
cat > "$MLFLOW_AUTH_CONFIG_PATH" <<INI
[mlflow]
default_permission = NO_PERMISSIONS
database_uri = $MLFLOW_BACKEND_STORE_URI
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
INI
# Prometheus metrics at /metrics (behind the same basic auth: scrape with an account):
# prometheus-flask-exporter in multiprocess mode keeps its files in a fresh private dir.
METRICS_DIR="$(mktemp -d /tmp/mlflow-metrics.XXXXXX)"
echo "mlflow-start: accounts"
python "${CARPRICE_ACCOUNTS_SCRIPT:-/usr/local/lib/carprice/accounts.py}"
echo "mlflow-start: serving on ${MLFLOW_LISTEN_HOST:-0.0.0.0}:${MLFLOW_LISTEN_PORT:-5000} (basic auth)"
# The backend store comes from $MLFLOW_BACKEND_STORE_URI (the option's environment
# variable), not --backend-store-uri: a process's arguments are readable by every user.
exec mlflow server --app-name basic-auth --enable-workspaces \
  --host "${MLFLOW_LISTEN_HOST:-0.0.0.0}" --port "${MLFLOW_LISTEN_PORT:-5000}" \
  --workers "${MLFLOW_WORKERS:-1}" --expose-prometheus "$METRICS_DIR" \
  --serve-artifacts --artifacts-destination "${MLFLOW_ARTIFACTS_DIR:-/mlflow/artifacts}" \
  --allowed-hosts "$MLFLOW_SERVER_ALLOWED_HOSTS"
