"""What a changes request reads (docs/protocol.md 13): the positions of entries (the row
ids of ``entries``, never deleted nor reused, with the time each was stored) and the
epoch that numbers them (``federation_state``). The decisions (cursors, settled
positions, listings) are ``services.changes``' and ``federation.reconcile``'s.

Every function takes the connection (``conn``): the caller's transaction, or the node's
connection for a statement of its own."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from tortoise.backends.base.client import BaseDBAsyncClient

from .rows import moment


class StoredAt(NamedTuple):
    """An entry's position and when it was stored (None if the stored time cannot be
    read)."""

    position: int
    received_at: datetime | None


class Moved(NamedTuple):
    """The entry at ``position`` is ``seq`` of ``origin`` (a named tuple: a listing reads
    up to 50,000 of them)."""

    position: int
    origin: str
    seq: int


async def state_value(conn: BaseDBAsyncClient, *, key: str) -> str | None:
    """The value named ``key`` in ``federation_state`` (None if there is none)."""
    rows = await conn.execute_query_dict("SELECT value FROM federation_state WHERE key = ?", [key])
    return str(rows[0]["value"]) if rows else None


async def save_state_value(conn: BaseDBAsyncClient, *, key: str, value: str) -> None:
    await conn.execute_query(
        "INSERT INTO federation_state (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


async def stored_before(conn: BaseDBAsyncClient, *, before: int, limit: int) -> list[StoredAt]:
    """The ``limit`` entries just before position ``before``, newest first."""
    rows = await conn.execute_query_dict(
        "SELECT id, received_at FROM entries WHERE id < ? ORDER BY id DESC LIMIT ?",
        [before, limit],
    )
    return [StoredAt(int(row["id"]), moment(row["received_at"])) for row in rows]


async def moved_between(
    conn: BaseDBAsyncClient, *, after: int, upto: int, limit: int
) -> list[Moved]:
    """The first ``limit`` entries after position ``after`` up to ``upto``, in order."""
    _, rows = await conn.execute_query(
        "SELECT id, origin, seq FROM entries WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
        [after, upto, limit],
    )
    # The columns in the tuple's order, without a dict per row (``execute_query_dict``):
    # this costs less than the listing did before it moved here.
    return list(map(Moved._make, rows))
