"""``/federation/v1/entries``, ``/federation/v1/sync`` and ``/federation/v1/push``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.transactions import in_transaction

from federation import schema
from federation.errors import SchemaError

from ..runtime import Node
from ..services.deliveries import enqueue_push
from ..services.ingest import client_sender
from ..services.log import read_entries_json
from ..services.objects import body_limit
from ..services.peers import learn_peers
from ..services.sync import answer_sync
from .errors import ApiError, read_json

MAX_ENTRIES_PAGE = 500
#: A sync request carries a version vector: about 60 bytes per origin, so up to 100,000
#: origins (the schema's bound) need more room than an ordinary request body.
MAX_SYNC_REQUEST_BYTES = 8 * 1024 * 1024


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_request", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, "bad_request", f"{name} must be between {low} and {high}")
    return value


async def entries(request: Request) -> Response:
    node: Node = request.app.state.node
    origin = request.query_params.get("origin") or node.origin
    after = _int_param(request, "after", 0, 0, 2**53)
    limit = _int_param(request, "limit", 100, 1, MAX_ENTRIES_PAGE)
    body = await read_entries_json(origin, after, limit)
    return Response(body, media_type="application/json")


async def _message(request: Request, schema_id: str, max_bytes: int) -> dict[str, Any]:
    document = await read_json(request, max_bytes)
    try:
        schema.validate(schema_id, document)
    except SchemaError as exc:
        raise ApiError(422, "invalid", exc.message, field=exc.field) from None
    result: dict[str, Any] = document
    return result


async def sync(request: Request) -> Response:
    node: Node = request.app.state.node
    limit = max(node.settings.max_body_bytes, MAX_SYNC_REQUEST_BYTES)
    message = await _message(request, "urn:papi:sync-request", limit)
    return JSONResponse(await answer_sync(message, node.settings.sync_page_bytes))


async def push(request: Request) -> Response:
    node: Node = request.app.state.node
    if node.settings.pull_only:
        raise ApiError(403, "pull_only", "this node is pull-only and takes no pushes")
    # Room for one entry of the largest kind, whatever the receiver's max_body_bytes.
    limit = body_limit(node.settings.max_body_bytes, "resource")
    message = await _message(request, "urn:papi:push-request", limit)
    client = request.client.host if request.client else None
    report = await node.ingestor.ingest(message["entries"], sender=client_sender(client))
    await learn_peers(node.settings.url, node.origin, report.accepted)
    ttl = int(message.get("ttl", 0))
    # Gossip: forward what was new to us, once, to a few peers other than the sender.
    if report.accepted and ttl > 0:
        async with in_transaction() as conn:
            await enqueue_push(
                conn, node, report.accepted, ttl=ttl - 1, exclude_url=message.get("from")
            )
        node.wake_push()
    return JSONResponse(report.to_json())


def routes() -> list[Route]:
    return [
        Route("/federation/v1/entries", entries, methods=["GET"]),
        Route("/federation/v1/sync", sync, methods=["POST"]),
        Route("/federation/v1/push", push, methods=["POST"]),
    ]
