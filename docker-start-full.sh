#!/usr/bin/env bash
# Start the whole CarPrice stack and wait until every service is healthy.
#
#   ./docker-start-full.sh            build every image (cached), start, wait, print the URLs
#   ./docker-start-full.sh --no-build start with the images already built
#
# First start: creates .env from .env.example with generated secrets (mode 600) and prints
# the Airflow admin credentials once. Safe to run again at any time.
# Environment: HEALTH_TIMEOUT (seconds, default 420), CARPRICE_ENV_FILE, COMPOSE_PROJECT_NAME,
# COMPOSE_PROFILES (optional parts, e.g. monitoring) and any variable of .env.example (they
# override .env).
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
SECRET_KEYS=(POSTGRES_PASSWORD AIRFLOW_DB_PASSWORD MLFLOW_DB_PASSWORD AIRFLOW_FERNET_KEY
  AIRFLOW_JWT_SECRET AIRFLOW_ADMIN_PASSWORD REDIS_PASSWORD MLFLOW_SECRET_KEY MLFLOW_ADMIN_PASSWORD
  MLFLOW_TRAINER_PASSWORD MLFLOW_PROMOTER_PASSWORD MLFLOW_READER_PASSWORD FLOWER_PASSWORD
  PREDLOG_DB_PASSWORD MONITOR_DB_PASSWORD PROMETHEUS_PASSWORD API_KEY STREAMLIT_PASSWORD
  GRAFANA_ADMIN_PASSWORD)

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

# The model-signing pair (Ed25519) as "<private hex> <public hex>", the public key derived
# from the private one: openssl on the host, else scripts/signing_keypair.py on the base
# image's stdin. The private key only goes through pipes, never a command line.
signing_key_pair() {
  local pem
  if command -v openssl >/dev/null 2>&1 && pem="$(openssl genpkey -algorithm ed25519 2>/dev/null)"; then
    # The DER forms end with the 32-byte private seed / public key.
    printf '%s %s\n' \
      "$(printf '%s\n' "$pem" | openssl pkey -outform DER | od -An -v -tx1 | tr -d ' \n' | tail -c 64)" \
      "$(printf '%s\n' "$pem" | openssl pkey -pubout -outform DER | od -An -v -tx1 | tr -d ' \n' | tail -c 64)"
  else
    docker run --rm -i "$(setting PYTHON_BASE_IMAGE python:3.11-slim-bookworm)" python - \
      < "$STACK_DIR/scripts/signing_keypair.py"
  fi
}

create_env_file() {
  [ -f "$ENV_FILE" ] && return 0
  [ -f "$STACK_DIR/.env.example" ] || die ".env.example is missing"
  log "first start: creating $ENV_FILE with generated secrets"
  (umask 077 && cp "$STACK_DIR/.env.example" "$ENV_FILE")
  # Settings given in the environment on the first start (project name, ports, images,
  # e.g. the e2e test's) are kept for later runs.
  local line key
  while IFS= read -r line; do
    key="${line%%=*}"
    [ -n "${!key:-}" ] && env_file_set "$key" "${!key}"
  done < <(grep -E '^[A-Z][A-Z0-9_]*=' "$STACK_DIR/.env.example")
  NEW_ENV=1
}

# Settings a newer .env.example added are appended with their defaults, so an existing
# settings file keeps working after an update (its own values are never touched).
add_new_settings() {
  local line key value
  while IFS= read -r line; do
    key="${line%%=*}"
    grep -q "^$key=" "$ENV_FILE" && continue
    value="${!key:-${line#*=}}"
    log "adding $key (new setting) to $ENV_FILE"
    env_file_set "$key" "$value"
  done < <(grep -E '^[A-Z][A-Z0-9_]*=' "$STACK_DIR/.env.example")
}

