"""The one version of papi-node: the installed distribution's (``pyproject.toml``), read
once. Whatever shows it derives from here: ``GET /api/v1/node`` (``software``), the
User-Agent of requests to peers, ``papi --version``, calendars' PRODID and feeds'
generator."""

from __future__ import annotations

from functools import cache
from importlib.metadata import version as distribution_version

from federation.client import agent

NAME = "papi-node"


@cache
def version() -> str:
    return distribution_version(NAME)


def software() -> str:
    """``papi-node 0.1.0``."""
    return f"{NAME} {version()}"


def user_agent() -> str:
    """``papi-node/0.1.0 (+federation v1)``: this software, then the protocol it speaks."""
    return agent(f"{NAME}/{version()}")
