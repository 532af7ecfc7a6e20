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
# Stage containers first: they hold the network.
remove_stage_containers
compose --profile '*' down --remove-orphans
log "stopped; ./docker-start-full.sh starts it again with the same data"