# Every secret that is empty or missing gets a generated value: on the first start all of
# them, later only those a newer version of the stack added.
fill_secrets() {
  local key
  for key in "${SECRET_KEYS[@]}"; do
    [ -n "$(env_file_get "$key")" ] && continue
    [ "$NEW_ENV" = 1 ] || log "generating $key (new setting) in $ENV_FILE"
    if [ "$key" = AIRFLOW_FERNET_KEY ]; then
      env_file_set "$key" "$(random_secret fernet)"
    else
      env_file_set "$key" "$(random_secret hex)"
    fi
  done
  # Model signatures: promote_staging signs with the private key, the API and the app
  # verify with the public one. A new key refuses every model signed with the old one.
  local pair
  if [ -z "$(env_file_get CARPRICE_SIGNING_KEY)" ]; then
    [ -z "$(env_file_get CARPRICE_SIGNING_PUBLIC_KEY)" ] \
      || die "CARPRICE_SIGNING_PUBLIC_KEY is set in $ENV_FILE but CARPRICE_SIGNING_KEY is not: restore the private key, or empty both for a new pair (promoted models must then be promoted again)"
    [ "$NEW_ENV" = 1 ] || log "generating the model-signing key pair (new setting) in $ENV_FILE"
    pair="$(signing_key_pair)"
    [ "${#pair}" = 129 ] || die "generating the model-signing key pair failed"
    env_file_set CARPRICE_SIGNING_KEY "${pair%% *}"
    env_file_set CARPRICE_SIGNING_PUBLIC_KEY "${pair##* }"
  elif [ -z "$(env_file_get CARPRICE_SIGNING_PUBLIC_KEY)" ]; then
    die "CARPRICE_SIGNING_PUBLIC_KEY is empty in $ENV_FILE: set it to the public half of CARPRICE_SIGNING_KEY (with it in the environment, \`carprice signing-key --public\` prints it)"
  fi
  chmod 600 "$ENV_FILE"
}

# Prometheus's web login wants a bcrypt hash of PROMETHEUS_PASSWORD: made (or kept, when it
# still matches) by scripts/bcrypt_hash.py in the Python base image, the password in the
# container's environment only. Single quotes: Compose reads the `$`s literally.
prometheus_hash() {
  local hash
  hash="$(HASH_PASSWORD="$(env_file_get PROMETHEUS_PASSWORD)" \
    HASH_CURRENT="$(env_file_get PROMETHEUS_PASSWORD_HASH)" docker run --rm -i \
    -e HASH_PASSWORD -e HASH_CURRENT "$(setting PYTHON_BASE_IMAGE python:3.11-slim-bookworm)" \
    python - < "$STACK_DIR/scripts/bcrypt_hash.py")" || die "hashing PROMETHEUS_PASSWORD failed"
  [ "$(env_file_get PROMETHEUS_PASSWORD_HASH)" = "'$hash'" ] \
    || env_file_set PROMETHEUS_PASSWORD_HASH "'$hash'"
}

# --- the doors: what may listen beyond this machine -----------------------------------------

# Only the HTTPS proxy is published beyond loopback: the services behind it speak plain HTTP
# (MLflow's basic auth in clear text) and Streamlit has no login of its own.
check_bind_address() {
  local bind
  bind="$(setting BIND_ADDRESS 127.0.0.1)"
  case "$bind" in 127.* | ::1 | localhost) return 0 ;; esac
  if proxy_enabled; then
    die "BIND_ADDRESS=$bind would publish Airflow, MLflow, Streamlit and the API beside the proxy, unencrypted and without the app's login: keep BIND_ADDRESS=127.0.0.1 (the proxy listens on PROXY_BIND_ADDRESS)"
  fi
  die "BIND_ADDRESS=$bind would publish Airflow, MLflow, Streamlit and the API on the network unencrypted, Streamlit without a login: keep BIND_ADDRESS=127.0.0.1 and open them through the HTTPS proxy (COMPOSE_PROFILES=proxy in $ENV_FILE)"
}


# The root of the proxy's local CA (Caddy creates it on its first start), copied beside the
# compose file for browsers and curl to trust; git ignores it.
proxy_ca_file() { printf '%s/proxy/%s-root-ca.crt' "$STACK_DIR" "$PROJECT"; }

export_proxy_ca() {
  local ca try
  ca="$(proxy_ca_file)"
  if [ -n "$(setting PROXY_CERT_FILE)" ]; then
    log "proxy: TLS with your certificate (PROXY_CERT_FILE)"
    return 0
  fi
  for try in 1 2 3 4 5 6 7 8 9 10; do
    compose cp proxy:/data/caddy/pki/authorities/local/root.crt "$ca" >/dev/null 2>&1 && break
    [ "$try" = 10 ] && die "the proxy's local CA has no root certificate yet (see: docker compose logs proxy)"
    sleep 2
  done
  chmod 644 "$ca"
  log "proxy: the local CA's root certificate is $ca; trust it once:"
  log "  curl / requests:  curl --cacert $ca ...   (REQUESTS_CA_BUNDLE=$ca)"
  log "  Debian/Ubuntu:    sudo cp $ca /usr/local/share/ca-certificates/carprice.crt && sudo update-ca-certificates"
  log "  Chrome/Chromium:  certutil -d sql:\$HOME/.pki/nssdb -A -t C,, -n carprice -i $ca   (libnss3-tools)"
  log "  Firefox: Settings > Certificates > Import;  macOS: sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain $ca"
}

