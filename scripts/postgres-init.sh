#!/usr/bin/env bash
# One role + database each for Airflow, MLflow and the prediction log. Runs on the first
# start of the postgres volume (/docker-entrypoint-initdb.d), and again on every
# ./docker-start-full.sh, where it only adds what a newer stack needs: idempotent.
# Passwords come from the container env (set from .env by docker-compose-full.yml) and
# reach psql on stdin, never on a command line.
set -euo pipefail
: "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD is not set}"
: "${MLFLOW_DB_PASSWORD:?MLFLOW_DB_PASSWORD is not set}"
: "${PREDLOG_DB_PASSWORD:?PREDLOG_DB_PASSWORD is not set}"

create_db() {  # create_db NAME PASSWORD (hex secrets: no quoting needed)
  psql -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres <<SQL
\\set name '$1'
\\set pass '$2'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'pass')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \\gexec
SQL
}

create_db airflow "$AIRFLOW_DB_PASSWORD"
create_db mlflow "$MLFLOW_DB_PASSWORD"
create_db predictions "$PREDLOG_DB_PASSWORD"
echo "postgres-init: databases airflow, mlflow, predictions ready"
