"""``/api/v1/node``, ``/api/v1/nodes`` and ``/api/v1/search``."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.payloads import KINDS
from federation.timeutil import format_ts, parse_ts
from federation.vector import vector_digest

from ..models import CurrentObject, ForkEvidence, Origin, Peer
from ..runtime import Node
from ..services.peers import peer_json
from ..services.search import MAX_COUNT, SearchQuery, day_bound, search
from ..services.sync import current_vector
from .errors import ApiError

SOFTWARE = "papi-node 0.1.0"


async def node_info(request: Request) -> Response:
    node: Node = request.app.state.node
    place = await CurrentObject.get_or_none(origin=node.origin, kind="place", oid="place")
    payload: dict[str, Any] = json.loads(place.payload) if place else {}
    origin = await Origin.get_or_none(id=node.origin)
    return JSONResponse(
        {
            "id": node.origin,
            "name": payload.get("nom", node.settings.name),
            "commune": payload.get("commune", node.settings.commune),
            "url": node.settings.url or None,
            "endpoints": payload.get("endpoints", []),
            "pull_only": node.settings.pull_only,
            "protocol": 1,
            "software": SOFTWARE,
            "seq": origin.head_seq if origin else 0,
        }
    )


async def nodes(request: Request) -> Response:
    node: Node = request.app.state.node
    peers = await Peer.all().order_by("url")
    by_origin: dict[str, list[dict[str, Any]]] = {}
    for peer in peers:
        if peer.origin:
            by_origin.setdefault(peer.origin, []).append(peer_json(peer))
    forks = {row.origin for row in await ForkEvidence.all()}
    rows = await node.db.connection().execute_query_dict(
        "SELECT origin, count(*) AS n FROM objects WHERE kind != 'place' GROUP BY origin"
    )
    counts: dict[str, int] = {row["origin"]: row["n"] for row in rows}
    origins = []
    for origin in await Origin.all().order_by("name"):
        origins.append(
            {
                "id": origin.id,
                "name": origin.name,
                "commune": origin.commune,
                "self": origin.id == node.origin,
                "seq": origin.head_seq,
                "objects": counts.get(origin.id, 0),
                "last_received": format_ts(origin.last_received) if origin.last_received else None,
                "frozen": origin.frozen,
                "frozen_reason": origin.frozen_reason,
                "fork_evidence": origin.id in forks,
                "peers": by_origin.get(origin.id, []),
            }
        )
    vector = await current_vector()
    return JSONResponse(
        {
            "self": node.origin,
            "digest": vector_digest(vector),
            "origins": origins,
            "peers": [peer_json(peer) for peer in peers],
        }
    )


def _date(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        text = value if "T" in value else day_bound(value, name == "to")
        if text is None:
            raise ValueError(value)
        return format_ts(parse_ts(text))
    except ValueError:
        raise ApiError(
            400, "bad_request", f"{name} must be a date (YYYY-MM-DD) or RFC 3339"
        ) from None


def search_query(params: Any) -> SearchQuery:
    """A ``SearchQuery`` from query parameters (shared by the API and the web page)."""
    kind = params.get("kind") or None
    if kind is not None and kind not in KINDS:
        raise ApiError(400, "bad_request", f"kind must be one of {', '.join(KINDS)}")
    try:
        limit = int(params.get("limit") or 20)
        offset = int(params.get("offset") or 0)
    except ValueError:
        raise ApiError(400, "bad_request", "limit and offset must be integers") from None
    if not 1 <= limit <= 100 or offset < 0:
        raise ApiError(400, "bad_request", "limit must be 1-100 and offset >= 0")
    q = params.get("q") or ""
    if len(q) > 200:
        raise ApiError(400, "bad_request", "q is limited to 200 characters")
    return SearchQuery(
        q=q,
        kind=kind,
        origin=params.get("origin") or None,
        commune=params.get("commune") or None,
        theme=params.get("theme") or None,
        date_from=_date(params.get("from"), "from"),
        date_to=_date(params.get("to"), "to"),
        include_past=params.get("past") in ("1", "true", "yes"),
        limit=limit,
        offset=offset,
    )


async def search_api(request: Request) -> Response:
    query = search_query(request.query_params)
    answer = await search(query)
    return JSONResponse(
        {
            "query": query.q,
            # Counting stops past MAX_COUNT: then total is MAX_COUNT and not exact.
            "total": min(answer.total, MAX_COUNT),
            "total_exact": answer.total <= MAX_COUNT,
            # The query with its misspelt words corrected, when only that finds objects.
            "suggestion": answer.suggestion,
            "results": answer.results,
        }
    )


def routes() -> list[Route]:
    return [
        Route("/api/v1/node", node_info, methods=["GET"]),
        Route("/api/v1/nodes", nodes, methods=["GET"]),
        Route("/api/v1/search", search_api, methods=["GET"]),
    ]
