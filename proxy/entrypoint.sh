#!/bin/sh
# Entrypoint of the proxy service (Caddy's image: POSIX sh, busybox or dash): prepares the
# variables proxy/Caddyfile reads, then runs Caddy in the foreground.
set -eu

# The app's login: bcrypt by `caddy hash-password`, the password on its stdin (never on
# a command line), then dropped from this environment. Cost 12: the first login and this
# start take a quarter of the default's (14) CPU on a small machine; still ~0.2 s a guess.
[ -n "${STREAMLIT_PASSWORD:-}" ] || { echo "proxy: STREAMLIT_PASSWORD is empty in .env" >&2; exit 1; }
STREAMLIT_PASSWORD_HASH="$(printf '%s\n' "$STREAMLIT_PASSWORD" | caddy hash-password --algorithm bcrypt --bcrypt-cost 12)"
unset STREAMLIT_PASSWORD
export STREAMLIT_PASSWORD_HASH

# The user's certificate when one is mounted (PROXY_CERT_FILE / PROXY_KEY_FILE), else the
# local CA. /dev/null is what compose mounts when they are unset: an empty file.
if [ -s /etc/caddy/certs/cert.pem ]; then
  [ -s /etc/caddy/certs/key.pem ] || { echo "proxy: PROXY_CERT_FILE is set but PROXY_KEY_FILE is not" >&2; exit 1; }
  PROXY_TLS="/etc/caddy/certs/cert.pem /etc/caddy/certs/key.pem"
else
  PROXY_TLS=internal
fi
export PROXY_TLS

# https://<name>:<port> for each name; the container ports are fixed, compose maps them.
sites() {
  out=""
  for name in $(printf '%s' "${PROXY_HOSTNAMES:-localhost}" | tr ',' ' '); do
    out="${out:+$out, }https://$name:$1"
  done
  printf '%s' "$out"
}
STREAMLIT_SITES="$(sites 8443)"
AIRFLOW_SITES="$(sites 8444)"
MLFLOW_SITES="$(sites 8445)"
API_SITES="$(sites 8446)"
export STREAMLIT_SITES AIRFLOW_SITES MLFLOW_SITES API_SITES

exec caddy run --config /etc/caddy/Caddyfile --adapter caddyfile
