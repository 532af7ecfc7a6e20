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

# The postgres-exporters' role (profile monitoring): server statistics (pg_monitor) and
# SELECT on the airflow and predictions tables, now and as their owners create more.
create_monitor_role() {  # create_monitor_role PASSWORD
  psql -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres <<SQL
\\set pass '$1'
SELECT format('CREATE ROLE carprice_monitor LOGIN PASSWORD %L', :'pass')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'carprice_monitor') \\gexec
SELECT format('ALTER ROLE carprice_monitor LOGIN PASSWORD %L', :'pass') \\gexec
SET client_min_messages = warning;
GRANT pg_monitor TO carprice_monitor;
SQL
  local db
  for db in airflow predictions; do
    psql -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "$db" <<SQL
GRANT CONNECT ON DATABASE $db TO carprice_monitor;
GRANT USAGE ON SCHEMA public TO carprice_monitor;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO carprice_monitor;
ALTER DEFAULT PRIVILEGES FOR ROLE $db IN SCHEMA public GRANT SELECT ON TABLES TO carprice_monitor;
SQL
  done
}

create_db airflow "$AIRFLOW_DB_PASSWORD"
create_db mlflow "$MLFLOW_DB_PASSWORD"
create_db predictions "$PREDLOG_DB_PASSWORD"
if [ -n "${MONITOR_DB_PASSWORD:-}" ]; then create_monitor_role "$MONITOR_DB_PASSWORD"; fi
echo "postgres-init: databases airflow, mlflow, predictions ready"
