"""``/api/v1/membership``, ``/api/v1/vouches`` and ``/api/v1/blocklist``: who is in the
network (docs/protocol.md 16), vouching for a place, revoking a vouch, the blocklist.
Reading who is in the network is public (it is derived from public entries); this node's
own moderation (refused candidates, hidden places, the blocklist and its reasons) and
every change need a bearer token, like every write of the API."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.errors import SchemaError

from ..runtime import Node, node_of
from ..services.log import ClockSkew, KeyNotInForce, LogRecovering
from ..services.membership import overview
from ..services.vouches import check_origin, revoke, vouch
from .auth import require_token
from .errors import ApiError, invalid, read_json
from .spec import Answer, Operation, Param, describe, obj

_ORIGIN = {"type": "string", "description": "an origin id, ed25519:…"}
_PUBLISHED = obj(
    ("id", "subject", "seq"), id={"type": "string"}, subject=_ORIGIN, seq={"type": "integer"}
)

#: Longest reason of a revocation or a blocklist row.
MAX_REASON = 2000
#: Parts of the overview that are this node's moderation, not derived from public entries.
PRIVATE_PARTS = ("candidates", "hidden", "blocklist")


async def _document(request: Request, node: Node) -> dict[str, Any]:
    document = await read_json(request, node.settings.max_body_bytes)
    if not isinstance(document, dict):
        raise ApiError(422, "invalid", "the body must be a JSON object", field="")
    return document


def _text(document: dict[str, Any], name: str, limit: int = MAX_REASON) -> str:
    value = document.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(422, "invalid", f"'{name}' must be a text of at most {limit} characters",
                       field=name)  # fmt: skip
    return value


def _subject(value: Any, name: str = "subject") -> str:
    if not isinstance(value, str):
        raise ApiError(422, "invalid", f"'{name}' must be an origin id", field=name)
    try:
        return check_origin(value)
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc), field=name) from None


@describe(
    Operation(
        "Who is in the network as this node sees it (docs/protocol.md 16); with a token, "
        "this node's moderation too (candidates, hidden places, blocklist)",
        (Answer(200, "Members, vouches, frozen origins (and the moderation parts).", obj()),),
        optional_token=True,
    )
)
async def membership(request: Request) -> Response:
    node = node_of(request)
    view = await overview(node.db.connection(), node.membership)
    if "authorization" in request.headers:
        await require_token(request)  # a wrong token is refused, not read as none
    else:
        view = {name: part for name, part in view.items() if name not in PRIVATE_PARTS}
    return JSONResponse(view)


async def _publishing(work: Any) -> Any:
    try:
        return await work
    except SchemaError as exc:
        raise invalid(exc) from None
    except LogRecovering as exc:
        raise ApiError(409, "recovering", str(exc)) from None
    except ClockSkew as exc:
        raise ApiError(409, "clock_skew", str(exc)) from None
    except KeyNotInForce as exc:
        raise ApiError(409, "key_not_in_force", str(exc)) from None


@describe(
    Operation(
        "Vouch for a place: a signed vouch entry of this node's log",
        (Answer(201, "Published.", _PUBLISHED),),
        body=obj(
            ("subject",),
            subject=_ORIGIN,
            title={"type": "string", "maxLength": 200},
            description={"type": "string", "maxLength": MAX_REASON},
        ),
        token=True,
    )
)
async def create_vouch(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    document = await _document(request, node)
    subject = _subject(document.get("subject"))
    if subject == node.origin:
        raise ApiError(422, "invalid", "a place cannot vouch for itself", field="subject")
    entry = await _publishing(
        vouch(node, subject, _text(document, "title", 200), _text(document, "description"))
    )
    return JSONResponse({"id": entry.oid, "subject": subject, "seq": entry.seq}, status_code=201)


@describe(
    Operation(
        "Withdraw this node's vouch for a place",
        (
            Answer(
                200,
                "Published.",
                {
                    **_PUBLISHED,
                    "properties": {**_PUBLISHED["properties"], "revoked": {"type": "boolean"}},
                },
            ),
        ),
        query=(Param("reason", {"type": "string"}, "Why, said to the network."),),
        token=True,
    )
)
async def revoke_vouch(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    subject = _subject(request.path_params["subject"])
    reason = request.query_params.get("reason", "")[:MAX_REASON]
    entry = await _publishing(revoke(node, subject, reason))
    return JSONResponse({"id": entry.oid, "subject": subject, "seq": entry.seq, "revoked": True})


@describe(
    Operation(
        "Block an origin or a peer endpoint on this node",
        (Answer(201, "Blocked.", obj(("kind", "value", "reason"))),),
        body=obj(
            ("kind", "value", "reason"),
            kind={"enum": ["origin", "endpoint"]},
            value={"type": "string"},
            reason={"type": "string", "maxLength": MAX_REASON},
        ),
        token=True,
    )
)
async def add_block(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    document = await _document(request, node)
    kind = document.get("kind")
    if kind not in ("origin", "endpoint"):
        raise ApiError(422, "invalid", "'kind' is 'origin' or 'endpoint'", field="kind")
    value = document.get("value")
    if kind == "origin":
        value = _subject(value, "value")
        if value == node.origin:
            raise ApiError(422, "invalid", "this node cannot block itself", field="value")
    else:
        from federation.netguard import normalise_url

        try:
            value = normalise_url(value if isinstance(value, str) else "")
        except ValueError as exc:
            raise ApiError(422, "invalid", str(exc), field="value") from None
    reason = _text(document, "reason")
    if not reason.strip():
        raise ApiError(422, "invalid", "'reason' is required", field="reason")
    await node.membership.block(kind, value, reason.strip())
    return JSONResponse({"kind": kind, "value": value, "reason": reason.strip()}, status_code=201)


@describe(
    Operation(
        "Remove a row of this node's blocklist",
        (Answer(204, "Removed.", None),),
        query=(
            Param("kind", {"enum": ["origin", "endpoint"]}, "What is blocked.", required=True),
            Param("value", {"type": "string"}, "The origin id or the endpoint.", required=True),
        ),
        token=True,
        errors=(404,),
    )
)
async def remove_block(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    kind = request.query_params.get("kind", "")
    value = request.query_params.get("value", "")
    if not await node.membership.unblock(kind, value):
        raise ApiError(404, "not_found", "no such row in the blocklist")
    return Response(status_code=204)


def routes() -> list[Route]:
    return [
        Route("/api/v1/membership", membership, methods=["GET"], name="api.membership"),
        Route("/api/v1/vouches", create_vouch, methods=["POST"], name="api.vouches"),
        Route("/api/v1/vouches/{subject}", revoke_vouch, methods=["DELETE"], name="api.vouch"),
        Route("/api/v1/blocklist", add_block, methods=["POST"], name="api.blocklist"),
        Route("/api/v1/blocklist", remove_block, methods=["DELETE"], name="api.blocklist"),
    ]
