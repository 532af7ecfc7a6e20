#!/usr/bin/env bash
# Start the whole CarPrice stack and wait until every service is healthy.
#
#   ./docker-start-full.sh            build every image (cached), start, wait, print the URLs
#   ./docker-start-full.sh --no-build start with the images already built
#
# First start: creates .env from .env.example with generated secrets (mode 600) and prints
# the Airflow admin credentials once. Safe to run again at any time.
# Environment: HEALTH_TIMEOUT (seconds, default 420), CARPRICE_ENV_FILE, COMPOSE_PROJECT_NAME
# and any variable of .env.example (they override .env).
set -euo pipefail
# shellcheck source=scripts/stack-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/scripts/stack-common.sh"

BUILD=1
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown option: $arg (see --help)" ;;
  esac
done
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-420}"
if [ -t 1 ]; then IS_TTY=1; else IS_TTY=0; fi
SECRET_KEYS=(POSTGRES_PASSWORD AIRFLOW_DB_PASSWORD MLFLOW_DB_PASSWORD AIRFLOW_FERNET_KEY
  AIRFLOW_JWT_SECRET AIRFLOW_ADMIN_PASSWORD)

# --- secrets: openssl on the host, else Python in the base image -----------------------
random_secret() {  # random_secret hex|fernet
  if command -v openssl >/dev/null 2>&1; then
    if [ "$1" = fernet ]; then openssl rand -base64 32 | tr '+/' '-_'; else openssl rand -hex 16; fi
  else
    docker run --rm "$(setting PYTHON_BASE_IMAGE python:3.11-slim-bookworm)" python -c \
      "import base64,os,sys; b=os.urandom(32 if sys.argv[1]=='fernet' else 16); \
print(base64.urlsafe_b64encode(b).decode() if sys.argv[1]=='fernet' else b.hex())" "$1"
  fi
}

create_env_file() {
  [ -f "$ENV_FILE" ] && return 0
  [ -f "$STACK_DIR/.env.example" ] || die ".env.example is missing"
  log "first start: creating $ENV_FILE with generated secrets"
  (umask 077 && cp "$STACK_DIR/.env.example" "$ENV_FILE")
  local key
  for key in "${SECRET_KEYS[@]}"; do
    if [ "$key" = AIRFLOW_FERNET_KEY ]; then
      env_file_set "$key" "$(random_secret fernet)"
    else
      env_file_set "$key" "$(random_secret hex)"
    fi
  done
  # Settings given in the environment on the first start (project name, ports, images,
  # e.g. the e2e test's) are kept for later runs.
  local line
  while IFS= read -r line; do
    key="${line%%=*}"
    [ -n "${!key:-}" ] && env_file_set "$key" "${!key}"
  done < <(grep -E '^[A-Z][A-Z0-9_]*=' "$STACK_DIR/.env.example")
  chmod 600 "$ENV_FILE"
  NEW_ENV=1
}

check_env_file() {
  local key
  for key in "${SECRET_KEYS[@]}"; do
    [ -n "$(setting "$key")" ] || die "$key is empty in $ENV_FILE (delete the file to regenerate it)"
  done
  if [ "$(stat -c %a "$ENV_FILE" 2>/dev/null || echo 600)" != 600 ]; then
    chmod 600 "$ENV_FILE"
  fi
}

# --- preflight -----------------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

preflight() {
  require_engine
  local running port key
  running="$(compose ps -q 2>/dev/null || true)"
  if [ -z "$running" ]; then
    for key in AIRFLOW_PORT MLFLOW_PORT STREAMLIT_PORT; do
      port="$(setting "$key")"
      [ -n "$port" ] || die "$key is empty in $ENV_FILE"
      if port_in_use "$port"; then
        die "port $port ($key) is already in use: free it or set another $key in $ENV_FILE"
      fi
    done
  fi
  local image
  for key in PYTHON_BASE_IMAGE POSTGRES_IMAGE REDIS_IMAGE; do
    image="$(setting "$key")"
    [ -n "$image" ] || die "$key is empty in $ENV_FILE"
    docker image inspect "$image" >/dev/null 2>&1 && continue
    log "pulling $image ($key)"
    docker pull -q "$image" >/dev/null || die "cannot pull $image; without a registry build \
stand-ins with ../shared/offline-images/build.sh and set $key in $ENV_FILE"
  done
  local mem_kb disk_kb root
  mem_kb="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)"
  if [ "${mem_kb:-0}" -gt 0 ] && [ "$mem_kb" -lt 4000000 ]; then
    warn "only $((mem_kb / 1024)) MiB of RAM: the stack wants about 4 GiB"
  fi
  root="$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || true)"
  [ -d "$root" ] || root="$STACK_DIR"
  disk_kb="$(df -Pk "$root" | awk 'NR==2 {print $4}')"
  if [ "${disk_kb:-0}" -lt 10000000 ]; then
    warn "only $((disk_kb / 1024)) MiB free under $root: images and data want about 10 GiB"
  fi
}

