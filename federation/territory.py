"""Following a territory: the subset of origins a node keeps (docs/protocol.md section 13),
as pure functions.

A territory (``schemas/territory.schema.json``) names origins by id, by the INSEE code of
their place's commune (``communes``), or by their place's position (``near``: within
``km`` of a point). An origin belongs to it when any of these says so, judged on the
*current* ``place`` object of the origin as the judging node holds it (an origin whose
place is unknown belongs only if listed by id). Both sides of an exchange judge with this
same function, so that two nodes holding the same entries restrict to the same subset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Mean Earth radius (IUGG), in km: every implementation measures with this one.
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Near:
    latitude: float
    longitude: float
    km: float


@dataclass(frozen=True)
class Territory:
    origins: frozenset[str] = frozenset()
    communes: frozenset[str] = frozenset()
    near: Near | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        if self.origins:
            document["origins"] = sorted(self.origins)
        if self.communes:
            document["communes"] = sorted(self.communes)
        if self.near is not None:
            document["near"] = {
                "latitude": self.near.latitude,
                "longitude": self.near.longitude,
                "km": self.near.km,
            }
        return document


def parse_territory(document: Mapping[str, Any]) -> Territory:
    """A territory from its (schema-valid) JSON."""
    near = document.get("near")
    return Territory(
        origins=frozenset(document.get("origins", ())),
        communes=frozenset(document.get("communes", ())),
        near=None
        if near is None
        else Near(float(near["latitude"]), float(near["longitude"]), float(near["km"])),
    )


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) on a sphere of ``EARTH_RADIUS_KM``."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def contains(territory: Territory, origin: str, place: Mapping[str, Any] | None) -> bool:
    """Whether ``origin``, whose current place object is ``place``, is in ``territory``."""
    if origin in territory.origins:
        return True
    if place is None:
        return False
    if territory.communes and place.get("code_insee") in territory.communes:
        return True
    near = territory.near
    if near is None:
        return False
    latitude, longitude = place.get("latitude"), place.get("longitude")
    if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
        return False
    return distance_km(near.latitude, near.longitude, latitude, longitude) <= near.km


def member_test(
    territory: Territory | None, places: Callable[[str], Mapping[str, Any] | None]
) -> Callable[[str], bool] | None:
    """``origin -> bool`` for ``territory`` given a lookup of current places (None: no
    territory, every origin is followed)."""
    if territory is None:
        return None
    chosen = territory

    def test(origin: str) -> bool:
        return contains(chosen, origin, places(origin))

    return test


def restrict(vector: Mapping[str, int], test: Callable[[str], bool] | None) -> dict[str, int]:
    """The part of a version vector (or heads) that a territory keeps."""
    if test is None:
        return dict(vector)
    return {origin: seq for origin, seq in vector.items() if test(origin)}
