"""Calendars and feeds: ``/events.ics`` and ``/feed.atom`` for this place,
``/network/events.ics`` and ``/network/feed.atom`` for the whole known network, and
``/o/{origin}/event/{oid}.ics`` for one event ("add to my calendar").

Public, bounded (services/published.py), cacheable: the ETag is derived from the state of
the data (the origin's head or the version vector), the filters, the language and the
calendar's window, so a reader that asks again with ``If-None-Match`` gets a ``304``
without the document being built. Bad filters are ``400`` JSON errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from federation.timeutil import parse_ts

from ..api.errors import ApiError
from ..api.spec import Answer, Operation, Param, describe
from ..convertors import register_convertors
from ..runtime import Node, node_of
from ..services import published
from ..services.published import FilterError, Filters, Published
from ..store import objects
from .calendar import build_calendar
from .feeds import build_feed
from .i18n import N_, request_language, translations
from .urls import base_url, public_urls

CALENDAR_TYPE = "text/calendar; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
#: Readers may keep a copy this long before asking again (with If-None-Match).
CACHE_CONTROL = "public, max-age=300"
#: Bumped when the documents' layout changes, so that cached copies are not reused.
FORMAT_VERSION = 1
CALENDAR_FILTERS = ("commune", "theme", "audience")
FEED_FILTERS = ("commune", "kind")
AUDIENCE_NAMES = {"public": N_("everyone"), "animateurs": N_("mediators")}


#: The filters as query parameters (``published.parse_filters`` reads them).
_FILTERS = {
    "commune": Param(
        "commune",
        {
            "type": "string",
            "maxLength": published.MAX_FILTER_LENGTH,
            "pattern": "^[^\\x00-\\x1f\\x7f]*$",
        },
        "Only what is in this commune.",
    ),
    "theme": Param("theme", {"enum": list(published.skill_themes())}, "Only this theme."),
    "audience": Param("audience", {"enum": list(published.audiences())}, "Only events for them."),
    "kind": Param("kind", {"enum": list(published.FEED_KINDS)}, "Only objects of this kind."),
}
_UNCHANGED = Answer(304, "The reader's copy is current (If-None-Match).")


def _interop(summary: str, media_type: str, filters: tuple[str, ...] = ()) -> Operation:
    """A calendar's or a feed's operation: public, cacheable, filters answered 400."""
    return Operation(
        summary,
        (
            Answer(200, "The document (ETag, Last-Modified).", media_types=(media_type,)),
            _UNCHANGED,
        ),
        query=tuple(_FILTERS[name] for name in filters),
        errors=(400,) if filters else (),
        tag="interop",
    )


def _filters(request: Request, allowed: tuple[str, ...]) -> Filters:
    try:
        return published.parse_filters(request.query_params, allowed)
    except FilterError as exc:
        raise ApiError(400, "bad_request", str(exc), field=exc.name) from None


def _filter_words(filters: Filters, gettext: Callable[[str], str]) -> str:
    words = [filters.commune, filters.theme]
    if filters.audience:
        words.append(gettext(AUDIENCE_NAMES.get(filters.audience, filters.audience)))
    return " · ".join(word for word in words if word)


def _self_url(request: Request, filters: Filters) -> str:
    query = {k: v for k, v in vars(filters).items() if v}
    return base_url(request) + request.url.path + ("?" + urlencode(query) if query else "")


async def _cached(
    request: Request,
    scope: str | None,
    parts: list[Any],
    media_type: str,
    build: Callable[[], Awaitable[tuple[bytes, str | None]]],
    headers: dict[str, str] | None = None,
) -> Response:
    """``304`` when the reader's copy is current, else the document ``build`` makes
    (with the time of its newest item for ``Last-Modified``)."""
    key = [
        FORMAT_VERSION,
        await published.state_tag(node_of(request).db, scope),
        base_url(request),
        *parts,
    ]
    etag = '"' + hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32] + '"'
    # Texts follow the language chosen by cookie (node/web/i18n.py).
    common = {"etag": etag, "cache-control": CACHE_CONTROL, "vary": "cookie", **(headers or {})}
    asked = [
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("if-none-match", "").split(",")
    ]
    if etag in asked or "*" in asked:
        return Response(status_code=304, headers=common)
    body, newest = await build()
    moment = _moment(newest)
    if moment:
        common["last-modified"] = format_datetime(moment.astimezone(UTC), usegmt=True)
    return Response(body, media_type=media_type, headers=common)


def _moment(text: str | None) -> datetime | None:
    try:
        return parse_ts(text) if text else None
    except ValueError:
        return None


def _newest(items: list[Published]) -> str | None:
    dated = [(moment, item.updated) for item in items if (moment := _moment(item.updated))]
    return max(dated)[1] if dated else None


async def _place_name(node: Node, origin: str) -> str:
    place = (await published.places_of(node, [origin])).get(origin, {})
    return str(place.get("nom") or node.settings.name or "papi-node")


# -- calendars --------------------------------------------------------------------------


async def _calendar(request: Request, origin: str | None) -> Response:
    node = node_of(request)
    filters = _filters(request, CALENDAR_FILTERS)
    language = request_language(request)
    gettext = translations(language).gettext
    window = published.calendar_window_start()

    async def build() -> tuple[bytes, str | None]:
        items = await published.calendar_events(node, origin, filters)
        if origin:
            place = await _place_name(node, origin)
            name = gettext("Events of %(place)s") % {"place": place}
            description = gettext("The events of %(place)s, a place of digital mediation.") % {
                "place": place
            }
            page = public_urls(request).absolute("home")
        else:
            name = gettext("Events of the network")
            description = gettext(
                "The events of the places of digital mediation of the network, seen from %(place)s."
            ) % {"place": await _place_name(node, node.origin)}
            page = public_urls(request).absolute("search") + "?kind=event"
        words = _filter_words(filters, gettext)
        body = build_calendar(
            items,
            name=f"{name} ({words})" if words else name,
            description=description,
            source_url=_self_url(request, filters),
            page_url=page,
            urls=public_urls(request),
            gettext=gettext,
        )
        return body, _newest(items)

    return await _cached(
        request,
        origin,
        [request.url.path, filters.key(), language, window],
        CALENDAR_TYPE,
        build,
        {"content-disposition": 'inline; filename="agenda.ics"'},
    )


@describe(_interop("This place's events, iCalendar (RFC 5545)", "text/calendar", CALENDAR_FILTERS))
async def place_calendar(request: Request) -> Response:
    return await _calendar(request, node_of(request).origin)


@describe(_interop("The network's events, iCalendar (RFC 5545)", "text/calendar", CALENDAR_FILTERS))
async def network_calendar(request: Request) -> Response:
    return await _calendar(request, None)


@describe(_interop("One event, iCalendar: add it to a calendar", "text/calendar"))
async def event_calendar(request: Request) -> Response:
    """One event, to add to one's own calendar."""
    origin, oid = request.path_params["origin"], request.path_params["oid"]
    language = request_language(request)
    gettext = translations(language).gettext
    item = await published.one_event(node_of(request), origin, oid)
    if item is None:
        raise ApiError(404, "not_found", "no such event (or its place is suspended)")

    async def build() -> tuple[bytes, str | None]:
        body = build_calendar(
            [item],
            name=item.title,
            description=gettext("An event of %(place)s.") % {"place": item.place.get("nom") or "?"},
            source_url=base_url(request) + request.url.path,
            page_url=public_urls(request).object(origin, "event", oid),
            urls=public_urls(request),
            gettext=gettext,
        )
        return body, item.updated

    return await _cached(
        request,
        origin,
        [request.url.path, language],
        CALENDAR_TYPE,
        build,
        {"content-disposition": 'inline; filename="evenement.ics"'},
    )


