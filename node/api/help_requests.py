"""``/api/v1/help-requests`` (BRIEF 8): a place asks the network for help, the others
offer, the asker accepts one offer.

The asker's node takes the request, its cancellation and the acceptance of an offer;
another place's node takes its offer and its withdrawal. Every node lists the open
requests of the network (``?matching=true``: those whose theme is one of its skill
themes), nearest first. An offer's message is in the answers only with a valid token,
and only on the asker's and the offerer's nodes (the others cannot open it). See
docs/api.md, "Help requests".
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.cooperation import HelpState, Ref

from ..convertors import register_convertors
from ..cooperation import help_requests, reads
from ..cooperation.errors import NotFound
from ..cooperation.help_requests import ASKER, OFFERER, HelpRequest, Offer
from ..cooperation.session import place_today
from ..runtime import Node, node_of
from .auth import require_token
from .cooperation import (
    ACTIONS,
    HISTORY,
    NO_BODY,
    answering,
    choice_param,
    coop_error,
    coop_operation,
    history_json,
    object_body,
    path_ref,
    role_param,
    step,
    text_field,
    token_given,
)
from .errors import ApiError, read_json
from .params import paging, paging_params
from .spec import Answer, Param, describe, nullable, obj

_MESSAGE = {"type": "string", "maxLength": help_requests.MESSAGE_CHARS}
_REQUEST = {
    **obj(
        ("theme", "title", "from", "to"),
        theme={"enum": list(help_requests.themes())},
        title={"type": "string", "minLength": 1, "maxLength": help_requests.TITLE_CHARS},
        description={"type": "string", "maxLength": help_requests.DESCRIPTION_CHARS},
        **{"from": {"$ref": "urn:papi:day"}, "to": {"$ref": "urn:papi:day"}},
    ),
    "additionalProperties": False,
    "description": f"From today on, 'to' not before 'from', at most {help_requests.MAX_DAYS} days.",
}
_OFFER = obj(
    ("id", "request", "offerer", "state"),
    id={"type": "string"},
    request={"type": "string"},
    offerer={"type": "string"},
    state={"type": "string"},
    message={"type": "string"},
)
_HELP = obj(
    ("id", "theme", "title", "from", "to", "state", "asker", "offers", "history", "actions"),
    id={"type": "string"},
    state={"enum": [state.value for state in HelpState]},
    accepted_offer=nullable({"type": "string"}),
    asker={"type": "string"},
    distance_km=nullable({"type": "number"}),
    matching={"type": "boolean"},
    offers={"type": "array", "items": _OFFER},
    history=HISTORY,
    actions=ACTIONS,
)

_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def offer_json(node: Node, offer: Offer, *, private: bool) -> dict[str, Any]:
    """An offer as the API shows it; ``private``: with its message when this node can
    open it (the caller checked the token)."""
    document: dict[str, Any] = {
        "id": str(offer.ref),
        "request": str(offer.stored.payload.get("request")),
        "offerer": offer.offerer,
        "offerer_name": offer.offerer_name,
        "state": offer.state.value,
        "offered_at": offer.offered_at,
        "updated": offer.stored.updated,
    }
    if private:
        message = help_requests.message_of(node, offer)
        if message is not None:
            document["message"] = message
    return document


def request_json(node: Node, found: HelpRequest, today: date, *, private: bool) -> dict[str, Any]:
    """A help request as the API shows it, with its offers."""
    payload = found.payload
    history = found.history
    return {
        "id": str(found.ref),
        "theme": payload.get("theme"),
        "title": payload.get("title"),
        "description": payload.get("description", ""),
        "from": payload.get("from"),
        "to": payload.get("to"),
        "state": found.state.value,
        "accepted_offer": found.accepted_offer,
        "asker": found.ref.origin,
        "asker_name": found.asker.name,
        "commune": found.asker.commune,
        "distance_km": found.distance_km,
        "matching": found.matching,
        "requested_at": history[0].at if history else found.stored.updated,
        "updated": found.stored.updated,
        "offers": [offer_json(node, offer, private=private) for offer in found.offers],
        "history": history_json(history),
        "actions": found.actions(node, today),
    }


async def _read(node: Node, ref: Ref) -> HelpRequest:
    async with node.db.transaction() as conn:
        found = await help_requests.read_help(conn, node, ref)
    if found is None:
        raise coop_error(NotFound(f"no help request {ref} is known to this node"))
    [located] = await help_requests.with_distances(node, [found])
    return located


def _offer_ref(request: Request) -> Ref:
    return Ref(request.path_params["offer_origin"], request.path_params["offer_oid"])


def _matching(request: Request) -> bool:
    raw = request.query_params.get("matching")
    if raw is None or raw == "":
        return False
    value = _BOOLEANS.get(raw.strip().lower())
    if value is None:
        raise ApiError(400, "bad_request", "matching must be true or false", field="matching")
    return value


@describe(
    coop_operation(
        "Ask the network for help",
        Answer(201, "Asked: the places of the network see it.", _HELP),
        body=_REQUEST,
        token=True,
    )
)
async def create_request(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    document = await read_json(request, node.settings.max_body_bytes)
    with answering():
        wanted = help_requests.parse_request(document, place_today())
        ref = await help_requests.ask_help(node, wanted)
    found = await _read(node, ref)
    return JSONResponse(request_json(node, found, place_today(), private=True), status_code=201)


@describe(
    coop_operation(
        "Open help requests of the network, nearest first (or this node's own, by 'role')",
        Answer(
            200,
            "One page, and how many there are.",
            obj(
                ("items", "total"),
                items={"type": "array", "items": _HELP},
                total={"type": "integer", "minimum": 0},
            ),
        ),
        query=(
            Param("matching", {"enum": list(_BOOLEANS)}, "Only those in this node's skills."),
            role_param((ASKER, OFFERER)),
            Param("theme", {"enum": list(help_requests.themes())}, "Only this theme."),
            *paging_params(100, reads.MAX_LIST),
        ),
        optional_token=True,
        errors=(400,),
    )
)
async def list_requests(request: Request) -> Response:
    node = node_of(request)
    private = await token_given(request)
    matching = _matching(request)
    role = choice_param(request, "role", (ASKER, OFFERER))
    theme = request.query_params.get("theme") or None
    if theme is not None and theme not in help_requests.themes():
        raise ApiError(400, "bad_request", "theme must be one of the skill themes", field="theme")
    limit, offset = paging(request.query_params, 100, reads.MAX_LIST)
    today = place_today()
    if role is None:
        found = await help_requests.network_requests(node, today, matching=matching, theme=theme)
    else:
        async with node.db.transaction() as conn:
            if role == ASKER:
                mine = await help_requests.asked_by(conn, node)
            else:
                mine = await help_requests.offered_by(conn, node)
        if matching:
            mine = [item for item in mine if item.matching]
        if theme is not None:
            mine = [item for item in mine if item.payload.get("theme") == theme]
        found = await help_requests.with_distances(node, mine)
    page = found[offset : offset + limit]
    return JSONResponse(
        {
            "items": [request_json(node, item, today, private=private) for item in page],
            "total": len(found),
        }
    )


@describe(
    coop_operation(
        "One help request", Answer(200, "It, with its offers.", _HELP), optional_token=True
    )
)
async def get_request(request: Request) -> Response:
    node = node_of(request)
    private = await token_given(request)
    found = await _read(node, path_ref(request))
    return JSONResponse(request_json(node, found, place_today(), private=private))


@describe(
    coop_operation(
        "Cancel this node's help request",
        Answer(200, "The request, cancelled.", _HELP),
        body=NO_BODY,
        body_required=False,
        token=True,
    )
)
async def cancel_request(request: Request) -> Response:
    node, ref, _ = await step(request)
    with answering():
        await help_requests.cancel(node, ref)
    found = await _read(node, ref)
    return JSONResponse(request_json(node, found, place_today(), private=True))


@describe(
    coop_operation(
        "Offer help (a message to the asker, sealed for it)",
        Answer(201, "Offered.", _OFFER),
        body={**obj(("message",), message=_MESSAGE), "additionalProperties": False},
        token=True,
    )
)
async def create_offer(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    ref = path_ref(request)
    body = await object_body(request, node, ("message",))
    if "message" not in body:
        raise ApiError(422, "invalid", "'message' is required", field="message", keyword="required")
    message = text_field(body, "message", help_requests.MESSAGE_CHARS)
    with answering():
        offer_ref = await help_requests.offer_help(node, ref, message)
        offer = await help_requests.read_offer(node, ref, offer_ref)
    return JSONResponse(offer_json(node, offer, private=True), status_code=201)


@describe(
    coop_operation(
        "Accept an offer (closes the request)",
        Answer(200, "The request, closed.", _HELP),
        body=NO_BODY,
        body_required=False,
        token=True,
    )
)
async def accept_offer(request: Request) -> Response:
    node, ref, _ = await step(request)
    with answering():
        await help_requests.accept(node, ref, _offer_ref(request))
    found = await _read(node, ref)
    return JSONResponse(request_json(node, found, place_today(), private=True))


@describe(
    coop_operation(
        "Withdraw this node's offer",
        Answer(200, "The offer, withdrawn.", _OFFER),
        body=NO_BODY,
        body_required=False,
        token=True,
    )
)
async def withdraw_offer(request: Request) -> Response:
    node, ref, _ = await step(request)
    offer_ref = _offer_ref(request)
    with answering():
        await help_requests.withdraw(node, ref, offer_ref)
        offer = await help_requests.read_offer(node, ref, offer_ref)
    return JSONResponse(offer_json(node, offer, private=True))


def routes() -> list[Route]:
    register_convertors()
    one = "/api/v1/help-requests/{origin:origin}/{oid:oid}"
    offer = one + "/offers/{offer_origin:origin}/{offer_oid:oid}"
    return [
        Route("/api/v1/help-requests", create_request, methods=["POST"], name="api.help_requests"),
        Route("/api/v1/help-requests", list_requests, methods=["GET"], name="api.help_requests"),
        Route(one, get_request, methods=["GET"], name="api.help_request"),
        Route(one + "/cancel", cancel_request, methods=["POST"], name="api.help_request.cancel"),
        Route(one + "/offers", create_offer, methods=["POST"], name="api.help_request.offers"),
        Route(offer + "/accept", accept_offer, methods=["POST"], name="api.help_offer.accept"),
        Route(
            offer + "/withdraw", withdraw_offer, methods=["POST"], name="api.help_offer.withdraw"
        ),
    ]
