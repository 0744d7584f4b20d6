"""``/api/v1/loans``, ``/api/v1/bookings`` and the lending rule of an item (BRIEF 8).

The borrower's node takes the request (``POST /api/v1/loans``) and its cancellation; the
lender's node approves, declines, checks out and takes back. The contact and messages are
in the answers only with a valid token, and only on the two nodes concerned (the others
cannot open them). See docs/api.md, "Loans".
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.cooperation import LoanState, Ref

from ..convertors import register_convertors
from ..cooperation import loans, reads, rows
from ..cooperation.errors import NotFound
from ..cooperation.loans import BORROWER, LENDER, Loan
from ..cooperation.session import place_today
from ..runtime import Node, node_of
from .auth import require_token
from .cooperation import (
    ACTIONS,
    HISTORY,
    answering,
    choice_param,
    coop_error,
    coop_operation,
    history_json,
    object_body,
    once_each,
    path_ref,
    role_param,
    step,
    text_field,
    token_given,
)
from .errors import ApiError, read_json
from .params import paging, paging_params
from .spec import Answer, Param, describe, nullable, obj

_DAY = {"$ref": "urn:papi:day"}
_CONTACT = {
    **obj(
        ("name",),
        name={"type": "string", "minLength": 1, "maxLength": loans.NAME_CHARS},
        email={"type": "string", "maxLength": loans.EMAIL_CHARS},
        phone={"type": "string", "maxLength": loans.PHONE_CHARS},
    ),
    "additionalProperties": False,
}
_REQUEST = {
    **obj(
        ("equipment", "quantity", "start", "end", "contact"),
        equipment={"$ref": "urn:papi:ref", "description": "The item: '<origin>/<oid>'."},
        quantity={"type": "integer", "minimum": 1, "maximum": 1000},
        start=_DAY,
        end=_DAY,
        contact=_CONTACT,
        message={"type": "string", "maxLength": loans.MESSAGE_CHARS},
    ),
    "additionalProperties": False,
    "description": f"From today on, 'end' not before 'start', at most {loans.MAX_DAYS} days.",
}
_LOAN = obj(
    ("id", "equipment", "quantity", "start", "end", "state", "borrower", "lender", "history"),
    id={"type": "string"},
    equipment={"type": "string"},
    quantity={"type": "integer"},
    start={"type": "string"},
    end={"type": "string"},
    state={"enum": [state.value for state in LoanState]},
    reason=nullable({"type": "string"}),
    borrower={"type": "string"},
    lender={"type": "string"},
    history=HISTORY,
    actions=ACTIONS,
    contact={"type": "object"},
)
_NOTE = {
    **obj(message={"type": "string", "maxLength": loans.MESSAGE_CHARS}),
    "additionalProperties": False,
}
_RULE = obj(
    ("equipment", "auto_approve"), equipment={"type": "string"}, auto_approve={"type": "boolean"}
)


def loan_json(node: Node, loan: Loan, *, private: bool) -> dict[str, Any]:
    """A loan as the API shows it; ``private``: with the contact and messages this node
    can open (the caller checked the token)."""
    terms = loan.terms
    history = loan.conversation.history
    reason = (loan.decision or {}).get("reason")
    if loan.state is LoanState.cancelled and loan.request.get("state") == "cancelled":
        reason = "cancelled_by_borrower"
    if loan.state not in (LoanState.declined, LoanState.cancelled):
        reason = None
    document: dict[str, Any] = {
        "id": str(loan.ref),
        "equipment": str(loan.conversation.thing),
        "title": loan.title,
        "quantity": terms["quantity"],
        "start": terms["start"],
        "end": terms["end"],
        "state": loan.state.value,
        "reason": reason,
        "borrower": loan.conversation.requester,
        "lender": loan.conversation.owner,
        "borrower_name": loan.borrower_name,
        "lender_name": loan.lender_name,
        "requested_at": history[0].at if history else loan.conversation.request.updated,
        "updated": history[-1].at if history else loan.conversation.request.updated,
        "history": history_json(history),
        "actions": loan.actions(node),
    }
    if private:
        opened = loans.contact_of(node, loan)
        if opened is not None:
            contact = opened.get("contact")
            if isinstance(contact, dict):
                document["contact"] = {
                    name: str(contact.get(name) or "") for name in ("name", "email", "phone")
                }
            message = opened.get("message")
            document["message"] = message if isinstance(message, str) else ""
        note = loans.note_of(node, loan)
        if note:
            document["note"] = note
    return document


async def _read(node: Node, ref: Ref) -> Loan:
    async with node.db.transaction() as conn:
        loan = await loans.read_loan(conn, ref, place_today())
    if loan is None:
        raise coop_error(NotFound(f"no loan {ref} is known to this node"))
    return loan


@describe(
    coop_operation(
        "Ask to borrow an item (of any place; the lender's node decides)",
        Answer(201, "Requested.", _LOAN),
        body=_REQUEST,
        token=True,
        errors=(404,),
    )
)
async def create_loan(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    document = await read_json(request, node.settings.max_body_bytes)
    with answering():
        wanted = loans.parse_request(document)
        ref = await loans.request_loan(node, wanted)
    return JSONResponse(loan_json(node, await _read(node, ref), private=True), status_code=201)


@describe(
    coop_operation(
        "This node's loans: those it asked and those of its items",
        Answer(200, "One page.", obj(("items",), items={"type": "array", "items": _LOAN})),
        query=(role_param((BORROWER, LENDER)), *paging_params(100, reads.MAX_LIST)),
        optional_token=True,
        errors=(400,),
    )
)
async def list_loans(request: Request) -> Response:
    node = node_of(request)
    private = await token_given(request)
    role = choice_param(request, "role", (BORROWER, LENDER))
    limit, offset = paging(request.query_params, 100, reads.MAX_LIST)
    today = place_today()
    async with node.db.transaction() as conn:
        found = once_each(
            [
                await loans.list_loans(conn, node, side, today, limit=limit, offset=offset)
                for side in ((role,) if role else (BORROWER, LENDER))
            ]
        )
    return JSONResponse({"items": [loan_json(node, loan, private=private) for loan in found]})


@describe(coop_operation("One loan", Answer(200, "The loan.", _LOAN), optional_token=True))
async def get_loan(request: Request) -> Response:
    node = node_of(request)
    private = await token_given(request)
    loan = await _read(node, path_ref(request))
    return JSONResponse(loan_json(node, loan, private=private))


@describe(
    coop_operation(
        "A step of a loan: the lender approves, declines, checks out, takes back; either"
        " side cancels",
        Answer(200, "The loan after the step.", _LOAN),
        body=_NOTE,
        body_required=False,
        token=True,
    )
)
async def loan_action(request: Request) -> Response:
    node, ref, body = await step(request, ("message",))
    action = request.path_params["action"]
    note = text_field(body, "message", loans.MESSAGE_CHARS)
    with answering():
        outcome = await loans.act(node, ref, action, note=note)
    loan = await _read(node, ref)
    if outcome.refused is not None:
        # The refusal is written (declined ``unavailable``): say so, with the loan.
        refused = outcome.refused
        raise ApiError(
            refused.status,
            refused.code,
            refused.message,
            **refused.extra,
            loan=loan_json(node, loan, private=True),
        )
    return JSONResponse(loan_json(node, loan, private=True))


# -- bookings and lending rules ---------------------------------------------------------


@describe(
    coop_operation(
        "When an item is booked (approved loans and the lender's own bookings)",
        Answer(
            200,
            "The booked periods.",
            obj(
                ("items",),
                items={
                    "type": "array",
                    "items": obj(
                        ("start", "end", "quantity"),
                        start={"type": "string"},
                        end={"type": "string"},
                        quantity={"type": "integer"},
                    ),
                },
            ),
        ),
        query=(
            Param(
                "equipment", {"$ref": "urn:papi:ref"}, "The item: '<origin>/<oid>'.", required=True
            ),
        ),
        errors=(400, 404),
    )
)
async def bookings(request: Request) -> Response:
    value = request.query_params.get("equipment") or ""
    try:
        item = Ref.parse(value)
    except ValueError:
        raise ApiError(
            400, "bad_request", "equipment must be '<origin>/<oid>' of an equipment item",
            field="equipment",
        ) from None  # fmt: skip
    async with node_of(request).db.transaction() as conn:
        known = await reads.current(conn, item.origin, "equipment", item.oid)
        periods = await loans.bookings_of(conn, item)
    if known is None and not periods:
        raise ApiError(404, "not_found", f"no equipment item {item} is known to this node")
    return JSONResponse({"items": [loans.period_json(period) for period in periods]})


async def _rule(node: Node, oid: str) -> dict[str, Any]:
    async with node.db.transaction() as conn:
        if await reads.current(conn, node.origin, "equipment", oid) is None:
            raise ApiError(404, "not_found", f"no equipment item {oid!r} on this node")
        automatic = await rows.auto_approves(conn, oid)
    return {"equipment": f"{node.origin}/{oid}", "auto_approve": automatic}


@describe(
    coop_operation(
        "Whether this node approves loans of its item automatically",
        Answer(200, "The rule.", _RULE),
        token=True,
    )
)
async def get_loan_rules(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    return JSONResponse(await _rule(node, request.path_params["oid"]))


@describe(
    coop_operation(
        "Approve loans of an item automatically, or not",
        Answer(200, "The rule.", _RULE),
        body={
            **obj(
                ("auto_approve",), auto_approve={"type": "boolean"}, equipment={"type": "string"}
            ),
            "additionalProperties": False,
        },
        token=True,
    )
)
async def put_loan_rules(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    oid = request.path_params["oid"]
    document = await object_body(request, node, ("auto_approve", "equipment"))
    value = document.get("auto_approve")
    if not isinstance(value, bool):
        raise ApiError(
            422, "invalid", "'auto_approve' must be true or false", field="auto_approve",
            keyword="type", limit="boolean",
        )  # fmt: skip
    with answering():
        await loans.set_auto_approve(node, oid, value)
    return JSONResponse(await _rule(node, oid))


def routes() -> list[Route]:
    register_convertors()
    loan = "/api/v1/loans/{origin:origin}/{oid:oid}"
    rules = "/api/v1/equipment/{oid:oid}/loan-rules"
    return [
        Route("/api/v1/loans", create_loan, methods=["POST"], name="api.loans"),
        Route("/api/v1/loans", list_loans, methods=["GET"], name="api.loans"),
        Route(loan, get_loan, methods=["GET"], name="api.loan"),
        Route(
            loan + "/{action:loan_action}", loan_action, methods=["POST"], name="api.loan.action"
        ),
        Route("/api/v1/bookings", bookings, methods=["GET"], name="api.bookings"),
        Route(rules, get_loan_rules, methods=["GET"], name="api.loan_rules"),
        Route(rules, put_loan_rules, methods=["PUT"], name="api.loan_rules"),
    ]
