#!/usr/bin/env bash
# Back up a papi-node data directory while the node runs: a consistent SQLite copy
# (sqlite3 .backup), the key and the configuration, in one dated tar file.
# Usage: deploy/backup.sh [DATA_DIR] [DEST_DIR]   (defaults: $PAPI_DATA_DIR or ./papi-data, .)
set -euo pipefail
data="${1:-${PAPI_DATA_DIR:-./papi-data}}"
dest="${2:-.}"
stamp="$(date +%Y%m%d-%H%M%S)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077
python3 - "$data/papi.sqlite3" "$work/papi.sqlite3" <<'PY'
import sqlite3, sys
source, target = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
with target:
    source.backup(target)
PY
cp -p "$data/node.key" "$data/papi.toml" "$work/"
[ -f "$data/session.key" ] && cp -p "$data/session.key" "$work/"
tar -C "$work" -czf "$dest/papi-backup-$stamp.tar.gz" .
echo "Backup written to $dest/papi-backup-$stamp.tar.gz (it holds the private key: keep it safe)"
