"""The peers this node talks to (``peers``: one row per URL, with its sync state and
backoff) and what each speaks of protocol 1.1 (``peer_links``). The rules (the peer
lifecycle, backoff, which peers a round visits) are ``services.peers``',
``services.features``' and ``services.sync``'. Every function takes the connection
(``conn``): the node's, or the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from ..models import Peer, PeerLink


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


class PeerLike(Protocol):
    """What the services read of a peer: a ``PeerRow``, or a ``Peer`` model row (as
    tests pass)."""

    @property
    def id(self) -> int: ...
    @property
    def url(self) -> str: ...
    @property
    def origin(self) -> str | None: ...
    @property
    def source(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def last_attempt(self) -> datetime | None: ...
    @property
    def last_success(self) -> datetime | None: ...
    @property
    def consecutive_failures(self) -> int: ...
    @property
    def next_attempt(self) -> datetime | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def entries_received(self) -> int: ...
    @property
    def created(self) -> datetime: ...


@dataclass(frozen=True)
class PushTarget:
    """A peer chosen for a version 1 push."""

    id: int
    url: str
    origin: str | None


@dataclass(frozen=True)
class PeerLinkRow:
    """What a peer speaks of protocol 1.1 and our broadcast link with it."""

    peer_id: int
    #: The features of its last ``GET /api/v1/node``, space-separated ("": version 1).
    features: str
    features_checked: datetime | None
    neighbour: bool
    mode: str
    link_failures: int
    cursor: str | None


def _row(row: Peer) -> PeerRow:
    return PeerRow(
        row.id, row.url, row.origin, row.source, row.state, row.last_attempt, row.last_success,
        row.consecutive_failures, row.next_attempt, row.last_error, row.entries_received,
        row.created,
    )  # fmt: skip


def _link(link: PeerLink) -> PeerLinkRow:
    return PeerLinkRow(
        link.peer_id, link.features, link.features_checked, link.neighbour, link.mode,
        link.link_failures, link.cursor,
    )  # fmt: skip


# -- reads ------------------------------------------------------------------------------


async def all_peers(conn: BaseDBAsyncClient) -> list[PeerRow]:
    """Every peer, those added by hand first, then by URL."""
    return [_row(row) for row in await Peer.all().using_db(conn).order_by("source", "url")]


async def page(conn: BaseDBAsyncClient, *, limit: int, offset: int) -> list[PeerRow]:
    """Peers ``offset`` to ``offset + limit`` by URL (the unique index)."""
    rows = await Peer.all().using_db(conn).order_by("url").offset(offset).limit(limit)
    return [_row(row) for row in rows]


async def count(conn: BaseDBAsyncClient) -> int:
    return await Peer.all().using_db(conn).count()


async def serving(conn: BaseDBAsyncClient, *, origins: Sequence[str]) -> list[PeerRow]:
    """The peers known to serve ``origins`` (through ``peers_by_origin``), by URL."""
    rows = await Peer.filter(origin__in=list(origins)).using_db(conn).order_by("url")
    return [_row(row) for row in rows]


# ``by_url``, ``by_id`` and ``waiting`` without ``conn`` read the current node's database:
# for services.sync and the CLI's peer commands, not moved yet (issue 9, item 7).


async def by_url(conn: BaseDBAsyncClient | None = None) -> list[PeerRow]:
    return [_row(row) for row in await Peer.all().using_db(conn).order_by("url")]


async def by_id(conn: BaseDBAsyncClient | None = None) -> list[PeerRow]:
    return [_row(row) for row in await Peer.all().using_db(conn).order_by("id")]


async def with_url(conn: BaseDBAsyncClient, *, url: str) -> PeerRow | None:
    row = await Peer.filter(url=url).using_db(conn).first()
    return None if row is None else _row(row)


async def with_id(conn: BaseDBAsyncClient, *, peer_id: int) -> PeerRow | None:
    row = await Peer.filter(id=peer_id).using_db(conn).first()
    return None if row is None else _row(row)


async def with_ids(conn: BaseDBAsyncClient, *, ids: Iterable[int]) -> list[PeerRow]:
    """The peers whose id is in ``ids``, by id (those deleted meanwhile left out)."""
    rows = await Peer.filter(id__in=sorted(ids)).using_db(conn).order_by("id")
    return [_row(row) for row in rows]


async def waiting(conn: BaseDBAsyncClient | None = None, *, now: datetime) -> list[PeerRow]:
    """The peers in backoff at ``now``, by id."""
    rows = await Peer.filter(next_attempt__gt=now).using_db(conn).order_by("id")
    return [_row(row) for row in rows]


async def push_targets(
    conn: BaseDBAsyncClient, *, now: datetime, except_state: str, version_1_only: bool
) -> list[PushTarget]:
    """The peers not in ``except_state`` nor in backoff at ``now``; ``version_1_only``:
    none whose node information lists the ``broadcast`` feature."""
    speaking = (
        " AND id NOT IN (SELECT peer_id FROM peer_links"
        " WHERE ' ' || features || ' ' LIKE '% broadcast %')"
        if version_1_only
        else ""
    )
    rows = await conn.execute_query_dict(
        "SELECT id, url, origin FROM peers WHERE state != ?"
        " AND (next_attempt IS NULL OR next_attempt <= ?)" + speaking,
        [except_state, now],
    )
    return [PushTarget(row["id"], row["url"], row["origin"]) for row in rows]


# -- writes -----------------------------------------------------------------------------


async def create(
    conn: BaseDBAsyncClient, *, url: str, source: str, origin: str | None, state: str
) -> PeerRow:
    return _row(
        await Peer.create(url=url, source=source, origin=origin, state=state, using_db=conn)
    )


async def add_discovered(conn: BaseDBAsyncClient, *, url: str, origin: str, state: str) -> bool:
    """A peer learnt from the network at ``url``, unless one is there already (then
    nothing changes). Whether it was added."""
    if await Peer.filter(url=url).using_db(conn).exists():
        return False
    try:
        await Peer.create(url=url, source="discovered", origin=origin, state=state, using_db=conn)
    except IntegrityError:  # added meanwhile (by another round)
        return False
    return True


async def name_by_hand(conn: BaseDBAsyncClient, *, peer_id: int, state: str | None) -> PeerRow:
    """The operator names this peer: ``manual``, due at once; with ``state``, its failures
    are forgotten too."""
    changes: dict[str, object] = {"source": "manual", "next_attempt": None}
    if state is not None:
        changes.update(state=state, consecutive_failures=0, last_error=None)
    await Peer.filter(id=peer_id).using_db(conn).update(**changes)
    return _row(await Peer.filter(id=peer_id).using_db(conn).get())


async def delete(conn: BaseDBAsyncClient, *, peer_id: int) -> None:
    """Forget a peer (its deliveries, frames and link go with it: foreign keys)."""
    await Peer.filter(id=peer_id).using_db(conn).delete()


async def delete_at(conn: BaseDBAsyncClient, *, url: str) -> None:
    """Forget the peer at ``url`` (its deliveries go with it)."""
    await conn.execute_query("DELETE FROM peers WHERE url = ?", [url])


async def set_origin(conn: BaseDBAsyncClient, *, peer_id: int, origin: str) -> None:
    await Peer.filter(id=peer_id).using_db(conn).update(origin=origin)


async def make_due(conn: BaseDBAsyncClient, *, peer_id: int) -> None:
    await Peer.filter(id=peer_id).using_db(conn).update(next_attempt=None)


async def save_success(
    conn: BaseDBAsyncClient, *, peer_id: int, state: str, at: datetime, received: int
) -> None:
    """An exchange worked at ``at`` and brought ``received`` entries: no backoff left."""
    await Peer.filter(id=peer_id).using_db(conn).update(
        state=state, last_attempt=at, last_success=at, consecutive_failures=0,
        next_attempt=None, last_error=None, entries_received=F("entries_received") + received,
    )  # fmt: skip


async def save_failure(
    conn: BaseDBAsyncClient,
    *,
    peer_id: int,
    state: str,
    at: datetime,
    consecutive_failures: int,
    next_attempt: datetime,
    last_error: str,
) -> None:
    await Peer.filter(id=peer_id).using_db(conn).update(
        state=state, last_attempt=at, consecutive_failures=consecutive_failures,
        next_attempt=next_attempt, last_error=last_error,
    )  # fmt: skip


# -- protocol 1.1 links -----------------------------------------------------------------


async def link_or_none(conn: BaseDBAsyncClient, *, peer_id: int) -> PeerLinkRow | None:
    link = await PeerLink.filter(peer_id=peer_id).using_db(conn).first()
    return None if link is None else _link(link)


async def save_cursor(conn: BaseDBAsyncClient, *, peer_id: int, cursor: str) -> None:
    """The changes cursor the peer's last answer gave (its link row exists)."""
    await PeerLink.filter(peer_id=peer_id).using_db(conn).update(cursor=cursor)


