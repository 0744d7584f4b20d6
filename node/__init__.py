"""papi-node: the node software (``papi``)."""

import sys

# httpx imports its own command-line client (rich, click, pygments: 0.1 s of CPU) when
# those are installed, as the test tools install them; no part of papi runs it, and every
# ``papi`` command would pay it at start. A None entry makes that import fail the way
# httpx expects when they are absent (it then defines a stub ``httpx.main``).
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
