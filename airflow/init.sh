#!/usr/bin/env bash
# airflow-init (one-shot): migrate the metadata database, create the admin user and the
# registry pool.
# Any failure stops the stack.
set -euo pipefail
: "${AIRFLOW_ADMIN_USER:?AIRFLOW_ADMIN_USER is not set}"
: "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD is not set}"

if python /opt/airflow/healthcheck.py db /opt/airflow/db-heads.json >/dev/null 2>&1; then
  echo "airflow-init: metadata database already at this image's schema"
else
  echo "airflow-init: migrating the metadata database"
  airflow db migrate
fi

# Only when missing (the check costs 0.1 s, the FAB app 10+ s); an existing password
# stays. The password comes from the environment, never a command line.
if python /opt/airflow/healthcheck.py user "$AIRFLOW_ADMIN_USER" >/dev/null 2>&1; then
  echo "airflow-init: admin user '$AIRFLOW_ADMIN_USER' exists"
else
  python /opt/airflow/admin_user.py
fi
# The registry pool (one slot): a task in a pool that does not exist is never scheduled.
python /opt/airflow/registry_pool.py
echo "airflow-init: done"
