"""Orientation: which places of the known network can help a person, open when, and how
far. One service for ``GET /api/v1/places``, its printable card and the ``/lieux`` page.

Every current place profile of every origin that is not frozen is considered. Filters:
a service (closed list of the LaMednum standard), a public (the places that address it
specifically, and those that address no public in particular: a place is open to all
unless it says otherwise), a specific support (``prise_en_charge_specifique``), open at
an instant. Distances are from a point: this node's place by default, a commune someone
typed, or ``lat,lon``. A place without coordinates is placed at its commune (shipped
commune data, ``node/data/SOURCE.md``); without either, its distance is ``None`` and it
comes last.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, Literal

from tortoise.backends.base.client import BaseDBAsyncClient

from federation import schema

from ..store import objects
from .communes import Commune, communes, fold
from .geo import Point, distance_km, looks_like_lat_lon, parse_lat_lon, valid_point
from .opening_hours import PARIS, HoursStatus, status_at

#: How a point was found: the place's own coordinates, or its commune's.
Position = Literal["place", "commune"]
#: Where distances are measured from.
NearSource = Literal["coordinates", "commune", "self"]
#: Profile fields copied into every item as they are (lists of the LaMednum standard...).
ITEM_FIELDS = (
    "services",
    "publics_specifiquement_adresses",
    "prise_en_charge_specifique",
    "frais_a_charge",
    "modalites_acces",
    "modalites_accompagnement",
    "telephone",
    "courriels",
    "site_web",
)


@cache
def closed_list(name: str) -> tuple[str, ...]:
    """The values the place schema accepts for the list field ``name``."""
    document = schema.document("urn:papi:payload/place")
    assert isinstance(document, dict)
    return tuple(document["properties"][name]["items"]["enum"])


def canonical_value(name: str, value: str) -> str | None:
    """``value`` as written in the closed list ``name``, accents and case ignored."""
    wanted = fold(value)
    for allowed in closed_list(name):
        if fold(allowed) == wanted:
            return allowed
    return None


@dataclass(frozen=True)
class Near:
    """The point distances are measured from, and what it is."""

    source: NearSource
    label: str
    point: Point | None
    commune: Commune | None = None

    def as_json(self, query: str | None) -> dict[str, Any]:
        return {
            "query": query,
            "source": self.source,
            "label": self.label,
            "latitude": self.point[0] if self.point else None,
            "longitude": self.point[1] if self.point else None,
            "insee": self.commune.insee if self.commune else None,
        }


@dataclass(frozen=True)
class PlaceQuery:
    at: datetime
    service: str | None = None
    public: str | None = None
    support: str | None = None
    open_only: bool = False
    limit: int = 20


@dataclass
class PlaceResult:
    origin: str
    place: dict[str, Any]
    point: Point | None
    position: Position | None
    distance_km: float | None
    status: HoursStatus
    own: bool

    def as_json(self) -> dict[str, Any]:
        place = self.place
        item: dict[str, Any] = {
            "origin": self.origin,
            "nom": place.get("nom"),
            "commune": place.get("commune"),
            "code_postal": place.get("code_postal"),
            "adresse": place.get("adresse"),
            "complement_adresse": place.get("complement_adresse"),
            "latitude": self.point[0] if self.point else None,
            "longitude": self.point[1] if self.point else None,
            "position": self.position,
            "distance_km": self.distance_km,
            "open": self.status.open,
            "open_state": self.status.state,
            "next_change": self.status.next_change.isoformat() if self.status.next_change else None,
            "horaires": place.get("horaires"),
        }
        for name in ITEM_FIELDS:
            item[name] = place.get(name, None if name == "telephone" else [])
        item["self"] = self.own
        item["url"] = f"/o/{self.origin}/place/place"
        return item


@dataclass
class PlaceSearch:
    near: Near
    at: datetime
    total: int
    results: list[PlaceResult]


def place_point(place: dict[str, Any]) -> tuple[Point | None, Position | None]:
    """A place's point: its own coordinates, else its commune's (INSEE code first, then
    the name with the postcode), else none."""
    point = valid_point(place.get("latitude"), place.get("longitude"))
    if point is not None:
        return point, "place"
    fields = (place.get("code_insee"), place.get("commune"), place.get("code_postal"))
    point = _commune_point(*(value if isinstance(value, str) else "" for value in fields))
    return (point, "commune") if point is not None else (None, None)


@lru_cache(maxsize=4096)
def _commune_point(code: str, name: str, postcode: str) -> Point | None:
    """The point of a place's commune: by INSEE code, else by name and postcode."""
    table = communes()
    commune = table.by_insee(code) if code else None
    if commune is None and name.strip():
        hint = f" {postcode}" if postcode else ""
        commune = table.resolve(name + hint) or table.resolve(name)
    return commune.point if commune is not None else None


