"""Personal data does not outlive its use: this node deletes (tombstones) its own
requests ``coop_retention_days`` after their conversation ends (docs/protocol.md 9.3).
A tombstone erases the payloads of every version on every node that holds them; the
owners' decisions carry no personal data and stay."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from federation.timeutil import utc_now

from . import reads
from .session import place_today, step
from .workflows import RETENTIONS

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)


async def purge_due(node: Node, *, now: datetime | None = None) -> int:
    """Delete this node's requests whose retention is over; how many were deleted."""
    moment = now or utc_now()
    keep = timedelta(days=max(0, node.settings.coop_retention_days))
    today = place_today(moment)
    due: list[reads.Stored] = []
    async with node.db.transaction() as conn:
        for retention in RETENTIONS:
            offset = 0
            while True:
                page = await reads.objects_of(
                    conn, retention.kind, origin=node.origin, offset=offset
                )
                for request in page:
                    ends = await retention.ends(conn, request)
                    if ends is not None and today > ends + keep:
                        due.append(request)
                if len(page) < reads.MAX_LIST:
                    break
                offset += len(page)
    deleted = 0
    for request in due:
        async with step(node, moment) as current:
            still = await reads.current(current.conn, node.origin, request.kind, request.oid)
            if still is None or still.seq != request.seq:
                continue  # changed meanwhile: looked at again next time
            await current.publish(request.kind, request.oid, "delete", None)
            deleted += 1
    if deleted:
        log.info("purged %d cooperation request(s) past their retention", deleted)
    return deleted
