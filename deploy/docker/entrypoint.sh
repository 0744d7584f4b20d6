#!/bin/sh
# Before 'papi serve': create the node on first start (name, commune and url from
# PAPI_NAME, PAPI_COMMUNE, PAPI_URL), then add the peers listed in JOIN_PEERS (URLs
# separated by spaces; 'papi peer add' is idempotent and keeps a peer that does not
# answer yet). Any other command runs as given.
set -eu
umask 077
if [ "${1:-}" = "papi" ] && [ "${2:-}" = "serve" ]; then
    # No recovery key here: its words would go to the container's log. The operator
    # makes it once with 'docker compose exec node papi key recovery'.
    papi init --no-recovery-key >/dev/null
    for url in ${JOIN_PEERS:-}; do
        papi peer add "$url"
    done
fi
exec "$@"
