"""Write verified, chained entries to the database: the one path shared by local
publishing and ingest. Callers run it inside a transaction and have already checked the
chain; this module only turns entries into rows (entries, objects, origin heads) and
applies tombstones."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.entry import Entry
from federation.errors import SchemaError
from federation.recurrence import period
from federation.timeutil import format_ts, parse_ts, utc_now

from ..cooperation.inbox import note_entries
from .blobs import BLOB_MEMBERS, note_attachments

#: Payload fields folded into the searchable body, by kind.
_BODY_FIELDS = {
    "skill": ("description", "level"),
    "equipment": ("description", "category", "condition", "loan_conditions"),
    "event": ("description", "location", "audience"),
    "booking": ("description",),
    "vouch": ("description",),
    "place": ("presentation_resume", "presentation_detail", "adresse", "horaires"),
    "resource": ("summary", "body"),
}


def _text(payload: dict[str, Any], names: Sequence[str]) -> str:
    return "\n".join(str(payload[name]) for name in names if payload.get(name))


def _utc(text: str | None) -> str | None:
    return None if text is None else format_ts(parse_ts(text).astimezone(UTC))


def object_columns(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The denormalised columns of ``objects`` derived from a payload."""
    if kind == "place":
        title, theme = str(payload.get("nom", "")), ""
        services = payload.get("services") or []
        body = _text(payload, _BODY_FIELDS["place"]) + "\n" + "\n".join(services)
    else:
        title = str(payload.get("title", ""))
        theme = str(payload.get("theme") or payload.get("category") or "")
        body = _text(payload, _BODY_FIELDS.get(kind, ("description",)))
    if kind == "resource":
        # Several themes, one per line: the search filter matches any of them.
        theme = "\n".join(payload.get("themes") or [])
    # Only events and bookings have instants; a loan's days are days, not instants.
    dated = kind in ("event", "booking")
    starts_at = _utc(payload.get("start")) if dated else None
    ends_at = _utc(payload.get("end")) if dated else None
    if kind == "event" and "recurrence" in payload:
        starts_at, ends_at = _series_columns(payload, starts_at, ends_at)
    return {
        "title": title,
        "body": body,
        "theme": theme,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }


def _series_columns(
    payload: dict[str, Any], starts_at: str | None, ends_at: str | None
) -> tuple[str | None, str | None]:
    """A recurring event spans its sessions: from the start of the first one to the end
    (or start) of the last one, so that date filters keep it while it runs. Pages show
    its next session, computed when they are shown."""
    try:
        first, last = period(payload)
    except SchemaError:  # checked before storing: never expected
        return starts_at, ends_at
    return format_ts(first), format_ts(last)


#: Rows per multi-row ``INSERT`` (``insert_rows``): 13 columns x 500 = 6,500 variables,
#: well below SQLite's default limit of 32,766.
ROWS_PER_STATEMENT = 500


