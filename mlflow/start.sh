#!/bin/sh
# Start command of the MLflow image: upgrade the schema first (fails loudly), then serve.
#   MLFLOW_BACKEND_STORE_URI   postgresql+psycopg2://user:pass@postgres:5432/mlflow (required)
#   MLFLOW_SERVER_ALLOWED_HOSTS  Host headers accepted (replaces MLflow's defaults; required)
#   MLFLOW_WORKERS             server worker processes (default 1)
set -eu
: "${MLFLOW_BACKEND_STORE_URI:?MLFLOW_BACKEND_STORE_URI is not set}"
: "${MLFLOW_SERVER_ALLOWED_HOSTS:?MLFLOW_SERVER_ALLOWED_HOSTS is not set}"
echo "mlflow-start: upgrading the tracking schema"
mlflow db upgrade "$MLFLOW_BACKEND_STORE_URI"
echo "mlflow-start: serving on 0.0.0.0:5000"
exec mlflow server \
  --host 0.0.0.0 --port 5000 \
  --workers "${MLFLOW_WORKERS:-1}" \
  --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
  --serve-artifacts --artifacts-destination /mlflow/artifacts \
  --allowed-hosts "$MLFLOW_SERVER_ALLOWED_HOSTS"
