"""``/api/v1/node``, ``/api/v1/nodes`` and ``/api/v1/search``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.entry import PROTOCOL_VERSION
from federation.payloads import COOPERATION_KINDS, KINDS
from federation.timeutil import format_ts, parse_ts
from federation.vector import vector_digest

from ..runtime import node_of
from ..services.directory import MAX_PAGE_SIZE, PAGE_SIZE, origins_page, peers_of, peers_page
from ..services.health import node_health
from ..services.ingest import pending_summary
from ..services.objects import api_timestamp, load_payload
from ..services.peers import peer_json
from ..services.search import (
    MAX_COUNT,
    MAX_QUERY_LENGTH,
    MAX_RESULTS,
    SearchQuery,
    day_bound,
    search,
)
from ..services.sync import current_vector
from ..store import objects, origins
from ..version import software
from .errors import ApiError
from .params import paging, paging_params
from .spec import TEXT, TIMESTAMP, Answer, Operation, Param, describe, nullable, obj

_STRING_OR_NULL = nullable({"type": "string"})
_NODE = obj(
    ("id", "name", "commune", "url", "endpoints", "pull_only", "protocol", "software", "seq"),
    id={"type": "string"},
    name={"type": "string"},
    commune={"type": "string"},
    url=_STRING_OR_NULL,
    endpoints={"type": "array", "items": {"type": "string"}},
    pull_only={"type": "boolean"},
    protocol={"type": "integer"},
    software={"type": "string"},
    seq={"type": "integer", "minimum": 0},
)
_PEER = obj(
    ("url", "state"),
    url={"type": "string"},
    origin=_STRING_OR_NULL,
    state={"type": "string"},
    last_attempt=nullable(TIMESTAMP),
    last_success=nullable(TIMESTAMP),
    next_attempt=nullable(TIMESTAMP),
)
_NODES = obj(
    ("self", "digest", "total", "limit", "offset", "next", "origins", "peers", "health"),
    self={"type": "string"},
    digest={"type": "string"},
    total={"type": "integer"},
    limit={"type": "integer"},
    offset={"type": "integer"},
    next=nullable({"type": "integer"}),
    origins={
        "type": "array",
        "items": obj(
            ("id", "self", "seq", "frozen", "peers"),
            id={"type": "string"},
            self={"type": "boolean"},
            seq={"type": "integer"},
            frozen={"type": "boolean"},
            peers={"type": "array", "items": _PEER},
        ),
    },
    peers={"type": "array", "items": _PEER},
    peers_total={"type": "integer"},
    pending={"type": "object"},
    health=obj(("storage", "clock"), storage={"type": "object"}, clock={"type": "object"}),
)
_DAY_OR_TIME = {"anyOf": [{"$ref": "urn:papi:day"}, {"$ref": "urn:papi:datetime"}]}
_SEARCH = obj(
    ("query", "total", "total_exact", "suggestion", "results"),
    query={"type": "string"},
    total={"type": "integer", "minimum": 0},
    total_exact={"type": "boolean"},
    suggestion=_STRING_OR_NULL,
    results={
        "type": "array",
        "items": obj(("origin", "kind", "id"), origin={"type": "string"}, id={"type": "string"}),
    },
)


@describe(
    Operation("This node: its origin, name, protocol and head", (Answer(200, "This node.", _NODE),))
)
async def node_info(request: Request) -> Response:
    node = node_of(request)
    place = await objects.one(node.db.connection(), origin=node.origin, kind="place", oid="place")
    payload = load_payload(place.payload if place else None)
    origin = await origins.origin(node.db.connection(), origin_id=node.origin)
    return JSONResponse(
        {
            "id": node.origin,
            "name": payload.get("nom", node.settings.name),
            "commune": payload.get("commune", node.settings.commune),
            "url": node.settings.url or None,
            "endpoints": payload.get("endpoints", []),
            "pull_only": node.settings.pull_only,
            "protocol": PROTOCOL_VERSION,
            "software": software(),
            "seq": origin.head_seq if origin else 0,
            # Protocol 1.1 (docs/protocol.md 11.1): absent when the node speaks none.
            **({"features": sorted(node.settings.features)} if node.settings.features else {}),
        }
    )


@describe(
    Operation(
        "The known network: origins, peers, what waits, this node's health",
        (Answer(200, "One page of origins and of peers.", _NODES),),
        query=paging_params(PAGE_SIZE, MAX_PAGE_SIZE),
    )
)
async def nodes(request: Request) -> Response:
    """One page of the known network (origins, and peers by URL, ``limit``/``offset``)."""
    node = node_of(request)
    limit, offset = paging(request.query_params, PAGE_SIZE, MAX_PAGE_SIZE)
    conn = node.db.connection()
    page = await origins_page(conn, node.origin, limit, offset)
    by_origin: dict[str, list[dict[str, Any]]] = {}
    for peer in await peers_of(conn, [item["id"] for item in page.items]):
        by_origin.setdefault(peer.origin or "", []).append(peer_json(peer))
    origins = [
        {
            "id": item["id"],
            "name": item["name"] or None,
            "commune": item["commune"] or None,
            "self": item["self"],
            "seq": item["seq"],
            "objects": item["objects"],
            "last_received": api_timestamp(item["last_received"]),
            "frozen": item["frozen"],
            "frozen_reason": item["frozen_reason"],
            "fork_evidence": item["fork"],
            "hidden": item["hidden"],
            "peers": by_origin.get(item["id"], []),
        }
        for item in page.items
    ]
    peers, peers_total = await peers_page(conn, limit, offset)
    pending = await pending_summary(
        conn,
        max_entries=node.settings.pending_max_entries,
        max_bytes=node.settings.pending_max_bytes,
    )
    return JSONResponse(
        {
            "self": node.origin,
            "digest": vector_digest(await current_vector(node.db)),
            "total": page.total,
            "limit": limit,
            "offset": offset,
            "next": page.next_offset,
            "origins": origins,
            "peers": [peer_json(peer) for peer in peers],
            "peers_total": peers_total,
            "pending": pending,
            "health": node_health(node),
        }
    )


def _date(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        text = value if "T" in value else day_bound(value, name == "to")
        if text is None:
            raise ValueError(value)
        moment = format_ts(parse_ts(text))
        parse_ts(moment)  # a year before 1000 does not come back as four digits
    except (ValueError, OverflowError):
        raise ApiError(
            400,
            "bad_request",
            f"{name} must be a date (YYYY-MM-DD) or an RFC 3339 date-time with an offset,"
            " in years 1000 to 9999 once in UTC",
            field=name,
        ) from None
    return moment


#: Kinds a search may ask for: the steps of cooperation are not offers (and their people
#: are sealed): they are never searched, listed or announced.
SEARCHABLE_KINDS = tuple(kind for kind in KINDS if kind not in COOPERATION_KINDS)


def search_query(params: Any) -> SearchQuery:
    """A ``SearchQuery`` from query parameters (shared by the API and the web page)."""
    kind = params.get("kind") or None
    if kind is not None and kind not in SEARCHABLE_KINDS:
        raise ApiError(
            400, "bad_request", f"kind must be one of {', '.join(SEARCHABLE_KINDS)}", field="kind"
        )
    limit, offset = paging(params, 20, MAX_RESULTS)
    q = params.get("q") or ""
    if len(q) > MAX_QUERY_LENGTH:
        raise ApiError(
            400, "bad_request", f"q is limited to {MAX_QUERY_LENGTH} characters", field="q"
        )
    return SearchQuery(
        q=q,
        kind=kind,
        origin=params.get("origin") or None,
        commune=params.get("commune") or None,
        theme=params.get("theme") or None,
        date_from=_date(params.get("from"), "from"),
        date_to=_date(params.get("to"), "to"),
        include_past=params.get("past") in ("1", "true", "yes"),
        licence=params.get("licence") or None,
        limit=limit,
        offset=offset,
    )


@describe(
    Operation(
        "Search the offers of the network (docs/api.md 6)",
        (Answer(200, "The results, best first.", _SEARCH),),
        query=(
            Param("q", {"type": "string", "maxLength": 200}, "Words to look for."),
            Param("kind", {"enum": list(SEARCHABLE_KINDS)}, "Only objects of this kind."),
            Param("origin", TEXT, "Only objects of this node."),
            Param("commune", TEXT, "Only objects of places of this commune."),
            Param("theme", TEXT, "Only objects of this theme."),
            Param("from", _DAY_OR_TIME, "Events ending after: a date or an RFC 3339 date-time."),
            Param("to", _DAY_OR_TIME, "Events starting before: a date or an RFC 3339 date-time."),
            Param("past", {"enum": ["1", "true", "yes", "0", "false", "no"]}, "Past events too."),
            Param("licence", TEXT, "Only resources under this licence."),
            *paging_params(20, MAX_RESULTS),
        ),
        errors=(400,),
    )
)
async def search_api(request: Request) -> Response:
    query = search_query(request.query_params)
    answer = await search(node_of(request).db.connection(), query)
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
        Route("/api/v1/node", node_info, methods=["GET"], name="api.node"),
        Route("/api/v1/nodes", nodes, methods=["GET"], name="api.nodes"),
        Route("/api/v1/search", search_api, methods=["GET"], name="api.search"),
    ]
