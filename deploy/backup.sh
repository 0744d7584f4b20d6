#!/usr/bin/env bash
# Back up a papi-node data directory with rotation: 'papi backup' (a consistent SQLite
# snapshot taken while the node runs, with the key and the configuration), then keep only
# the KEEP newest backups of DEST_DIR. Run it as the node's user: papi-backup.service and
# the Docker example do.
#
# Usage: backup.sh [DATA_DIR] [DEST_DIR] [KEEP]
#   defaults: $PAPI_DATA_DIR or ./papi-data, $PAPI_BACKUP_DIR or ., $PAPI_BACKUP_KEEP or 14.
#   Encrypted when $PAPI_BACKUP_PASSPHRASE_FILE names an existing file (its first line).
#   The papi command is $PAPI, or papi from PATH.
set -euo pipefail
data="${1:-${PAPI_DATA_DIR:-./papi-data}}"
dest="${2:-${PAPI_BACKUP_DIR:-.}}"
keep="${3:-${PAPI_BACKUP_KEEP:-14}}"
passfile="${PAPI_BACKUP_PASSPHRASE_FILE:-}"
papi="${PAPI:-papi}"
case "$keep" in
    '' | *[!0-9]* | 0) echo "backup.sh: KEEP must be a whole number above 0, not '$keep'" >&2; exit 2 ;;
esac
umask 077
mkdir -p -- "$dest"
stamp="$(date -u +%Y%m%d-%H%M%S)"
if [ -n "$passfile" ] && [ -e "$passfile" ]; then
    if [ ! -r "$passfile" ]; then
        echo "backup.sh: cannot read $passfile; refusing to write an unencrypted backup" >&2
        exit 1
    fi
    "$papi" backup --data-dir "$data" --passphrase-file "$passfile" "$dest/papi-backup-$stamp.tar.gz.enc"
else
    "$papi" backup --data-dir "$data" "$dest/papi-backup-$stamp.tar.gz"
fi
# Rotation: names sort by date (UTC); keep the KEEP newest, encrypted or not. Nothing is
# removed when the backup above failed (set -e stopped before).
find "$dest" -maxdepth 1 -type f -regextype posix-extended \
    -regex '.*/papi-backup-[0-9]{8}-[0-9]{6}\.tar\.gz(\.enc)?' -printf '%f\n' |
    sort -r | tail -n +"$((keep + 1))" |
    while read -r old; do
        rm -f -- "$dest/$old"
        echo "removed old backup $dest/$old"
    done
