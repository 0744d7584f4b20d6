"""Write verified, chained entries to the database: the one path shared by local
publishing and ingest. Callers run it inside a transaction and have already checked the
chain; this module only turns entries into rows (entries, objects, origin heads) and
applies tombstones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.chain import Head
from federation.entry import Entry
from federation.errors import SchemaError
from federation.recurrence import period
from federation.timeutil import format_ts, parse_ts, utc_now

from ..cooperation.inbox import note_entries
from ..store import entries as entry_rows
from ..store import objects as object_rows
from ..store import origins as origin_rows
from ..store.objects import ObjectColumns
from ..store.origins import PlaceName
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
    await entry_rows.add(conn, entries=entries, now=now)
    stripped = [e for e in entries if e.op == "put" and e.payload is None]
    if stripped:
        await entry_rows.note_missing(conn, entries=stripped, now=now)
    # Only the last entry of each object in this batch whose content we have matters.
    last: dict[tuple[str, str, str], Entry] = {}
    for e in entries:
        if e.op == "delete" or e.payload is not None:
            last[(e.origin, e.kind, e.oid)] = e
    heads: dict[str, Entry] = {}
    for e in entries:
        heads[e.origin] = e

    tombstones = [e for e in last.values() if e.op == "delete"]
    if tombstones:
        # A tombstone explains the payloads missing before it: they are purged now.
        await entry_rows.purge_before(conn, tombstones=tombstones)
        await object_rows.delete(conn, keys=[(e.origin, e.kind, e.oid) for e in tombstones])
    await origin_rows.advance(
        conn, heads={o: Head(e.seq, e.header_hash) for o, e in heads.items()}, now=now
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
    await entry_rows.restore_payloads(conn, entries=entries)
    newer: list[Entry] = []
    for e in entries:
        current = await object_rows.seq_of(conn, origin=e.origin, kind=e.kind, oid=e.oid)
        if current is None or current < e.seq:
            newer.append(e)
    await _upsert_objects(conn, newer)
    if own_origin is not None:
        await note_entries(conn, own_origin, entries)


async def _upsert_objects(conn: BaseDBAsyncClient, entries: Sequence[Entry]) -> None:
    """Make each ``put`` (with its payload) the current state of its object."""
    places: dict[str, PlaceName] = {}
    upserts: list[ObjectColumns] = []
    for e in entries:
        assert e.payload is not None
        columns = object_columns(e.kind, e.payload)
        if e.kind == "place":
            places[e.origin] = PlaceName(columns["title"], str(e.payload.get("commune", "")))
        upserts.append(
            ObjectColumns(
                e.origin, e.kind, e.oid, e.seq, e.payload_text or "", e.header["ts"],
                columns["title"], columns["body"], columns["theme"], columns["starts_at"],
                columns["ends_at"],
            )
        )  # fmt: skip
    if places:
        await origin_rows.name_places(conn, places=places)
    if upserts:
        await object_rows.upsert(conn, objects=upserts)
    # Blobs the stored objects list (attachments, photos): to fetch (rows, fetched later).
    listing = [(e.kind, e.payload) for e in entries if e.kind in BLOB_MEMBERS and e.payload]
    if listing:
        await note_attachments(conn, listing)


async def truncate_log(conn: BaseDBAsyncClient, origin: str, from_seq: int) -> None:
    """Drop the entries ``from_seq`` and after of ``origin`` (an old key's entries that a
    recovery supersedes, docs/protocol.md 17) and rebuild its objects from the rest."""
    await entry_rows.truncate(conn, origin=origin, from_seq=from_seq)
    last: dict[tuple[str, str], Entry] = {}
    head = Head(0, None)
    for entry, entry_hash in await entry_rows.log_of(conn, origin=origin):
        head = Head(entry.seq, entry_hash)
        if entry.op == "delete" or entry.payload is not None:
            last[(entry.kind, entry.oid)] = entry
    await origin_rows.set_head(conn, origin_id=origin, head=head)
    await _upsert_objects(conn, [e for e in last.values() if e.op == "put"])
