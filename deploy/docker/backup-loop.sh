#!/bin/sh
# The Docker example's nightly backup: every day at BACKUP_AT (UTC, default 03:15) run
# papi-backup (deploy/backup.sh: 'papi backup' into /backups, PAPI_BACKUP_KEEP newest
# kept). A failed backup is reported and retried the next night.
set -eu
at="${BACKUP_AT:-03:15}"
while true; do
    now="$(date -u +%s)"
    next="$(date -u -d "today $at" +%s)"
    if [ "$next" -le "$now" ]; then
        next="$(date -u -d "tomorrow $at" +%s)"
    fi
    echo "next backup at $(date -u -d "@$next" '+%Y-%m-%d %H:%M') UTC"
    sleep "$((next - now))"
    papi-backup || echo "backup failed; see above" >&2
done
