"""Repair of stripped payloads: a ``put`` stored without its payload, and that no later
tombstone explains, is asked again of peers with ``GET /federation/v1/entries?origin=O&
after=SEQ-1&limit=1``; a copy with the payload (same header) repairs it through ingest.
docs/protocol.md 3.6 says when a node must do this."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from federation.errors import PeerError
from federation.timeutil import utc_now

from ..runtime import Node
from ..store import entries as entry_rows
from ..store import origins as origin_rows
from ..store import peers as peer_rows
from .peers import PeerState
from .receive import receive

log = logging.getLogger(__name__)

#: A missing payload is asked again at most this often.
REQUEST_INTERVAL = timedelta(minutes=30)
#: Missing payloads asked per run, and peers asked for each.
PER_RUN = 50
PEERS_PER_PAYLOAD = 3


async def repair_missing(node: Node) -> int:
    """Ask peers for the payloads we lack; return how many were repaired."""
    now = utc_now()
    frozen = [origin.id for origin in await origin_rows.frozen(node.db.connection())]
    due = await entry_rows.missing_due(
        node.db.connection(), asked_before=now - REQUEST_INTERVAL, left_out=frozen, limit=PER_RUN
    )
    if not due:
        return 0
    peers = [p for p in await peer_rows.by_id(node.db.connection()) if p.state != PeerState.refused]
    repaired = 0
    for missing in due[:PER_RUN]:
        await entry_rows.asked(node.db.connection(), missing_id=missing.id, at=now)
        # The author first (it holds its own payloads), then others at random.
        random.shuffle(peers)
        peers.sort(key=lambda peer: peer.origin != missing.origin)
        for peer in peers[:PEERS_PER_PAYLOAD]:
            try:
                # The peer's own client: a discovered peer must be on a public address,
                # checked on the very address the request connects to.
                async with node.peer_client(peer) as client:
                    documents = await client.entries(
                        peer.url, missing.origin, after=missing.seq - 1, limit=1
                    )
            except PeerError as exc:
                log.info("asking %s for a missing payload failed: %s", peer.url, exc)
                continue
            sender = None if peer.source == "manual" else peer.url
            report = await receive(
                node, documents[:1], sender=sender, source=f"payload from {peer.url}"
            )
            if any(e.origin == missing.origin and e.seq == missing.seq for e in report.accepted):
                repaired += 1
                break
    return repaired
