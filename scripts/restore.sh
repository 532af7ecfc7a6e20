#!/usr/bin/env bash
# Restore an archive of scripts/backup.sh into the running stack of this checkout: the
# databases, the MLflow artifacts, the exported model and the archived run folders are
# replaced by the archive's.
#
#   scripts/restore.sh ARCHIVE [--yes]
#
# Everything is verified before the stack is touched (the archive reads to its end, every
# part matches manifest.json's sha256 and size, every dump passes `pg_restore --list`): a
# bad archive is refused in one line and nothing changes. Then the services that hold the
# data are stopped; each database is restored in one transaction into a new database, and
# all of them replace the old ones in one final transaction (a failure before it leaves the
# old ones in place); the volumes follow and the stack starts again.
set -euo pipefail
# shellcheck source=scripts/stack-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/stack-common.sh"

ARCHIVE=""
YES=0
for arg in "$@"; do
  case "$arg" in
    -y | --yes) YES=1 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) ARCHIVE="$arg" ;;
  esac
done
[ -f "$ARCHIVE" ] || die "usage: scripts/restore.sh ARCHIVE [--yes] (archive not found: '$ARCHIVE')"
require_engine
load_project
[ -n "$(compose ps -q --status running postgres)" ] || die "postgres is not running: start the stack first"
name="$(basename "$ARCHIVE")"
refuse() { die "refused $name: $*; nothing was changed"; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# 1. Verify everything, touching nothing.
log "verifying $name"
tar -tzf "$ARCHIVE" >/dev/null 2>&1 || refuse "not a readable .tar.gz (truncated or corrupt)"
backup_tool run verify < "$ARCHIVE" >/dev/null 2>"$work/verify.err" \
  || refuse "$(grep -v '^\s*$' "$work/verify.err" | tail -n 1 | sed 's/^refused: //')"
tar -C "$work" -xzf "$ARCHIVE" || refuse "cannot unpack it into $work (disk full?)"
src="$work/$BACKUP_ROOT"
for part in "${BACKUP_DATABASES[@]/%/.dump}" mlflow-artifacts.tar models.tar runs.tar; do
  [ -f "$src/$part" ] || refuse "no $part in it (not a complete CarPrice backup)"
done
for db in "${BACKUP_DATABASES[@]}"; do
  compose exec -T postgres pg_restore --list < "$src/$db.dump" >/dev/null 2>&1 \
    || refuse "$db.dump is not a dump pg_restore can read"
done
log "verified: every part matches manifest.json, every dump reads"
# Beside each live database during a restore: its restored copy, then the one it replaced.
RESTORING=_restoring
REPLACED=_replaced
backup_tool run swap-sql --restoring "$RESTORING" --replaced "$REPLACED" \
  "${BACKUP_DATABASES[@]}" > "$work/swap.sql" || die "cannot prepare the restore; nothing was changed"

if [ "$YES" != 1 ]; then
  [ -t 0 ] || die "no terminal to confirm on: run scripts/restore.sh ARCHIVE --yes"
  printf '[carprice] Replace the registry, runs and model of project %s with %s? [y/N] ' \
    "$PROJECT" "$name"
  read -r answer
  case "$answer" in y | Y | yes | YES) ;; *) log "aborted, nothing changed"; exit 1 ;; esac
fi

sql() {  # sql STATEMENTS...: as the superuser on the maintenance database, stop at the first error
  compose exec -T postgres psql -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"
}
drop_aside() {  # the databases a restore creates beside the live ones
  local db
  for db in "${BACKUP_DATABASES[@]}"; do
    sql -c "DROP DATABASE IF EXISTS \"$db$RESTORING\" WITH (FORCE)" \
      -c "DROP DATABASE IF EXISTS \"$db$REPLACED\" WITH (FORCE)" >/dev/null || return 1
  done
}

# 2. Everything that holds a connection or a file being replaced.
mapfile -t users < <(compose config --services | grep -vx -e postgres -e redis)
log "stopping ${users[*]}"
compose stop "${users[@]}" >/dev/null
drop_aside || die "cannot drop what an earlier restore left aside; nothing was changed"
for db in "${BACKUP_DATABASES[@]}"; do
  log "restoring database $db (one transaction, beside the live one)"
  if ! { compose exec -T postgres createdb -U postgres -O "$db" "$db$RESTORING" \
      && compose exec -T postgres pg_restore -U postgres --no-owner --role="$db" \
        --single-transaction --exit-on-error -d "$db$RESTORING" < "$src/$db.dump"; }; then
    drop_aside || true
    compose up -d --wait >/dev/null 2>&1 || true
    die "restoring $db failed: the old databases are untouched and the stack started again"
  fi
done
# 3. The swap: every live database replaced by its restored copy in one transaction
# (its SQL was written before anything stopped).
if ! sql -o /dev/null < "$work/swap.sql"; then
  drop_aside || true
  compose up -d --wait >/dev/null 2>&1 || true
  die "swapping the restored databases in failed: the old ones are untouched and the stack started again"
fi
drop_aside || warn "the replaced databases (*_replaced) could not be dropped: drop them by hand"

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
# Run folders: the archived ones replace their namesakes; other folders stay.
log "restoring the archived run folders"
# shellcheck disable=SC2016  # expanded by the container's sh
compose run --rm --no-deps -T --entrypoint sh stage-data -c '
  set -e; runs=/app/data/runs; tmp="$runs/.restoring"
  rm -rf "$tmp"; mkdir -p "$tmp"; tar -C "$tmp" -xf -
  for dir in "$tmp"/*; do
    [ -d "$dir" ] || continue
    rm -rf "$runs/${dir##*/}"; mv "$dir" "$runs/"
  done
  rmdir "$tmp"' < "$src/runs.tar"
log "starting the stack again"
compose up -d --wait >/dev/null
log "restored $name into project $PROJECT"
