"""Refuse outgoing requests to addresses that are not public unless the operator allows them.

A peer URL learnt from a signed place entry is chosen by someone else: without this
check, a place could make every node of the network probe its own local network. The
host is resolved once, every address is checked, and the connection goes to a checked
address (``PinnedBackend``): a name that resolves to a public address for the check and
to a private one for the connection (DNS rebinding) gets nowhere. TLS still verifies the
certificate against the host name, and the ``Host`` header is unchanged.

The transports that apply these checks are in ``pinned.py``: this module does without
httpx, so that what only checks addresses (``normalise_url``) does not import it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from .errors import AddressRefused, PeerUnreachable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``resolve(host, port)`` -> the addresses to connect to, in order.
Resolver = Callable[[str, int], Awaitable[list[str]]]


def normalise_url(url: str) -> str:
    """``scheme://host[:port][/path]`` without a trailing slash; ``ValueError`` if not http(s)."""
    url = url.strip()
    if not url.isprintable() or any(character.isspace() for character in url):
        raise ValueError(f"{url!r} holds a space or a control character")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"{url!r} must not carry credentials, a query or a fragment")
    try:
        port = parts.port  # ValueError beyond 65535
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"{url!r}: its port must be between 1 and 65535")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _networks(reason: str, cidrs: Iterable[str]) -> list[tuple[Any, str]]:
    return [(ipaddress.ip_network(cidr), reason) for cidr in cidrs]


# Special-purpose registries (IANA, RFC 6890 and successors). Written out rather than
# taken from ``ipaddress``'s is_global/is_private, whose tables changed between Python
# releases (multicast and 192.0.0.8 counted as global in 3.11).
_V4_SPECIAL = [
    *_networks("'this network'", ["0.0.0.0/8"]),
    *_networks("private", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]),
    *_networks("shared (carrier-grade NAT)", ["100.64.0.0/10"]),
    *_networks("loopback", ["127.0.0.0/8"]),
    *_networks("link-local", ["169.254.0.0/16"]),
    *_networks("IETF protocol assignment", ["192.0.0.0/24"]),
    *_networks("documentation", ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]),
    *_networks("6to4 relay anycast", ["192.88.99.0/24"]),
    *_networks("benchmarking", ["198.18.0.0/15"]),
    *_networks("multicast", ["224.0.0.0/4"]),
    *_networks("reserved", ["240.0.0.0/4"]),  # includes 255.255.255.255
]
_V6_SPECIAL = [
    *_networks("unspecified", ["::/128"]),
    *_networks("loopback", ["::1/128"]),
    *_networks("local-use NAT64", ["64:ff9b:1::/48"]),
    *_networks("discard-only", ["100::/64"]),
    *_networks("IETF protocol assignment", ["2001::/23"]),
    *_networks("documentation", ["2001:db8::/32", "3fff::/20"]),
    *_networks("segment routing", ["5f00::/16"]),
    *_networks("unique local", ["fc00::/7"]),
    *_networks("link-local", ["fe80::/10"]),
    *_networks("site-local", ["fec0::/10"]),
    *_networks("multicast", ["ff00::/8"]),
]
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_problem(address: str | IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or ``None`` if it is one.

    IPv4 embedded in IPv6 (mapped ``::ffff:0:0/96``, 6to4 ``2002::/16``, Teredo, NAT64
    ``64:ff9b::/96``) is judged by the IPv4 address it reaches."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_v4(ip)
        if embedded is not None:
            problem = address_problem(embedded)
            return None if problem is None else f"{problem} (embedded {embedded})"
        for network, reason in _V6_SPECIAL:
            if ip in network:
                return reason
        if ip not in _GLOBAL_UNICAST_V6:
            return "reserved"
        return None
    for network, reason in _V4_SPECIAL:
        if ip in network:
            return reason
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client: the host the packets finally reach
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of ``host`` from the system resolver, in its order, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_public(host: str, port: int, resolver: Resolver | None = None) -> list[str]:
    """Resolve ``host`` once; its addresses if every one of them is public unicast.

    ``AddressRefused`` if any is not (a name that mixes public and private addresses is
    refused as a whole), ``PeerUnreachable`` if the name does not resolve."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await (resolver or system_resolver)(host, port)
        except OSError as exc:
            raise PeerUnreachable(f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise PeerUnreachable(f"cannot resolve {host}: no address")
    for address in addresses:
        try:
            problem = address_problem(address)
        except ValueError:
            problem = "not an IP address"
        if problem is not None:
            raise AddressRefused(
                f"{host} resolves to {address} ({problem}), not a public address; "
                "add it with 'papi peer add' or set allow_private_peers"
            )
    return addresses
