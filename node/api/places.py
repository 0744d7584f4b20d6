"""``GET /api/v1/places`` (orientation: the places of the network that can help, nearest
first, open or not at an instant) and ``GET /api/v1/places/{origin}`` (one place's card
for the person). Bad parameters are ``422`` with the field; never a ``500``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.timeutil import parse_ts, utc_now

from ..runtime import Node, node_of
from ..services.communes import communes
from ..services.opening_hours import PARIS
from ..services.places import (
    Near,
    PlaceQuery,
    PlaceResult,
    UnknownPlace,
    canonical_value,
    closed_list,
    find_places,
    load_communes,
    one_place,
    place_rows,
    resolve_near,
)
from ..web.hours import describe_hours, status_phrase
from .errors import ApiError
from .params import int_param
from .spec import Answer, Operation, Param, describe, nullable, obj, whole

#: ``limit`` of ``GET /api/v1/places``: default and bounds.
DEFAULT_LIMIT = 20
MAX_LIMIT = 500
MAX_NEAR_LENGTH = 200
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
#: Query parameters naming a closed list of the place profile, and that list.
LIST_PARAMETERS = {
    "service": "services",
    "public": "publics_specifiquement_adresses",
    "support": "prise_en_charge_specifique",
}


_NUMBER_OR_NULL = nullable({"type": "number"})
_PLACE_ITEM = obj(
    ("origin", "nom", "latitude", "longitude", "distance_km", "open", "open_state", "self", "url"),
    origin={"type": "string"},
    latitude=_NUMBER_OR_NULL,
    longitude=_NUMBER_OR_NULL,
    distance_km=_NUMBER_OR_NULL,
    open=nullable({"type": "boolean"}),
    open_state={"type": "string"},
    self={"type": "boolean"},
    url={"type": "string"},
)
_AT = Param(
    "at",
    {"$ref": "urn:papi:datetime"},
    "An RFC 3339 instant with its offset (default: now), e.g. 2026-12-01T14:30:00+01:00.",
)
_NEAR = Param("near", {"type": "string", "maxLength": MAX_NEAR_LENGTH}, "A commune, or 'lat,lon'.")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid", message, field=field)


def parse_at(value: str | None) -> datetime:
    """``at``: an RFC 3339 instant with its offset; absent: now."""
    if value is None or value == "":
        return utc_now()
    try:
        return parse_ts(value.strip())
    except ValueError:
        raise _invalid(
            "at", "at must be an RFC 3339 instant with an offset, e.g. 2026-12-01T14:30:00+01:00"
        ) from None


def places_query(params: Mapping[str, str]) -> PlaceQuery:
    """A ``PlaceQuery`` from query parameters (shared by the API and the web page)."""
    values: dict[str, str | None] = {}
    for parameter, list_name in LIST_PARAMETERS.items():
        raw = params.get(parameter) or ""
        if not raw:
            values[parameter] = None
            continue
        value = canonical_value(list_name, raw)
        if value is None:
            allowed = "; ".join(closed_list(list_name))
            raise _invalid(parameter, f"{parameter} must be one of: {allowed}")
        values[parameter] = value
    open_only = _BOOLEANS.get((params.get("open_only") or "false").strip().lower())
    if open_only is None:
        raise _invalid("open_only", "open_only must be true or false")
    try:
        limit = int(params.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise _invalid("limit", f"limit must be an integer from 1 to {MAX_LIMIT}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _invalid("limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return PlaceQuery(
        at=parse_at(params.get("at")),
        service=values["service"],
        public=values["public"],
        support=values["support"],
        open_only=open_only,
        limit=limit,
    )


async def near_of(node: Node, text: str | None) -> Near:
    """``near``: a commune, ``lat,lon`` or nothing (this node's place); 422 otherwise."""
    if text is not None and len(text) > MAX_NEAR_LENGTH:
        raise _invalid("near", f"near is limited to {MAX_NEAR_LENGTH} characters")
    try:
        return await resolve_near(node.db.connection(), text, node.origin, node.settings.name)
    except UnknownPlace as exc:
        raise _invalid("near", str(exc)) from None


@describe(
    Operation(
        "The places of the network that can help, nearest first",
        (
            Answer(
                200,
                "The places.",
                obj(
                    ("near", "at", "total", "items"),
                    near={"type": "object"},
                    at={"type": "string"},
                    total={"type": "integer", "minimum": 0},
                    items={"type": "array", "items": _PLACE_ITEM},
                ),
            ),
        ),
        query=(
            _NEAR,
            _AT,
            *(
                Param(
                    name,
                    {"enum": list(closed_list(list_name))},
                    f"A value of the place profile's '{list_name}' (accents and case ignored).",
                )
                for name, list_name in LIST_PARAMETERS.items()
            ),
            Param("open_only", {"enum": list(_BOOLEANS)}, "Only the places open at 'at'."),
            Param("limit", whole(1, MAX_LIMIT, f"Default {DEFAULT_LIMIT}."), "How many."),
        ),
    )
)
async def places_api(request: Request) -> Response:
    node = node_of(request)
    params = request.query_params
    query = places_query(params)
    near = await near_of(node, params.get("near"))
    found = await find_places(node.db.connection(), query, near, node.origin)
    return JSONResponse(
        {
            "near": near.as_json(params.get("near") or None),
            "at": found.at.isoformat(),
            "total": found.total,
            "items": [result.as_json() for result in found.results],
        }
    )


def place_card(result: PlaceResult, at: datetime, language: str = "fr") -> dict[str, Any]:
    """A place's card for the person: the item plus the hours and the state in words,
    the address lines and how to get there."""
    place = result.place
    card = result.as_json()
    card["horaires_texte"] = describe_hours(place.get("horaires"), language)
    card["etat_texte"] = status_phrase(result.status, at, language=language)
    address = [str(place[name]) for name in ("adresse", "complement_adresse") if place.get(name)]
    town = " ".join(str(place[name]) for name in ("code_postal", "commune") if place.get(name))
    card["adresse_lignes"] = [*address, town] if town else address
    card["presentation_resume"] = place.get("presentation_resume")
    card["itineraire"] = directions(result)
    return card


def directions(result: PlaceResult) -> dict[str, Any] | None:
    """Links to find the way: a map centred on the place, and a ``geo:`` URI that phones
    open in their map application."""
    if result.point is None:
        return None
    lat, lon = result.point
    zoom = 17 if result.position == "place" else 13
    return {
        "position": result.position,
        "carte": f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}"
        f"#map={zoom}/{lat:.5f}/{lon:.5f}",
        "geo": f"geo:{lat:.5f},{lon:.5f}",
    }


