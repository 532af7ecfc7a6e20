#!/usr/bin/env bash
# Full-stack e2e (tests/e2e/test_stack.py) as its own Compose project.
#   tests/e2e/run.sh [test files or pytest args...]
# Provides what it needs first: a Docker engine, Compose v2 and the base images. Where
# they cannot be pulled (no container registry) it builds them with
# ../shared/offline-images/build.sh, and stops the engine afterwards if it started it.
# Env: PYTHON (interpreter with pytest; default python3), CI (true: no engine = failure).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OFFLINE="$REPO/../shared/offline-images/build.sh"
PY="${PYTHON:-python3}"
log() { printf '[e2e] %s\n' "$*"; }

engine_was_up=0
docker info >/dev/null 2>&1 && engine_was_up=1

base_images=("${PYTHON_BASE_IMAGE:-python:3.11-slim-bookworm}" "${POSTGRES_IMAGE:-postgres:15-bookworm}"
  "${REDIS_IMAGE:-redis:7-bookworm}" "${CADDY_IMAGE:-caddy:2.11}")
have_images() {
  local img
  for img in "${base_images[@]}"; do docker image inspect "$img" >/dev/null 2>&1 || return 1; done
}
pull_images() {
  local img
  for img in "${base_images[@]}"; do timeout 120 docker pull -q "$img" >/dev/null 2>&1 || return 1; done
}

if [ "$engine_was_up" = 1 ] && docker compose version >/dev/null 2>&1 && { have_images || pull_images; }; then
  log "engine, compose and base images ready"
elif [ -x "$OFFLINE" ]; then
  log "no registry or no engine: $OFFLINE"
  eval "$("$OFFLINE")"
elif [ "${CI:-}" = true ]; then
  log "no Docker engine and no offline image builder: the e2e cannot run"; exit 1
fi

cleanup() {
  if [ "$engine_was_up" = 0 ] && [ -x "$OFFLINE" ]; then "$OFFLINE" --stop-engine || true; fi
}
trap cleanup EXIT

cd "$REPO"
started=$SECONDS
# One stack for the whole session; the files run in this order and test_restart.py (stop,
# start, reset) comes last. Arguments replace the list (e.g. one file).
files=(tests/e2e/test_stack.py tests/e2e/test_day2.py tests/e2e/test_trust.py tests/e2e/test_faults.py
  tests/e2e/test_maintenance.py tests/e2e/test_limits.py tests/e2e/test_alerts.py
  tests/e2e/test_dashboards.py tests/e2e/test_proxy.py tests/e2e/test_restart.py)
[ "$#" -gt 0 ] && files=("$@")
CARPRICE_E2E=1 "$PY" -m pytest -p no:cacheprovider -m e2e -s "${files[@]}"
log "e2e took $((SECONDS - started)) s"
