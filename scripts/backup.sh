#!/usr/bin/env bash
# Back up a running CarPrice stack into one timestamped archive, without stopping it:
# both Postgres databases (Airflow, MLflow incl. its accounts), the MLflow artifacts and
# the exported production model.
#
#   scripts/backup.sh [DIR]        archive in DIR (default: backups/), path printed last
#
# Restore with scripts/restore.sh ARCHIVE.
set -euo pipefail
# shellcheck source=scripts/stack-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/stack-common.sh"

case "${1:-}" in -h | --help) sed -n '2,8p' "$0"; exit 0 ;; esac
OUT_DIR="${1:-$STACK_DIR/backups}"
require_engine
load_project
[ -f "$ENV_FILE" ] || die "no $ENV_FILE: nothing to back up"
for svc in postgres mlflow streamlit; do
  [ -n "$(compose ps -q --status running "$svc")" ] || die "$svc is not running: start the stack first"
done

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/carprice-backup" "$OUT_DIR"
dest="$work/carprice-backup"

for db in "${BACKUP_DATABASES[@]}"; do
  log "dumping database $db"
  compose exec -T postgres pg_dump -U postgres --format=custom "$db" > "$dest/$db.dump"
done
log "archiving the MLflow artifacts"
compose exec -T mlflow tar -C /mlflow/artifacts -cf - . > "$dest/mlflow-artifacts.tar"
log "archiving the exported production model"
compose exec -T streamlit tar -C /app/models -cf - . > "$dest/models.tar"
printf '{"project": "%s", "created": "%s", "git_commit": "%s"}\n' "$PROJECT" "$stamp" \
  "$(git -C "$STACK_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)" > "$dest/manifest.json"

archive="$OUT_DIR/carprice-$PROJECT-$stamp.tar.gz"
(umask 077 && tar -C "$work" -czf "$archive" carprice-backup)
log "backup written ($(du -h "$archive" | cut -f1))"
echo "$archive"