# --- images ----------------------------------------------------------------------------------
BUILD_LOG=""
timed_build() {  # timed_build LABEL CMD...
  local label="$1" start rc=0
  shift
  start=$SECONDS
  "$@" >"$BUILD_LOG" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 40 "$BUILD_LOG" >&2
    die "building $label failed (exit $rc)"
  fi
  log "built $label in $((SECONDS - start)) s"
}

build_images() {
  local commit base_image extra stage tag start_all=$SECONDS
  BUILD_LOG="$(mktemp)"
  # No buildx plugin (e.g. Debian's docker.io): use the classic builder.
  if ! docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=0; fi
  commit="$(git -C "$STACK_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  export CARPRICE_GIT_COMMIT="$commit"
  base_image="$(setting PYTHON_BASE_IMAGE python:3.11-slim-bookworm)"
  # Stage list, image names and dependency sets come from carprice.pipeline (STAGES,
  # image_name, STAGE_EXTRAS), read inside the smallest base image: no host Python needed.
  build_base() {
    timed_build "carprice-base:$1" docker build -f "$STACK_DIR/stages/base/Dockerfile" \
      --build-arg EXTRA="$1" --build-arg PYTHON_BASE_IMAGE="$base_image" \
      --build-arg GIT_COMMIT="$commit" -t "carprice-base:$1" "$STACK_DIR"
  }
  build_base data
  local plan extras=()
  plan="$(docker run --rm --entrypoint python carprice-base:data -c \
    'from carprice.pipeline import STAGES, STAGE_EXTRAS, image_name
for s in STAGES: print(s, STAGE_EXTRAS[s], image_name(s))')" \
    || die "cannot read the stage list from carprice.pipeline"
  # The app image builds FROM carprice-base:app.
  mapfile -t extras < <({ awk '{print $2}' <<< "$plan"; echo app; } | sort -u)
  for extra in "${extras[@]}"; do
    [ "$extra" = data ] || build_base "$extra"
  done
  while read -r stage extra tag; do
    [ -f "$STACK_DIR/stages/$stage/Dockerfile" ] || die "stage $stage has no stages/$stage/Dockerfile"
    timed_build "$tag" docker build -f "$STACK_DIR/stages/$stage/Dockerfile" \
      --build-arg EXTRA="$extra" --label "io.carprice.git-commit=$commit" -t "$tag" "$STACK_DIR"
  done <<< "$plan"
  # Each stage module must import with only its extra installed (else the DAG fails late).
  local modules=()
  for extra in "${extras[@]}"; do
    mapfile -t modules < <(awk -v e="$extra" '$2 == e {print "carprice.stages." $1}' <<< "$plan")
    [ "${#modules[@]}" -gt 0 ] || continue
    docker run --rm --entrypoint python "carprice-base:$extra" -c \
      'import importlib, sys
for m in sys.argv[1:]:
    try:
        importlib.import_module(m)
    except ImportError as exc:
        sys.exit(f"{m} cannot be imported in its image: {exc}")' "${modules[@]}" \
      || die "a stage needs more than its extra '$extra' installs: fix carprice.pipeline.STAGE_EXTRAS"
  done
  log "every stage module imports in its image"
  # One service per image (the Airflow services all share airflow-init's image).
  timed_build "service images (airflow, mlflow, streamlit)" compose build airflow-init mlflow streamlit
  rm -f "$BUILD_LOG"
  log "all images built in $((SECONDS - start_all)) s"
}

# --- health ------------------------------------------------------------------------------------
# Prints "service state health exit-code" for every container of the project.
service_states() {
  compose ps -a --format '{{.Service}} {{.State}} {{if .Health}}{{.Health}}{{else}}-{{end}} {{.ExitCode}}'
}

