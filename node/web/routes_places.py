"""The orientation page (``/lieux``): the places of the network that can help a person,
by service, public and support, open now or at a given day and time, nearest first from
this place or from a commune; and what a place's page (its printable card) adds. The
same search as ``GET /api/v1/places``; the list is the page, the map an addition."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from babel.numbers import format_decimal
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from federation.timeutil import utc_now

from ..api.errors import ApiError
from ..api.places import (
    LIST_PARAMETERS,
    MAX_NEAR_LENGTH,
    directions,
    near_of,
    parse_at,
    places_query,
)
from ..runtime import node_of
from ..services.opening_hours import PARIS
from ..services.places import PlaceResult, closed_list, find_places, load_communes, one_place
from .fields import FieldError
from .i18n import N_, request_language
from .maps import map_context, map_headers
from .render import render

#: How many places the page lists (the nearest).
PAGE_LIMIT = 50
FORM_FIELDS = ("service", "near", "day", "time", "open_only", "public", "support")
_DAY_FR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_TIME = re.compile(r"^(\d{1,2})(?:[:h](\d{2})?)?$")
#: API parameter -> form field, for the errors.
_FIELD_OF = {"at": "day", **{name: name for name in FORM_FIELDS}}


def _day(text: str) -> date | None:
    """``2026-12-01`` (date input) or ``01/12/2026`` (typed)."""
    match = _DAY_FR.match(text)
    try:
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        return date.fromisoformat(text)
    except ValueError:
        return None


def _time(text: str) -> time | None:
    """``14:30`` (time input), ``14h30``, ``14h`` or ``14``."""
    match = _TIME.match(text.replace(" ", "").lower())
    if match is None:
        return None
    try:
        return time(int(match.group(1)), int(match.group(2) or 0))
    except ValueError:
        return None


def read_form(request: Request) -> tuple[dict[str, str], dict[str, FieldError], dict[str, str]]:
    """The form as typed, its errors, and the API parameters it means."""
    params = request.query_params
    form = {name: (params.get(name) or "").strip() for name in FORM_FIELDS}
    errors: dict[str, FieldError] = {}
    api = {name: form[name] for name in ("service", "public", "support", "near")}
    api["open_only"] = "true" if form["open_only"] else "false"
    api["limit"] = str(PAGE_LIMIT)
    if len(form["near"]) > MAX_NEAR_LENGTH:
        errors["near"] = FieldError(N_("At most %(count)s characters."), {"count": MAX_NEAR_LENGTH})
    day = _day(form["day"]) if form["day"] else None
    if form["day"] and day is None:
        errors["day"] = FieldError(N_("Enter a date, for example 05/12/2026."))
    moment = _time(form["time"]) if form["time"] else None
    if form["time"] and moment is None:
        errors["time"] = FieldError(N_("Enter a time, for example 14:30."))
    if day and not form["time"]:
        errors["time"] = FieldError(N_("Enter a time too, for example 14:30."))
    if (day or moment) and not errors:
        local_day = day or utc_now().astimezone(PARIS).date()
        at = datetime.combine(local_day, moment or time(0), tzinfo=PARIS)
        api["at"] = at.isoformat()
    return form, errors, api


def _shown(result: PlaceResult, language: str) -> tuple[PlaceResult, dict[str, Any]]:
    """A result and its item, with the distance and the phone as people read them."""
    from .routes_public import contact_links  # the pages' one way of showing contacts

    item = result.as_json()
    distance = item["distance_km"]
    item["distance_text"] = "" if distance is None else format_decimal(distance, locale=language)
    item["phones"] = contact_links(result.place, "")["phones"]
    return result, item


async def places_page(request: Request) -> Response:
    node = node_of(request)
    language = request_language(request)
    form, errors, api = read_form(request)
    found = None
    if not errors:
        try:
            query = places_query(api)
            near = await near_of(node, api["near"] or None)
            found = await find_places(node.db.connection(), query, near, node.origin)
        except ApiError as exc:
            field = _FIELD_OF.get(str(exc.extra.get("field")), "service")
            message = (
                N_("No commune of that name is known; check its spelling, or add its postcode.")
                if field == "near"
                else N_("Choose a value from the list.")
            )
            errors[field] = FieldError(message)
    card_query = urlencode(
        {k: v for k, v in (("near", form["near"]), ("at", api.get("at", ""))) if v}
    )
    return await render(
        request,
        "places.html",
        {
            "form": form,
            "errors": errors,
            "found": found,
            "results": [_shown(result, language) for result in found.results] if found else [],
            "card_query": card_query,
            "choices": {
                name: closed_list(list_name) for name, list_name in LIST_PARAMETERS.items()
            },
            "filters_open": bool(form["public"] or form["support"]),
            **map_context(node.settings),
        },
        status=400 if errors else 200,
        headers=map_headers(node.settings),
    )


async def card_context(request: Request, origin: str, place: dict[str, Any]) -> dict[str, Any]:
    """What a place's page shows on top of its profile, to be printed for a person: the
    distance from where the person comes from and the state at the chosen time (``near``
    and ``at``, as ``/lieux`` links them), how to get there, and the map."""
    node = node_of(request)
    params = request.query_params
    near_text = (params.get("near") or "").strip()
    try:
        at = parse_at(params.get("at")) if params.get("at") else None
    except ApiError:
        at = None  # a stale or edited link: now
    await load_communes()
    near = None
    if near_text:
        try:
            near = await near_of(node, near_text)
        except ApiError:
            near = None  # idem: the card without a distance
    result = one_place(origin, place, at or utc_now(), near, node.origin)
    return {
        "card": result.as_json(),
        "card_status": result.status,
        "card_at": at,
        "card_near": near,
        "card_distance": format_decimal(result.distance_km or 0, locale=request_language(request)),
        "card_directions": directions(result),
        "card_printed": utc_now(),
        "card_url": str(request.url),
        **map_context(node.settings),
    }


def routes() -> list[Route]:
    return [Route("/lieux", places_page, methods=["GET"], name="places")]
