"""``/api/v1/registrations`` (BRIEF 8): registering participants for an event of another
place (or of this one), following the organiser's answers, cancelling.

The registrant's node takes the registration (``POST /api/v1/registrations``); the
organiser's node decides on its own (confirmed while seats remain, else on the waiting
list with a position) and promotes the first waiting registrations when seats are freed.
Either node cancels. The participants and message are in the answers only with a valid
token, and only on the two nodes concerned (the others cannot open them). See
docs/api.md, "Registrations".
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.cooperation import Ref, RegistrationState

from ..convertors import register_convertors
from ..cooperation import reads, registrations
from ..cooperation.errors import NotFound
from ..cooperation.registrations import ORGANISER, REGISTRANT, Registration
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
    once_each,
    path_ref,
    role_param,
    step,
    token_given,
)
from .errors import read_json
from .params import paging, paging_params
from .spec import Answer, describe, nullable, obj

_PARTICIPANT = {
    **obj(
        ("name",),
        name={"type": "string", "minLength": 1, "maxLength": registrations.NAME_CHARS},
        email={"type": "string", "maxLength": registrations.EMAIL_CHARS},
        phone={"type": "string", "maxLength": registrations.PHONE_CHARS},
    ),
    "additionalProperties": False,
}
_REQUEST = {
    **obj(
        ("event",),
        event={"$ref": "urn:papi:ref", "description": "The event: '<origin>/<oid>'."},
        seats={"type": "integer", "minimum": 1, "maximum": registrations.MAX_SEATS},
        participants={"type": "array", "maxItems": registrations.MAX_SEATS, "items": _PARTICIPANT},
        message={"type": "string", "maxLength": registrations.MESSAGE_CHARS},
        occurrence={
            "$ref": "urn:papi:datetime",
            "description": "The session of a recurring event: its start (required then).",
        },
    ),
    "additionalProperties": False,
    "description": "'seats' defaults to the number of participants (one of them is needed).",
}
_REGISTRATION = obj(
    ("id", "event", "seats", "state", "registrant", "organiser", "history", "actions"),
    id={"type": "string"},
    event={"type": "string"},
    seats={"type": "integer"},
    state={"enum": [state.value for state in RegistrationState]},
    position=nullable({"type": "integer"}),
    reason=nullable({"type": "string"}),
    seats_left=nullable({"type": "integer"}),
    occurrence={"type": "string"},
    registrant={"type": "string"},
    organiser={"type": "string"},
    history=HISTORY,
    actions=ACTIONS,
    participants={"type": "array", "items": _PARTICIPANT},
)


def registration_json(node: Node, registration: Registration, *, private: bool) -> dict[str, Any]:
    """A registration as the API shows it; ``private``: with the participants and the
    message this node can open (the caller checked the token)."""
    conversation = registration.conversation
    history = conversation.history
    document: dict[str, Any] = {
        "id": str(registration.ref),
        "event": str(conversation.thing),
        "title": registration.title,
        "seats": registration.seats,
        "state": registration.state.value,
        "position": registration.position,
        "reason": registration.reason,
        "seats_left": registration.seats_left,
        "registrant": conversation.requester,
        "organiser": conversation.owner,
        "registrant_name": registration.registrant_name,
        "organiser_name": registration.organiser_name,
        "requested_at": history[0].at if history else conversation.request.updated,
        "updated": history[-1].at if history else conversation.request.updated,
        "history": history_json(history),
        "actions": registration.actions(node),
    }
    if registration.occurrence is not None:
        document["occurrence"] = registration.occurrence
    bounds = registration.bounds
    if bounds is not None:
        document["start"] = bounds[0].isoformat()
        if bounds[1] is not None:
            document["end"] = bounds[1].isoformat()
    if private:
        opened = registrations.participants_of(node, registration)
        if opened is not None:
            document["participants"] = registrations.participant_list(opened)
            message = opened.get("message")
            document["message"] = message if isinstance(message, str) else ""
    return document


async def _read(node: Node, ref: Ref) -> Registration:
    async with node.db.transaction() as conn:
        registration = await registrations.read_registration(conn, ref)
    if registration is None:
        raise coop_error(NotFound(f"no registration {ref} is known to this node"))
    return registration


@describe(
    coop_operation(
        "Register participants for an event (of any place; the organiser's node decides)",
        Answer(201, "Taken: pending until the organiser's answer arrives.", _REGISTRATION),
        body=_REQUEST,
        token=True,
        errors=(404,),
    )
)
async def create_registration(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    document = await read_json(request, node.settings.max_body_bytes)
    with answering():
        wanted = registrations.parse_request(document)
        written = await registrations.request_registration(node, wanted)
    return JSONResponse(registration_json(node, written, private=True), status_code=201)


@describe(
    coop_operation(
        "This node's registrations: those it made and those to its events",
        Answer(200, "One page.", obj(("items",), items={"type": "array", "items": _REGISTRATION})),
        query=(role_param((REGISTRANT, ORGANISER)), *paging_params(100, reads.MAX_LIST)),
        optional_token=True,
        errors=(400,),
    )
)
async def list_registrations(request: Request) -> Response:
    node = node_of(request)
    private = await token_given(request)
    role = choice_param(request, "role", (REGISTRANT, ORGANISER))
    limit, offset = paging(request.query_params, 100, reads.MAX_LIST)
    async with node.db.transaction() as conn:
        found = once_each(
            [
                await registrations.list_registrations(conn, node, side, limit=limit, offset=offset)
                for side in ((role,) if role else (REGISTRANT, ORGANISER))
            ]
        )
    items = [registration_json(node, registration, private=private) for registration in found]
    return JSONResponse({"items": items})


@describe(
    coop_operation(
        "One registration", Answer(200, "The registration.", _REGISTRATION), optional_token=True
    )
)
async def get_registration(request: Request) -> Response:
    node = node_of(request)
    private = await token_given(request)
    registration = await _read(node, path_ref(request))
    return JSONResponse(registration_json(node, registration, private=private))


@describe(
    coop_operation(
        "Cancel a registration (the registrant's node or the organiser's)",
        Answer(200, "The registration, cancelled.", _REGISTRATION),
        body=NO_BODY,
        body_required=False,
        token=True,
    )
)
async def cancel_registration(request: Request) -> Response:
    node, ref, _ = await step(request)
    with answering():
        await registrations.cancel(node, ref)
    return JSONResponse(registration_json(node, await _read(node, ref), private=True))


def routes() -> list[Route]:
    register_convertors()
    one = "/api/v1/registrations/{origin:origin}/{oid:oid}"
    return [
        Route(
            "/api/v1/registrations",
            create_registration,
            methods=["POST"],
            name="api.registrations",
        ),
        Route(
            "/api/v1/registrations",
            list_registrations,
            methods=["GET"],
            name="api.registrations",
        ),
        Route(one, get_registration, methods=["GET"], name="api.registration"),
        Route(
            one + "/cancel",
            cancel_registration,
            methods=["POST"],
            name="api.registration.cancel",
        ),
    ]
