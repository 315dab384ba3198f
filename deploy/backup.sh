#!/bin/sh
# One backup of the duban PostgreSQL database, then old backups pruned. Run by the compose `backup`
# service (in a loop) and by duban-backup.timer (daily).
#
#   BACKUP_DIR        where dumps go (default /backups)
#   BACKUP_KEEP_DAYS  dumps older than this many days are deleted (default 14)
#   PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE   the usual libpq variables; POSTGRES_USER, POSTGRES_PASSWORD
#                     and POSTGRES_DB (the postgres image's names) fill in the ones not set
#
# A dump is written under a temporary name and renamed only once pg_restore can read its table of contents,
# so a file named duban-*.dump is always complete.
set -eu

BACKUP_DIR="${BACKUP_DIR:-/backups}"
BACKUP_KEEP_DAYS="${BACKUP_KEEP_DAYS:-14}"
export PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}"
export PGDATABASE="${PGDATABASE:-${POSTGRES_DB:-$PGUSER}}"
if [ -z "${PGPASSWORD:-}" ] && [ -n "${POSTGRES_PASSWORD:-}" ]; then
    export PGPASSWORD="$POSTGRES_PASSWORD"
fi

umask 077
mkdir -p "$BACKUP_DIR"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
dump="$BACKUP_DIR/duban-$stamp.dump"
partial="$BACKUP_DIR/.duban-$stamp.dump.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --no-owner --no-privileges --file="$partial"
pg_restore --list "$partial" >/dev/null
mv "$partial" "$dump"
echo "备份完成：$dump（$(wc -c <"$dump") 字节）"

find "$BACKUP_DIR" -maxdepth 1 -type f -name 'duban-*.dump' -mtime +"$BACKUP_KEEP_DAYS" -print -delete |
    sed 's/^/已删除过期备份：/'
