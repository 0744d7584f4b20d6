"""Outbound broadcast frames (``frames``: one row per batch of entries for one broadcast
neighbour, with its state, attempts and next attempt, and the request that sent it).
The lifecycle is the deliveries' (``services.deliveries.DELIVERY``), the batching and
the tree's rules are ``services.tree``'s; functions here take the states as values. The
purge of finished rows is ``store.deliveries.purge_finished`` (``table="frames"``).

Every function takes the connection (``conn``): the caller's transaction, or the node's
connection for a statement of its own."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from .deliveries import Attempt


@dataclass(frozen=True)
class FrameRow:
    """One frame to send: the entries it carries (as ``[origin, seq]`` references)."""

    id: int
    peer_id: int
    refs: tuple[tuple[str, int], ...]
    state: str
    attempts: int


@dataclass(frozen=True)
class NewFrame:
    """A frame to queue: ``refs`` for the neighbour ``peer_id``."""

    peer_id: int
    refs: tuple[tuple[str, int], ...]


def _row(r: dict[str, Any]) -> FrameRow:
    refs = tuple((str(origin), int(seq)) for origin, seq in json.loads(r["entries"]))
    return FrameRow(int(r["id"]), int(r["peer_id"]), refs, r["state"], int(r["attempts"]))


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


async def enqueue(
    conn: BaseDBAsyncClient, *, frames: Sequence[NewFrame], state: str, now: datetime
) -> int:
    """One row per frame of ``frames`` whose neighbour is not in backoff at ``now``, due
    at ``now``; how many rows were written."""
    if not frames:
        return 0
    ids = sorted({frame.peer_id for frame in frames})
    rows = await conn.execute_query_dict(
        f"SELECT id FROM peers WHERE id IN ({_marks(ids)})"
        " AND (next_attempt IS NULL OR next_attempt <= ?)",
        [*ids, now],
    )
    ready = {row["id"] for row in rows}
    values = [
        [frame.peer_id, json.dumps([list(ref) for ref in frame.refs]), state, now, now]
        for frame in frames
        if frame.peer_id in ready
    ]
    if values:
        await conn.execute_many(
            "INSERT INTO frames (peer_id, entries, state, attempts, next_attempt, created)"
            " VALUES (?, ?, ?, 0, ?, ?)",
            values,
        )
    return len(values)


async def due_peer_ids(conn: BaseDBAsyncClient, *, state: str, now: datetime) -> list[int]:
    """The neighbours with rows in ``state`` due at ``now``, the peer itself not in backoff
    then, by id."""
    rows = await conn.execute_query_dict(
        "SELECT DISTINCT f.peer_id AS id FROM frames f JOIN peers p ON p.id = f.peer_id"
        " WHERE f.state = ? AND f.next_attempt <= ?"
        " AND (p.next_attempt IS NULL OR p.next_attempt <= ?) ORDER BY f.peer_id",
        [state, now, now],
    )
    return [int(row["id"]) for row in rows]


async def due(
    conn: BaseDBAsyncClient, *, peer_id: int, state: str, now: datetime, limit: int
) -> list[FrameRow]:
    """The oldest ``limit`` rows of ``peer_id`` in ``state`` due at ``now``, by id."""
    rows = await conn.execute_query_dict(
        "SELECT id, peer_id, entries, state, attempts FROM frames"
        " WHERE peer_id = ? AND state = ? AND next_attempt <= ? ORDER BY id LIMIT ?",
        [peer_id, state, now, limit],
    )
    return [_row(row) for row in rows]


async def sent(
    conn: BaseDBAsyncClient,
    *,
    ids: Iterable[int],
    from_state: str,
    to_state: str,
    request: int | None,
) -> None:
    """The rows of ``ids`` still in ``from_state`` go to ``to_state``, sent by the request
    ``request`` (the id of its first row; None: nothing was left to send)."""
    chosen = sorted(ids)
    if not chosen:
        return
    await conn.execute_query(
        f"UPDATE frames SET state = ?, request = ? WHERE state = ? AND id IN ({_marks(chosen)})",
        [to_state, request, from_state, *chosen],
    )


async def settle_all(
    conn: BaseDBAsyncClient, *, peer_id: int, from_state: str, to_state: str, last_error: str
) -> None:
    """Every row of ``peer_id`` in ``from_state`` goes to ``to_state`` with ``last_error``
    (frames given up when a neighbour is dropped)."""
    await conn.execute_query(
        "UPDATE frames SET state = ?, last_error = ? WHERE peer_id = ? AND state = ?",
        [to_state, last_error, peer_id, from_state],
    )


async def save_attempts(conn: BaseDBAsyncClient, *, attempts: Sequence[Attempt]) -> None:
    """Write failed attempts, one per row."""
    if not attempts:
        return
    await conn.execute_many(
        "UPDATE frames SET state = ?, attempts = ?, last_error = ?,"
        " next_attempt = COALESCE(?, next_attempt) WHERE id = ?",
        [[a.state, a.attempts, a.last_error, a.next_attempt, a.row_id] for a in attempts],
    )


async def postpone(conn: BaseDBAsyncClient, *, peer_id: int, state: str, until: datetime) -> None:
    """Every row of ``peer_id`` in ``state`` waits until ``until``."""
    await conn.execute_query(
        "UPDATE frames SET next_attempt = ? WHERE peer_id = ? AND state = ?",
        [until, peer_id, state],
    )
