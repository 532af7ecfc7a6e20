#!/usr/bin/env bash
# Runs once, on the first start of the postgres volume (/docker-entrypoint-initdb.d):
# one role + database for Airflow, one for MLflow. Passwords come from the container env
# (AIRFLOW_DB_PASSWORD, MLFLOW_DB_PASSWORD, set from .env by docker-compose-full.yml).
set -euo pipefail
: "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD is not set}"
: "${MLFLOW_DB_PASSWORD:?MLFLOW_DB_PASSWORD is not set}"

create_db() {  # create_db NAME PASSWORD
  echo "postgres-init: creating role and database '$1'"
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v name="$1" -v pass="$2" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'pass';
CREATE DATABASE :"name" OWNER :"name";
SQL
}

create_db airflow "$AIRFLOW_DB_PASSWORD"
create_db mlflow "$MLFLOW_DB_PASSWORD"
