#!/usr/bin/env bash
# Stop the CarPrice stack. Keeps every volume: the Airflow and MLflow databases, the
# registry and its artifacts, run data and the exported model. Start again with
# ./docker-start-full.sh. Safe to run when nothing is running.
set -euo pipefail
# shellcheck source=scripts/stack-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/scripts/stack-common.sh"

case "${1:-}" in
  "") ;;
  -h | --help) sed -n '2,4p' "$0"; exit 0 ;;
  *) die "unknown option: $1 (see --help)" ;;
esac
require_engine
load_project
# Compose needs the settings file for interpolation; an absent one means nothing to stop.
[ -f "$ENV_FILE" ] || { log "no $ENV_FILE: nothing was started here"; exit 0; }
log "stopping project $PROJECT (data is kept)"
# A run in flight: the scheduler stops first (no new task is queued), then the workers
# shut down warm: each lets its running stage finish (stop_grace_period) and reports the
# result while the API server still answers. The next start carries the run on.
if [ -n "$(compose ps -q airflow-worker 2>/dev/null)" ]; then
  compose stop airflow-scheduler >/dev/null 2>&1 || true
  log "waiting for the worker to finish its running stage (warm shutdown)"
  compose stop airflow-worker >/dev/null 2>&1 || true
fi
# What is left of stage containers (a stage killed past the grace period) holds the network.
remove_stage_containers
compose --profile '*' down --remove-orphans
log "stopped; ./docker-start-full.sh starts it again with the same data"
