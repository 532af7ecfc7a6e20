#!/usr/bin/env bash
# Wipe the CarPrice stack and start it clean: removes its containers, every volume
# (Airflow and MLflow databases, registry, artifacts, run data, exported model), then runs
# ./docker-start-full.sh, which recreates the databases and the admin user.
#
#   ./docker-reset-full.sh          asks for confirmation (needs a terminal)
#   ./docker-reset-full.sh --yes    no question (scripts, CI)
#   ./docker-reset-full.sh --yes --no-start   wipe only
# .env (secrets, ports) is kept; delete it by hand to generate new secrets.
set -euo pipefail
# shellcheck source=scripts/stack-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/scripts/stack-common.sh"

YES=0
START=1
START_ARGS=()
for arg in "$@"; do
  case "$arg" in
    -y | --yes) YES=1 ;;
    --no-start) START=0 ;;
    --no-build) START_ARGS+=(--no-build) ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown option: $arg (see --help)" ;;
  esac
done
require_engine
load_project

if [ "$YES" != 1 ]; then
  [ -t 0 ] || die "no terminal to confirm on: run ./docker-reset-full.sh --yes"
  printf '[carprice] This deletes ALL data of project %s (runs, models, registry). Continue? [y/N] ' "$PROJECT"
  read -r answer
  case "$answer" in
    y | Y | yes | YES) ;;
    *) log "aborted, nothing changed"; exit 1 ;;
  esac
fi

remove_stage_containers
if [ -f "$ENV_FILE" ]; then
  log "removing containers and volumes of project $PROJECT"
  compose --profile '*' down --volumes --remove-orphans
fi
# Whatever is left of the project without a settings file or compose file to name it
# (a lost .env, renamed services): containers, then volumes and the network, by label.
project_label="label=com.docker.compose.project=$PROJECT"
leftover="$(docker ps -aq --filter "$project_label")"
# shellcheck disable=SC2086  # one id per word
[ -z "$leftover" ] || docker rm -f -v $leftover >/dev/null
leftover="$(docker volume ls -q --filter "$project_label")"
# shellcheck disable=SC2086
[ -z "$leftover" ] || docker volume rm $leftover >/dev/null
leftover="$(docker network ls -q --filter "$project_label")"
# shellcheck disable=SC2086
[ -z "$leftover" ] || docker network rm $leftover >/dev/null
log "project $PROJECT wiped"
if [ "$START" = 1 ]; then
  exec "$STACK_DIR/docker-start-full.sh" "${START_ARGS[@]}"
fi
