"""What a node publishes to the outside formats (calendars, feeds, the embeddable
widget): bounded reads of current objects, never of frozen origins, with the filters
those formats accept, and a validator of their state for HTTP caching.

Objects are read as ``Published`` items whose payload is already decoded; an object whose
stored payload cannot be decoded is left out (logged), never an error: a feed must always
be served."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from tortoise.transactions import in_transaction

from federation import schema
from federation.timeutil import format_ts, utc_now
from federation.vector import vector_digest

from ..models import CurrentObject, Origin
from .search import LOCAL_TZ
from .sync import current_vector, frozen_origins

log = logging.getLogger(__name__)

#: The kinds that feeds announce, in the order they are listed. A kind this version does
#: not know yet (``resource``) has no rows, so it simply adds nothing until it exists.
FEED_KINDS = ("event", "skill", "equipment", "resource")
#: A calendar holds the events of the last CALENDAR_PAST_DAYS days and the upcoming ones,
#: at most CALENDAR_MAX_EVENTS of them (the soonest first).
CALENDAR_PAST_DAYS = 30
CALENDAR_MAX_EVENTS = 500
#: A feed holds the FEED_MAX_ENTRIES most recently changed objects.
FEED_MAX_ENTRIES = 50
#: Longest value of a text filter (a commune name).
MAX_FILTER_LENGTH = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORD = re.compile(r"\w+", re.UNICODE)


class FilterError(ValueError):
    """A filter value that is not acceptable; ``name`` says which parameter."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@cache
def skill_themes() -> tuple[str, ...]:
    """The closed list of themes (BRIEF section 6), from the skill payload schema."""
    return tuple(schema.document("urn:papi:payload/skill")["properties"]["theme"]["enum"])


@cache
def audiences() -> tuple[str, ...]:
    return tuple(schema.document("urn:papi:payload/event")["properties"]["audience"]["enum"])


@dataclass(frozen=True)
class Filters:
    """Filters of calendars and feeds; empty means "any"."""

    commune: str = ""
    theme: str = ""
    audience: str = ""
    kind: str = ""

    def key(self) -> str:
        return json.dumps([self.commune.casefold(), self.theme, self.audience, self.kind])


def parse_filters(params: Any, allowed: Sequence[str]) -> Filters:
    """Filters from query parameters; ``allowed`` names the ones this format accepts
    (others are ignored, as calendar applications may add their own). ``FilterError``
    for a value out of its list, too long, or holding control characters."""
    values: dict[str, str] = {}
    for name in allowed:
        value = (params.get(name) or "").strip()
        if len(value) > MAX_FILTER_LENGTH or _CONTROL.search(value):
            raise FilterError(name, f"{name} must be at most {MAX_FILTER_LENGTH} characters")
        values[name] = value
    theme, audience, kind = values.get("theme", ""), values.get("audience", ""), values.get("kind")
    if theme and theme not in skill_themes():
        raise FilterError("theme", f"theme must be one of: {', '.join(skill_themes())}")
    if audience and audience not in audiences():
        raise FilterError("audience", f"audience must be one of: {', '.join(audiences())}")
    if kind and kind not in FEED_KINDS:
        raise FilterError("kind", f"kind must be one of: {', '.join(FEED_KINDS)}")
    return Filters(**values)


@dataclass
class Published:
    """One current object as the outside formats see it."""

    origin: str
    kind: str
    oid: str
    seq: int
    updated: str
    payload: dict[str, Any]
    #: The place profile of its origin ({} if not known yet).
    place: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.payload.get("title") or self.payload.get("nom") or "")


def _decode(row: dict[str, Any]) -> Published | None:
    try:
        payload = json.loads(row["payload"])
        if not isinstance(payload, dict):
            raise ValueError("payload is not an object")
        return Published(
            origin=str(row["origin"]),
            kind=str(row["kind"]),
            oid=str(row["oid"]),
            seq=int(row["seq"]),
            updated=str(row["updated"]),
            payload=payload,
        )
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("object %s/%s left out of a feed: %s", row.get("origin"), row.get("oid"), exc)
        return None


async def _read(where: list[str], values: list[Any], order: str, limit: int) -> list[Published]:
    clause = " AND ".join([*where, "o.origin NOT IN (SELECT id FROM origins WHERE frozen)"])
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "SELECT o.origin, o.kind, o.oid, o.seq, o.updated, o.payload FROM objects o"
            f" WHERE {clause} ORDER BY {order} LIMIT ?",
            [*values, limit],
        )
    items = [item for item in map(_decode, rows) if item is not None]
    places = await places_of({item.origin for item in items})
    for item in items:
        item.place = places.get(item.origin, {})
    return items


