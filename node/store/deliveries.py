"""Outbound version 1 pushes (``deliveries``: one row per batch of entries for one peer,
with its state, attempts and next attempt) and the purge of finished ones, which broadcast
``frames`` share. The lifecycle (``services.deliveries.DELIVERY``), the batching and the
backoff are ``services.deliveries``'; functions here take the states as values.

Every function takes the connection (``conn``): the caller's transaction, or the node's
connection for a statement of its own."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient


@dataclass(frozen=True)
class DeliveryRow:
    """One push to send: the entries it carries (as ``[origin, seq]`` references)."""

    id: int
    peer_id: int
    refs: tuple[tuple[str, int], ...]
    ttl: int
    state: str
    attempts: int


@dataclass(frozen=True)
class Attempt:
    """What a failed attempt writes on one row of ``deliveries`` or ``frames`` (the same
    lifecycle): ``next_attempt`` None leaves it as it was (a row given up is not
    attempted again)."""

    row_id: int
    state: str
    attempts: int
    last_error: str
    next_attempt: datetime | None

    @property
    def given_up(self) -> bool:
        return self.next_attempt is None


def _refs(text: str) -> tuple[tuple[str, int], ...]:
    return tuple((str(origin), int(seq)) for origin, seq in json.loads(text))


def _row(r: dict[str, Any]) -> DeliveryRow:
    return DeliveryRow(
        int(r["id"]), int(r["peer_id"]), _refs(r["entries"]), int(r["ttl"]), r["state"],
        int(r["attempts"]),
    )  # fmt: skip


async def enqueue(
    conn: BaseDBAsyncClient,
    *,
    peer_ids: Sequence[int],
    refs: Sequence[tuple[str, int]],
    ttl: int,
    state: str,
    now: datetime,
) -> None:
    """One row per peer of ``peer_ids`` carrying ``refs``, due at ``now``."""
    if not peer_ids:
        return
    entries = json.dumps([[origin, seq] for origin, seq in refs])
    await conn.execute_many(
        "INSERT INTO deliveries (peer_id, entries, ttl, state, attempts, next_attempt, created)"
        " VALUES (?, ?, ?, ?, 0, ?, ?)",
        [[peer_id, entries, ttl, state, now, now] for peer_id in peer_ids],
    )


async def due_peer_ids(conn: BaseDBAsyncClient, *, state: str, now: datetime) -> list[int]:
    """The peers with rows in ``state`` due at ``now``, the peer itself not in backoff then,
    by id."""
    rows = await conn.execute_query_dict(
        "SELECT DISTINCT d.peer_id AS id FROM deliveries d JOIN peers p ON p.id = d.peer_id"
        " WHERE d.state = ? AND d.next_attempt <= ?"
        " AND (p.next_attempt IS NULL OR p.next_attempt <= ?) ORDER BY d.peer_id",
        [state, now, now],
    )
    return [int(row["id"]) for row in rows]


async def due(
    conn: BaseDBAsyncClient, *, peer_id: int, state: str, now: datetime, limit: int
) -> list[DeliveryRow]:
    """The oldest ``limit`` rows of ``peer_id`` in ``state`` due at ``now``, by id."""
    rows = await conn.execute_query_dict(
        "SELECT id, peer_id, entries, ttl, state, attempts FROM deliveries"
        " WHERE peer_id = ? AND state = ? AND next_attempt <= ? ORDER BY id LIMIT ?",
        [peer_id, state, now, limit],
    )
    return [_row(row) for row in rows]


async def move(
    conn: BaseDBAsyncClient, *, ids: Iterable[int], from_state: str, to_state: str
) -> None:
    """The rows of ``ids`` still in ``from_state`` go to ``to_state``."""
    chosen = sorted(ids)
    if not chosen:
        return
    marks = ", ".join("?" * len(chosen))
    await conn.execute_query(
        f"UPDATE deliveries SET state = ? WHERE state = ? AND id IN ({marks})",
        [to_state, from_state, *chosen],
    )


async def save_attempts(conn: BaseDBAsyncClient, *, attempts: Sequence[Attempt]) -> None:
    """Write failed attempts, one per row."""
    if not attempts:
        return
    await conn.execute_many(
        "UPDATE deliveries SET state = ?, attempts = ?, last_error = ?,"
        " next_attempt = COALESCE(?, next_attempt) WHERE id = ?",
        [[a.state, a.attempts, a.last_error, a.next_attempt, a.row_id] for a in attempts],
    )


async def postpone(conn: BaseDBAsyncClient, *, peer_id: int, state: str, until: datetime) -> None:
    """Every row of ``peer_id`` in ``state`` waits until ``until``."""
    await conn.execute_query(
        "UPDATE deliveries SET next_attempt = ? WHERE peer_id = ? AND state = ?",
        [until, peer_id, state],
    )


#: The tables whose rows follow the delivery lifecycle.
FINISHING_TABLES = frozenset({"deliveries", "frames"})


async def purge_finished(
    conn: BaseDBAsyncClient,
    *,
    states: Iterable[str],
    before: datetime,
    table: str = "deliveries",
) -> None:
    """Delete the rows of ``table`` (``deliveries`` or ``frames``) in one of ``states``
    created before ``before``."""
    if table not in FINISHING_TABLES:
        raise ValueError(f"not a table of rows to send: {table!r}")
    chosen = sorted(states)
    marks = ", ".join("?" * len(chosen))
    await conn.execute_query(
        f"DELETE FROM {table} WHERE state IN ({marks}) AND created < ?", [*chosen, before]
    )