def self_near(place: dict[str, Any] | None, fallback_label: str) -> Near:
    """Distances from this node's own place (its point, or its commune's)."""
    if place is None:
        return Near("self", fallback_label, None)
    point, _ = place_point(place)
    return Near("self", str(place.get("nom") or fallback_label), point)


def _matches(place: dict[str, Any], query: PlaceQuery) -> bool:
    if query.service and query.service not in (place.get("services") or []):
        return False
    publics = place.get("publics_specifiquement_adresses") or []
    # A place that names no public in particular welcomes everyone.
    if query.public and publics and query.public not in publics:
        return False
    return not (
        query.support and query.support not in (place.get("prise_en_charge_specifique") or [])
    )


#: A placeholder state, replaced before results are returned.
_UNKNOWN = HoursStatus("unknown")


def rank_places(
    rows: list[tuple[str, str]], query: PlaceQuery, near: Near, own_origin: str
) -> PlaceSearch:
    """The matching places of ``rows`` ((origin, payload JSON) pairs), nearest first,
    those without a distance last (then by name). CPU work: run it in a thread."""
    candidates: list[PlaceResult] = []
    for origin, payload in rows:
        place = json.loads(payload)
        if not isinstance(place, dict) or not _matches(place, query):
            continue
        point, position = place_point(place)
        # The state of every place only when it filters; else of the shown ones (below).
        status = status_at(place.get("horaires"), query.at, point) if query.open_only else None
        if status is not None and status.open is not True:
            continue
        distance = (
            round(distance_km(near.point, point), 1)
            if near.point is not None and point is not None
            else None
        )
        candidates.append(
            PlaceResult(origin, place, point, position, distance, _UNKNOWN, origin == own_origin)
        )
    candidates.sort(
        key=lambda r: (
            r.distance_km is None,
            r.distance_km or 0.0,
            str(r.place.get("nom") or "").casefold(),
            r.origin,
        )
    )
    shown = candidates[: query.limit]
    for result in shown:  # with the next change, which costs a search
        result.status = status_at(
            result.place.get("horaires"), query.at, result.point, with_next_change=True
        )
    return PlaceSearch(near, query.at.astimezone(PARIS), len(candidates), shown)


async def place_rows(conn: BaseDBAsyncClient, origin: str | None = None) -> list[tuple[str, str]]:
    """(origin, payload) of the current place profiles of non-frozen origins (or of
    ``origin`` alone, frozen or not)."""
    return [(row.origin, row.payload) for row in await objects.place_profiles(conn, origin=origin)]


def one_place(
    origin: str, place: dict[str, Any], at: datetime, near: Near | None, own_origin: str
) -> PlaceResult:
    """One place profile as a result: its point, its hours' state at ``at`` with the next
    change, and its distance from ``near`` if given."""
    point, position = place_point(place)
    status = status_at(place.get("horaires"), at, point, with_next_change=True)
    distance = (
        round(distance_km(near.point, point), 1)
        if near is not None and near.point is not None and point is not None
        else None
    )
    return PlaceResult(origin, place, point, position, distance, status, origin == own_origin)


class UnknownPlace(ValueError):
    """``near`` names no commune we know, or is not ``lat,lon`` in range."""


async def resolve_near(
    conn: BaseDBAsyncClient, text: str | None, own_origin: str, own_name: str
) -> Near:
    """Where distances are measured from: ``lat,lon``, a commune (the homonym nearest to
    this node's place), or this node's place when ``text`` is empty."""
    own_rows = await place_rows(conn, own_origin)
    own = json.loads(own_rows[0][1]) if own_rows else None
    await load_communes()
    here = self_near(own if isinstance(own, dict) else None, own_name)
    if text is None or not text.strip():
        return here
    if looks_like_lat_lon(text):
        point = parse_lat_lon(text)
        if point is None:
            raise UnknownPlace("latitude must be within -90..90 and longitude -180..180")
        return Near("coordinates", f"{point[0]:.5f},{point[1]:.5f}", point)
    commune = communes().resolve(text, near=here.point)
    if commune is None or commune.point is None:
        raise UnknownPlace(f"no French commune is called {text.strip()!r}")
    return Near("commune", commune.label, commune.point, commune)


async def find_places(
    conn: BaseDBAsyncClient, query: PlaceQuery, near: Near, own_origin: str
) -> PlaceSearch:
    rows = await place_rows(conn)
    return await asyncio.to_thread(rank_places, rows, query, near, own_origin)


async def load_communes() -> None:
    """Read the commune table (once per process) without blocking the event loop."""
    await asyncio.to_thread(communes)
