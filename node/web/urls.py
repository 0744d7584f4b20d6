"""Absolute links to this node's pages, for documents read elsewhere (calendars, feeds,
JSON-LD, the embeddable widget)."""

from __future__ import annotations

from starlette.requests import Request

from ..runtime import Node


def base_url(request: Request) -> str:
    """This node's public URL when it has one (behind a reverse proxy the request's own
    address is the proxy's), else the address the request was sent to; no final ``/``."""
    node: Node = request.app.state.node
    configured = node.settings.url.strip().rstrip("/")
    return configured or str(request.base_url).rstrip("/")


def object_url(base: str, origin: str, kind: str, oid: str) -> str:
    return f"{base}/o/{origin}/{kind}/{oid}"


def place_url(base: str, origin: str) -> str:
    return object_url(base, origin, "place", "place")