# --- preflight -----------------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

preflight() {
  require_engine
  local running port key
  running="$(compose ps -q 2>/dev/null || true)"
  if [ -z "$running" ]; then
    local keys=(AIRFLOW_PORT MLFLOW_PORT STREAMLIT_PORT API_PORT)
    proxy_enabled && keys+=(PROXY_STREAMLIT_PORT PROXY_AIRFLOW_PORT PROXY_MLFLOW_PORT PROXY_API_PORT)
    if profile_on monitoring; then keys+=(PROMETHEUS_PORT); fi
    for key in "${keys[@]}"; do
      port="$(setting "$key")"
      [ -n "$port" ] || die "$key is empty in $ENV_FILE"
      if port_in_use "$port"; then
        die "port $port ($key) is already in use: free it or set another $key in $ENV_FILE"
      fi
    done
  fi
  local image images=(PYTHON_BASE_IMAGE POSTGRES_IMAGE REDIS_IMAGE)
  if profile_on monitoring; then
    images+=(PROMETHEUS_IMAGE ALERTMANAGER_IMAGE POSTGRES_EXPORTER_IMAGE)
  fi
  if proxy_enabled; then images+=(CADDY_IMAGE); fi
  for key in "${images[@]}"; do
    image="$(setting "$key")"
    [ -n "$image" ] || die "$key is empty in $ENV_FILE"
    docker image inspect "$image" >/dev/null 2>&1 && continue
    log "pulling $image ($key)"
    docker pull -q "$image" >/dev/null || die "cannot pull $image; without a registry provide \
an equivalent image and set $key in $ENV_FILE (docs/operations.md#base-images-and-offline-machines)"
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
build_images() {
  local start=$SECONDS log commit extra sets=()
  log="$(mktemp)"
  commit="$(git -C "$STACK_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  export CARPRICE_GIT_COMMIT="$commit"
  log "building images (services and pipeline stages; the first build takes several minutes)"
  # carprice-base first: every carprice image starts FROM it, and Compose's Bake builder
  # (buildx) does not order builds by depends_on (the built-in builder does).
  if ! { compose build carprice-base && compose build; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "building the images failed (full log: $log)"
  fi
  rm -f "$log"
  # Each stage module must import with only its image's dependency set (else the DAG
  # would fail late, at the stage): carprice-stage-<set> imports the stages of <set>.
  mapfile -t sets < <(compose config --images | sed -n 's/^carprice-stage-\(.*\):.*/\1/p')
  for extra in "${sets[@]}"; do
    docker run --rm --entrypoint python "carprice-stage-$extra:latest" -c "
import importlib, sys
from carprice.pipeline import definition
for stage, extra in definition.IMAGE_EXTRAS.items():
    if extra == sys.argv[1]:
        importlib.import_module(f'carprice.pipeline.stages.{stage}')" "$extra" >/dev/null \
      || die "a stage of set $extra cannot be imported in carprice-stage-$extra: \
fix carprice.pipeline.definition.IMAGE_EXTRAS"
  done
  log "all images built in $((SECONDS - start)) s; every stage imports in its image"
}

# --- health ------------------------------------------------------------------------------------
show_logs() {  # show_logs SERVICE...
  local svc
  for svc in "$@"; do
    printf '\n[carprice] last log lines of %s:\n' "$svc" >&2
    compose logs --no-color --tail 40 "$svc" >&2 || true
  done
}

# Services that are not running and healthy (or, for airflow-init, did not exit 0).
unhealthy_services() {
  compose ps -a --format '{{.Service}} {{.State}} {{if .Health}}{{.Health}}{{else}}-{{end}} {{.ExitCode}}' \
    | awk '!(($2 == "running" && ($3 == "healthy" || $3 == "-")) || ($2 == "exited" && $4 == 0)) {print $1}'
}

# --- main ----------------------------------------------------------------------------------------
NEW_ENV=0
require_engine
load_project
create_env_file
add_new_settings
fill_secrets
load_project
check_bind_address
preflight
if profile_on monitoring; then prometheus_hash; fi

DOCKER_SOCK=/var/run/docker.sock
[ -S "$DOCKER_SOCK" ] || die "$DOCKER_SOCK not found: the Airflow worker starts the stage containers through it"
DOCKER_GID="$(stat -c %g "$DOCKER_SOCK")"
export DOCKER_GID
[ "$(env_file_get DOCKER_GID)" = "$DOCKER_GID" ] || env_file_set DOCKER_GID "$DOCKER_GID"
# Your own CSVs go here; the DAG mounts it read-only into `ingest` (csv_uri=inbox/<file>).
INBOX="$STACK_DIR/data/inbox"
mkdir -p "$INBOX"
[ "$(env_file_get CARPRICE_INBOX_HOST_DIR)" = "$INBOX" ] || env_file_set CARPRICE_INBOX_HOST_DIR "$INBOX"

log "project $PROJECT (settings: $ENV_FILE${COMPOSE_PROFILES:+; profiles: $COMPOSE_PROFILES})"
if [ "$BUILD" = 1 ]; then build_images; fi

log "starting containers"
UP_START=$SECONDS
# Postgres first: databases a newer stack added are created in an existing volume too.
compose --progress quiet up -d --wait --wait-timeout "$HEALTH_TIMEOUT" postgres \
  || die "postgres did not become healthy (see: docker compose logs postgres)"
compose exec -T postgres bash /docker-entrypoint-initdb.d/10-carprice-databases.sh >/dev/null \
  || die "creating the stack's databases failed (scripts/postgres-init.sh)"
if ! compose --progress quiet up -d --remove-orphans --wait --wait-timeout "$HEALTH_TIMEOUT"; then
  compose ps -a >&2 || true
  mapfile -t bad < <(unhealthy_services)
  show_logs "${bad[@]:-airflow-init}"
  die "not healthy after ${HEALTH_TIMEOUT}s or failed: ${bad[*]:-see above}"
fi
log "all services healthy; stack up in $((SECONDS - UP_START)) s"
if proxy_enabled; then export_proxy_ca; fi

bind="$(setting BIND_ADDRESS 127.0.0.1)"
[ "$bind" = 0.0.0.0 ] && bind=localhost
cat <<EOF
[carprice] Airflow    http://$bind:$(setting AIRFLOW_PORT 8080)   (DAG car_price_predictor_pipeline)
[carprice] MLflow     http://$bind:$(setting MLFLOW_PORT 5000)
[carprice] Streamlit  http://$bind:$(setting STREAMLIT_PORT 8501)
[carprice] API        http://$bind:$(setting API_PORT 8000)/docs   (POST /predict: header X-API-Key)
EOF
if profile_on monitoring; then
  log "Prometheus http://$bind:$(setting PROMETHEUS_PORT 9090)   (alerts: /alerts; login PROMETHEUS_USER / PROMETHEUS_PASSWORD)"
fi
if proxy_enabled; then
  host="$(proxy_host)"
  cat <<EOF
[carprice] through the HTTPS proxy (on $(setting PROXY_BIND_ADDRESS 0.0.0.0), names: $(setting PROXY_HOSTNAMES localhost)):
[carprice] Streamlit  https://$host:$(setting PROXY_STREAMLIT_PORT 8443)   (login STREAMLIT_USER / STREAMLIT_PASSWORD)
[carprice] Airflow    https://$host:$(setting PROXY_AIRFLOW_PORT 8444)
[carprice] MLflow     https://$host:$(setting PROXY_MLFLOW_PORT 8445)
[carprice] API        https://$host:$(setting PROXY_API_PORT 8446)/docs
EOF
fi
log "logins (user and password settings in $ENV_FILE, readable by you only):"
log "  Airflow    AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD"
log "  MLflow     MLFLOW_ADMIN_USER / MLFLOW_ADMIN_PASSWORD (app and stages have their own accounts)"
log "  Flower     FLOWER_USER / FLOWER_PASSWORD (with --profile flower)"
log "  API        API_KEY, sent as header X-API-Key on POST /predict"
if proxy_enabled; then log "  Streamlit  STREAMLIT_USER / STREAMLIT_PASSWORD (through the proxy)"; fi
log "  Grafana    GRAFANA_ADMIN_USER / GRAFANA_ADMIN_PASSWORD (with --profile grafana, port GRAFANA_PORT)"
