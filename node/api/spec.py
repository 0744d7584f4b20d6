"""What each endpoint of the HTTP API takes and answers, declared on its handler with
``@describe(Operation(...))`` and read by ``node/api/openapi.py``, which generates the
OpenAPI document from the routes of the application (``GET /api/v1/openapi.json``).

Bodies are named, not written out, wherever the code has a schema: ``"urn:papi:..."`` is
a schema of ``schemas/`` (the one the node validates with), ``"papi:object/<kind>"`` an
object as the API answers it (the kind's payload schema plus the server fields). In a
collection's operations ``{kind}`` stands for the collection's kind. Schemas written here
describe only answers that no wire-format schema covers (``/api/v1/node``, search...).

The error answers are derived, not listed: every operation may answer ``429``; those that
need a token ``401``, ``409`` and ``507``; those with a body ``400``, ``413`` and ``422``;
those with path parameters ``404``; with query parameters ``422``
(``Operation.errors`` adds others)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

#: A JSON Schema (draft 2020-12) written as data, or the name of one (see above).
Schema = Mapping[str, Any] | str

Handler = TypeVar("Handler", bound=Callable[..., Any])

JSON = ("application/json",)
#: An ISO date or an RFC 3339 date-time, as search and the places' ``at`` read them.
TEXT: Mapping[str, Any] = {"type": "string"}
TIMESTAMP: Mapping[str, Any] = {"type": "string", "description": "RFC 3339, in UTC"}


def nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` or ``null``."""
    return {"anyOf": [dict(schema), {"type": "null"}]}


def whole(low: int, high: int, description: str = "") -> dict[str, Any]:
    """A whole-number query parameter as ``params.parse_int`` reads it."""
    schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    if description:
        schema["description"] = description
    return schema


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    """An object with these members (others may come: a client ignores them)."""
    return {"type": "object", "required": list(required), "properties": properties}


@dataclass(frozen=True)
class Param:
    """A query (or path) parameter."""

    name: str
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Answer:
    """One answer of an operation: its status, what it is, its body (None: none)."""

    status: int
    description: str
    schema: Schema | None = None
    media_types: tuple[str, ...] = JSON
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    summary: str
    answers: tuple[Answer, ...]
    description: str = ""
    query: tuple[Param, ...] = ()
    #: Path parameters described further than their convertor says (name: param).
    path: Mapping[str, Param] = field(default_factory=dict)
    body: Schema | None = None
    body_media_types: tuple[str, ...] = JSON
    #: Whether it needs a bearer token (docs/api.md section 2).
    token: bool = False
    #: A token is optional: with a valid one the answer shows personal data (a wrong one
    #: is refused, 401).
    optional_token: bool = False
    #: Whether the body may be left out (an action's: no body is ``{}``).
    body_required: bool = True
    #: Error statuses beyond the derived ones (see the module's docstring).
    errors: tuple[int, ...] = ()
    tag: str = "api"


_ATTRIBUTE = "__papi_operation__"


def describe(operation: Operation) -> Callable[[Handler], Handler]:
    """Attach ``operation`` to a handler (the handler itself is unchanged)."""

    def attach(handler: Handler) -> Handler:
        setattr(handler, _ATTRIBUTE, operation)
        return handler

    return attach


def operation_of(handler: object) -> Operation | None:
    found = getattr(handler, _ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None