async def links_listing(conn: BaseDBAsyncClient, *, feature: str) -> list[PeerLinkRow]:
    """The links whose features contain ``feature`` as text (the caller checks words)."""
    links = await PeerLink.filter(features__contains=feature).using_db(conn)
    return [_link(link) for link in links]


async def _link_of(conn: BaseDBAsyncClient, peer_id: int) -> PeerLink:
    """The peer's link row, created when it has none."""
    link = await PeerLink.filter(peer_id=peer_id).using_db(conn).first()
    if link is not None:
        return link
    try:
        return await PeerLink.create(peer_id=peer_id, using_db=conn)
    except IntegrityError:  # created meanwhile
        return await PeerLink.filter(peer_id=peer_id).using_db(conn).get()


async def save_features(
    conn: BaseDBAsyncClient, *, peer_id: int, features: str, checked: datetime
) -> PeerLinkRow:
    link = await _link_of(conn, peer_id)
    link.features, link.features_checked = features, checked
    await link.save(update_fields=["features", "features_checked"], using_db=conn)
    return _link(link)


async def forget_features(conn: BaseDBAsyncClient, *, peer_id: int) -> None:
    """Back to version 1: no features, no neighbour, no changes cursor."""
    link = await _link_of(conn, peer_id)
    link.features, link.features_checked = "", None
    link.neighbour, link.cursor = False, None
    await link.save(using_db=conn)
