"""Help requests in /admin: the requests of the network (those matching this place's
skills first, nearest first, each with a "Proposer mon aide" form), this place's own
requests with their offers and "Accepter" buttons, its offers; the form that asks the
network for help (``/admin/help-requests/new``); one page per request
(``/admin/help-requests/{origin}/{oid}``, where the notification mails link).

Everything goes through ``cooperation.help_requests``, as through the JSON API; the
offers' messages are shown here because the pages need a logged-in session.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.cooperation import Ref

from ..convertors import register_convertors
from ..cooperation import help_requests
from ..cooperation.errors import CoopError, Invalid, NotFound
from ..cooperation.session import place_today
from ..runtime import Node, node_of
from ..services.log import ClockSkew, LogRecovering
from .admin_base import admin_page, error_page, login_required, with_form
from .coop_forms import form_day, path_ref, refusal_message
from .fields import FieldError
from .i18n import N_
from .routes_admin_coop import back_to
from .sessions import flash
from .urls import path_for

FORM_FIELDS = ("theme", "title", "description", "from", "to")

#: What the request form says of each refusal: (field, keyword) -> message id.
MESSAGES = {
    ("theme", "required"): N_("Choose a theme."),
    ("theme", "enum"): N_("Choose a theme."),
    ("title", "required"): N_("Give a title."),
    ("title", "maxLength"): N_("At most %(limit)s characters."),
    ("description", "maxLength"): N_("At most %(limit)s characters."),
    ("title", "personalData"): N_(
        "No e-mail address or phone number here: the request is public. Offers reach you"
        " with a sealed message."
    ),
    ("description", "personalData"): N_(
        "No e-mail address or phone number here: the request is public. Offers reach you"
        " with a sealed message."
    ),
    ("from", "format"): N_("Enter a date, for example 05/12/2026."),
    ("to", "format"): N_("Enter a date, for example 05/12/2026."),
    ("from", "required"): N_("Enter a date, for example 05/12/2026."),
    ("to", "required"): N_("Enter a date, for example 05/12/2026."),
    ("from", "minimum"): N_("The first day cannot be in the past."),
    ("to", "notBefore"): N_("The last day must not be before the first."),
    ("to", "maxDays"): N_("A request spans at most %(limit)s days."),
}


def _common(node: Node, today: date) -> dict[str, Any]:
    """What the help pages' templates (``admin/_help.html``) use besides their data."""
    return {
        "node": node,
        "node_origin": node.origin,
        "today": today,
        "state_labels": help_requests.STATE_LABELS,
        "offer_labels": help_requests.OFFER_LABELS,
        "action_labels": help_requests.ACTION_LABELS,
    }


def _page_of(request: Request, ref: Ref) -> str:
    return path_for(request, "admin.help_request", origin=ref.origin, oid=ref.oid)


# -- the overview -----------------------------------------------------------------------


@login_required
async def overview(request: Request) -> Response:
    node = node_of(request)
    today = place_today()
    network = await help_requests.network_requests(node, today, matching=False)
    others = [found for found in network if found.ref.origin != node.origin]
    async with node.db.transaction() as conn:
        mine = await help_requests.asked_by(conn, node)
        offered = await help_requests.offered_by(conn, node)
    return await admin_page(
        request,
        "admin/help_requests.html",
        {
            "matching": [found for found in others if found.matching],
            "others": [found for found in others if not found.matching],
            "mine": mine,
            "offered": offered,
            "messages": _messages(node, [*mine, *offered]),
            **_common(node, today),
            "here": path_for(request, "admin.help_requests"),
        },
    )


def _messages(node: Node, found: list[help_requests.HelpRequest]) -> dict[str, str]:
    """The messages of the offers this node can open, by offer id."""
    messages = {}
    for item in found:
        for offer in item.offers:
            message = help_requests.message_of(node, offer)
            if message:
                messages[str(offer.ref)] = message
    return messages


# -- asking -----------------------------------------------------------------------------


async def _ask_page(
    request: Request, values: dict[str, str], errors: dict[str, FieldError], status: int = 200
) -> Response:
    return await admin_page(
        request,
        "admin/help_request_new.html",
        {"values": values, "errors": errors, "themes": help_requests.themes()},
        status=status,
    )


@login_required
async def ask_form(request: Request) -> Response:
    theme = request.query_params.get("theme", "")
    return await _ask_page(request, {"theme": theme if theme in help_requests.themes() else ""}, {})


@login_required
@with_form
async def ask_save(request: Request, form: FormData) -> Response:
    node = node_of(request)
    values = {name: str(form.get(name) or "") for name in FORM_FIELDS}
    document: dict[str, Any] = {
        "title": values["title"],
        "description": values["description"],
        "from": form_day(values["from"]),
        "to": form_day(values["to"]),
    }
    if values["theme"]:
        document["theme"] = values["theme"]
    try:
        wanted = help_requests.parse_request(document, place_today())
        ref = await help_requests.ask_help(node, wanted)
    except Invalid as exc:
        field = str(exc.extra.get("field") or "")
        keyword = str(exc.extra.get("keyword") or "")
        error = FieldError(
            refusal_message(MESSAGES, field, keyword), {"limit": exc.extra.get("limit", "")}
        )
        return await _ask_page(request, values, {field: error}, status=400)
    except (LogRecovering, ClockSkew) as exc:
        error = FieldError(N_("The server refused the form: %(detail)s"), {"detail": str(exc)})
        return await _ask_page(request, values, {"": error}, status=409)
    flash(request, N_("Your request is published: the places of the network can offer help."))
    return RedirectResponse(_page_of(request, ref), status_code=303)


