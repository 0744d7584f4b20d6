"""Protocol 1.1 (docs/protocol.md 11-13): ``POST /federation/v1/broadcast`` and
``POST /federation/v1/changes``. A node whose ``federation_features`` leave a feature out
answers its path ``404``, as a version 1 node does."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..runtime import Node, node_of
from ..services.changes import answer_changes
from ..services.features import broadcasting
from ..services.health import is_disk_full
from ..services.ingest import client_sender
from ..services.objects import body_limit
from ..services.tree import normalised, receive_frame, tree_of
from .errors import ApiError
from .federation_routes import (
    _busy,
    _heard_from,
    _message,
    _retry_later,
    _take_heavy_slot,
    territory_unsupported,
)
from .spec import Answer, Operation, describe

log = logging.getLogger(__name__)


def _require(node: Node, feature: str) -> None:
    if feature not in node.settings.features:
        raise ApiError(404, "not_found", f"this node does not speak the '{feature}' feature")


@describe(
    Operation(
        "Receive a broadcast frame, feature broadcast (docs/protocol.md 12.2)",
        (
            Answer(
                200,
                "A frame back: prune, graft, entries answering a graft, refusals.",
                "urn:papi:broadcast-response",
            ),
        ),
        description="404 when this node does not speak the broadcast feature.",
        body="urn:papi:broadcast-request",
        errors=(403, 404, 503, 507),
        tag="federation",
    )
)
async def broadcast(request: Request) -> Response:
    node = node_of(request)
    _require(node, "broadcast")
    if node.settings.pull_only:
        raise ApiError(403, "pull_only", "this node is pull-only and takes no frames")
    async with AsyncExitStack() as stack:
        if not await _take_heavy_slot(node, stack):
            return _busy()
        # Entries as in a push: room for one entry of the largest kind.
        limit = body_limit(node.settings.max_body_bytes, "resource")
        message = await _message(request, "urn:papi:broadcast-request", limit)
        client = request.client.host if request.client else None
        try:
            answer, accepted = await receive_frame(
                node, message, normalised(message["from"]), client_sender(client)
            )
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            node.storage.record_full(f"frame of {len(message.get('entries', []))} entries")
            log.error("frame refused: the disk is full")
            return _retry_later(507, "disk_full", "this node's disk is full; retry later")
    await _heard_from(node, message.get("from"), {entry.origin for entry in accepted})
    return JSONResponse(answer)


@describe(
    Operation(
        "What this node stored since a cursor, feature changes (docs/protocol.md 13.2)",
        (
            Answer(
                200,
                "The changed heads by origin, the next cursor, or a reset.",
                "urn:papi:changes-response",
            ),
        ),
        description="404 when this node does not speak the changes feature.",
        body="urn:papi:changes-request",
        errors=(404, 503),
        tag="federation",
    )
)
async def changes(request: Request) -> Response:
    node = node_of(request)
    _require(node, "changes")
    message = await _message(request, "urn:papi:changes-request", node.settings.max_body_bytes)
    if "territory" in message:
        raise territory_unsupported()
    async with AsyncExitStack() as stack:
        # A listing reads up to 50,000 rows: as heavy as a sync page.
        if not await _take_heavy_slot(node, stack):
            return _busy()
        answer = await answer_changes(node, message, node.settings.changes_settle_seconds)
    asker = normalised(message.get("from"))
    if asker is not None and broadcasting(node):
        tree = await tree_of(node)
        if asker in tree.ids:  # what a neighbour is known to hold is left out (13.2)
            answer["changes"] = tree.state.announce_to(asker, answer["changes"])
    await _heard_from(node, message.get("from"), set())
    return JSONResponse(answer)


def routes() -> list[Route]:
    return [
        Route("/federation/v1/broadcast", broadcast, methods=["POST"], name="federation.broadcast"),
        Route("/federation/v1/changes", changes, methods=["POST"], name="federation.changes"),
    ]
