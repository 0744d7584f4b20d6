"""The signed entries of every log this node holds (``entries``) and the ``put``
entries that arrived without their payload (``missing_payloads``). Written only by the
store path (``services.store``), inside the caller's transaction; read for the wire by
``services.entries``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.entry import Entry

from .rows import insert_rows


async def add(conn: BaseDBAsyncClient, *, entries: Sequence[Entry], now: datetime) -> None:
    """Insert verified, chained entries (as they are: with or without payload)."""
    await insert_rows(
        conn,
        "INSERT INTO entries (origin, seq, kind, oid, op, header, sig, hash, payload,"
        " received_at) VALUES {rows}",
        [
            (
                e.origin, e.seq, e.kind, e.oid, e.op, e.header_bytes.decode(), e.sig,
                e.header_hash, e.payload_text, now,
            )
            for e in entries
        ],
    )  # fmt: skip


async def note_missing(conn: BaseDBAsyncClient, *, entries: Sequence[Entry], now: datetime) -> None:
    """Record ``put`` entries stored without their payload (to repair)."""
    await conn.execute_many(
        "INSERT INTO missing_payloads (origin, seq, kind, oid, since) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (origin, seq) DO NOTHING",
        [[e.origin, e.seq, e.kind, e.oid, now] for e in entries],
    )


async def purge_before(conn: BaseDBAsyncClient, *, tombstones: Sequence[Entry]) -> None:
    """Erase the payloads of the entries of each tombstone's object before it, and
    forget those that were missing (the tombstone explains them)."""
    rows = [[e.origin, e.kind, e.oid, e.seq] for e in tombstones]
    await conn.execute_many(
        "UPDATE entries SET payload = NULL WHERE origin = ? AND kind = ? AND oid = ? AND seq < ?",
        rows,
    )
    await conn.execute_many(
        "DELETE FROM missing_payloads WHERE origin = ? AND kind = ? AND oid = ? AND seq < ?",
        rows,
    )


async def restore_payloads(conn: BaseDBAsyncClient, *, entries: Sequence[Entry]) -> None:
    """Put back the payloads of stored entries that arrived without them."""
    await conn.execute_many(
        "UPDATE entries SET payload = ? WHERE origin = ? AND seq = ? AND payload IS NULL",
        [[e.payload_text, e.origin, e.seq] for e in entries],
    )
    await conn.execute_many(
        "DELETE FROM missing_payloads WHERE origin = ? AND seq = ?",
        [[e.origin, e.seq] for e in entries],
    )


async def truncate(conn: BaseDBAsyncClient, *, origin: str, from_seq: int) -> None:
    """Drop the entries of ``origin`` from ``from_seq`` on, what waited of them
    (missing payloads, pending entries) and its objects (to rebuild)."""
    await conn.execute_query(
        "DELETE FROM entries WHERE origin = ? AND seq >= ?", [origin, from_seq]
    )
    await conn.execute_query(
        "DELETE FROM missing_payloads WHERE origin = ? AND seq >= ?", [origin, from_seq]
    )
    await conn.execute_query("DELETE FROM pending_entries WHERE origin = ?", [origin])
    await conn.execute_query("DELETE FROM objects WHERE origin = ?", [origin])


async def log_of(conn: BaseDBAsyncClient, *, origin: str) -> list[tuple[Entry, str]]:
    """Every stored entry of ``origin`` in order, each with its hash."""
    rows = await conn.execute_query_dict(
        "SELECT header, sig, payload, hash FROM entries WHERE origin = ? ORDER BY seq", [origin]
    )
    return [
        (
            Entry(
                json.loads(row["header"]),
                row["sig"],
                None if row["payload"] is None else json.loads(row["payload"]),
            ),
            row["hash"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class StoredHeader:
    """A stored entry without its payload, and whether that payload is missing (the
    entry arrived stripped)."""

    entry: Entry
    payload_missing: bool


async def header_at(conn: BaseDBAsyncClient, *, origin: str, seq: int) -> StoredHeader | None:
    rows = await conn.execute_query_dict(
        "SELECT header, sig, EXISTS (SELECT 1 FROM missing_payloads m WHERE m.origin = ?"
        " AND m.seq = ?) AS missing FROM entries WHERE origin = ? AND seq = ?",
        [origin, seq, origin, seq],
    )
    if not rows:
        return None
    return StoredHeader(
        Entry(json.loads(rows[0]["header"]), rows[0]["sig"], None), bool(rows[0]["missing"])
    )


async def missing_count(conn: BaseDBAsyncClient) -> int:
    """How many stored entries wait for their payload."""
    rows = await conn.execute_query_dict("SELECT COUNT(*) AS n FROM missing_payloads")
    return int(rows[0]["n"])


# -- the versions of an object ------------------------------------------------------


@dataclass(frozen=True)
class EntryText:
    """One entry of an object: its header and payload as stored (JSON text; None for a
    tombstone and every version a tombstone erased)."""

    origin: str
    kind: str
    oid: str
    seq: int
    op: str
    header: str
    payload: str | None


_ENTRY_COLUMNS = "origin, kind, oid, seq, op, header, payload"


def _entry(row: dict[str, Any]) -> EntryText:
    return EntryText(
        str(row["origin"]), str(row["kind"]), str(row["oid"]), int(row["seq"]), str(row["op"]),
        row["header"], row["payload"],
    )  # fmt: skip


async def entries_of(
    conn: BaseDBAsyncClient, *, origin: str, kind: str, oid: str
) -> list[EntryText]:
    """Every entry of the object, in seq order."""
    rows = await conn.execute_query_dict(
        f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE origin = ? AND kind = ? AND oid = ?"
        " ORDER BY seq",
        [origin, kind, oid],
    )
    return [_entry(row) for row in rows]


async def entry_at(conn: BaseDBAsyncClient, *, origin: str, seq: int) -> EntryText | None:
    rows = await conn.execute_query_dict(
        f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE origin = ? AND seq = ?", [origin, seq]
    )
    return _entry(rows[0]) if rows else None


# -- entries for the wire (``services.entries``) ------------------------------------------


class StoredEntry(NamedTuple):
    """One stored entry as its canonical text: what was signed, ready for the wire. (A
    named tuple: made from each row of every page served, it must cost little.)"""

    origin: str
    seq: int
    header: str
    sig: str
    payload: str | None

    def document(self) -> dict[str, Any]:
        """The entry as a wire document (``{"header", "sig", "payload"}``)."""
        return {
            "header": json.loads(self.header),
            "sig": self.sig,
            "payload": None if self.payload is None else json.loads(self.payload),
        }

    def json(self) -> str:
        """The same document in JSON, written from the stored text (valid JSON as it is)
        instead of decoding and encoding it again."""
        return f'{{"header":{self.header},"sig":"{self.sig}","payload":{self.payload or "null"}}}'


_WIRE_COLUMNS = "origin, seq, header, sig, payload"


async def _wire(conn: BaseDBAsyncClient, sql: str, values: list[Any]) -> list[StoredEntry]:
    # Rows in ``StoredEntry``'s order, not dicts: the hot path of every page sent.
    _, rows = await conn.execute_query(sql, values)
    return list(map(StoredEntry._make, rows))


async def after(conn: BaseDBAsyncClient, *, origin: str, seq: int, limit: int) -> list[StoredEntry]:
    """The entries of ``origin`` after ``seq`` in order, at most ``limit``."""
    return await _wire(
        conn,
        f"SELECT {_WIRE_COLUMNS} FROM entries WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?",
        [origin, seq, limit],
    )


async def sizes_after(conn: BaseDBAsyncClient, *, origin: str, seq: int, limit: int) -> list[int]:
    """The stored size (header and payload) of each of the same entries, in order."""
    rows = await conn.execute_query_dict(
        "SELECT length(header) + length(coalesce(payload, '')) AS size FROM entries"
        " WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?",
        [origin, seq, limit],
    )
    return [int(row["size"]) for row in rows]


async def at_refs(conn: BaseDBAsyncClient, *, refs: Sequence[tuple[str, int]]) -> list[StoredEntry]:
    """The stored entries among ``refs`` (origin, seq), by origin then seq."""
    # A join, not a row-value IN: SQLite then looks each ref up on (origin, seq).
    return await _wire(
        conn,
        "SELECT e.origin, e.seq, e.header, e.sig, e.payload FROM json_each(?) AS r"
        " JOIN entries AS e ON e.origin = json_extract(r.value, '$[0]')"
        " AND e.seq = json_extract(r.value, '$[1]') ORDER BY e.origin, e.seq",
        [json.dumps(sorted(set(refs)))],
    )


# -- payloads to repair ------------------------------------------------------------------


@dataclass(frozen=True)
class MissingRow:
    """A stored ``put`` whose payload is missing."""

    id: int
    origin: str
    seq: int


async def missing_due(
    conn: BaseDBAsyncClient, *, asked_before: datetime, left_out: Sequence[str], limit: int
) -> list[MissingRow]:
    """Missing payloads never asked for (the oldest first), then those last asked before
    ``asked_before`` (the longest ago first): at most ``limit`` of each, none of
    ``left_out``'s origins."""
    outside = "origin NOT IN (SELECT value FROM json_each(?))"
    excluded = json.dumps(sorted(set(left_out)))
    never = await conn.execute_query_dict(
        f"SELECT id, origin, seq FROM missing_payloads WHERE last_request IS NULL"
        f" AND {outside} ORDER BY since, id LIMIT ?",
        [excluded, limit],
    )
    again = await conn.execute_query_dict(
        f"SELECT id, origin, seq FROM missing_payloads WHERE last_request < ?"
        f" AND {outside} ORDER BY last_request, id LIMIT ?",
        [asked_before, excluded, limit],
    )
    return [MissingRow(row["id"], row["origin"], row["seq"]) for row in [*never, *again]]


async def asked(conn: BaseDBAsyncClient, *, missing_id: int, at: datetime) -> None:
    await conn.execute_query(
        "UPDATE missing_payloads SET last_request = ? WHERE id = ?", [at, missing_id]
    )
