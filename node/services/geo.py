"""Points on the Earth: distances and ``lat,lon`` text."""

from __future__ import annotations

import math
import re

#: Mean Earth radius (km), as in the haversine formula's usual form.
EARTH_RADIUS_KM = 6371.0088

_LAT_LON = re.compile(r"^\s*([+-]?\d{1,3}(?:\.\d+)?)\s*,\s*([+-]?\d{1,3}(?:\.\d+)?)\s*$")

Point = tuple[float, float]


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance between two (lat, lon) points in degrees (haversine)."""
    lat1, lon1 = map(math.radians, a)
    lat2, lon2 = map(math.radians, b)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def looks_like_lat_lon(text: str) -> bool:
    """True for text shaped like ``48.39,-4.48`` (whether or not the values are in range)."""
    return _LAT_LON.match(text) is not None


def parse_lat_lon(text: str) -> Point | None:
    """``48.3904,-4.4861`` -> (48.3904, -4.4861); None when not two numbers in range."""
    match = _LAT_LON.match(text)
    if match is None:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def valid_point(latitude: object, longitude: object) -> Point | None:
    """A payload's ``latitude``/``longitude`` as a point, if both are numbers in range."""
    if isinstance(latitude, bool) or isinstance(longitude, bool):
        return None
    if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
        return None
    lat, lon = float(latitude), float(longitude)
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon
