#!/bin/sh
# Start command of the prometheus service. Prometheus reads no environment variables, so
# the secrets compose hands over in the environment become files only this user can read
# (the shell's own printf: never on a command line), and the config's user names are
# filled in: the web login (bcrypt hash, PROMETHEUS_PASSWORD_HASH from .env), and the
# accounts it scrapes Flower and MLflow with.
set -eu
: "${PROMETHEUS_PASSWORD_HASH:?PROMETHEUS_PASSWORD_HASH is empty: run ./docker-start-full.sh}"
: "${PROMETHEUS_PASSWORD:?PROMETHEUS_PASSWORD is empty: run ./docker-start-full.sh}"
umask 077
dir=/tmp/carprice
mkdir -p "$dir"
printf '%s' "$PROMETHEUS_PASSWORD" > "$dir/prometheus-password"
printf '%s' "${FLOWER_PASSWORD:-}" > "$dir/flower-password"
printf '%s' "${MLFLOW_ADMIN_PASSWORD:-}" > "$dir/mlflow-password"
printf '%s:%s' "$PROMETHEUS_USER" "$PROMETHEUS_PASSWORD" | base64 | tr -d '\n' > "$dir/probe-auth"
printf 'basic_auth_users:\n  "%s": "%s"\n' "$PROMETHEUS_USER" "$PROMETHEUS_PASSWORD_HASH" \
  > "$dir/web.yml"
sed -e "s/__PROMETHEUS_USER__/$PROMETHEUS_USER/" -e "s/__FLOWER_USER__/${FLOWER_USER:-admin}/" \
  -e "s/__MLFLOW_USER__/${MLFLOW_ADMIN_USER:-admin}/" /etc/carprice/prometheus.yml > "$dir/prometheus.yml"
exec /bin/prometheus --config.file="$dir/prometheus.yml" --web.config.file="$dir/web.yml" \
  --storage.tsdb.path=/prometheus --storage.tsdb.retention.time="${PROMETHEUS_RETENTION:-15d}"
