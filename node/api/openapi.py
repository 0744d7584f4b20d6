"""The OpenAPI 3.1 document of the node's HTTP API, generated from the application's
routes and the code's own schemas, never written by hand: every route under ``/api/``
and ``/federation/`` (and ``/healthz``, ``/readyz``, the calendars and feeds) with the
``Operation`` its handler declares (``node/api/spec.py``), path parameters from the
routes' convertors, and the bodies from ``schemas/`` (the documents the node validates
with), copied into ``components.schemas`` with their references rewritten to point
there.

``GET /api/v1/openapi.json`` serves it; ``/api`` renders it for people
(``node/web/routes_openapi.py``); ``tests/test_openapi.py`` runs schemathesis against a
running node with it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from federation import schema as wire
from federation.payloads import KINDS

from ..convertors import CollectionConvertor
from ..lazy_routes import expand
from ..services.objects import COLLECTIONS
from ..version import software
from .spec import JSON, TIMESTAMP, Answer, Operation, Param, Schema, describe, obj, operation_of

OPENAPI_VERSION = "3.1.0"
#: Where the API is: its routes are those under these prefixes, and these paths.
API_PREFIXES = ("/api/", "/federation/")
API_PATHS = ("/healthz", "/readyz")
_COMPONENTS = "#/components/schemas/"
_OBJECT = "papi:object/"

#: The members the node adds to a payload in its answers (``services.objects.object_json``).
SERVER_FIELD_SCHEMAS: dict[str, Any] = {
    "id": {"type": "string", "description": "The object's id (oid)."},
    "origin": {"type": "string", "description": "The id of the node that publishes it."},
    "kind": {"enum": list(KINDS)},
    "seq": {"type": "integer", "minimum": 1, "description": "Seq of its latest entry."},
    "updated": TIMESTAMP,
    "next_occurrences": {
        "type": "array",
        "description": "Events with 'recurrence': the next sessions not over yet.",
        "items": obj(
            ("start",),
            start={"type": "string"},
            end={"type": "string"},
            seats_left={"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
        ),
    },
    "seats_left": {
        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
        "description": "Events: seats not taken (of the next session of a series); null:"
        " no capacity.",
    },
}
_REQUIRED_SERVER_FIELDS = ("id", "origin", "kind", "seq", "updated")

ERROR_SCHEMA: dict[str, Any] = obj(
    ("error",),
    error=obj(
        ("code", "message"),
        code={"type": "string", "description": "Stable, for programs (docs/api.md 3)."},
        message={"type": "string", "description": "English, for people."},
        field={"type": "string", "description": "The offending member or parameter."},
        keyword={"type": "string", "description": "The rule it breaks."},
        limit={"description": "That rule's value."},
    ),
)

#: What each derived error status means, for the document's descriptions.
ERROR_TEXTS = {
    400: "Not JSON, or a query parameter that cannot be used (`bad_request`).",
    401: "No token, or an unknown one (`unauthorized`).",
    403: "Refused here (`pull_only`).",
    404: "No such thing on this node (`not_found`).",
    409: "Not now: the node recovers its log or its clock is off (`recovering`, `clock_skew`).",
    413: "The body is over its limit (`too_large`).",
    415: "A media type the node does not take (`unsupported_media_type`).",
    416: "A range past the end (`range_not_satisfiable`).",
    422: "Valid JSON, but not what the schema says (`invalid`, with `field`, `keyword`).",
    429: "Too many requests from this address (`rate_limited`); see `retry-after`.",
    503: "Busy: retry after `retry-after` seconds (`busy`).",
    507: "The disk is full; nothing was stored (`disk_full`).",
}


#: What the usual path parameters are (an operation may say more: ``Operation.path``).
_PATH_WORDS = {
    "oid": "The object's id (the header schema's 'oid').",
    "origin": "A node's origin id ('ed25519:...').",
}


#: Error statuses whose answer says when to ask again (``retry-after``).
RETRY_LATER = (429, 503, 507)


def is_api_route(route: BaseRoute) -> bool:
    """Every route under the API's prefixes (its handler must declare an ``Operation``),
    and any other whose handler declares one (calendars, feeds)."""
    if not isinstance(route, Route):
        return False
    path = route.path
    return (
        path.startswith(API_PREFIXES)
        or path in API_PATHS
        or operation_of(route.endpoint) is not None
    )


def component_name(schema_id: str) -> str:
    """``urn:papi:payload/event`` -> ``payload-event``."""
    return schema_id.removeprefix("urn:papi:").replace("/", "-")


# -- paths ---------------------------------------------------------------------------------


def _expansions(route: Route) -> Iterator[tuple[str, dict[str, str]]]:
    """The route's OpenAPI path templates, each with what ``{kind}`` stands for: one path
    per collection for a ``{collection}`` parameter (each has its own schemas)."""
    template = route.path_format
    collections = [
        name
        for name, convertor in route.param_convertors.items()
        if isinstance(convertor, CollectionConvertor)
    ]
    if not collections:
        yield template, {}
        return
    (name,) = collections
    for collection, kind in COLLECTIONS.items():
        yield template.replace("{" + name + "}", collection), {"kind": kind}


def _fill(value: Any, names: Mapping[str, str]) -> Any:
    """``{kind}`` and the like replaced in every string of ``value``."""
    if isinstance(value, str):
        for name, text in names.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, Mapping):
        return {key: _fill(item, names) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(item, names) for item in value]
    return value


def _schema_ref(value: Schema) -> dict[str, Any]:
    """A ``Schema`` as it stands in the document: a named one becomes a ``$ref``."""
    if isinstance(value, str):
        return {"$ref": value}
    return dict(value)


def _param(param: Param, where: str) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": where,
        "required": param.required or where == "path",
        "description": param.description,
        "schema": dict(param.schema),
    }


def _path_params(route: Route, operation: Operation, template: str) -> list[dict[str, Any]]:
    params = []
    for name, convertor in route.param_convertors.items():
        if "{" + name + "}" not in template:
            continue  # expanded into the path (a collection)
        described = operation.path.get(name)
        if described is None:
            pattern = {"type": "string", "pattern": f"^(?:{convertor.regex})$"}
            described = Param(name, pattern, _PATH_WORDS.get(name, name))
        params.append(_param(described, "path"))
    return params


def _content(schema: Schema | None, media_types: Iterable[str]) -> dict[str, Any]:
    """The schema is that of the JSON media types; the others are bytes of their type (with
    the bounds of a string schema given for them: ``minLength``)."""
    content: dict[str, Any] = {}
    for media_type in media_types:
        if not media_type.endswith("json"):
            text = (
                dict(schema)
                if isinstance(schema, Mapping) and schema.get("type") == "string"
                else {}
            )
            text.update({"type": "string", "contentMediaType": media_type})
            content[media_type] = {"schema": text}
        elif schema is None:
            content[media_type] = {}
        else:
            content[media_type] = {"schema": _schema_ref(schema)}
    return content


def _answers(operation: Operation, has_path_params: bool) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for answer in operation.answers:
        entry: dict[str, Any] = {"description": answer.description}
        if answer.schema is not None or answer.media_types != JSON:
            entry["content"] = _content(answer.schema, answer.media_types)
        if answer.headers:
            entry["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in answer.headers.items()
            }
        answers[str(answer.status)] = entry
    errors = {429, *operation.errors}
    if operation.token:
        errors |= {401, 409, 507}
    if operation.optional_token:
        errors.add(401)
    if operation.body is not None:
        errors |= {400, 413, 422}
    if has_path_params:
        errors.add(404)
    if operation.query:
        errors.add(422)
    for status in sorted(errors):
        error: dict[str, Any] = {
            "description": ERROR_TEXTS.get(status, "An error."),
            "content": {"application/json": {"schema": {"$ref": _COMPONENTS + "error"}}},
        }
        if status in RETRY_LATER:
            error["headers"] = {
                "retry-after": {
                    "description": "Seconds to wait before asking again.",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            }
        answers.setdefault(str(status), error)
    return answers


def _operation(route: Route, method: str, template: str, names: Mapping[str, str]) -> Any:
    operation = operation_of(route.endpoint)
    if operation is None:
        raise LookupError(f"{method} {route.path} ({route.name}) declares no Operation")
    path_params = _path_params(route, operation, template)
    document: dict[str, Any] = {
        "operationId": f"{route.name}.{method.lower()}" + "".join(f".{v}" for v in names.values()),
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": [*path_params, *(_param(p, "query") for p in operation.query)],
        "responses": _answers(operation, bool(path_params) or bool(names)),
    }
    if operation.description:
        document["description"] = operation.description
    if operation.body is not None:
        document["requestBody"] = {
            "required": operation.body_required,
            "content": _content(operation.body, operation.body_media_types),
        }
    if operation.token:
        document["security"] = [{"bearer": []}]
    elif operation.optional_token:
        document["security"] = [{}, {"bearer": []}]
    else:
        document["security"] = []
    return _fill(document, names)


def paths(routes: Iterable[BaseRoute]) -> dict[str, dict[str, Any]]:
    """``paths`` of the document: every method of every API route."""
    found: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not is_api_route(route):
            continue
        assert isinstance(route, Route)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            for template, names in _expansions(route):
                item = found.setdefault(template, {})
                item[method.lower()] = _operation(route, method, template, names)
    return dict(sorted(found.items()))


# -- schemas -------------------------------------------------------------------------------


def _rewrite(value: Any, base: str, needed: set[str]) -> Any:
    """A copy of ``value`` (part of the schema ``base``, "" for the document's own) with
    every ``$ref`` pointing into ``components.schemas``; named schemas go to ``needed``."""
    if isinstance(value, list):
        return [_rewrite(item, base, needed) for item in value]
    if not isinstance(value, Mapping):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key in ("$id", "$schema"):
            continue  # a component is read in the document's base, not its own
        if key == "$ref" and isinstance(item, str):
            result[key] = _target(item, base, needed)
        else:
            result[key] = _rewrite(item, base, needed)
    return result


def _target(ref: str, base: str, needed: set[str]) -> str:
    if ref.startswith(_COMPONENTS):
        return ref
    if ref.startswith(_OBJECT):
        name = "object-" + ref.removeprefix(_OBJECT)
        needed.add(name)
        return _COMPONENTS + name
    uri, _, fragment = ref.partition("#")
    schema_id = uri or base
    if not schema_id.startswith("urn:papi:"):
        raise LookupError(f"{ref!r}: only the node's own schemas may be referred to")
    name = component_name(schema_id)
    needed.add(name)
    return _COMPONENTS + name + fragment


def _object_schema(kind: str, needed: set[str]) -> dict[str, Any]:
    """An object of ``kind`` as the API answers it: its payload and the server fields."""
    schema_id = f"urn:papi:payload/{kind}"
    payload: dict[str, Any] = _rewrite(wire.document(schema_id), schema_id, needed)
    payload["title"] = f"{kind} (as the API answers it)"
    payload["properties"] = {**payload.get("properties", {}), **SERVER_FIELD_SCHEMAS}
    payload["required"] = [*payload.get("required", []), *_REQUIRED_SERVER_FIELDS]
    return payload


def components(needed: set[str]) -> dict[str, Any]:
    """Every schema the paths name, and those they name in turn."""
    by_name = {component_name(schema_id): schema_id for schema_id in wire.documents()}
    done: dict[str, Any] = {"error": ERROR_SCHEMA}
    todo = set(needed) - set(done)
    while todo:
        name = todo.pop()
        more: set[str] = set()
        if name.startswith("object-"):
            done[name] = _object_schema(name.removeprefix("object-"), more)
        else:
            schema_id = by_name[name]
            done[name] = _rewrite(wire.document(schema_id), schema_id, more)
        todo |= more - set(done)
    return dict(sorted(done.items()))


def build(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API served by ``routes``."""
    needed: set[str] = set()
    found = _rewrite(paths(routes), "", needed)
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "papi-node HTTP API",
            "version": software(),
            "description": (
                "The JSON API of a node of the PAPI network (docs/api.md) and its federation"
                " endpoints (docs/protocol.md). Generated from the node's routes and schemas."
            ),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "api", "description": "The node's own data and the network's, as JSON."},
            {"name": "federation", "description": "Between nodes (docs/protocol.md 5)."},
            {"name": "health", "description": "For supervisors."},
            {"name": "interop", "description": "Calendars and feeds (docs/api.md 7)."},
            {
                "name": "cooperation",
                "description": "Loans, registrations, help between places (docs/api.md 9-11).",
            },
        ],
        "paths": found,
        "components": {
            "schemas": components(needed),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `papi token create` (docs/api.md 2).",
                }
            },
        },
    }


def app_document(request: Request) -> dict[str, Any]:
    """The document of the running application, built once (its routes do not change);
    callers must not change it."""
    state = request.app.state
    document: dict[str, Any] | None = getattr(state, "openapi_document", None)
    if document is None:
        document = state.openapi_document = build(expand(request.app.routes))
    return document


@describe(
    Operation(
        "This document: the OpenAPI 3.1 description of the HTTP API",
        (Answer(200, "The OpenAPI document.", obj(("openapi", "paths"))),),
    )
)
async def openapi_json(request: Request) -> Response:
    return JSONResponse(app_document(request))


def routes() -> list[Route]:
    return [Route("/api/v1/openapi.json", openapi_json, methods=["GET"], name="api.openapi")]
