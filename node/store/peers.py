"""The peers this node talks to (``peers``: one row per URL, with its sync state and
backoff). Most of their reads and writes are still in ``services.peers`` and
``services.sync`` (see tests/test_architecture.py ``NOT_YET_MOVED``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from ..models import Peer


@dataclass(frozen=True)
class PeerRow:
    id: int
    url: str
    origin: str | None
    source: str
    state: str
    last_attempt: datetime | None
    last_success: datetime | None
    consecutive_failures: int
    next_attempt: datetime | None
    last_error: str | None
    entries_received: int
    created: datetime


def _row(row: Peer) -> PeerRow:
    return PeerRow(
        row.id, row.url, row.origin, row.source, row.state, row.last_attempt, row.last_success,
        row.consecutive_failures, row.next_attempt, row.last_error, row.entries_received,
        row.created,
    )  # fmt: skip


async def all_peers() -> list[PeerRow]:
    """Every peer, those added by hand first, then by URL."""
    return [_row(row) for row in await Peer.all().order_by("source", "url")]


async def delete_at(conn: BaseDBAsyncClient, *, url: str) -> None:
    """Forget the peer at ``url`` (its deliveries go with it)."""
    await conn.execute_query("DELETE FROM peers WHERE url = ?", [url])


async def page(*, limit: int, offset: int) -> list[PeerRow]:
    """Peers ``offset`` to ``offset + limit`` by URL (the unique index)."""
    return [_row(row) for row in await Peer.all().order_by("url").offset(offset).limit(limit)]


async def count() -> int:
    return await Peer.all().count()


async def serving(*, origins: Sequence[str]) -> list[PeerRow]:
    """The peers known to serve ``origins`` (through ``peers_by_origin``), by URL."""
    return [_row(row) for row in await Peer.filter(origin__in=list(origins)).order_by("url")]


async def by_url() -> list[PeerRow]:
    return [_row(row) for row in await Peer.all().order_by("url")]


async def by_id() -> list[PeerRow]:
    return [_row(row) for row in await Peer.all().order_by("id")]
