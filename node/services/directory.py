"""The network directory, one page at a time: the origins this node holds (this node
first, then by place name) with their offers counted by kind, and the peers by URL.

A hostile peer can make a node hold tens of thousands of origins (and as many discovered
peers), so nothing here reads them all: each page walks an index (``origins_by_name``,
``peers.url``) and counts the offers of that page's origins only (through the
``(origin, kind, oid)`` index); the reads are ``store.directory``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from ..store import directory as rows
from ..store import peers as peer_rows
from ..store.directory import ListedOrigin
from ..store.peers import PeerRow
from . import objects

#: Kinds counted for each origin, in the order pages show them: events first.
OFFER_KINDS = tuple(sorted(objects.OFFER_KINDS, key=lambda kind: kind != "event"))
#: Default and largest page of the directory.
PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        following = self.offset + self.limit
        return following if following < self.total else None


async def origins_page(
    conn: BaseDBAsyncClient, own: str, limit: int, offset: int, *, shown_only: bool = False
) -> Page:
    """Origins ``offset`` to ``offset + limit`` of the directory, this node's first;
    ``shown_only``: without the origins membership hides (their items say ``hidden``)."""
    total = await rows.origin_count(conn, shown_only=shown_only)
    own_row = await rows.origin(conn, origin_id=own)
    listed: list[ListedOrigin] = []
    skip, take = offset, limit
    if own_row is not None:
        if offset == 0:
            listed.append(own_row)
            take -= 1
        else:
            skip -= 1
    if take > 0:
        listed += await rows.others(conn, own=own, limit=take, offset=skip, shown_only=shown_only)
    ids = [row.id for row in listed]
    counts: dict[str, dict[str, int]] = {}
    forks: set[str] = set()
    hidden: set[str] = set()
    if ids:
        counts = await rows.offer_counts(conn, origin_ids=ids)
        forks = await rows.forked_among(conn, origin_ids=ids)
        if not shown_only:
            hidden = await rows.hidden_among(conn, origin_ids=ids)
    items = [
        {
            "id": row.id,
            "name": row.name or "",
            "commune": row.commune or "",
            "self": row.id == own,
            "seq": row.head_seq,
            "counts": counts.get(row.id, {}),
            "objects": sum(counts.get(row.id, {}).values()),
            "last_received": row.last_received,
            "first_seen": row.first_seen,
            "frozen": row.frozen,
            "frozen_reason": row.frozen_reason,
            "fork": row.id in forks,
            "hidden": row.id in hidden,
        }
        for row in listed
    ]
    return Page(items, total, limit, offset)


async def peers_page(conn: BaseDBAsyncClient, limit: int, offset: int) -> tuple[list[PeerRow], int]:
    """Peers ``offset`` to ``offset + limit`` by URL (the unique index), and their number."""
    return await peer_rows.page(conn, limit=limit, offset=offset), await peer_rows.count(conn)


async def peers_of(conn: BaseDBAsyncClient, origins: list[str]) -> list[PeerRow]:
    """The peers known to serve ``origins`` (through ``peers_by_origin``), by URL."""
    if not origins:
        return []
    return await peer_rows.serving(conn, origins=origins)
