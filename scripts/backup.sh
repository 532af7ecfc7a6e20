#!/usr/bin/env bash
# Back up a running CarPrice stack into one timestamped archive, without stopping it: the
# Airflow, MLflow (incl. its accounts) and predictions databases, the MLflow artifacts, the
# exported production model and the run folders of every registered version (the monitor
# reads the production one's train.parquet). manifest.json lists each part's size and sha256.
#
#   scripts/backup.sh [DIR] [--keep N]   archive in DIR (default: backups/), path printed last;
#                                        --keep N: then delete all but this project's N newest
#
# Restore with scripts/restore.sh ARCHIVE. A good archive is recorded in the data volume
# (ops/last-backup.json), which the maintenance DAG checks for age.
set -euo pipefail
# shellcheck source=scripts/stack-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/stack-common.sh"

OUT_DIR=""
KEEP=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    --keep) KEEP="${2:-}"; shift ;;
    --keep=*) KEEP="${1#--keep=}" ;;
    -*) die "unknown option $1 (scripts/backup.sh [DIR] [--keep N])" ;;
    *) OUT_DIR="$1" ;;
  esac
  shift
done
[ -z "$KEEP" ] || [[ "$KEEP" =~ ^[1-9][0-9]*$ ]] || die "--keep needs a whole number >= 1, got '$KEEP'"
OUT_DIR="${OUT_DIR:-$STACK_DIR/backups}"
require_engine
load_project
[ -f "$ENV_FILE" ] || die "no $ENV_FILE: nothing to back up"
for svc in postgres mlflow streamlit; do
  [ -n "$(compose ps -q --status running "$svc")" ] || die "$svc is not running: start the stack first"
done

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
work="$(mktemp -d)"
partial=""
trap 'rm -rf "$work" ${partial:+"$partial"}' EXIT
mkdir -p "$work/$BACKUP_ROOT" "$OUT_DIR"
dest="$work/$BACKUP_ROOT"

for db in "${BACKUP_DATABASES[@]}"; do
  log "dumping database $db"
  compose exec -T postgres pg_dump -U postgres --format=custom "$db" > "$dest/$db.dump"
done
log "archiving the MLflow artifacts"
compose exec -T mlflow tar -C /mlflow/artifacts -cf - . > "$dest/mlflow-artifacts.tar"
log "archiving the exported production model"
compose exec -T streamlit tar -C /app/models -cf - . > "$dest/models.tar"
log "archiving the run folders of the registered versions"
backup_tool exec run-folders > "$dest/runs.tar"
log "checksumming the parts"
git_commit="$(git -C "$STACK_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
tar -C "$work" -cf - "$BACKUP_ROOT" \
  | backup_tool exec manifest --project "$PROJECT" --created "$stamp" --git-commit "$git_commit" \
  > "$work/manifest.json"
mv "$work/manifest.json" "$dest/manifest.json"

name="carprice-$PROJECT-$stamp.tar.gz"
archive="$OUT_DIR/$name"
# Written aside, then renamed: a failed or interrupted backup leaves no file that looks
# complete (and no partial one either).
partial="$archive.partial"
(umask 077 && tar -C "$work" -czf "$partial" "$BACKUP_ROOT")
backup_tool exec verify < "$partial" >/dev/null || die "the new archive does not verify (disk or memory fault?)"
mv "$partial" "$archive"
partial=""
backup_tool exec marker --archive "$name" < "$archive" >/dev/null
log "backup written ($(du -h "$archive" | cut -f1)), recorded as the last backup"

if [ -n "$KEEP" ]; then
  # This project's archives only (its name, then the stamp and nothing else), oldest first.
  d='[0-9]'
  shopt -s nullglob
  # shellcheck disable=SC2206  # the stamp pattern must glob
  mine=("$OUT_DIR/carprice-$PROJECT-"$d$d$d$d$d$d$d${d}T$d$d$d$d$d${d}Z.tar.gz)
  shopt -u nullglob
  for ((i = 0; i < ${#mine[@]} - KEEP; i++)); do
    log "pruning ${mine[i]##*/}"
    rm -f -- "${mine[i]}"
  done
fi
echo "$archive"
