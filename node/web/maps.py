"""Pages with a map: what their template needs (tiles, attribution) and the security
headers that let the map load (scripts of the node itself, images of the tile server,
requests to the node's own API). Pages without a map keep the strict default policy
of ``render.SECURITY_HEADERS`` (no script at all)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ..settings import Settings
from .i18n import N_

#: The tiles' data are OpenStreetMap's (ODbL): the map must say so.
ATTRIBUTION = N_("© OpenStreetMap contributors")
_HOST = re.compile(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::\d{1,5})?$")


def tiles_origin(url: str) -> str | None:
    """``https://tile.openstreetmap.org`` for a ``{z}/{x}/{y}`` tile URL template
    (``{s}`` subdomains as ``*``); None when it is not an http(s) URL."""
    parts = urlsplit(url.replace("{s}", "a"))
    host = parts.netloc
    # Only a plain host (and port): the value goes into a security header.
    if parts.scheme not in ("http", "https") or not _HOST.match(host):
        return None
    if "{s}" in url:
        host = "*." + host.split(".", 1)[1]
    return f"{parts.scheme}://{host}"


def map_context(settings: Settings) -> dict[str, Any]:
    """``map``: the tiles and attribution for ``_map.html``, or None (no map)."""
    url = settings.map_tiles_url.strip()
    if not url or tiles_origin(url) is None:
        return {"map": None}
    return {"map": {"tiles": url, "attribution": ATTRIBUTION}}


def map_headers(settings: Settings) -> dict[str, str]:
    """The content security policy of a page with a map (empty: keep the default)."""
    origin = tiles_origin(settings.map_tiles_url.strip())
    if origin is None:
        return {}
    return {
        "content-security-policy": (
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
            f"img-src 'self' data: {origin}; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'"
        ),
        # The tile server's usage policy asks for the page's origin (not its path).
        "referrer-policy": "strict-origin-when-cross-origin",
    }
