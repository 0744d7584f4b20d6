"""Membership's state (docs/protocol.md 16): the candidates refused because they are
not members (``membership_candidates``), the origins hidden (``excluded_origins``, their
objects moved to ``hidden_objects``), and the blocklist (``blocklist``). The rules are
``services.membership`` (and ``federation.membership``); every function here runs in
the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

#: Tables of this module and the indexes its reads walk (run at every start, idempotent).
DDL = """
CREATE TABLE IF NOT EXISTS membership_candidates (
    origin VARCHAR(60) NOT NULL PRIMARY KEY,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    refused INT NOT NULL DEFAULT 0,
    brought_by VARCHAR(300) NOT NULL DEFAULT '',
    code VARCHAR(20) NOT NULL DEFAULT 'not_member'
);
CREATE INDEX IF NOT EXISTS membership_candidates_by_last_seen
    ON membership_candidates (last_seen);
CREATE TABLE IF NOT EXISTS excluded_origins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin VARCHAR(60) NOT NULL UNIQUE,
    since TIMESTAMP NOT NULL,
    reason VARCHAR(20) NOT NULL
);
CREATE TABLE IF NOT EXISTS hidden_objects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin VARCHAR(60) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    oid VARCHAR(64) NOT NULL,
    seq BIGINT NOT NULL,
    payload TEXT NOT NULL,
    updated VARCHAR(40) NOT NULL,
    title VARCHAR(200) NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    theme VARCHAR(100) NOT NULL DEFAULT '',
    place VARCHAR(200) NOT NULL DEFAULT '',
    commune VARCHAR(100) NOT NULL DEFAULT '',
    starts_at VARCHAR(40),
    ends_at VARCHAR(40)
);
CREATE INDEX IF NOT EXISTS hidden_objects_by_origin ON hidden_objects (origin);
CREATE INDEX IF NOT EXISTS hidden_objects_by_kind ON hidden_objects (kind, origin, seq);
CREATE INDEX IF NOT EXISTS objects_by_kind ON objects (kind, origin, seq);
CREATE TABLE IF NOT EXISTS blocklist (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind VARCHAR(10) NOT NULL,
    value VARCHAR(300) NOT NULL,
    reason TEXT NOT NULL,
    created TIMESTAMP NOT NULL,
    UNIQUE (kind, value)
);
"""


@dataclass(frozen=True)
class StoredVouch:
    """A vouch object held, shown or hidden: its payload as stored (JSON text)."""

    origin: str
    oid: str
    payload: str


async def vouches_marker(conn: BaseDBAsyncClient) -> tuple[Any, ...]:
    """Changes whenever a vouch object is stored, deleted or hidden."""
    rows = await conn.execute_query_dict(
        "SELECT (SELECT count(*) FROM objects WHERE kind = 'vouch') AS a,"
        " (SELECT total(seq) FROM objects WHERE kind = 'vouch') AS b,"
        " (SELECT count(*) FROM hidden_objects WHERE kind = 'vouch') AS c,"
        " (SELECT total(seq) FROM hidden_objects WHERE kind = 'vouch') AS d"
    )
    return tuple(rows[0].values())


async def stored_vouches(conn: BaseDBAsyncClient) -> list[StoredVouch]:
    rows = await conn.execute_query_dict(
        "SELECT origin, oid, payload FROM objects WHERE kind = 'vouch' UNION ALL"
        " SELECT origin, oid, payload FROM hidden_objects WHERE kind = 'vouch'"
    )
    return [StoredVouch(row["origin"], row["oid"], row["payload"]) for row in rows]


async def blocked(conn: BaseDBAsyncClient, *, kind: str) -> set[str]:
    """The blocked values of ``kind`` (``origin`` or ``endpoint``)."""
    rows = await conn.execute_query_dict("SELECT value FROM blocklist WHERE kind = ?", [kind])
    return {row["value"] for row in rows}


@dataclass(frozen=True)
class Refusal:
    """An origin refused in a batch: how many of its entries, why, who brought them."""

    origin: str
    entries: int
    code: str
    brought_by: str


async def note_candidates(
    conn: BaseDBAsyncClient, *, refusals: Sequence[Refusal], now: datetime, keep: int
) -> None:
    """Record refused origins; only the ``keep`` most recently seen stay."""
    await conn.execute_many(
        "INSERT INTO membership_candidates (origin, first_seen, last_seen, refused,"
        " brought_by, code) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET"
        " last_seen = excluded.last_seen, refused = refused + excluded.refused,"
        " brought_by = excluded.brought_by, code = excluded.code",
        [[r.origin, now, now, r.entries, r.brought_by, r.code] for r in refusals],
    )
    await conn.execute_query(
        "DELETE FROM membership_candidates WHERE origin IN (SELECT origin FROM"
        " membership_candidates ORDER BY last_seen DESC, origin LIMIT -1 OFFSET ?)",
        [keep],
    )


async def refused_origins(conn: BaseDBAsyncClient) -> set[str]:
    """Candidates and hidden origins."""
    rows = await conn.execute_query_dict(
        "SELECT origin FROM membership_candidates UNION SELECT origin FROM excluded_origins"
    )
    return {row["origin"] for row in rows}


async def is_excluded(conn: BaseDBAsyncClient, *, origin: str) -> bool:
    rows = await conn.execute_query_dict(
        "SELECT 1 FROM excluded_origins WHERE origin = ?", [origin]
    )
    return bool(rows)


async def excluded_origins(conn: BaseDBAsyncClient) -> list[str]:
    rows = await conn.execute_query_dict("SELECT origin FROM excluded_origins")
    return [row["origin"] for row in rows]


async def shown_origins(conn: BaseDBAsyncClient, *, own: str) -> list[str]:
    """The origins whose log we hold and do not hide (this node's own excepted)."""
    rows = await conn.execute_query_dict(
        "SELECT id FROM origins WHERE head_seq > 0 AND id != ? AND id NOT IN"
        " (SELECT origin FROM excluded_origins)",
        [own],
    )
    return [row["id"] for row in rows]


async def candidate_origins(conn: BaseDBAsyncClient) -> list[str]:
    rows = await conn.execute_query_dict("SELECT origin FROM membership_candidates")
    return [row["origin"] for row in rows]


async def forget_candidates(conn: BaseDBAsyncClient, *, origins: Sequence[str]) -> None:
    await conn.execute_many(
        "DELETE FROM membership_candidates WHERE origin = ?", [[o] for o in origins]
    )


#: The columns moved between ``objects`` and ``hidden_objects``.
_OBJECT_COLUMNS = (
    "origin, kind, oid, seq, payload, updated, title, body, theme, place, commune,"
    " starts_at, ends_at"
)
#: Tables holding an origin's rows, emptied when its hidden data is purged.
_PURGED_TABLES = (
    "entries", "hidden_objects", "objects", "pending_entries", "missing_payloads",
    "fork_evidence",
)  # fmt: skip


async def hide(conn: BaseDBAsyncClient, *, origin: str, reason: str, now: datetime) -> None:
    """Move an origin's objects to ``hidden_objects``, drop what waits of it, and record
    it as excluded since ``now``."""
    await conn.execute_query(
        f"INSERT INTO hidden_objects ({_OBJECT_COLUMNS}) SELECT {_OBJECT_COLUMNS}"
        " FROM objects WHERE origin = ?",
        [origin],
    )
    await conn.execute_query("DELETE FROM objects WHERE origin = ?", [origin])
    await conn.execute_query("DELETE FROM pending_entries WHERE origin = ?", [origin])
    await conn.execute_query(
        "INSERT INTO excluded_origins (origin, since, reason) VALUES (?, ?, ?)"
        " ON CONFLICT (origin) DO NOTHING",
        [origin, now, reason],
    )


async def show_again(conn: BaseDBAsyncClient, *, origin: str) -> None:
    """Bring a hidden origin's objects back."""
    await conn.execute_query(
        f"INSERT INTO objects ({_OBJECT_COLUMNS}) SELECT {_OBJECT_COLUMNS}"
        " FROM hidden_objects WHERE origin = ?",
        [origin],
    )
    await conn.execute_query("DELETE FROM hidden_objects WHERE origin = ?", [origin])
    await conn.execute_query("DELETE FROM excluded_origins WHERE origin = ?", [origin])


async def excluded_before(conn: BaseDBAsyncClient, *, cutoff: datetime) -> list[str]:
    rows = await conn.execute_query_dict(
        "SELECT origin FROM excluded_origins WHERE since < ?", [cutoff]
    )
    return [row["origin"] for row in rows]


async def purge(conn: BaseDBAsyncClient, *, origin: str) -> None:
    """Delete every row of a hidden origin: entries, objects, evidence, key chain."""
    for table in _PURGED_TABLES:
        await conn.execute_query(f"DELETE FROM {table} WHERE origin = ?", [origin])
    await conn.execute_query("DELETE FROM origins WHERE id = ?", [origin])
    await conn.execute_query("DELETE FROM key_chain WHERE origin = ?", [origin])
    await conn.execute_query("DELETE FROM excluded_origins WHERE origin = ?", [origin])


async def add_block(
    conn: BaseDBAsyncClient, *, kind: str, value: str, reason: str, now: datetime
) -> None:
    await conn.execute_query(
        "INSERT INTO blocklist (kind, value, reason, created) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason",
        [kind, value, reason, now],
    )


async def remove_block(conn: BaseDBAsyncClient, *, kind: str, value: str) -> bool:
    """False when it was not on the blocklist."""
    count, _ = await conn.execute_query(
        "DELETE FROM blocklist WHERE kind = ? AND value = ?", [kind, value]
    )
    return bool(count)


# -- what the coordinator sees ------------------------------------------------------------


@dataclass(frozen=True)
class CandidateRow:
    origin: str
    first_seen: str
    last_seen: str
    refused: int
    brought_by: str
    code: str


@dataclass(frozen=True)
class ExclusionRow:
    origin: str
    since: str
    reason: str


@dataclass(frozen=True)
class BlockRow:
    kind: str
    value: str
    reason: str
    created: str


@dataclass(frozen=True)
class FrozenRow:
    origin: str
    reason: str
    since: str | None


async def origin_names(conn: BaseDBAsyncClient) -> dict[str, str]:
    """Every origin held, with its place name ("" when unknown)."""
    rows = await conn.execute_query_dict("SELECT id, name FROM origins")
    return {row["id"]: row["name"] or "" for row in rows}


async def candidates(conn: BaseDBAsyncClient) -> list[CandidateRow]:
    """The candidates, the most recently seen first."""
    rows = await conn.execute_query_dict(
        "SELECT origin, first_seen, last_seen, refused, brought_by, code"
        " FROM membership_candidates ORDER BY last_seen DESC"
    )
    return [
        CandidateRow(
            row["origin"], str(row["first_seen"]), str(row["last_seen"]), row["refused"],
            row["brought_by"] or "", row["code"],
        )
        for row in rows
    ]  # fmt: skip


async def exclusions(conn: BaseDBAsyncClient) -> list[ExclusionRow]:
    """The hidden origins, the most recent first."""
    rows = await conn.execute_query_dict(
        "SELECT origin, since, reason FROM excluded_origins ORDER BY since DESC"
    )
    return [ExclusionRow(row["origin"], str(row["since"]), row["reason"]) for row in rows]


async def blocklist(conn: BaseDBAsyncClient) -> list[BlockRow]:
    rows = await conn.execute_query_dict(
        "SELECT kind, value, reason, created FROM blocklist ORDER BY created DESC"
    )
    return [BlockRow(row["kind"], row["value"], row["reason"], str(row["created"])) for row in rows]


async def frozen_origins(conn: BaseDBAsyncClient) -> list[FrozenRow]:
    """The frozen origins with their first proof of a fork, the most recent first."""
    rows = await conn.execute_query_dict(
        "SELECT o.id, o.frozen_reason, MIN(f.detected_at) AS since FROM origins o"
        " LEFT JOIN fork_evidence f ON f.origin = o.id WHERE o.frozen = 1"
        " GROUP BY o.id ORDER BY since DESC, o.id"
    )
    return [
        FrozenRow(
            row["id"],
            row["frozen_reason"] or "",
            None if row["since"] is None else str(row["since"]),
        )
        for row in rows
    ]
