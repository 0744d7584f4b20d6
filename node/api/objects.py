"""``/api/v1/place`` and CRUD on ``/api/v1/{skills,equipment,events}``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.errors import SchemaError

from ..convertors import register_convertors
from ..cooperation.registrations import add_seats_left
from ..runtime import Node, node_of
from ..services.log import ClockSkew, KeyNotInForce, LogRecovering, new_oid, publish
from ..services.objects import (
    COLLECTIONS,
    SERVER_FIELDS,
    beyond_utc,
    body_limit,
    get_object,
    list_objects,
    object_json,
)
from .auth import require_token
from .errors import ApiError, invalid, read_json
from .params import paging, paging_params
from .spec import Answer, Operation, describe, obj

#: The collection's kind: ``{kind}`` is filled in for each collection (``spec.py``).
_OBJECT = "papi:object/{kind}"
_DELETED = Answer(204, "Deleted: a delete entry is published.")
#: A collection's page: default and largest ``limit``.
PAGE_SIZE, MAX_PAGE_SIZE = 100, 500


def _kind(request: Request) -> str:
    # The ``collection`` convertor only matches names of COLLECTIONS.
    return COLLECTIONS[request.path_params["collection"]]


async def _payload(
    request: Request, node: Node, oid: str | None, kind: str | None = None
) -> dict[str, Any]:
    document = await read_json(request, body_limit(node.settings.max_body_bytes, kind))
    if not isinstance(document, dict):
        raise ApiError(422, "invalid", "the body must be a JSON object", field="")
    if oid is not None and "id" in document and document["id"] != oid:
        raise ApiError(422, "invalid", "'id' does not match the URL", field="id")
    return {key: value for key, value in document.items() if key not in SERVER_FIELDS}


async def _publish(node: Node, kind: str, oid: str, op: str, payload: Any) -> None:
    try:
        await publish(node, kind, oid, op, payload)
    except SchemaError as exc:
        raise invalid(exc) from None
    except OverflowError:
        # A date valid in RFC 3339 but beyond year 9999 (or before year 1) once in UTC.
        field = beyond_utc(payload)
        raise ApiError(
            422, "invalid", f"'{field}' is out of range once in UTC", field=field
        ) from None
    except LogRecovering as exc:
        raise ApiError(409, "recovering", str(exc)) from None
    except KeyNotInForce as exc:
        raise ApiError(409, "key_not_in_force", str(exc)) from None
    except ClockSkew as exc:
        message = f"L'horloge de ce nœud est décalée ; corrigez-la (NTP) avant de publier. / {exc}"
        raise ApiError(409, "clock_skew", message) from None


async def _found(node: Node, kind: str, oid: str) -> Any:
    row = await get_object(node.db.connection(), node.origin, kind, oid)
    if row is None:
        raise ApiError(404, "not_found", f"no {kind} with id {oid!r} on this node")
    return row


async def _json(node: Node, rows: list[Any]) -> list[dict[str, Any]]:
    """Objects as the API shows them; events with their ``seats_left`` (one read)."""
    items = [object_json(row) for row in rows]
    await add_seats_left(items, node.db.connection())
    return items


@describe(Operation("This node's place profile", (Answer(200, "The place.", "papi:object/place"),)))
async def get_place(request: Request) -> Response:
    node = node_of(request)
    return JSONResponse(object_json(await _found(node, "place", "place")))


@describe(
    Operation(
        "Publish this node's place profile (the whole profile)",
        (Answer(200, "The place as stored.", "papi:object/place"),),
        body="urn:papi:payload/place",
        token=True,
    )
)
async def put_place(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    payload = await _payload(request, node, "place")
    if "endpoints" not in payload and node.settings.advertised_url:
        payload["endpoints"] = [node.settings.advertised_url]
    await _publish(node, "place", "place", "put", payload)
    return JSONResponse(object_json(await _found(node, "place", "place")))


@describe(
    Operation(
        "This node's {kind} objects",
        (
            Answer(
                200,
                "One page.",
                obj(("items",), items={"type": "array", "items": {"$ref": _OBJECT}}),
            ),
        ),
        query=paging_params(PAGE_SIZE, MAX_PAGE_SIZE),
    )
)
async def list_collection(request: Request) -> Response:
    node = node_of(request)
    limit, offset = paging(request.query_params, PAGE_SIZE, MAX_PAGE_SIZE)
    rows = await list_objects(node.db.connection(), node.origin, _kind(request), limit, offset)
    return JSONResponse({"items": await _json(node, rows)})


@describe(
    Operation(
        "Publish a new {kind}",
        (Answer(201, "Published: the object as stored, with its new id.", _OBJECT),),
        body="urn:papi:payload/{kind}",
        token=True,
    )
)
async def create_object(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    kind, oid = _kind(request), new_oid()
    payload = await _payload(request, node, None, kind)
    await _publish(node, kind, oid, "put", payload)
    [item] = await _json(node, [await _found(node, kind, oid)])
    return JSONResponse(item, status_code=201)


@describe(Operation("One {kind} of this node", (Answer(200, "The object.", _OBJECT),)))
async def get_one(request: Request) -> Response:
    node = node_of(request)
    row = await _found(node, _kind(request), request.path_params["oid"])
    [item] = await _json(node, [row])
    return JSONResponse(item)


@describe(
    Operation(
        "Publish a new version of a {kind} (the whole object)",
        (Answer(200, "The object as stored.", _OBJECT),),
        body="urn:papi:payload/{kind}",
        token=True,
    )
)
async def update_object(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    kind, oid = _kind(request), request.path_params["oid"]
    await _found(node, kind, oid)
    payload = await _payload(request, node, oid, kind)
    await _publish(node, kind, oid, "put", payload)
    [item] = await _json(node, [await _found(node, kind, oid)])
    return JSONResponse(item)


@describe(Operation("Delete a {kind}", (_DELETED,), token=True))
async def delete_object(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    kind, oid = _kind(request), request.path_params["oid"]
    await _found(node, kind, oid)
    await _publish(node, kind, oid, "delete", None)
    return Response(status_code=204)


def routes() -> list[Route]:
    register_convertors()
    collection = "/api/v1/{collection:collection}"
    item = collection + "/{oid:oid}"
    return [
        Route("/api/v1/place", get_place, methods=["GET"], name="api.place"),
        Route("/api/v1/place", put_place, methods=["PUT"], name="api.place"),
        Route(collection, list_collection, methods=["GET"], name="api.collection"),
        Route(collection, create_object, methods=["POST"], name="api.collection"),
        Route(item, get_one, methods=["GET"], name="api.object"),
        Route(item, update_object, methods=["PUT"], name="api.object"),
        Route(item, delete_object, methods=["DELETE"], name="api.object"),
    ]