show_logs() {  # show_logs SERVICE...
  local svc
  for svc in "$@"; do
    printf '\n[carprice] last log lines of %s:\n' "$svc" >&2
    compose logs --no-color --tail 40 "$svc" >&2 || true
  done
}

wait_healthy() {
  local start=$SECONDS states svc state health code line services=() failed=() pending=() labels=()
  mapfile -t services < <(compose config --services)
  while :; do
    states="$(service_states)"
    failed=()
    pending=()
    labels=()
    for svc in "${services[@]}"; do
      line="$(awk -v s="$svc" '$1 == s' <<< "$states" | head -n 1)"
      read -r _ state health code <<< "${line:-$svc missing - -}"
      if [ "$svc" = airflow-init ]; then
        [ "$state" = exited ] && [ "$code" = 0 ] && continue
        [ "$state" = exited ] && failed+=("$svc")
      elif [ "$state" = running ] && { [ "$health" = healthy ] || [ "$health" = - ]; }; then
        continue
      elif [ "$state" = exited ] || [ "$state" = dead ] || [ "$state" = restarting ] \
        || [ "$health" = unhealthy ]; then
        failed+=("$svc")
      fi
      pending+=("$svc")
      labels+=("$svc($state/$health)")
    done
    if [ "${#failed[@]}" -gt 0 ]; then
      show_logs "${failed[@]}"
      die "service(s) failed: ${failed[*]} (see the log lines above)"
    fi
    if [ "${#pending[@]}" = 0 ]; then
      [ "$IS_TTY" = 1 ] && printf '\n'
      log "all ${#services[@]} services healthy after $((SECONDS - start)) s"
      return 0
    fi
    if [ $((SECONDS - start)) -ge "$HEALTH_TIMEOUT" ]; then
      [ "$IS_TTY" = 1 ] && printf '\n'
      show_logs "${pending[@]}"
      die "timeout after ${HEALTH_TIMEOUT}s; not healthy: ${labels[*]}"
    fi
    if [ "$IS_TTY" = 1 ]; then
      printf '\r[carprice] %3ds %d/%d healthy, waiting for: %s\033[K' $((SECONDS - start)) \
        $((${#services[@]} - ${#pending[@]})) "${#services[@]}" "${labels[*]}"
      sleep 1
    else
      log "$((SECONDS - start))s $((${#services[@]} - ${#pending[@]}))/${#services[@]} healthy, waiting for: ${labels[*]}"
      sleep 5
    fi
  done
}

# --- main ----------------------------------------------------------------------------------------
NEW_ENV=0
require_engine
load_project
create_env_file
check_env_file
load_project
preflight

DOCKER_SOCK=/var/run/docker.sock
[ -S "$DOCKER_SOCK" ] || die "$DOCKER_SOCK not found: the Airflow worker starts the stage containers through it"
DOCKER_GID="$(stat -c %g "$DOCKER_SOCK")"
export DOCKER_GID
[ "$(env_file_get DOCKER_GID)" = "$DOCKER_GID" ] || env_file_set DOCKER_GID "$DOCKER_GID"

log "project $PROJECT (settings: $ENV_FILE)"
if [ "$BUILD" = 1 ]; then build_images; fi

log "starting containers"
UP_START=$SECONDS
if ! compose --progress quiet up -d --remove-orphans; then
  service_states >&2 || true
  show_logs airflow-init
  die "docker compose up failed (see above)"
fi
wait_healthy
log "stack up in $((SECONDS - UP_START)) s"

bind="$(setting BIND_ADDRESS 127.0.0.1)"
[ "$bind" = 0.0.0.0 ] && bind=localhost
cat <<EOF
[carprice] Airflow    http://$bind:$(setting AIRFLOW_PORT 8080)   (DAG car_price_predictor_pipeline)
[carprice] MLflow     http://$bind:$(setting MLFLOW_PORT 5000)
[carprice] Streamlit  http://$bind:$(setting STREAMLIT_PORT 8501)
EOF
if [ "$NEW_ENV" = 1 ]; then
  log "Airflow admin: user '$(setting AIRFLOW_ADMIN_USER admin)' password '$(setting AIRFLOW_ADMIN_PASSWORD)'"
  log "(shown once; it stays in $ENV_FILE)"
else
  log "Airflow admin: user '$(setting AIRFLOW_ADMIN_USER admin)', password in $ENV_FILE"
fi