# -- feeds ------------------------------------------------------------------------------


async def _feed(request: Request, origin: str | None) -> Response:
    node = node_of(request)
    filters = _filters(request, FEED_FILTERS)
    language = request_language(request)
    gettext = translations(language).gettext

    async def build() -> tuple[bytes, str | None]:
        items = await published.recent_objects(node, origin, filters)
        own_place = await objects.one(
            node.db.connection(), origin=node.origin, kind="place", oid="place"
        )
        if origin:
            place = await _place_name(node, origin)
            title = gettext("What is new at %(place)s") % {"place": place}
            subtitle = gettext("Events, skills and equipment of %(place)s.") % {"place": place}
            author = place
            page = public_urls(request).absolute("home")
        else:
            title = gettext("What is new in the network")
            author = await _place_name(node, node.origin)
            subtitle = gettext(
                "Events, skills and equipment of the places of the network, seen from %(place)s."
            ) % {"place": author}
            page = public_urls(request).absolute("search")
        words = " · ".join(w for w in (filters.commune, filters.kind) if w)
        body = build_feed(
            items,
            title=f"{title} ({words})" if words else title,
            subtitle=subtitle,
            author=author,
            self_url=_self_url(request, filters),
            page_url=page,
            urls=public_urls(request),
            fallback_updated=own_place.updated if own_place else "1970-01-01T00:00:00Z",
            language=language,
            gettext=gettext,
        )
        return body, _newest(items)

    # The day too: a recurring event's summary names its next session.
    day = published.calendar_window_start()
    return await _cached(
        request, origin, [request.url.path, filters.key(), language, day], ATOM_TYPE, build
    )


@describe(
    _interop("What is new at this place, Atom (RFC 4287)", "application/atom+xml", FEED_FILTERS)
)
async def place_feed(request: Request) -> Response:
    return await _feed(request, node_of(request).origin)


@describe(
    _interop("What is new in the network, Atom (RFC 4287)", "application/atom+xml", FEED_FILTERS)
)
async def network_feed(request: Request) -> Response:
    return await _feed(request, None)


def routes() -> list[Route]:
    register_convertors()
    return [
        Route("/events.ics", place_calendar, methods=["GET"], name="calendar"),
        Route("/network/events.ics", network_calendar, methods=["GET"], name="network.calendar"),
        Route(
            "/o/{origin:str}/event/{oid:oid}.ics",
            event_calendar,
            methods=["GET"],
            name="event.calendar",
        ),
        Route("/feed.atom", place_feed, methods=["GET"], name="feed"),
        Route("/network/feed.atom", network_feed, methods=["GET"], name="network.feed"),
    ]
