#!/usr/bin/env bash
# Restore an archive of scripts/backup.sh into the running stack of this checkout: the
# databases, the MLflow artifacts and the exported model are replaced by the archive's.
# The services that hold them are stopped for the swap and started again.
#
#   scripts/restore.sh ARCHIVE [--yes]
set -euo pipefail
# shellcheck source=scripts/stack-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/stack-common.sh"

ARCHIVE=""
YES=0
for arg in "$@"; do
  case "$arg" in
    -y | --yes) YES=1 ;;
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) ARCHIVE="$arg" ;;
  esac
done
[ -f "$ARCHIVE" ] || die "usage: scripts/restore.sh ARCHIVE [--yes] (archive not found: '$ARCHIVE')"
require_engine
load_project
[ -n "$(compose ps -q --status running postgres)" ] || die "postgres is not running: start the stack first"
if [ "$YES" != 1 ]; then
  [ -t 0 ] || die "no terminal to confirm on: run scripts/restore.sh ARCHIVE --yes"
  printf '[carprice] Replace the registry, runs and model of project %s with %s? [y/N] ' \
    "$PROJECT" "$(basename "$ARCHIVE")"
  read -r answer
  case "$answer" in y | Y | yes | YES) ;; *) log "aborted, nothing changed"; exit 1 ;; esac
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xzf "$ARCHIVE"
src="$work/carprice-backup"
for part in "${BACKUP_DATABASES[@]/%/.dump}" mlflow-artifacts.tar models.tar; do
  [ -f "$src/$part" ] || die "$ARCHIVE is not a CarPrice backup (no $part)"
done

# Everything that holds a connection or a file being replaced.
mapfile -t users < <(compose config --services | grep -vx -e postgres -e redis)
log "stopping ${users[*]}"
compose stop "${users[@]}" >/dev/null
for db in "${BACKUP_DATABASES[@]}"; do
  log "restoring database $db"
  compose exec -T postgres dropdb -U postgres --if-exists --force "$db"
  compose exec -T postgres createdb -U postgres -O "$db" "$db"
  compose exec -T postgres pg_restore -U postgres --no-owner --role="$db" -d "$db" < "$src/$db.dump"
done
restore_volume() {  # restore_volume TARBALL SERVICE TARGET [run option...]
  local tarball="$1" service="$2" target="$3"
  shift 3
  log "restoring $target"
  compose run --rm --no-deps -T "$@" --entrypoint sh "$service" -c \
    "find '$target' -mindepth 1 -delete && tar -C '$target' -xf -" < "$tarball"
}
restore_volume "$src/mlflow-artifacts.tar" mlflow /mlflow/artifacts
# The app mounts the model export read-only: a stage image (same user) writes it.
restore_volume "$src/models.tar" stage-data /app/models -v "$PROJECT-models:/app/models"
log "starting the stack again"
compose up -d --wait >/dev/null
log "restored $(basename "$ARCHIVE") into project $PROJECT"
