"""What each peer speaks of protocol 1.1 (docs/protocol.md 11.1): read from its
``GET /api/v1/node``, kept in its ``PeerLink`` row, forgotten when a 1.1 request gets
``404``/``405`` (the peer went back to an older version)."""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from federation.errors import PeerError
from federation.timeutil import utc_now

from ..models import Peer, PeerLink

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)

#: Features are read again at least this often (11.1: at least once a day).
FEATURES_MAX_AGE = timedelta(days=1)
#: Node information requests per tick for peers whose features are unknown or old (the
#: manual peers are always among them): a node of a large network learns its peers over
#: a few intervals instead of asking thousands at once.
REFRESH_PER_TICK = 8
#: A node information request gets this long.
INFO_DEADLINE_SECONDS = 5.0
#: Most features kept per peer (names beyond are ignored, as unknown names are).
MAX_FEATURES = 16


def parse_features(info: Any) -> list[str]:
    """The feature names a node information document lists, those we know first: any
    subset, unknown names ignored, anything malformed read as none."""
    raw = info.get("features") if isinstance(info, dict) else None
    if not isinstance(raw, list):
        return []
    names = [n for n in raw if isinstance(n, str) and n.isascii() and 0 < len(n) <= 40]
    return sorted(set(names))[:MAX_FEATURES]


async def link_of(peer_id: int) -> PeerLink:
    link, _ = await PeerLink.get_or_create(peer_id=peer_id)
    return link


async def remember_features(peer: Peer, info: Any) -> PeerLink:
    """Keep what ``info`` (the peer's node information) says it speaks."""
    link = await link_of(peer.id)
    link.features = " ".join(parse_features(info))[:200]
    link.features_checked = utc_now()
    await link.save(update_fields=["features", "features_checked"])
    return link


async def forget_features(peer: Peer) -> None:
    """A 1.1 request got 404/405: use version 1 with this peer until its node information
    lists the features again."""
    link = await link_of(peer.id)
    link.features = ""
    link.features_checked = None
    link.neighbour = False
    link.cursor = None
    await link.save()
    log.info("%s no longer speaks protocol 1.1: version 1 until it says so again", peer.url)


def speaks(link: PeerLink | None, feature: str) -> bool:
    return link is not None and feature in link.features.split()


async def peers_speaking(feature: str) -> dict[int, PeerLink]:
    """Links of the peers whose last node information listed ``feature``."""
    links = await PeerLink.filter(features__contains=feature)
    return {link.peer_id: link for link in links if speaks(link, feature)}


async def refresh_features(node: Node) -> int:
    """Read the node information of peers whose features are unknown or older than a day,
    not in backoff: every manual one, and a few discovered ones a tick."""
    now = utc_now()
    links = {link.peer_id: link for link in await PeerLink.all()}
    stale = []
    for peer in await Peer.all().order_by("id"):
        if peer.state == "refused" or (peer.next_attempt is not None and peer.next_attempt > now):
            continue
        link = links.get(peer.id)
        checked = link.features_checked if link else None
        if checked is None or checked < now - FEATURES_MAX_AGE:
            stale.append(peer)
    manual = [p for p in stale if p.source != "discovered"]
    discovered = [p for p in stale if p.source == "discovered"]
    chosen = manual + random.sample(discovered, min(REFRESH_PER_TICK, len(discovered)))
    read = 0
    for peer in chosen:
        try:
            async with node.peer_client(peer, deadline=INFO_DEADLINE_SECONDS) as client:
                info = await client.node_info(peer.url)
        except PeerError:
            continue  # its rounds record the failure; we ask again next tick
        if info["id"] == node.origin:
            continue
        await remember_features(peer, info)
        read += 1
    return read