async def places_of(origins: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The place profiles of ``origins`` (decodable ones only)."""
    wanted = sorted(set(origins))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):  # SQLite's bound on parameters
        rows = await CurrentObject.filter(
            kind="place", oid="place", origin__in=wanted[start : start + 500]
        ).values("origin", "payload")
        for row in rows:
            try:
                payload = json.loads(row["payload"])
            except ValueError:
                continue
            if isinstance(payload, dict):
                found[row["origin"]] = payload
    return found


def _scope(origin: str | None, filters: Filters) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    values: list[Any] = []
    if origin:
        where.append("o.origin = ?")
        values.append(origin)
    if filters.commune:
        where.append("o.commune = ? COLLATE NOCASE")
        values.append(filters.commune)
    return where, values


def calendar_window_start(now: datetime | None = None) -> str:
    """Events that ended before this instant (midnight, Paris time, CALENDAR_PAST_DAYS
    days ago) are out of calendars. A day boundary, so a calendar changes once a day at
    most by itself."""
    local = (now or utc_now()).astimezone(LOCAL_TZ) - timedelta(days=CALENDAR_PAST_DAYS)
    return format_ts(local.replace(hour=0, minute=0, second=0, microsecond=0))


def _theme_expression(theme: str) -> str:
    """FTS5: the theme's words as a phrase, in an event's title or description."""
    return '{title body} : "' + " ".join(_WORD.findall(theme)) + '"'


async def calendar_events(
    origin: str | None, filters: Filters, *, now: datetime | None = None
) -> list[Published]:
    """Events of ``origin`` (None: the whole known network) for a calendar: the recent and
    upcoming ones, soonest first, bounded.

    Events have no theme of their own in this version: ``theme`` keeps those whose own
    ``theme`` is that one, or whose title or description holds its words as a phrase
    (accents and case ignored)."""
    where, values = _scope(origin, filters)
    where += ["o.kind = 'event'", "coalesce(o.ends_at, o.starts_at) >= ?"]
    values.append(calendar_window_start(now))
    if filters.audience:
        where.append("json_extract(o.payload, '$.audience') = ?")
        values.append(filters.audience)
    if filters.theme:
        where.append(
            "(o.theme = ? OR o.id IN (SELECT rowid FROM search_index WHERE search_index MATCH ?))"
        )
        values += [filters.theme, _theme_expression(filters.theme)]
    return await _read(where, values, "o.starts_at, o.id", CALENDAR_MAX_EVENTS)


async def recent_objects(origin: str | None, filters: Filters) -> list[Published]:
    """The most recently changed offers (``FEED_KINDS``) of ``origin`` (None: the
    network), newest first, bounded."""
    where, values = _scope(origin, filters)
    kinds = (filters.kind,) if filters.kind else FEED_KINDS
    where.append(f"o.kind IN ({', '.join('?' for _ in kinds)})")
    values += kinds
    return await _read(where, values, "o.updated DESC, o.id DESC", FEED_MAX_ENTRIES)


async def one_event(origin: str, oid: str) -> Published | None:
    items = await _read(["o.origin = ?", "o.kind = 'event'", "o.oid = ?"], [origin, oid], "o.id", 1)
    return items[0] if items else None


async def upcoming_events(
    origin: str, limit: int, *, now: datetime | None = None
) -> list[Published]:
    where = ["o.origin = ?", "o.kind = 'event'", "coalesce(o.ends_at, o.starts_at) >= ?"]
    values: list[Any] = [origin, format_ts(now or utc_now())]
    return await _read(where, values, "o.starts_at, o.id", limit)


async def equipment_of(origin: str, limit: int) -> list[Published]:
    return await _read(
        ["o.origin = ?", "o.kind = 'equipment'"], [origin], "o.title COLLATE NOCASE, o.id", limit
    )


async def state_tag(origin: str | None) -> str:
    """Changes whenever what this node holds for ``origin`` (None: any origin) changes:
    its head (or the version vector's digest) and which origins are frozen."""
    state: list[Any]
    if origin:
        row = await Origin.get_or_none(id=origin)
        state = [row.head_hash, row.frozen] if row else [None, False]
    else:
        state = [vector_digest(await current_vector()), sorted(await frozen_origins())]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()
