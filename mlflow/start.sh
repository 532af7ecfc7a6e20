#!/bin/sh
# Start command of the MLflow image: upgrade the schema first (fails loudly), set up the
# accounts, then serve with basic authentication (anonymous calls get 401; /health stays open).
#   MLFLOW_BACKEND_STORE_URI     postgresql+psycopg2://user:pass@postgres:5432/mlflow (required)
#   MLFLOW_SERVER_ALLOWED_HOSTS  Host headers accepted (replaces MLflow's defaults; required)
#   MLFLOW_FLASK_SERVER_SECRET_KEY, MLFLOW_AUTH_ADMIN_USERNAME/_PASSWORD and the accounts of
#   accounts.py (required; from .env)
#   MLFLOW_WORKERS               server worker processes (default 1)
set -eu
: "${MLFLOW_BACKEND_STORE_URI:?MLFLOW_BACKEND_STORE_URI is not set}"
: "${MLFLOW_SERVER_ALLOWED_HOSTS:?MLFLOW_SERVER_ALLOWED_HOSTS is not set}"
: "${MLFLOW_FLASK_SERVER_SECRET_KEY:?MLFLOW_FLASK_SERVER_SECRET_KEY is not set}"
echo "mlflow-start: upgrading the tracking schema"
mlflow db upgrade "$MLFLOW_BACKEND_STORE_URI"

# The auth settings hold the database password: a file only this user can read, written
# from the environment so no secret is ever on a command line.
umask 077
MLFLOW_AUTH_CONFIG_PATH="$(mktemp /tmp/basic-auth.XXXXXX.ini)"
export MLFLOW_AUTH_CONFIG_PATH
cat > "$MLFLOW_AUTH_CONFIG_PATH" <<INI
[mlflow]
default_permission = READ
database_uri = $MLFLOW_BACKEND_STORE_URI
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
INI
echo "mlflow-start: accounts"
python /usr/local/lib/carprice/accounts.py
echo "mlflow-start: serving on 0.0.0.0:5000 (basic auth)"
exec mlflow server --app-name basic-auth \
  --host 0.0.0.0 --port 5000 \
  --workers "${MLFLOW_WORKERS:-1}" \
  --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
  --serve-artifacts --artifacts-destination /mlflow/artifacts \
  --allowed-hosts "$MLFLOW_SERVER_ALLOWED_HOSTS"
