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
from typing import TYPE_CHECKING, Any

from federation import schema
from federation.timeutil import format_ts, utc_now
from federation.vector import vector_digest

from ..store import origins
from ..store import published as rows
from ..store.objects import ObjectText
from .search import LOCAL_TZ
from .sync import current_vector, frozen_origins

if TYPE_CHECKING:
    from ..db import Database
    from ..runtime import Node

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


def _decode(row: ObjectText) -> Published | None:
    try:
        payload = json.loads(row.payload)
        if not isinstance(payload, dict):
            raise ValueError("payload is not an object")
        return Published(row.origin, row.kind, row.oid, row.seq, row.updated, payload)
    except (ValueError, TypeError) as exc:
        log.warning("object %s/%s left out of a feed: %s", row.origin, row.oid, exc)
        return None


async def _published(node: Node, found: list[ObjectText]) -> list[Published]:
    items = [item for item in map(_decode, found) if item is not None]
    places = await places_of(node, {item.origin for item in items})
    for item in items:
        item.place = places.get(item.origin, {})
    return items


async def places_of(node: Node, origins: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The place profiles of ``origins`` (decodable ones only)."""
    found = await rows.place_payloads(node.db.connection(), origins=origins)
    return {origin: payload for origin, payload in found.items() if isinstance(payload, dict)}


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
    node: Node, origin: str | None, filters: Filters, *, now: datetime | None = None
) -> list[Published]:
    """Events of ``origin`` (None: the whole known network) for a calendar: the recent and
    upcoming ones, soonest first, bounded.

    Events have no theme of their own in this version: ``theme`` keeps those whose own
    ``theme`` is that one, or whose title or description holds its words as a phrase
    (accents and case ignored)."""
    found = await rows.calendar_events(
        node.db.connection(),
        origin=origin,
        commune=filters.commune,
        not_over_at=calendar_window_start(now),
        audience=filters.audience,
        theme=filters.theme,
        theme_match=_theme_expression(filters.theme) if filters.theme else None,
        limit=CALENDAR_MAX_EVENTS,
    )
    return await _published(node, found)


async def recent_objects(node: Node, origin: str | None, filters: Filters) -> list[Published]:
    """The most recently changed offers (``FEED_KINDS``) of ``origin`` (None: the
    network), newest first, bounded."""
    kinds = (filters.kind,) if filters.kind else FEED_KINDS
    found = await rows.recent(
        node.db.connection(),
        origin=origin,
        commune=filters.commune,
        kinds=kinds,
        limit=FEED_MAX_ENTRIES,
    )
    return await _published(node, found)


async def one_event(node: Node, origin: str, oid: str) -> Published | None:
    found = await rows.event(node.db.connection(), origin=origin, oid=oid)
    items = await _published(node, [found] if found else [])
    return items[0] if items else None


async def upcoming_events(
    node: Node, origin: str, limit: int, *, now: datetime | None = None
) -> list[Published]:
    found = await rows.upcoming_events(
        node.db.connection(), origin=origin, not_over_at=format_ts(now or utc_now()), limit=limit
    )
    return await _published(node, found)


async def equipment_of(node: Node, origin: str, limit: int) -> list[Published]:
    found = await rows.equipment(node.db.connection(), origin=origin, limit=limit)
    return await _published(node, found)


async def state_tag(db: Database, origin: str | None) -> str:
    """Changes whenever what this node holds for ``origin`` (None: any origin) changes:
    its head (or the version vector's digest) and which origins are frozen."""
    state: list[Any]
    if origin:
        row = await origins.origin(db.connection(), origin_id=origin)
        state = [row.head_hash, row.frozen] if row else [None, False]
    else:
        state = [vector_digest(await current_vector(db)), sorted(await frozen_origins(db))]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()
