"""The origins this node holds a log of (``origins``: the head of each log, whether it
is frozen, the place's name) and the evidence of forks that froze them
(``fork_evidence``). Every function takes the connection (``conn``) and reads in SQL:
none needs a node's context to be the current one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.chain import Head
from federation.entry import Entry

from .rows import moment


@dataclass(frozen=True)
class OriginRow:
    id: str
    head_seq: int
    head_hash: str | None
    frozen: bool
    frozen_reason: str | None
    name: str | None
    commune: str | None
    first_seen: datetime
    last_received: datetime | None


#: The columns of ``OriginRow``, in its order.
_COLUMNS = (
    "id, head_seq, head_hash, frozen, frozen_reason, name, commune, first_seen, last_received"
)


def _row(row: dict[str, Any]) -> OriginRow:
    first_seen = moment(row["first_seen"]) or datetime.fromtimestamp(0, UTC)
    return OriginRow(
        row["id"], row["head_seq"], row["head_hash"], bool(row["frozen"]), row["frozen_reason"],
        row["name"], row["commune"], first_seen, moment(row["last_received"]),
    )  # fmt: skip


async def origin(conn: BaseDBAsyncClient, *, origin_id: str) -> OriginRow | None:
    rows = await conn.execute_query_dict(
        f"SELECT {_COLUMNS} FROM origins WHERE id = ?", [origin_id]
    )
    return _row(rows[0]) if rows else None


async def names(conn: BaseDBAsyncClient, *, origin_ids: Iterable[str]) -> dict[str, str]:
    """The place names of these origins (those that have one)."""
    wanted = sorted(set(origin_ids))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = await conn.execute_query_dict(
        f"SELECT id, name FROM origins WHERE id IN ({marks})", wanted
    )
    return {row["id"]: row["name"] for row in rows if row["name"]}


async def frozen(conn: BaseDBAsyncClient) -> list[OriginRow]:
    """The frozen origins, by name."""
    rows = await conn.execute_query_dict(
        f"SELECT {_COLUMNS} FROM origins WHERE frozen ORDER BY name, id"
    )
    return [_row(row) for row in rows]


async def first_forks(conn: BaseDBAsyncClient) -> dict[str, datetime]:
    """When the first fork of each origin that forked was detected."""
    rows = await conn.execute_query_dict(
        "SELECT origin, MIN(detected_at) AS since FROM fork_evidence GROUP BY origin"
    )
    return {row["origin"]: row["since"] for row in rows}


async def write_nothing(conn: BaseDBAsyncClient) -> None:
    """A write statement that changes nothing: a read-only database file refuses it."""
    await conn.execute_query("UPDATE origins SET head_seq = head_seq WHERE 0")


# -- writes (the store path, ``services.store``, in the caller's transaction) ------------


async def advance(conn: BaseDBAsyncClient, *, heads: Mapping[str, Head], now: datetime) -> None:
    """Record the new head of each origin's log (a new origin gets its row)."""
    await conn.execute_many(
        "INSERT INTO origins (id, head_seq, head_hash, frozen, first_seen, last_received)"
        " VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO UPDATE SET"
        " head_seq = excluded.head_seq, head_hash = excluded.head_hash,"
        " last_received = excluded.last_received",
        [[origin, head.seq, head.hash, now, now] for origin, head in heads.items()],
    )


async def set_head(conn: BaseDBAsyncClient, *, origin_id: str, head: Head) -> None:
    await conn.execute_query(
        "UPDATE origins SET head_seq = ?, head_hash = ? WHERE id = ?",
        [head.seq, head.hash, origin_id],
    )


@dataclass(frozen=True)
class PlaceName:
    name: str
    commune: str


async def name_places(conn: BaseDBAsyncClient, *, places: Mapping[str, PlaceName]) -> None:
    """Each origin's place name and commune, on its row and on its objects."""
    await conn.execute_many(
        "UPDATE origins SET name = ?, commune = ? WHERE id = ?",
        [[place.name, place.commune, origin] for origin, place in places.items()],
    )
    await conn.execute_many(
        "UPDATE objects SET place = ?, commune = ? WHERE origin = ?",
        [[place.name, place.commune, origin] for origin, place in places.items()],
    )


@dataclass(frozen=True)
class ChainState:
    """Where an origin's log stands: its head, and whether a proven fork froze it."""

    head: Head
    frozen: bool


