"""What the JSON API of every cooperation workflow shares (loans, registrations, help):
the ref in the path (``{origin:origin}/{oid:oid}``), the optional token that unlocks
personal data, the body of an action, and the answers to refused steps.

Errors (docs/api.md): ``404 not_found`` for a ref this node does not hold, ``409`` for an
action not this node's (``not_allowed``) or not possible now (``invalid_state``,
``unavailable``...), ``422 invalid`` with ``field`` for a body that breaks a rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request

from federation.cooperation import Ref
from federation.errors import SchemaError

from ..cooperation.conversations import Step
from ..cooperation.errors import CoopError
from ..services.log import ClockSkew, LogRecovering
from .auth import require_token
from .errors import ApiError, invalid, read_json


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
    document = await read_json(request, max_bytes)
    if not isinstance(document, dict):
        raise ApiError(422, "invalid", "the body must be a JSON object", field="")
    return document


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
