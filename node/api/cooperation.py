"""What the JSON API of every cooperation workflow shares (loans, registrations, help):
the ref in the path (``{origin:origin}/{oid:oid}``), the optional token that unlocks
personal data, the body of an action, and the answers to refused steps.

Errors (docs/api.md): ``404 not_found`` for a ref this node does not hold, ``409`` for an
action not this node's (``not_allowed``) or not possible now (``invalid_state``,
``unavailable``...), ``422 invalid`` with ``field`` for a body that breaks a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from starlette.requests import Request

from federation.cooperation import Ref
from federation.errors import SchemaError

from ..cooperation.conversations import Step
from ..cooperation.errors import CoopError
from ..runtime import Node, node_of
from ..services.log import ClockSkew, LogRecovering
from .auth import require_token
from .errors import ApiError, invalid, read_json
from .spec import Answer, Operation, Param, obj

# -- what the OpenAPI document says of every workflow (node/api/spec.py) -----------------

#: The steps of a conversation (``Step.to_json``), oldest first.
HISTORY = {
    "type": "array",
    "items": obj(
        ("state", "at", "by"),
        state={"type": "string"},
        at={"type": "string"},
        by={"type": "string"},
        reason={"type": "string"},
    ),
}
#: What people of this node may do now (the names of the action paths).
ACTIONS = {"type": "array", "items": {"type": "string"}}
#: The body of an action without data: nothing, or an empty object.
NO_BODY = {"type": "object", "maxProperties": 0, "description": "No body, or {}."}


def role_param(choices: Sequence[str]) -> Param:
    """``role`` as ``choice_param`` reads it."""
    return Param("role", {"enum": list(choices)}, "Only this side (default: both).")


def coop_operation(summary: str, answer: Answer, **more: Any) -> Operation:
    """A workflow's operation: ``409`` for a step not allowed here or now."""
    errors = (*more.pop("errors", ()), 409)
    return Operation(summary, (answer,), errors=errors, tag="cooperation", **more)


def path_ref(request: Request) -> Ref:
    """The ref ``{origin}/{oid}`` of the path (the convertors have checked both parts)."""
    return Ref(request.path_params["origin"], request.path_params["oid"])


async def token_given(request: Request) -> bool:
    """True when the request carries a valid Bearer token: personal data may be shown.
    No ``Authorization`` header: False; a wrong token is refused (401), never ignored."""
    if "authorization" not in request.headers:
        return False
    await require_token(request)
    return True


async def optional_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The JSON object of an action's body; no body at all is ``{}``."""
    headers = request.headers
    length = headers.get("content-length")
    if length == "0" or (length is None and "transfer-encoding" not in headers):
        return {}
    return _json_object(await read_json(request, max_bytes))


def _json_object(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ApiError(422, "invalid", "the body must be a JSON object", field="")
    return document


async def object_body(request: Request, node: Node, allowed: Sequence[str]) -> dict[str, Any]:
    """A required body: a JSON object with only ``allowed`` members."""
    document = _json_object(await read_json(request, node.settings.max_body_bytes))
    only_fields(document, allowed)
    return document


async def step(request: Request, allowed: Sequence[str] = ()) -> tuple[Node, Ref, dict[str, Any]]:
    """What every step on one thing starts with: a valid token (401 otherwise), the ref of
    the path, and the optional body with only ``allowed`` members."""
    node = node_of(request)
    await require_token(request)
    body = await optional_body(request, node.settings.max_body_bytes)
    only_fields(body, allowed)
    return node, path_ref(request), body


def only_fields(document: dict[str, Any], allowed: Sequence[str]) -> None:
    """422 for a member that is not one of ``allowed``."""
    for name in document:
        if name not in allowed:
            raise ApiError(
                422, "invalid", f"unknown field '{name}'", field=name,
                keyword="additionalProperties",
            )  # fmt: skip


def text_field(document: dict[str, Any], name: str, limit: int) -> str:
    value = document.get(name, "")
    if not isinstance(value, str):
        raise ApiError(422, "invalid", f"'{name}' must be text", field=name, keyword="type")
    if len(value) > limit:
        raise ApiError(
            422, "invalid", f"'{name}' is at most {limit} characters", field=name,
            keyword="maxLength", limit=limit,
        )  # fmt: skip
    return value


def choice_param(request: Request, name: str, choices: Sequence[str]) -> str | None:
    """A query parameter that is one of ``choices`` (absent: None), else 400."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if value not in choices:
        raise ApiError(
            400, "bad_request", f"{name} must be one of {', '.join(choices)}", field=name
        )
    return value


class _Referenced(Protocol):
    @property
    def ref(self) -> Ref: ...


_Item = TypeVar("_Item", bound=_Referenced)


def once_each(pages: Iterable[Sequence[_Item]]) -> list[_Item]:
    """The items of both sides' pages, once each: a place asking for its own thing is on
    both sides."""
    found: list[_Item] = []
    for page in pages:
        for item in page:
            if all(item.ref != seen.ref for seen in found):
                found.append(item)
    return found


def history_json(steps: Sequence[Step]) -> list[dict[str, Any]]:
    return [step.to_json() for step in steps]


def coop_error(exc: CoopError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, **exc.extra)


@contextmanager
def answering() -> Iterator[None]:
    """Turn what a step refuses into the API's errors."""
    try:
        yield
    except CoopError as exc:
        raise coop_error(exc) from None
    except SchemaError as exc:
        raise invalid(exc) from None
    except LogRecovering as exc:
        raise ApiError(409, "recovering", str(exc)) from None
    except ClockSkew as exc:
        raise ApiError(409, "clock_skew", str(exc)) from None