@describe(
    Operation(
        "One place's card for the person: hours and state in words, address, way there",
        (Answer(200, "The card.", {**_PLACE_ITEM, "required": [*_PLACE_ITEM["required"], "at"]}),),
        query=(_NEAR, _AT),
        path={"origin": Param("origin", {"type": "string"}, "The place's node (origin id).")},
    )
)
async def place_card_api(request: Request) -> Response:
    node = node_of(request)
    origin = request.path_params["origin"]
    rows = await place_rows(node.db.connection(), origin)
    if not rows:
        raise ApiError(404, "not_found", "no place profile for this origin")
    at = parse_at(request.query_params.get("at"))
    near_text = request.query_params.get("near")
    near = await near_of(node, near_text) if near_text else None
    await load_communes()
    result = one_place(origin, json.loads(rows[0][1]), at, near, node.origin)
    return JSONResponse(
        {**place_card(result, at), "at": at.astimezone(PARIS).isoformat()},
    )


#: Suggestions one answer gives at most, and the longest text looked up.
MAX_COMMUNES, MAX_COMMUNE_TEXT = 20, 100


@describe(
    Operation(
        "French communes whose name starts with 'q' (the place form's suggestions)",
        (
            Answer(
                200,
                "At most 'limit' communes, current and most populous first.",
                obj(("items",), items={"type": "array", "items": obj()}),
            ),
        ),
        query=(
            Param("q", {"type": "string", "maxLength": MAX_COMMUNE_TEXT}, "Start of the name."),
            Param("limit", whole(1, MAX_COMMUNES), "How many at most (default 10)."),
        ),
    )
)
async def communes_api(request: Request) -> Response:
    """``GET /api/v1/communes?q=plou&limit=10``: the French communes whose name starts
    with ``q`` (accents, case and hyphens ignored; ``st`` for ``saint``), current and
    most populous first: the suggestions of the place form's commune field."""
    text = request.query_params.get("q", "")
    if len(text) > MAX_COMMUNE_TEXT:
        raise ApiError(
            422, "invalid", f"q must have at most {MAX_COMMUNE_TEXT} characters", field="q"
        )
    limit = int_param(request.query_params, "limit", 10, 1, MAX_COMMUNES)
    await load_communes()
    found = communes().complete(text, limit=limit) if text.strip() else []
    return JSONResponse({"items": [commune.as_json() for commune in found]})


def routes() -> list[Route]:
    return [
        Route("/api/v1/communes", communes_api, methods=["GET"], name="api.communes"),
        Route("/api/v1/places", places_api, methods=["GET"], name="api.places"),
        Route(
            "/api/v1/places/{origin:str}", place_card_api, methods=["GET"], name="api.place_card"
        ),
    ]
