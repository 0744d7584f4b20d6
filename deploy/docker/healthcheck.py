"""Docker HEALTHCHECK: the node answers GET /api/v1/node on its port (PAPI_PORT)."""

import os
import sys
import urllib.request

port = os.environ.get("PAPI_PORT", "8000")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/node", timeout=4) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except OSError as exc:
    print(f"unhealthy: {exc}", file=sys.stderr)
    sys.exit(1)
