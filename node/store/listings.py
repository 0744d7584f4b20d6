"""The places imported from open data that have no signed profile of their own yet
(``listings``, node/services/listings.py says how they are matched and replaced)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from ..models import Listing


@dataclass(frozen=True)
class NewListing:
    """One imported row, with the keys it is matched by."""

    source_id: str
    nom: str
    commune: str
    pivot_key: str
    name_key: str
    #: The imported row, as JSON text.
    row: str
    source_file: str
    imported_at: datetime


@dataclass(frozen=True)
class ListingKeys:
    id: int
    source_id: str
    pivot_key: str
    name_key: str


async def clear(conn: BaseDBAsyncClient) -> None:
    await conn.execute_query("DELETE FROM listings")


async def upsert(conn: BaseDBAsyncClient, *, listings: Sequence[NewListing]) -> None:
    """Insert or update listings, keyed by ``source_id``."""
    await conn.execute_many(
        "INSERT INTO listings (source_id, nom, commune, pivot_key, name_key, row,"
        " source_file, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (source_id) DO UPDATE SET nom = excluded.nom,"
        " commune = excluded.commune, pivot_key = excluded.pivot_key,"
        " name_key = excluded.name_key, row = excluded.row,"
        " source_file = excluded.source_file, imported_at = excluded.imported_at",
        [
            [
                item.source_id, item.nom, item.commune, item.pivot_key, item.name_key,
                item.row, item.source_file, item.imported_at,
            ]
            for item in listings
        ],
    )  # fmt: skip


async def all_keys(conn: BaseDBAsyncClient) -> list[ListingKeys]:
    """Every listing's keys, in directory order (commune, then name)."""
    rows = (
        await Listing.all()
        .using_db(conn)
        .order_by("commune", "nom", "id")
        .values("id", "source_id", "pivot_key", "name_key")
    )
    return [ListingKeys(r["id"], r["source_id"], r["pivot_key"], r["name_key"]) for r in rows]


async def imported_rows(
    conn: BaseDBAsyncClient, *, ids: Iterable[int]
) -> dict[int, dict[str, str]]:
    """The imported row of each of these listings."""
    wanted = list(ids)
    found: dict[int, dict[str, str]] = {}
    for start in range(0, len(wanted), 500):  # SQLite's bound on parameters
        for listing in await Listing.filter(id__in=wanted[start : start + 500]).using_db(conn):
            found[listing.id] = json.loads(listing.row)
    return found
