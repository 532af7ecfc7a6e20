#!/usr/bin/env bash
# Restore an archive of scripts/backup.sh into the running stack of this checkout: the
# databases, the MLflow artifacts, the exported model and the archived run folders are
# replaced by the archive's.
#
#   scripts/restore.sh ARCHIVE [--yes]
#
# Everything is verified before the stack is touched (the archive reads to its end, every
# part matches manifest.json's sha256 and size, every dump passes `pg_restore --list`): a
# bad archive is refused in one line and nothing changes. Then the archive's files are
# unpacked beside the live ones in their volumes, the services that hold the data stop, each
# database is restored in one transaction into a new database, and all of them replace the
# live ones in one final transaction (a failure before it leaves the live data in place);
# the volumes follow by renames and the stack starts again.
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
    sql -c "SET client_min_messages = warning" \
      -c "DROP DATABASE IF EXISTS \"$db$RESTORING\" WITH (FORCE)" \
      -c "DROP DATABASE IF EXISTS \"$db$REPLACED\" WITH (FORCE)" >/dev/null || return 1
  done
}

# The volumes, each through a container that mounts it: TARBALL SERVICE TARGET [run option...]
# (the app mounts the export read-only: a stage image, same user, writes it).
VOLUMES=(
  "mlflow-artifacts.tar|mlflow|/mlflow/artifacts|"
  "models.tar|stage-data|/app/models|$PROJECT-models:/app/models"
  "runs.tar|stage-data|/app/data/runs|"
)
# sh scripts run there with the target as $1. Stage: unpack into TARGET/.restoring (same
# filesystem: the final step is renames only). Replace: the whole volume, or (run folders)
# only the archived folders' namesakes.
# shellcheck disable=SC2016  # expanded by the container's sh
STAGE='set -e; mkdir -p "$1"; cd "$1"; rm -rf .restoring; mkdir .restoring; tar -C .restoring -xf -'
# shellcheck disable=SC2016
UNSTAGE='rm -rf "$1/.restoring"'
# shellcheck disable=SC2016
REPLACE_ALL='set -e; cd "$1"; rm -rf .replaced; mkdir .replaced
for f in * .[!.]* ..?*; do
  case "$f" in .restoring | .replaced) continue ;; esac
  if [ -e "$f" ] || [ -L "$f" ]; then mv "$f" .replaced/; fi
done
for f in .restoring/* .restoring/.[!.]* .restoring/..?*; do
  if [ -e "$f" ] || [ -L "$f" ]; then mv "$f" .; fi
done
rmdir .restoring; rm -rf .replaced'
# shellcheck disable=SC2016
REPLACE_NAMESAKES='set -e; cd "$1"
for f in .restoring/*; do
  [ -d "$f" ] || continue
  rm -rf "./${f##*/}"; mv "$f" .
done
rm -rf .restoring'
on_volumes() {  # on_volumes SCRIPT|replace [stdin from each part]: run SCRIPT on every volume
  local entry part service target mount script input
  for entry in "${VOLUMES[@]}"; do
    IFS='|' read -r part service target mount <<< "$entry"
    input=/dev/null
    [ -z "${2:-}" ] || input="$src/$part"
    script="$1"
    if [ "$script" = replace ]; then
      script="$REPLACE_ALL"
      [ "$part" != runs.tar ] || script="$REPLACE_NAMESAKES"
    fi
    compose run --rm --no-deps -T ${mount:+-v "$mount"} --entrypoint sh "$service" \
      -c "$script" sh "$target" < "$input" >/dev/null || return 1
  done
}
undo() {  # a failed restore: drop what was put aside, start the stack again, stop with $1
  drop_aside || true
  on_volumes "$UNSTAGE" || true
  compose up -d --wait >/dev/null 2>&1 || true
  die "$1"
}

# 2. The files, unpacked beside the live ones in their volumes (nothing live changes yet).
log "unpacking the artifacts, the export and the run folders beside the live ones"
on_volumes "$STAGE" parts || undo "unpacking the volumes failed (disk full?): nothing was changed"

# 3. Every database restored beside the live one, with everything that holds a connection
# or a file being replaced stopped.
mapfile -t users < <(compose config --services | grep -vx -e postgres -e redis)
log "stopping ${users[*]}"
compose stop "${users[@]}" >/dev/null
drop_aside || undo "cannot drop what an earlier restore left aside: the live data is untouched"
for db in "${BACKUP_DATABASES[@]}"; do
  log "restoring database $db (one transaction, beside the live one)"
  if ! { compose exec -T postgres createdb -U postgres -O "$db" "$db$RESTORING" \
      && compose exec -T postgres pg_restore -U postgres --no-owner --role="$db" \
        --single-transaction --exit-on-error -d "$db$RESTORING" < "$src/$db.dump"; }; then
    undo "restoring $db failed: the live data is untouched and the stack started again"
  fi
done
# 4. The swap: every live database replaced by its restored copy in one transaction (its SQL
# was written before anything stopped), then the volumes by renames.
sql -o /dev/null < "$work/swap.sql" \
  || undo "swapping the restored databases in failed: the live data is untouched and the stack started again"
log "databases swapped in; replacing the volumes"
drop_aside || warn "the replaced databases (*$REPLACED) could not be dropped: drop them by hand"
on_volumes replace || die "replacing the volumes failed after the databases were restored: run the restore again"
log "starting the stack again"
compose up -d --wait >/dev/null
log "restored $name into project $PROJECT"
