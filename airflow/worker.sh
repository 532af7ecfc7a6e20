#!/usr/bin/env bash
# Airflow Celery worker: first remove stage containers whose task no longer runs (left by a
# worker that died mid-task), then become the worker (PID 1, so it gets the SIGTERM of
# `docker compose stop` and shuts down warm).
set -euo pipefail
python /opt/airflow/orphans.py || echo "worker: orphan clean-up failed; continuing" >&2
exec airflow celery worker "$@"
