"""Unclaimed listings: places imported from the national open data, shown in the
directory until the real place runs a node.

A listing is **replaced** by a signed place (a place profile of some origin this node
holds, frozen or not) when one of these holds, in this order:

1. both have a ``pivot`` (SIRET or RNA) and they are equal (spaces and case ignored);
2. the listing's ``id`` is the origin id of the signed place (a row exported by a node of
   the network, which uses its origin id as ``id``);
3. the names and the communes are equal once normalised (accents, case, punctuation and
   spacing ignored), unless both have a ``pivot`` and they differ.

Replacement is decided when the data is read, never stored: a listing steps aside as soon
as the place's own profile arrives by sync, and comes back if that place is deleted."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from federation.timeutil import utc_now

from ..store import listings as listing_rows
from ..store import objects
from ..store.listings import NewListing

if TYPE_CHECKING:
    from ..db import Database

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})


def normalise(text: str) -> str:
    """``"Médiathèque  L'Œil-de-Brest"`` -> ``"mediatheque l oeil de brest"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_ALNUM.sub(" ", plain).strip()


def pivot_key(pivot: Any) -> str:
    return re.sub(r"\s+", "", str(pivot or "")).upper()


def name_key(nom: Any, commune: Any) -> str:
    name, town = normalise(str(nom or "")), normalise(str(commune or ""))
    return f"{name}|{town}" if name and town else ""


@dataclass
class SignedPlaces:
    """The identity keys of the signed places this node holds."""

    by_pivot: dict[str, str] = field(default_factory=dict)
    origins: set[str] = field(default_factory=set)
    #: name key -> [(origin, pivot key)]
    by_name: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def replacing(self, source_id: str, pivot: str, name: str) -> str | None:
        """The origin whose signed place replaces a listing with these keys, if any."""
        if pivot and pivot in self.by_pivot:
            return self.by_pivot[pivot]
        if source_id in self.origins:
            return source_id
        for origin, their_pivot in self.by_name.get(name, []) if name else []:
            if not (pivot and their_pivot and pivot != their_pivot):
                return origin
        return None


async def signed_places(db: Database) -> SignedPlaces:
    found = SignedPlaces()
    for row in await objects.all_place_profiles(db.connection()):
        try:
            payload = json.loads(row.payload)
        except ValueError:
            continue
        if not isinstance(payload, dict):
            continue
        origin = row.origin
        found.origins.add(origin)
        pivot = pivot_key(payload.get("pivot"))
        if pivot:
            found.by_pivot.setdefault(pivot, origin)
        name = name_key(payload.get("nom"), payload.get("commune"))
        if name:
            found.by_name.setdefault(name, []).append((origin, pivot))
    return found


@dataclass(frozen=True)
class Match:
    listing_id: int
    #: The origin of the signed place that replaces it (None: still unclaimed).
    replaced_by: str | None


async def matches(db: Database) -> list[Match]:
    """Every listing (in directory order: commune, then name) and what replaces it."""
    signed = await signed_places(db)
    return [
        Match(r.id, signed.replacing(r.source_id, r.pivot_key, r.name_key))
        for r in await listing_rows.all_keys(db.connection())
    ]


async def rows_of(db: Database, ids: Iterable[int]) -> list[dict[str, str]]:
    """The imported rows of these listings, in the order of ``ids``."""
    wanted = list(ids)
    found = await listing_rows.imported_rows(db.connection(), ids=wanted)
    return [found[i] for i in wanted if i in found]


async def unclaimed(db: Database, limit: int, offset: int = 0) -> tuple[list[dict[str, str]], int]:
    """One page of the listings no signed place replaces, and how many there are."""
    open_ids = [m.listing_id for m in await matches(db) if m.replaced_by is None]
    return await rows_of(db, open_ids[offset : offset + limit]), len(open_ids)


def new_listing(row: dict[str, str], source_file: str, now: datetime) -> NewListing:
    return NewListing(
        source_id=row["id"],
        nom=row.get("nom", ""),
        commune=row.get("commune", ""),
        pivot_key=pivot_key(row.get("pivot")),
        name_key=name_key(row.get("nom"), row.get("commune")),
        row=json.dumps(row, ensure_ascii=False),
        source_file=source_file,
        imported_at=now,
    )


async def store(
    db: Database,
    rows: list[dict[str, str]],
    source_file: str,
    *,
    replace: bool,
    progress: Any = None,
) -> None:
    """Insert or update listings (keyed by the row's ``id``), in one transaction;
    ``replace`` removes the listings the rows do not hold."""
    now = utc_now()
    async with db.write_transaction() as conn:
        if replace:
            await listing_rows.clear(conn)
        for start in range(0, len(rows), 500):
            batch = rows[start : start + 500]
            await listing_rows.upsert(
                conn, listings=[new_listing(row, source_file, now) for row in batch]
            )
            if progress:
                progress(start + len(batch), len(rows))
