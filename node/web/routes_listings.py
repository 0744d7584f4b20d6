"""Unclaimed listings in the directory: the places imported from the national open data
(``papi import lamednum``) that no signed place replaces yet. ``/nodes`` shows the first
ones; ``/nodes/imported`` pages through them all."""

from __future__ import annotations

from math import ceil
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..db import Database
from ..runtime import node_of
from ..services import listings
from .render import render
from .urls import path_for

#: Listings shown on /nodes, and per page of /nodes/imported.
ON_DIRECTORY = 20
PAGE_SIZE = 50


async def directory_listings(db: Database) -> dict[str, Any]:
    """What /nodes shows of the unclaimed listings."""
    rows, total = await listings.unclaimed(db, ON_DIRECTORY)
    return {"listings": rows, "listings_total": total}


async def imported_page(request: Request) -> Response:
    try:
        page = max(1, min(int(request.query_params.get("page") or 1), 100_000))
    except ValueError:
        page = 1
    db = node_of(request).db
    rows, total = await listings.unclaimed(db, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    pages = max(1, ceil(total / PAGE_SIZE))
    here = path_for(request, "nodes.imported")
    return await render(
        request,
        "listings.html",
        {
            "listings": rows,
            "listings_total": total,
            "page": page,
            "pages": pages,
            "previous_url": f"{here}?page={page - 1}" if page > 1 else "",
            "next_url": f"{here}?page={page + 1}" if page < pages else "",
        },
        status=200 if page <= pages else 404,
    )


def routes() -> list[Route]:
    return [Route("/nodes/imported", imported_page, methods=["GET"], name="nodes.imported")]