# -- one request ------------------------------------------------------------------------


async def _request_page(
    request: Request, ref: Ref, *, status: int = 200, offer_error: FieldError | None = None
) -> Response:
    node = node_of(request)
    async with node.db.transaction() as conn:
        found = await help_requests.read_help(conn, node, ref)
    if found is None:
        return await error_page(
            request,
            404,
            N_("Page not found"),
            N_("This help request is not known to this node (yet)."),
        )
    [found] = await help_requests.with_distances(node, [found])
    today = place_today()
    return await admin_page(
        request,
        "admin/help_request.html",
        {
            "found": found,
            "row": help_requests.help_row(node, found, today),
            "roles": found.roles(node),
            "actions": found.actions(node, today),
            "messages": _messages(node, [found]),
            "mine": found.offer_of(node.origin),
            "offer_error": offer_error,
            **_common(node, today),
            "here": _page_of(request, ref),
        },
        status=status,
    )


@login_required
async def request_page(request: Request) -> Response:
    return await _request_page(request, path_ref(request))


async def _refused(request: Request, form: FormData, page: str, exc: Exception) -> Response:
    detail = exc.message if isinstance(exc, CoopError) else str(exc)
    if isinstance(exc, CoopError):
        flash(request, N_("This action is not possible: %(detail)s"), detail=detail)
    else:
        flash(request, N_("The server refused the form: %(detail)s"), detail=detail)
    return RedirectResponse(back_to(request, form, page), status_code=303)


@login_required
@with_form
async def offer_save(request: Request, form: FormData) -> Response:
    node = node_of(request)
    ref = path_ref(request)
    page = _page_of(request, ref)
    message = str(form.get("message") or "")
    try:
        await help_requests.offer_help(node, ref, message)
    except NotFound:
        return await _request_page(request, ref, status=404)
    except Invalid as exc:
        keyword = exc.extra.get("keyword")
        error = FieldError(
            N_("Write a message: what you offer and how to reach you.")
            if keyword == "required"
            else N_("At most %(limit)s characters."),
            {"limit": help_requests.MESSAGE_CHARS},
        )
        return await _request_page(request, ref, status=400, offer_error=error)
    except (CoopError, LogRecovering, ClockSkew) as exc:
        return await _refused(request, form, page, exc)
    flash(request, N_("Your offer is sent: the asking place will be told."))
    return RedirectResponse(back_to(request, form, page), status_code=303)


@login_required
@with_form
async def accept_offer(request: Request, form: FormData) -> Response:
    node = node_of(request)
    ref = path_ref(request)
    offer_ref = Ref(request.path_params["offer_origin"], request.path_params["offer_oid"])
    page = _page_of(request, ref)
    try:
        await help_requests.accept(node, ref, offer_ref)
    except NotFound:
        return await _request_page(request, ref, status=404)
    except (CoopError, LogRecovering, ClockSkew) as exc:
        return await _refused(request, form, page, exc)
    flash(request, N_("Offer accepted: the request is closed and the place that offered is told."))
    return RedirectResponse(back_to(request, form, page), status_code=303)


@login_required
@with_form
async def request_action(request: Request, form: FormData) -> Response:
    node = node_of(request)
    ref, action = path_ref(request), request.path_params["action"]
    page = _page_of(request, ref)
    try:
        if action == "cancel":
            await help_requests.cancel(node, ref)
            done = N_("The request is cancelled.")
        else:
            await help_requests.withdraw(node, ref)
            done = N_("Your offer is withdrawn.")
    except NotFound:
        return await _request_page(request, ref, status=404)
    except (CoopError, LogRecovering, ClockSkew) as exc:
        return await _refused(request, form, page, exc)
    flash(request, done)
    return RedirectResponse(back_to(request, form, page), status_code=303)


def routes() -> list[Route]:
    register_convertors()
    base = "/admin/help-requests"
    one = base + "/{origin:origin}/{oid:oid}"
    return [
        Route(base, overview, methods=["GET"], name="admin.help_requests"),
        Route(base + "/new", ask_form, methods=["GET"], name="admin.help_requests.new"),
        Route(base + "/new", ask_save, methods=["POST"], name="admin.help_requests.new"),
        Route(one, request_page, methods=["GET"], name="admin.help_request"),
        Route(one + "/offers", offer_save, methods=["POST"], name="admin.help_request.offer"),
        Route(
            one + "/offers/{offer_origin:origin}/{offer_oid:oid}/accept",
            accept_offer,
            methods=["POST"],
            name="admin.help_request.accept",
        ),
        Route(
            one + "/{action:help_action}",
            request_action,
            methods=["POST"],
            name="admin.help_request.action",
        ),
    ]
