# shellcheck shell=bash
# Shared by docker-start-full.sh, docker-stop-full.sh and docker-reset-full.sh (sourced).
# Needs only bash and Docker Engine with Compose v2 on the host.
#
# Environment:
#   CARPRICE_ENV_FILE     settings file (default: .env beside the compose file)
#   COMPOSE_PROJECT_NAME  overrides the one in the settings file
#   any variable of .env.example overrides the settings file too (ports, images, ...)

STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPOSE_FILE_PATH="$STACK_DIR/docker-compose-full.yml"
ENV_FILE="${CARPRICE_ENV_FILE:-$STACK_DIR/.env}"
STAGE_LABEL=io.carprice.project

log() { printf '[carprice] %s\n' "$*"; }
warn() { printf '[carprice] WARNING: %s\n' "$*" >&2; }
die() { printf '[carprice] ERROR: %s\n' "$*" >&2; exit 1; }

# Value of KEY in the settings file (empty when absent).
env_file_get() {
  [ -f "$ENV_FILE" ] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1
}

# Set KEY=VALUE in the settings file (replaces the line or appends one).
env_file_set() {
  local key="$1" value="$2" tmp
  tmp="$(mktemp "$ENV_FILE.XXXXXX")"
  if grep -q "^$key=" "$ENV_FILE"; then
    # The value reaches awk through its environment, never its command line (ps shows that).
    ENV_SET_KEY="$key" ENV_SET_VALUE="$value" awk '
      BEGIN { k = ENVIRON["ENV_SET_KEY"]; v = ENVIRON["ENV_SET_VALUE"] }
      index($0, k "=") == 1 { print k "=" v; next } { print }' "$ENV_FILE" > "$tmp"
  else
    cat "$ENV_FILE" > "$tmp"
    printf '%s=%s\n' "$key" "$value" >> "$tmp"
  fi
  chmod 600 "$tmp"
  mv "$tmp" "$ENV_FILE"
}

# The effective value of a setting: environment first, then the settings file, then $2.
setting() {
  local key="$1" default="${2:-}" value
  value="${!key:-}"
  [ -n "$value" ] || value="$(env_file_get "$key")"
  printf '%s' "${value:-$default}"
}

require_engine() {
  command -v docker >/dev/null 2>&1 || die "docker CLI not found: install Docker Engine with Compose v2"
  docker info >/dev/null 2>&1 || die "no Docker engine answers (is dockerd running, may $(id -un) use it?)"
  docker compose version >/dev/null 2>&1 || die "Docker Compose v2 (\`docker compose\`) not found"
}

# Whether COMPOSE_PROFILES (environment, else the settings file) names profile $1.
profile_on() { [[ ",$(setting COMPOSE_PROFILES)," == *",$1,"* ]]; }
proxy_enabled() { profile_on proxy; }

# The proxy's first name: the address browsers and the Airflow login redirects use.
proxy_host() { setting PROXY_HOSTNAMES localhost | tr ',' ' ' | awk '{print $1}'; }

# Project name, optional parts, and what follows from them. Every script that runs Compose
# calls this, so a service one of them (re)creates is configured as the start script does.
load_project() {
  PROJECT="$(setting COMPOSE_PROJECT_NAME carprice)"
  export COMPOSE_PROJECT_NAME="$PROJECT"
  # Optional parts: the standard Compose variable, e.g. COMPOSE_PROFILES=monitoring,proxy
  COMPOSE_PROFILES="$(setting COMPOSE_PROFILES)"
  export COMPOSE_PROFILES
  # The app's Model page reads Prometheus only when it runs (empty: it says the profile is off).
  if ! profile_on monitoring; then export CARPRICE_PROMETHEUS_URL=""; fi
  # Airflow's login redirects are absolute: through the proxy they must name the proxy.
  if proxy_enabled && [ -z "$(setting AIRFLOW_PUBLIC_URL)" ]; then
    AIRFLOW_PUBLIC_URL="https://$(proxy_host):$(setting PROXY_AIRFLOW_PORT 8444)"
    export AIRFLOW_PUBLIC_URL
  fi
}

compose() {
  docker compose --project-directory "$STACK_DIR" -f "$COMPOSE_FILE_PATH" \
    --env-file "$ENV_FILE" -p "$PROJECT" "$@"
}

# Stage containers are started by the DAG, not by Compose: find them by label.
remove_stage_containers() {
  local ids
  ids="$(docker ps -aq --filter "label=$STAGE_LABEL=$PROJECT")"
  if [ -n "$ids" ]; then
    log "removing $(wc -w <<< "$ids" | tr -d ' ') stage container(s) of project $PROJECT"
    # shellcheck disable=SC2086  # one id per word
    docker rm -f -v $ids >/dev/null
  fi
}

# Databases on the stack's Postgres (scripts/postgres-init.sh creates them; backups hold them).
# shellcheck disable=SC2034  # read by backup.sh and restore.sh, which source this file
BACKUP_DATABASES=(airflow mlflow predictions)
# The one folder inside an archive (carprice.pipeline.backup.ROOT).
# shellcheck disable=SC2034
BACKUP_ROOT=carprice-backup

# carprice.pipeline.backup (manifest, verify, run-folders, marker), streams on stdin/stdout.
#   backup_tool exec ...  in the running streamlit container (its MLflow reader, the data volume)
#   backup_tool run ...   in a throwaway stage-data container (nothing else need be running)
backup_tool() {
  local how="$1"
  shift
  if [ "$how" = exec ]; then
    compose exec -T streamlit python -m carprice.pipeline.backup "$@"
  else
    compose run --rm --no-deps -T --entrypoint python stage-data -m carprice.pipeline.backup "$@"
  fi
}
