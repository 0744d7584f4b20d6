"""``/federation/v1/entries``, ``/federation/v1/sync`` and ``/federation/v1/push``."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation import schema
from federation.errors import SchemaError

from ..runtime import Node, node_of
from ..services.entries import page_json
from ..services.ingest import client_sender
from ..services.objects import body_limit
from ..services.peers import make_due, peers_heard_from
from ..services.receive import AlongTree, DiskFull, Forward, receive
from ..services.sync import answer_sync_json
from ..services.tree import normalised
from .errors import ApiError, error_response, invalid, read_json
from .spec import TEXT, Answer, Operation, Param, describe, obj, whole

log = logging.getLogger(__name__)

MAX_ENTRIES_PAGE = 500
#: A sync request carries a version vector: about 60 bytes per origin, so up to 100,000
#: origins (the schema's bound) need more room than an ordinary request body.
MAX_SYNC_REQUEST_BYTES = 8 * 1024 * 1024
#: A sync request this small (a digest, bucket digests, a small vector) is read without
#: waiting for a heavy-request slot; a vector request still takes one to be answered.
LIGHT_REQUEST_BYTES = 8 * 1024
#: How long a heavy request may wait for a slot before it is answered 503.
HEAVY_WAIT_SECONDS = 1.0
#: What a 503 (busy) or 507 (disk full) answer asks the peer to wait.
RETRY_AFTER_SECONDS = 10


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


@describe(
    Operation(
        "A page of an origin's log, in seq order (docs/protocol.md 5)",
        (
            Answer(
                200,
                "The entries after 'after', at most 'limit'.",
                obj(("entries",), entries={"type": "array", "items": {"$ref": "urn:papi:entry"}}),
            ),
        ),
        query=(
            Param("origin", TEXT, "Whose log (default: this node's)."),
            Param("after", whole(0, 2**53), "The last seq already held (default 0)."),
            Param("limit", whole(1, MAX_ENTRIES_PAGE, "Default 100."), "How many, at most."),
        ),
        errors=(400, 503),
        tag="federation",
    )
)
async def entries(request: Request) -> Response:
    node = node_of(request)
    origin = request.query_params.get("origin") or node.origin
    after = _int_param(request, "after", 0, 0, 2**53)
    limit = _int_param(request, "limit", 100, 1, MAX_ENTRIES_PAGE)
    async with AsyncExitStack() as stack:
        # A page may hold up to 500 payloads of 128 KiB: as heavy as a sync answer.
        if not await _take_heavy_slot(node, stack):
            return _busy()
        hidden = await node.membership.is_excluded(node.db.connection(), origin)
        # An origin that is no longer a member is not relayed (docs/protocol.md 16).
        body = b'{"entries":[]}' if hidden else await page_json(node.db, origin, after, limit)
    return Response(body, media_type="application/json")


async def _message(request: Request, schema_id: str, max_bytes: int) -> dict[str, Any]:
    document = await read_json(request, max_bytes)
    try:
        schema.validate(schema_id, document)
    except SchemaError as exc:
        raise invalid(exc) from None
    result: dict[str, Any] = document
    return result


async def _take_heavy_slot(node: Node, stack: AsyncExitStack) -> bool:
    """A slot for a heavy request (held until ``stack`` closes); ``False`` if none frees
    within ``HEAVY_WAIT_SECONDS``: the caller answers 503 instead of queueing."""
    try:
        async with asyncio.timeout(HEAVY_WAIT_SECONDS):
            await node.heavy_requests.acquire()
    except TimeoutError:
        return False
    stack.callback(node.heavy_requests.release)
    return True


def _retry_later(status: int, code: str, message: str) -> Response:
    response = error_response(status, code, message)
    response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
    return response


def territory_unsupported() -> ApiError:
    """A 1.1 ``territory`` member sent to this node, which does not list that feature
    (docs/protocol.md 11.3): refused rather than silently ignored."""
    return ApiError(
        422,
        "territory_unsupported",
        "this node does not list the 'territory' feature: ask without a territory",
    )


def _busy() -> Response:
    return _retry_later(
        503, "busy", "this node is serving as many sync and push requests as it can; retry later"
    )


async def _heard_from(node: Node, url: Any, origins: set[str]) -> None:
    """A peer in backoff contacted us (or pushed its own entries): retry it at once."""
    conn = node.db.connection()
    heard = await peers_heard_from(url if isinstance(url, str) else None, origins, conn=conn)
    for peer in heard:
        await make_due(peer, conn=conn)
        node.wake_sync(peer.id)
        node.wake_push()
        log.info("%s contacted us: retried at once", peer.url)


@describe(
    Operation(
        "Compare version vectors and receive what is missing (docs/protocol.md 5)",
        (Answer(200, "What this node holds that the sender lacks.", "urn:papi:sync-response"),),
        body="urn:papi:sync-request",
        errors=(503,),
        tag="federation",
    )
)
async def sync(request: Request) -> Response:
    node = node_of(request)
    limit = max(node.settings.max_body_bytes, MAX_SYNC_REQUEST_BYTES)
    declared = request.headers.get("content-length", "")
    light = declared.isdigit() and int(declared) <= LIGHT_REQUEST_BYTES
    async with AsyncExitStack() as stack:
        # Bodies that may be large are read only with a slot: memory stays bounded.
        if not light and not await _take_heavy_slot(node, stack):
            return _busy()
        message = await _message(request, "urn:papi:sync-request", limit)
        if "territory" in message:
            raise territory_unsupported()
        if light and "vector" in message and not await _take_heavy_slot(node, stack):
            return _busy()
        await _heard_from(node, message.get("from"), set())
        answer = await answer_sync_json(
            node.db, message, node.settings.sync_page_bytes, node.membership
        )
        return Response(answer, media_type="application/json")


@describe(
    Operation(
        "Receive signed entries (docs/protocol.md 5)",
        (Answer(200, "What was accepted and refused, entry by entry.", "urn:papi:push-response"),),
        body="urn:papi:push-request",
        errors=(403, 503, 507),
        tag="federation",
    )
)
async def push(request: Request) -> Response:
    node = node_of(request)
    if node.settings.pull_only:
        raise ApiError(403, "pull_only", "this node is pull-only and takes no pushes")
    async with AsyncExitStack() as stack:
        if not await _take_heavy_slot(node, stack):
            return _busy()
        # Room for one entry of the largest kind, whatever the receiver's max_body_bytes.
        limit = body_limit(node.settings.max_body_bytes, "resource")
        message = await _message(request, "urn:papi:push-request", limit)
        client = request.client.host if request.client else None
        # Gossip: what was new to us goes on, once, to a few peers other than the sender,
        # and along the broadcast tree (protocol 1.1, 12.3) whatever brought it.
        forward = Forward(int(message.get("ttl", 0)), message.get("from"))
        try:
            report = await receive(
                node, message["entries"], sender=client_sender(client), source="push",
                forward=forward, tree=AlongTree(normalised(message.get("from"))),
            )  # fmt: skip
        except DiskFull:
            log.error("push refused: the disk is full")
            return _retry_later(507, "disk_full", "this node's disk is full; retry later")
    await _heard_from(node, message.get("from"), {entry.origin for entry in report.accepted})
    return JSONResponse(report.to_json())


@describe(
    Operation(
        "A new place answers one of this node's invitations (docs/protocol.md 16.4)",
        (Answer(201, "The join request is recorded; a member vouches for it later.", obj()),),
        body="urn:papi:join-request",
        errors=(403,),
        tag="federation",
    )
)
async def join(request: Request) -> Response:
    """A new place answers one of our invitations (docs/protocol.md 16.4)."""
    from ..services.invitations import InvitationError, receive_join

    node = node_of(request)
    document = await read_json(request, node.settings.max_body_bytes)
    try:
        async with node.db.write_transaction() as conn:  # reads the invitation first
            answer = await receive_join(conn, document)
    except InvitationError as exc:
        status = 422 if exc.code == "invalid" else 403
        raise ApiError(status, exc.code, str(exc)) from None
    log.info("join request from %s (%s)", answer["origin"], answer["name"])
    return JSONResponse({**answer, "inviter": node.origin}, status_code=201)


def routes() -> list[Route]:
    return [
        Route("/federation/v1/entries", entries, methods=["GET"], name="federation.entries"),
        Route("/federation/v1/sync", sync, methods=["POST"], name="federation.sync"),
        Route("/federation/v1/push", push, methods=["POST"], name="federation.push"),
        Route("/federation/v1/join", join, methods=["POST"], name="federation.join"),
    ]
