"""Refuse outgoing requests to private addresses unless the operator allows them.

A peer URL learnt from a signed place entry is chosen by someone else: without this
check, a place could make every node of the network probe its own local network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from .errors import AddressRefused, PeerError


def normalise_url(url: str) -> str:
    """``scheme://host[:port][/path]`` without a trailing slash; ``ValueError`` if not http(s)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"{url!r} must not carry credentials, a query or a fragment")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not ip.is_global


async def check_public(url: str) -> None:
    """Raise ``AddressRefused`` if the URL's host resolves to a non-global address."""
    host = urlsplit(url).hostname or ""
    port = urlsplit(url).port or 443
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise PeerError(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        if _is_private(str(info[4][0])):
            raise AddressRefused(
                f"{url} resolves to the private address {info[4][0]}; "
                "add it with 'papi peer add' or set allow_private_peers"
            )
