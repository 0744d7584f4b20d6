"""The network directory, one page at a time: the origins this node holds (this node
first, then by place name) with their offers counted by kind, and the peers by URL.

A hostile peer can make a node hold tens of thousands of origins (and as many discovered
peers), so nothing here reads them all: each page walks an index (``origins_by_name``,
``peers.url``) and counts the offers of that page's origins only (through the
``(origin, kind, oid)`` index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from ..db import fetch_all
from ..models import Peer
from . import objects

#: Kinds counted for each origin, in the order pages show them: events first.
OFFER_KINDS = tuple(sorted(objects.OFFER_KINDS, key=lambda kind: kind != "event"))
#: Default and largest page of the directory.
PAGE_SIZE = 100
MAX_PAGE_SIZE = 500

#: One page of origins other than ours, in the order of the ``origins_by_name`` index
#: (node/db.py), which SQLite walks instead of sorting every origin.
OTHER_ORIGINS_SQL = (
    "SELECT * FROM origins WHERE id != ? ORDER BY name COLLATE NOCASE, id LIMIT ? OFFSET ?"
)
#: Offers by kind of the origins of a page (``{marks}``: one ``?`` per origin).
COUNTS_SQL = (
    "SELECT origin, kind, count(*) AS n FROM objects WHERE origin IN ({marks})"
    " AND kind IN ('event', 'skill', 'equipment') GROUP BY origin, kind"
)


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


def _marks(values: list[Any]) -> str:
    return ", ".join("?" for _ in values)


async def origins_page(conn: BaseDBAsyncClient, own: str, limit: int, offset: int) -> Page:
    """Origins ``offset`` to ``offset + limit`` of the directory, this node's first."""
    total = int((await fetch_all(conn, "SELECT count(*) AS n FROM origins"))[0]["n"])
    own_rows = await fetch_all(conn, "SELECT * FROM origins WHERE id = ?", own)
    rows: list[dict[str, Any]] = []
    skip, take = offset, limit
    if own_rows:
        if offset == 0:
            rows.extend(own_rows)
            take -= 1
        else:
            skip -= 1
    if take > 0:
        rows += await fetch_all(conn, OTHER_ORIGINS_SQL, own, take, skip)
    ids = [row["id"] for row in rows]
    counts: dict[str, dict[str, int]] = {}
    forks: set[str] = set()
    if ids:
        counted = await fetch_all(conn, COUNTS_SQL.format(marks=_marks(ids)), *ids)
        for row in counted:
            counts.setdefault(row["origin"], {})[row["kind"]] = int(row["n"])
        found = await fetch_all(
            conn, f"SELECT DISTINCT origin FROM fork_evidence WHERE origin IN ({_marks(ids)})", *ids
        )
        forks = {row["origin"] for row in found}
    items = [
        {
            "id": row["id"],
            "name": row["name"] or "",
            "commune": row["commune"] or "",
            "self": row["id"] == own,
            "seq": row["head_seq"],
            "counts": counts.get(row["id"], {}),
            "objects": sum(counts.get(row["id"], {}).values()),
            "last_received": row["last_received"],
            "first_seen": row["first_seen"],
            "frozen": bool(row["frozen"]),
            "frozen_reason": row["frozen_reason"],
            "fork": row["id"] in forks,
        }
        for row in rows
    ]
    return Page(items, total, limit, offset)


async def peers_page(limit: int, offset: int) -> tuple[list[Peer], int]:
    """Peers ``offset`` to ``offset + limit`` by URL (the unique index), and their number."""
    peers = await Peer.all().order_by("url").offset(offset).limit(limit)
    return peers, await Peer.all().count()


async def peers_of(origins: list[str]) -> list[Peer]:
    """The peers known to serve ``origins`` (through ``peers_by_origin``), by URL."""
    if not origins:
        return []
    return await Peer.filter(origin__in=origins).order_by("url")
