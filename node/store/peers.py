"""The peers this node talks to (``peers``: one row per URL, with its sync state and
backoff) and what each speaks of protocol 1.1 (``peer_links``). The rules (the peer
lifecycle, backoff, which peers a round visits) are ``services.peers``',
``services.features``' and ``services.sync``'. Every function takes the connection
(``conn``): the node's, or the caller's transaction; all are SQL on it, so none needs a
node's context to be the current one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from .rows import moment


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


#: The columns of ``PeerRow`` and ``PeerLinkRow``, in their order.
_PEER = (
    "SELECT id, url, origin, source, state, last_attempt, last_success, consecutive_failures,"
    " next_attempt, last_error, entries_received, created FROM peers"
)
_LINK = (
    "SELECT peer_id, features, features_checked, neighbour, mode, link_failures, cursor"
    " FROM peer_links"
)
#: When a stored ``created`` cannot be read (never written otherwise).
_EPOCH = datetime.fromtimestamp(0, UTC)


def _row(row: dict[str, Any]) -> PeerRow:
    return PeerRow(
        row["id"], row["url"], row["origin"], row["source"], row["state"],
        moment(row["last_attempt"]), moment(row["last_success"]), row["consecutive_failures"],
        moment(row["next_attempt"]), row["last_error"], row["entries_received"],
        moment(row["created"]) or _EPOCH,
    )  # fmt: skip


def _link(row: dict[str, Any]) -> PeerLinkRow:
    return PeerLinkRow(
        row["peer_id"], row["features"], moment(row["features_checked"]), bool(row["neighbour"]),
        row["mode"], row["link_failures"], row["cursor"],
    )  # fmt: skip


async def _peers(conn: BaseDBAsyncClient, where: str, values: Sequence[Any]) -> list[PeerRow]:
    rows = await conn.execute_query_dict(f"{_PEER} {where}", list(values))
    return [_row(row) for row in rows]


# -- reads ------------------------------------------------------------------------------


async def all_peers(conn: BaseDBAsyncClient) -> list[PeerRow]:
    """Every peer, those added by hand first, then by URL."""
    return await _peers(conn, "ORDER BY source, url", [])


async def page(conn: BaseDBAsyncClient, *, limit: int, offset: int) -> list[PeerRow]:
    """Peers ``offset`` to ``offset + limit`` by URL (the unique index)."""
    return await _peers(conn, "ORDER BY url LIMIT ? OFFSET ?", [limit, offset])


async def count(conn: BaseDBAsyncClient) -> int:
    rows = await conn.execute_query_dict("SELECT COUNT(*) AS n FROM peers")
    return int(rows[0]["n"])


async def serving(conn: BaseDBAsyncClient, *, origins: Sequence[str]) -> list[PeerRow]:
    """The peers known to serve ``origins`` (through ``peers_by_origin``), by URL."""
    if not origins:
        return []
    marks = ",".join("?" * len(origins))
    return await _peers(conn, f"WHERE origin IN ({marks}) ORDER BY url", list(origins))


async def by_url(conn: BaseDBAsyncClient) -> list[PeerRow]:
    return await _peers(conn, "ORDER BY url", [])


async def by_id(conn: BaseDBAsyncClient) -> list[PeerRow]:
    return await _peers(conn, "ORDER BY id", [])


async def with_url(conn: BaseDBAsyncClient, *, url: str) -> PeerRow | None:
    rows = await _peers(conn, "WHERE url = ?", [url])
    return rows[0] if rows else None


async def with_id(conn: BaseDBAsyncClient, *, peer_id: int) -> PeerRow | None:
    rows = await _peers(conn, "WHERE id = ?", [peer_id])
    return rows[0] if rows else None


async def with_ids(conn: BaseDBAsyncClient, *, ids: Iterable[int]) -> list[PeerRow]:
    """The peers whose id is in ``ids``, by id (those deleted meanwhile left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    marks = ",".join("?" * len(wanted))
    return await _peers(conn, f"WHERE id IN ({marks}) ORDER BY id", wanted)


async def waiting(conn: BaseDBAsyncClient, *, now: datetime) -> list[PeerRow]:
    """The peers in backoff at ``now``, by id."""
    return await _peers(conn, "WHERE next_attempt > ? ORDER BY id", [now])


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


async def _insert(
    conn: BaseDBAsyncClient, *, url: str, source: str, origin: str | None, state: str
) -> int:
    """A new peer row (the model's defaults); 0 when ``url`` has one already."""
    rows = await conn.execute_query_dict(
        "INSERT INTO peers (url, origin, source, state, consecutive_failures, entries_received,"
        " created) VALUES (?, ?, ?, ?, 0, 0, ?) ON CONFLICT (url) DO NOTHING RETURNING id",
        [url, origin, source, state, datetime.now(UTC)],
    )
    return int(rows[0]["id"]) if rows else 0


async def create(
    conn: BaseDBAsyncClient, *, url: str, source: str, origin: str | None, state: str
) -> PeerRow:
    """A new peer (``url`` has none: the caller looked)."""
    peer_id = await _insert(conn, url=url, source=source, origin=origin, state=state)
    found = await with_id(conn, peer_id=peer_id) if peer_id else await with_url(conn, url=url)
    assert found is not None
    return found


async def add_discovered(conn: BaseDBAsyncClient, *, url: str, origin: str, state: str) -> bool:
    """A peer learnt from the network at ``url``, unless one is there already (then
    nothing changes). Whether it was added."""
    return bool(await _insert(conn, url=url, source="discovered", origin=origin, state=state))


async def name_by_hand(conn: BaseDBAsyncClient, *, peer_id: int, state: str | None) -> PeerRow:
    """The operator names this peer: ``manual``, due at once; with ``state``, its failures
    are forgotten too."""
    await conn.execute_query(
        "UPDATE peers SET source = 'manual', next_attempt = NULL WHERE id = ?", [peer_id]
    )
    if state is not None:
        await conn.execute_query(
            "UPDATE peers SET state = ?, consecutive_failures = 0, last_error = NULL WHERE id = ?",
            [state, peer_id],
        )
    found = await with_id(conn, peer_id=peer_id)
    assert found is not None
    return found


async def delete(conn: BaseDBAsyncClient, *, peer_id: int) -> None:
    """Forget a peer (its deliveries, frames and link go with it: foreign keys)."""
    await conn.execute_query("DELETE FROM peers WHERE id = ?", [peer_id])


async def delete_at(conn: BaseDBAsyncClient, *, url: str) -> None:
    """Forget the peer at ``url`` (its deliveries go with it)."""
    await conn.execute_query("DELETE FROM peers WHERE url = ?", [url])


async def set_origin(conn: BaseDBAsyncClient, *, peer_id: int, origin: str) -> None:
    await conn.execute_query("UPDATE peers SET origin = ? WHERE id = ?", [origin, peer_id])


async def make_due(conn: BaseDBAsyncClient, *, peer_id: int) -> None:
    await conn.execute_query("UPDATE peers SET next_attempt = NULL WHERE id = ?", [peer_id])


async def save_success(
    conn: BaseDBAsyncClient, *, peer_id: int, state: str, at: datetime, received: int
) -> None:
    """An exchange worked at ``at`` and brought ``received`` entries: no backoff left."""
    await conn.execute_query(
        "UPDATE peers SET state = ?, last_attempt = ?, last_success = ?,"
        " consecutive_failures = 0, next_attempt = NULL, last_error = NULL,"
        " entries_received = entries_received + ? WHERE id = ?",
        [state, at, at, received, peer_id],
    )


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
    await conn.execute_query(
        "UPDATE peers SET state = ?, last_attempt = ?, consecutive_failures = ?,"
        " next_attempt = ?, last_error = ? WHERE id = ?",
        [state, at, consecutive_failures, next_attempt, last_error, peer_id],
    )


# -- protocol 1.1 links -----------------------------------------------------------------


async def link_or_none(conn: BaseDBAsyncClient, *, peer_id: int) -> PeerLinkRow | None:
    rows = await conn.execute_query_dict(f"{_LINK} WHERE peer_id = ?", [peer_id])
    return _link(rows[0]) if rows else None


async def save_cursor(conn: BaseDBAsyncClient, *, peer_id: int, cursor: str) -> None:
    """The changes cursor the peer's last answer gave (its link row exists)."""
    await conn.execute_query(
        "UPDATE peer_links SET cursor = ? WHERE peer_id = ?", [cursor, peer_id]
    )


async def links_listing(conn: BaseDBAsyncClient, *, feature: str) -> list[PeerLinkRow]:
    """The links whose features contain ``feature`` as text (the caller checks words)."""
    rows = await conn.execute_query_dict(
        f"{_LINK} WHERE instr(features, ?) > 0 ORDER BY peer_id", [feature]
    )
    return [_link(row) for row in rows]


async def _link_of(conn: BaseDBAsyncClient, peer_id: int) -> None:
    """The peer's link row, created (the model's defaults) when it has none."""
    await conn.execute_query(
        "INSERT INTO peer_links (peer_id, features, neighbour, mode, link_failures)"
        " VALUES (?, '', 0, 'eager', 0) ON CONFLICT (peer_id) DO NOTHING",
        [peer_id],
    )


async def save_features(
    conn: BaseDBAsyncClient, *, peer_id: int, features: str, checked: datetime
) -> PeerLinkRow:
    await _link_of(conn, peer_id)
    await conn.execute_query(
        "UPDATE peer_links SET features = ?, features_checked = ? WHERE peer_id = ?",
        [features, checked, peer_id],
    )
    found = await link_or_none(conn, peer_id=peer_id)
    assert found is not None
    return found


async def forget_features(conn: BaseDBAsyncClient, *, peer_id: int) -> None:
    """Back to version 1: no features, no neighbour, no changes cursor."""
    await _link_of(conn, peer_id)
    await conn.execute_query(
        "UPDATE peer_links SET features = '', features_checked = NULL, neighbour = 0,"
        " cursor = NULL WHERE peer_id = ?",
        [peer_id],
    )