async def insert_rows(conn: BaseDBAsyncClient, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``sql`` (an ``INSERT`` whose ``VALUES {rows}`` takes the rows) with many rows
    per statement rather than one statement per row (``execute_many``).

    Why: a statement that may abort midway (a unique constraint, a trigger) opens a
    statement savepoint, and FTS5 writes its pending terms to disk as a new index segment
    at every savepoint. Inserting objects one statement per row thus wrote one segment
    per object into ``search_index`` and merged them over and over: about two thirds of
    the cost of storing an object (docs/performance.md 10.1). Rows are applied in order,
    exactly as one statement each would be."""
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        marks = "(" + ", ".join("?" * len(chunk[0])) + ")"
        await conn.execute_query(
            sql.replace("{rows}", ", ".join([marks] * len(chunk))),
            [value for row in chunk for value in row],
        )


async def store_entries(
    conn: BaseDBAsyncClient, entries: Sequence[Entry], *, own_origin: str | None = None
) -> None:
    """Insert already verified and chained ``entries`` (any origins, seq order within
    each origin) and bring ``objects`` and ``origins`` up to date. With ``own_origin``
    (this node's), cooperation steps addressed to it become tasks in the same
    transaction (``cooperation/inbox.py``).

    A ``put`` without its payload is stored for the chain and recorded in
    ``missing_payloads`` until a later tombstone of its object explains it (then it is
    simply purged) or its payload is repaired (``repair_payloads``). Meanwhile its object
    keeps the state of the latest entry whose content we have: it is never erased by a
    copy that lost its payload on the way."""
    if not entries:
        return
    now = utc_now()
    await insert_rows(
        conn,
        "INSERT INTO entries (origin, seq, kind, oid, op, header, sig, hash, payload,"
        " received_at) VALUES {rows}",
        [
            (
                e.origin,
                e.seq,
                e.kind,
                e.oid,
                e.op,
                e.header_bytes.decode(),
                e.sig,
                e.header_hash,
                e.payload_text,
                now,
            )
            for e in entries
        ],
    )
    stripped = [e for e in entries if e.op == "put" and e.payload is None]
    if stripped:
        await conn.execute_many(
            "INSERT INTO missing_payloads (origin, seq, kind, oid, since) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (origin, seq) DO NOTHING",
            [[e.origin, e.seq, e.kind, e.oid, now] for e in stripped],
        )
    # Only the last entry of each object in this batch whose content we have matters.
    last: dict[tuple[str, str, str], Entry] = {}
    for e in entries:
        if e.op == "delete" or e.payload is not None:
            last[(e.origin, e.kind, e.oid)] = e
    heads: dict[str, Entry] = {}
    for e in entries:
        heads[e.origin] = e

    removals: list[list[Any]] = []
    purges: list[list[Any]] = []
    for (origin, kind, oid), e in last.items():
        if e.op == "delete":
            removals.append([origin, kind, oid])
            purges.append([origin, kind, oid, e.seq])
    if purges:
        await conn.execute_many(
            "UPDATE entries SET payload = NULL"
            " WHERE origin = ? AND kind = ? AND oid = ? AND seq < ?",
            purges,
        )
        # A tombstone explains the payloads missing before it: they are purged now.
        await conn.execute_many(
            "DELETE FROM missing_payloads WHERE origin = ? AND kind = ? AND oid = ? AND seq < ?",
            purges,
        )
    if removals:
        await conn.execute_many(
            "DELETE FROM objects WHERE origin = ? AND kind = ? AND oid = ?", removals
        )
    await conn.execute_many(
        "INSERT INTO origins (id, head_seq, head_hash, frozen, first_seen, last_received)"
        " VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO UPDATE SET"
        " head_seq = excluded.head_seq, head_hash = excluded.head_hash,"
        " last_received = excluded.last_received",
        [[o, e.seq, e.header_hash, now, now] for o, e in heads.items()],
    )
    await _upsert_objects(conn, [e for e in last.values() if e.op == "put"])
    if own_origin is not None:
        await note_entries(conn, own_origin, entries)


async def repair_payloads(
    conn: BaseDBAsyncClient, entries: Sequence[Entry], *, own_origin: str | None = None
) -> None:
    """Put back the payloads of stored entries that arrived stripped (``entries`` carry
    them, and their headers are the stored ones); objects whose latest known content is
    older than the repaired entry take it. ``own_origin``: as ``store_entries``."""
    if not entries:
        return
    await conn.execute_many(
        "UPDATE entries SET payload = ? WHERE origin = ? AND seq = ? AND payload IS NULL",
        [[e.payload_text, e.origin, e.seq] for e in entries],
    )
    await conn.execute_many(
        "DELETE FROM missing_payloads WHERE origin = ? AND seq = ?",
        [[e.origin, e.seq] for e in entries],
    )
    newer: list[Entry] = []
    for e in entries:
        rows = await conn.execute_query_dict(
            "SELECT seq FROM objects WHERE origin = ? AND kind = ? AND oid = ?",
            [e.origin, e.kind, e.oid],
        )
        if not rows or rows[0]["seq"] < e.seq:
            newer.append(e)
    await _upsert_objects(conn, newer)
    if own_origin is not None:
        await note_entries(conn, own_origin, entries)


async def _upsert_objects(conn: BaseDBAsyncClient, entries: Sequence[Entry]) -> None:
    """Make each ``put`` (with its payload) the current state of its object."""
    places: dict[str, tuple[str, str]] = {}
    upserts: list[list[Any]] = []
    for e in entries:
        assert e.payload is not None
        columns = object_columns(e.kind, e.payload)
        if e.kind == "place":
            places[e.origin] = (columns["title"], str(e.payload.get("commune", "")))
        upserts.append(
            [
                e.origin, e.kind, e.oid, e.seq, e.payload_text,
                e.header["ts"], columns["title"], columns["body"], columns["theme"],
                columns["starts_at"], columns["ends_at"],
            ]
        )  # fmt: skip
    if places:
        await conn.execute_many(
            "UPDATE origins SET name = ?, commune = ? WHERE id = ?",
            [[name, commune, origin] for origin, (name, commune) in places.items()],
        )
        await conn.execute_many(
            "UPDATE objects SET place = ?, commune = ? WHERE origin = ?",
            [[name, commune, origin] for origin, (name, commune) in places.items()],
        )
    if upserts:
        # Place name and commune of each origin, denormalised into its objects.
        origins = sorted({row[0] for row in upserts})
        marks = ", ".join("?" for _ in origins)
        rows = await conn.execute_query_dict(
            f"SELECT id, name, commune FROM origins WHERE id IN ({marks})", origins
        )
        where = {r["id"]: [r["name"] or "", r["commune"] or ""] for r in rows}
        for row in upserts:
            row.extend(where.get(row[0], ["", ""]))
        await insert_rows(
            conn,
            "INSERT INTO objects (origin, kind, oid, seq, payload, updated, title, body, theme,"
            " starts_at, ends_at, place, commune) VALUES {rows}"
            " ON CONFLICT (origin, kind, oid) DO UPDATE SET seq = excluded.seq,"
            " payload = excluded.payload, updated = excluded.updated, title = excluded.title,"
            " body = excluded.body, theme = excluded.theme, starts_at = excluded.starts_at,"
            " ends_at = excluded.ends_at",
            upserts,
        )
    # Blobs the stored objects list (attachments, photos): to fetch (rows, fetched later).
    listing = [(e.kind, e.payload) for e in entries if e.kind in BLOB_MEMBERS and e.payload]
    if listing:
        await note_attachments(conn, listing)


async def truncate_log(conn: BaseDBAsyncClient, origin: str, from_seq: int) -> None:
    """Drop the entries ``from_seq`` and after of ``origin`` (an old key's entries that a
    recovery supersedes, docs/protocol.md 17) and rebuild its objects from the rest."""
    await conn.execute_query(
        "DELETE FROM entries WHERE origin = ? AND seq >= ?", [origin, from_seq]
    )
    await conn.execute_query(
        "DELETE FROM missing_payloads WHERE origin = ? AND seq >= ?", [origin, from_seq]
    )
    await conn.execute_query("DELETE FROM pending_entries WHERE origin = ?", [origin])
    await conn.execute_query("DELETE FROM objects WHERE origin = ?", [origin])
    rows = await conn.execute_query_dict(
        "SELECT header, sig, payload, hash FROM entries WHERE origin = ? ORDER BY seq", [origin]
    )
    last: dict[tuple[str, str], Entry] = {}
    head: tuple[int, str | None] = (0, None)
    for row in rows:
        header = json.loads(row["header"])
        payload = None if row["payload"] is None else json.loads(row["payload"])
        entry = Entry(header, row["sig"], payload)
        head = (entry.seq, row["hash"])
        if entry.op == "delete" or payload is not None:
            last[(entry.kind, entry.oid)] = entry
    await conn.execute_query(
        "UPDATE origins SET head_seq = ?, head_hash = ? WHERE id = ?", [head[0], head[1], origin]
    )
    await _upsert_objects(conn, [e for e in last.values() if e.op == "put"])
