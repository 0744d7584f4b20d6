"""Write verified, chained entries to the database: the one path shared by local
publishing and ingest. Callers run it inside a transaction and have already checked the
chain; this module only turns entries into rows (entries, objects, origin heads) and
applies tombstones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.entry import Entry
from federation.timeutil import format_ts, parse_ts, utc_now

from ..cooperation.inbox import note_entries
from .blobs import note_attachments

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
    return {
        "title": title,
        "body": body,
        "theme": theme,
        "starts_at": _utc(payload.get("start")) if dated else None,
        "ends_at": _utc(payload.get("end")) if dated else None,
    }


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
    await conn.execute_many(
        "INSERT INTO entries (origin, seq, kind, oid, op, header, sig, hash, payload,"
        " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
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
            ]
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
        await conn.execute_many(
            "INSERT INTO objects (origin, kind, oid, seq, payload, updated, title, body, theme,"
            " starts_at, ends_at, place, commune) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (origin, kind, oid) DO UPDATE SET seq = excluded.seq,"
            " payload = excluded.payload, updated = excluded.updated, title = excluded.title,"
            " body = excluded.body, theme = excluded.theme, starts_at = excluded.starts_at,"
            " ends_at = excluded.ends_at",
            upserts,
        )
    # Attachments of the resources stored: blobs to fetch (rows, fetched later).
    resources = [e.payload for e in entries if e.kind == "resource" and e.payload]
    if resources:
        await note_attachments(conn, resources)
