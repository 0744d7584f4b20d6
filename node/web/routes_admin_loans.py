"""The loans in /admin: one page per loan (``/admin/loans/{origin}/{oid}``, where the
notification mails link), its actions as buttons, the form that asks another place for
a loan (``/admin/loans/new``, also on the item's public page for a logged-in animator),
and the lending page of each of this place's items (its calendar and its rule).

Everything goes through ``cooperation.loans``, as through the JSON API; the contact of
the borrower is shown here because the page needs a logged-in session.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.cooperation import LoanState, Period, Ref

from ..convertors import register_convertors
from ..cooperation import loans, reads, rows
from ..cooperation.errors import CoopError, Invalid, NotFound, Unavailable
from ..cooperation.session import place_today
from ..runtime import node_of
from ..services.log import ClockSkew, LogRecovering
from .admin_base import admin_page, error_page, login_required, with_form
from .coop_forms import form_day, path_ref, refusal_message
from .fields import FieldError
from .i18n import N_
from .routes_admin_coop import back_to
from .sessions import flash
from .urls import path_for

#: The request form's fields, in the order of the page (names as sent by the form).
FORM_FIELDS = (
    "equipment", "quantity", "start", "end", "message",
    "contact_name", "contact_email", "contact_phone",
)  # fmt: skip

#: What the form says of each refusal: (field, keyword) -> message id (values: limit).
MESSAGES = {
    ("quantity", "type"): N_("Give a number of units."),
    ("quantity", "minimum"): N_("Give a number of units from 1 to the item's quantity."),
    ("quantity", "maximum"): N_("This item has %(limit)s unit(s)."),
    ("start", "format"): N_("Enter a date, for example 05/12/2026."),
    ("end", "format"): N_("Enter a date, for example 05/12/2026."),
    ("start", "required"): N_("Enter a date, for example 05/12/2026."),
    ("end", "required"): N_("Enter a date, for example 05/12/2026."),
    ("start", "minimum"): N_("The first day cannot be in the past."),
    ("end", "notBefore"): N_("The last day must not be before the first."),
    ("end", "maxDays"): N_("A loan lasts at most %(limit)s days."),
    ("message", "maxLength"): N_("At most %(limit)s characters."),
    ("contact.name", "required"): N_("Give the name of the person to contact."),
    ("contact.name", "maxLength"): N_("At most %(limit)s characters."),
    ("contact.email", "required"): N_("Give an e-mail address or a phone number."),
    ("contact.email", "format"): N_("Enter a valid e-mail address."),
    ("contact.email", "maxLength"): N_("At most %(limit)s characters."),
    ("contact.phone", "format"): N_("Enter a valid phone number."),
    ("contact.phone", "maxLength"): N_("At most %(limit)s characters."),
}


def _document(form: FormData) -> dict[str, Any]:
    """The form as the body of ``POST /api/v1/loans`` (one rule for both)."""
    values = {name: str(form.get(name) or "") for name in FORM_FIELDS}
    quantity: Any = values["quantity"].strip()
    if quantity.isdigit():
        quantity = int(quantity)
    return {
        "equipment": values["equipment"].strip(),
        "quantity": quantity,
        "start": form_day(values["start"]),
        "end": form_day(values["end"]),
        "message": values["message"],
        "contact": {
            "name": values["contact_name"],
            "email": values["contact_email"].strip(),
            "phone": values["contact_phone"].strip(),
        },
    }


def _field_error(exc: Invalid) -> tuple[str, FieldError]:
    field = str(exc.extra.get("field") or "")
    keyword = str(exc.extra.get("keyword") or "")
    message = refusal_message(MESSAGES, field, keyword)
    name = (
        field.replace(".", "_")
        if field in ("contact.name", "contact.email", "contact.phone")
        else field
    )
    return name, FieldError(message, {"limit": exc.extra.get("limit", "")})


async def _item_context(request: Request, equipment: str) -> dict[str, Any]:
    """The item asked for and its known bookings, when ``equipment`` names one."""
    try:
        ref = Ref.parse(equipment)
    except ValueError:
        return {"item": None, "busy": []}
    async with node_of(request).db.transaction() as conn:
        item = await reads.current(conn, ref.origin, "equipment", ref.oid)
        busy = await loans.bookings_of(conn, ref)
        names = await reads.place_names(conn, [ref.origin])
    return {
        "item": item,
        "item_ref": str(ref),
        "lender_name": names.get(ref.origin, ref.origin),
        "busy": upcoming(busy),
    }


def upcoming(periods: list[Period]) -> list[Period]:
    today = place_today()
    return [period for period in periods if period.end >= today]


async def _request_page(
    request: Request,
    values: dict[str, str],
    errors: dict[str, FieldError],
    *,
    conflicts: list[Period] | None = None,
    status: int = 200,
) -> Response:
    return await admin_page(
        request,
        "admin/loan_request.html",
        {
            "values": values,
            "errors": errors,
            "conflicts": conflicts or [],
            **await _item_context(request, values.get("equipment", "")),
        },
        status=status,
    )


@login_required
async def request_form(request: Request) -> Response:
    equipment = request.query_params.get("equipment", "")
    return await _request_page(request, {"equipment": equipment, "quantity": "1"}, {})


@login_required
@with_form
async def request_save(request: Request, form: FormData) -> Response:
    node = node_of(request)
    values = {name: str(form.get(name) or "") for name in FORM_FIELDS}
    try:
        wanted = loans.parse_request(_document(form))
        if wanted.start < place_today():
            raise Invalid("'start' is in the past", field="start", keyword="minimum")
        ref = await loans.request_loan(node, wanted)
    except Invalid as exc:
        name, error = _field_error(exc)
        return await _request_page(request, values, {name: error}, status=400)
    except NotFound:
        error = FieldError(
            N_(
                "This item is not known to this node (yet): try again after the next"
                " synchronisation."
            )
        )
        return await _request_page(request, values, {"": error}, status=404)
    except Unavailable as exc:
        periods = [
            Period(date.fromisoformat(p["start"]), date.fromisoformat(p["end"]), p["quantity"])
            for p in exc.extra.get("conflicts", [])
        ]
        error = FieldError(
            N_(
                "The item does not have that many units free on these days: see the booked"
                " periods below."
            )
        )
        return await _request_page(request, values, {"": error}, conflicts=periods, status=409)
    except (LogRecovering, ClockSkew) as exc:
        error = FieldError(N_("The server refused the form: %(detail)s"), {"detail": str(exc)})
        return await _request_page(request, values, {"": error}, status=409)
    flash(request, N_("Your loan request is sent. You will be told of the lender's answer."))
    return RedirectResponse(
        path_for(request, "admin.loan", origin=ref.origin, oid=ref.oid), status_code=303
    )


# -- one loan ---------------------------------------------------------------------------


async def _loan_page(request: Request, ref: Ref, status: int = 200) -> Response:
    node = node_of(request)
    async with node.db.transaction() as conn:
        loan = await loans.read_loan(conn, ref, place_today())
    if loan is None:
        return await error_page(
            request,
            404,
            N_("Page not found"),
            N_("This loan is not known to this node, or its data was deleted after its end."),
        )
    opened = loans.contact_of(node, loan) or {}
    contact = opened.get("contact") if isinstance(opened.get("contact"), dict) else {}
    return await admin_page(
        request,
        "admin/loan.html",
        {
            "loan": loan,
            "row": loans.loan_row(node, loan),
            "roles": loan.roles(node),
            "contact": contact,
            "message": opened.get("message") if isinstance(opened.get("message"), str) else "",
            "note": loans.note_of(node, loan),
        },
        status=status,
    )


@login_required
async def loan_page(request: Request) -> Response:
    return await _loan_page(request, path_ref(request))


@login_required
@with_form
async def loan_action(request: Request, form: FormData) -> Response:
    node = node_of(request)
    ref, action = path_ref(request), request.path_params["action"]
    page = path_for(request, "admin.loan", origin=ref.origin, oid=ref.oid)
    note = str(form.get("message") or "")
    try:
        outcome = await loans.act(node, ref, action, note=note)
    except NotFound:
        return await _loan_page(request, ref, 404)
    except CoopError as exc:
        flash(request, N_("This action is not possible: %(detail)s"), detail=exc.message)
        return RedirectResponse(back_to(request, form, page), status_code=303)
    except (LogRecovering, ClockSkew) as exc:
        flash(request, N_("The server refused the form: %(detail)s"), detail=str(exc))
        return RedirectResponse(back_to(request, form, page), status_code=303)
    if outcome.refused is not None:
        flash(
            request,
            N_(
                "The item no longer has these units free on these days: the request is"
                " declined (unavailable)."
            ),
        )
    else:
        flash(
            request,
            N_("Done: the loan is now “%(state)s”."),
            state=loans.STATE_LABELS[outcome.state],
        )
    return RedirectResponse(back_to(request, form, page), status_code=303)


# -- lending an item --------------------------------------------------------------------


async def _lending_page(request: Request, status: int = 200) -> Response:
    node = node_of(request)
    oid = request.path_params["oid"]
    today = place_today()
    async with node.db.transaction() as conn:
        item = await reads.current(conn, node.origin, "equipment", oid)
        if item is None:
            return await error_page(
                request,
                404,
                N_("Page not found"),
                N_("This page does not exist, or what it showed has been deleted."),
            )
        busy = await loans.bookings_of(conn, item.ref)
        automatic = await rows.auto_approves(conn, oid)
        lent = [
            loans.loan_row(node, loan)
            for loan in await loans.list_loans(
                conn, node, loans.LENDER, today, limit=reads.MAX_LIST
            )
            if loan.conversation.thing == item.ref
            and loan.state not in (LoanState.declined, LoanState.cancelled, LoanState.returned)
        ]
    return await admin_page(
        request,
        "admin/lending.html",
        {
            "item": item,
            "quantity": loans.item_quantity(item),
            "busy": upcoming(busy),
            "auto_approve": automatic,
            "rows": lent,
            "here": path_for(request, "admin.lending", oid=oid),
        },
        status=status,
    )


@login_required
async def lending_page(request: Request) -> Response:
    return await _lending_page(request)


@login_required
@with_form
async def lending_save(request: Request, form: FormData) -> Response:
    node = node_of(request)
    oid = request.path_params["oid"]
    automatic = form.get("auto_approve") == "1"
    try:
        await loans.set_auto_approve(node, oid, automatic)
    except NotFound:
        return await _lending_page(request, 404)
    flash(
        request,
        N_("Requests that fit are now approved automatically.")
        if automatic
        else N_("Each request now waits for an animator's answer."),
    )
    return RedirectResponse(path_for(request, "admin.lending", oid=oid), status_code=303)


def routes() -> list[Route]:
    register_convertors()
    loan = "/admin/loans/{origin:origin}/{oid:oid}"
    lending = "/admin/equipment/{oid:admin_oid}/lending"
    return [
        Route("/admin/loans/new", request_form, methods=["GET"], name="admin.loans.new"),
        Route("/admin/loans/new", request_save, methods=["POST"], name="admin.loans.new"),
        Route(loan, loan_page, methods=["GET"], name="admin.loan"),
        Route(
            loan + "/{action:loan_action}", loan_action, methods=["POST"], name="admin.loan.action"
        ),
        Route(lending, lending_page, methods=["GET"], name="admin.lending"),
        Route(lending, lending_save, methods=["POST"], name="admin.lending"),
    ]