async def chain_states(
    conn: BaseDBAsyncClient, *, origin_ids: Sequence[str]
) -> dict[str, ChainState]:
    """The state of each of these origins that has a row."""
    marks = ",".join("?" * len(origin_ids))
    rows = await conn.execute_query_dict(
        f"SELECT id, head_seq, head_hash, frozen FROM origins WHERE id IN ({marks})",
        list(origin_ids),
    )
    return {
        r["id"]: ChainState(Head(r["head_seq"], r["head_hash"]), bool(r["frozen"])) for r in rows
    }


async def unfreeze(conn: BaseDBAsyncClient, *, origin_id: str) -> None:
    await conn.execute_query(
        "UPDATE origins SET frozen = 0, frozen_reason = NULL WHERE id = ?", [origin_id]
    )


async def record_fork(
    conn: BaseDBAsyncClient, *, known: Entry, other: Entry, now: datetime
) -> None:
    """Keep the evidence of a fork (two headers the origin signed that cannot both be in
    its log) and freeze the origin (a new one gets its row, frozen)."""
    await conn.execute_query(
        "INSERT INTO fork_evidence (origin, seq, header_a, sig_a, header_b, sig_b, detected_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            known.origin, known.seq, known.header_bytes.decode(), known.sig,
            other.header_bytes.decode(), other.sig, now,
        ],
    )  # fmt: skip
    # An upsert: the fork may be found in the very batch that brings the origin.
    await conn.execute_query(
        "INSERT INTO origins (id, head_seq, frozen, frozen_reason, first_seen)"
        " VALUES (?, 0, 1, ?, ?) ON CONFLICT (id) DO UPDATE SET frozen = 1,"
        " frozen_reason = excluded.frozen_reason",
        [known.origin, f"fork at seq {other.seq}", now],
    )


async def head(conn: BaseDBAsyncClient, *, origin_id: str) -> Head:
    """The head of an origin's log (``Head()`` when we hold none of it)."""
    rows = await conn.execute_query_dict(
        "SELECT head_seq, head_hash FROM origins WHERE id = ?", [origin_id]
    )
    return Head(rows[0]["head_seq"], rows[0]["head_hash"]) if rows else Head()


async def has_log(conn: BaseDBAsyncClient, *, origin_id: str) -> bool:
    """Whether this node holds at least one entry of the origin's log."""
    rows = await conn.execute_query_dict(
        "SELECT 1 FROM origins WHERE id = ? AND head_seq > 0", [origin_id]
    )
    return bool(rows)


async def vector_marker(conn: BaseDBAsyncClient) -> tuple[int, str]:
    """Changes whenever an entry is stored or an origin is hidden or shown again: the
    newest entry's row id, and the count and newest row id of the hidden origins."""
    rows = await conn.execute_query_dict(
        "SELECT (SELECT max(id) FROM entries) AS newest, (SELECT count(*) || ':' ||"
        " coalesce(max(id), 0) FROM excluded_origins) AS hidden"
    )
    return int(rows[0]["newest"] or 0), str(rows[0]["hidden"])


async def shown_heads(conn: BaseDBAsyncClient) -> dict[str, int]:
    """The head of each log held and not hidden by membership (this node's vector)."""
    rows = await conn.execute_query_dict(
        "SELECT id, head_seq FROM origins WHERE head_seq > 0"
        " AND id NOT IN (SELECT origin FROM excluded_origins)"
    )
    return {row["id"]: row["head_seq"] for row in rows}


async def frozen_ids(conn: BaseDBAsyncClient) -> set[str]:
    """The origins frozen after a proven fork."""
    rows = await conn.execute_query_dict("SELECT id FROM origins WHERE frozen")
    return {row["id"] for row in rows}


@dataclass(frozen=True)
class ForkProof:
    """The two headers (JSON text) an origin signed that cannot both be in its log."""

    seq: int
    header_a: str
    sig_a: str
    header_b: str
    sig_b: str


async def first_fork(conn: BaseDBAsyncClient, *, origin_id: str) -> ForkProof | None:
    rows = await conn.execute_query_dict(
        "SELECT seq, header_a, sig_a, header_b, sig_b FROM fork_evidence WHERE origin = ?"
        " ORDER BY id LIMIT 1",
        [origin_id],
    )
    if not rows:
        return None
    row = rows[0]
    return ForkProof(row["seq"], row["header_a"], row["sig_a"], row["header_b"], row["sig_b"])
