"""What each peer speaks of protocol 1.1 (docs/protocol.md 11.1): read from its
``GET /api/v1/node``, kept in its ``peer_links`` row (``store.peers.PeerLinkRow``),
forgotten when a 1.1 request gets ``404``/``405`` (the peer went back to an older
version)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.errors import PeerError
from federation.timeutil import utc_now

from ..store import peers as peer_rows
from ..store.peers import PeerLike, PeerLinkRow

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)

#: Features are read again at least this often (11.1: at least once a day).
FEATURES_MAX_AGE = timedelta(days=1)
#: A node information request gets this long.
INFO_DEADLINE_SECONDS = 5.0
#: Most features kept per peer (names beyond are ignored, as unknown names are).
MAX_FEATURES = 16


def broadcasting(node: Node) -> bool:
    """Whether this node runs the broadcast tree: neighbours need a URL to send frames
    to (a pull-only node, or one without a public URL, has none: 12.1)."""
    return "broadcast" in node.settings.features and node.settings.advertised_url is not None


def parse_features(info: Any) -> list[str]:
    """The feature names a node information document lists, those we know first: any
    subset, unknown names ignored, anything malformed read as none."""
    raw = info.get("features") if isinstance(info, dict) else None
    if not isinstance(raw, list):
        return []
    names = [n for n in raw if isinstance(n, str) and n.isascii() and 0 < len(n) <= 40]
    return sorted(set(names))[:MAX_FEATURES]


class LinkLike(Protocol):
    """What these rules read of a link: a ``PeerLinkRow``, or a ``PeerLink`` model row (as
    tests pass)."""

    @property
    def features(self) -> str: ...
    @property
    def features_checked(self) -> datetime | None: ...


async def remember_features(peer: PeerLike, info: Any, *, conn: BaseDBAsyncClient) -> PeerLinkRow:
    """Keep what ``info`` (the peer's node information) says it speaks."""
    features = " ".join(parse_features(info))[:200]
    return await peer_rows.save_features(
        conn, peer_id=peer.id, features=features, checked=utc_now()
    )


async def forget_features(peer: PeerLike, *, conn: BaseDBAsyncClient) -> None:
    """A 1.1 request got 404/405: use version 1 with this peer until its node information
    lists the features again."""
    await peer_rows.forget_features(conn, peer_id=peer.id)
    log.info("%s no longer speaks protocol 1.1: version 1 until it says so again", peer.url)


def speaks(link: LinkLike | None, feature: str) -> bool:
    return link is not None and feature in link.features.split()


async def peers_speaking(feature: str, *, conn: BaseDBAsyncClient) -> dict[int, PeerLinkRow]:
    """Links of the peers whose last node information listed ``feature``."""
    links = await peer_rows.links_listing(conn, feature=feature)
    return {link.peer_id: link for link in links if speaks(link, feature)}


def stale(link: LinkLike | None) -> bool:
    """Whether a peer's features must be read (again): never read, or a day ago."""
    checked = link.features_checked if link is not None else None
    return checked is None or checked < utc_now() - FEATURES_MAX_AGE


async def refresh_features(node: Node, peer: PeerLike) -> PeerLinkRow | None:
    """Read ``peer``'s node information and keep its features (None if it does not
    answer: its round records the failure). Called in the peer's own round task, never
    in the tick, so that a slow peer holds nobody else."""
    try:
        async with node.peer_client(peer, deadline=INFO_DEADLINE_SECONDS) as client:
            info = await client.node_info(peer.url)
    except PeerError:
        return None
    if info["id"] == node.origin:
        return None
    return await remember_features(peer, info, conn=node.db.connection())
