"""Registrations in /admin: one page per registration
(``/admin/registrations/{origin}/{oid}``, where the notification mails link), its
cancellation as a button, and the form that registers participants for an event
(``/admin/registrations/new?event=<ref>``, also on the event's public page for a
logged-in animator: the registration is made on this node, the registrant's).

Everything goes through ``cooperation.registrations``, as through the JSON API; the
participants are shown here because the page needs a logged-in session.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.cooperation import Ref
from federation.timeutil import parse_ts

from ..convertors import register_convertors
from ..cooperation import reads, registrations
from ..cooperation.errors import CoopError, Invalid, NotFound
from ..cooperation.registrations import EventOver, OverCapacity
from ..cooperation.views import reason_label
from ..db import Database
from ..runtime import node_of
from ..services.log import ClockSkew, LogRecovering
from .admin_base import admin_page, error_page, login_required, with_form
from .coop_forms import path_ref, refusal_message
from .fields import FieldError
from .forms import parse_local_datetime
from .i18n import N_
from .routes_admin_coop import back_to
from .sessions import flash
from .urls import path_for

#: The form's fields (names as sent by the form).
FORM_FIELDS = ("event", "seats", "participants", "message", "occurrence")
#: One participant per line: ``Name, e-mail`` or ``Name <e-mail>`` (or a name alone).
_ANGLE = re.compile(r"^(.*?)<([^<>]*)>\s*$")
#: A participant's field in the API's errors: ``participants[3].email``.
_PARTICIPANT_FIELD = re.compile(r"^participants\[(\d+)\]\.?(\w*)$")

#: What the form says of each refusal: (field, keyword) -> message id (values: limit,
#: line).
MESSAGES = {
    ("seats", "type"): N_("Give a number of seats."),
    ("seats", "required"): N_("Give a number of seats."),
    ("seats", "minimum"): N_("Give a number of seats from 1 to %(limit)s."),
    ("seats", "maximum"): N_("Give a number of seats from 1 to %(limit)s."),
    ("participants", "maxItems"): N_("More participants than seats (at most %(limit)s)."),
    ("participants", "maxLength"): N_("Too many participants or too long a message."),
    ("participants.name", "required"): N_("Line %(line)s: give the participant's name."),
    ("participants.name", "maxLength"): N_("Line %(line)s: at most %(limit)s characters."),
    ("participants.email", "format"): N_("Line %(line)s: enter a valid e-mail address."),
    ("participants.email", "maxLength"): N_("Line %(line)s: at most %(limit)s characters."),
    ("message", "maxLength"): N_("At most %(limit)s characters."),
    ("occurrence", "required"): N_("Choose the session (its date and time)."),
    ("occurrence", "format"): N_("Enter a date and time, for example 10/03/2026 14:00."),
    ("occurrence", "occurrence"): N_("This is not the start of a session of this event."),
    ("occurrence", "notRecurring"): N_("This event has no sessions to choose from."),
}


def participant_lines(text: str) -> list[dict[str, str]]:
    """The participants typed one per line (empty lines skipped)."""
    people = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _ANGLE.match(line)
        if match:
            name, email = match.group(1), match.group(2)
        else:
            name, separator, rest = max(
                (line.rpartition(","), line.rpartition(";")), key=lambda part: len(part[0])
            )
            if separator and "@" in rest:
                email = rest
            else:
                name, email = line, ""
        person = {"name": name.strip().strip(",;").strip()}
        if email.strip():
            person["email"] = email.strip()
        people.append(person)
    return people


def _occurrence(text: str) -> str | None:
    """The session as typed (a date-time field sends ``2026-03-10T14:00``), in RFC 3339
    with the Paris offset of that day; the text itself when it cannot be read (the
    rules say why)."""
    text = text.strip()
    if not text:
        return None
    value = parse_local_datetime(text)
    if value is None:
        return text
    return parse_ts(value).isoformat(timespec="seconds")


def _document(form: FormData) -> dict[str, Any]:
    """The form as the body of ``POST /api/v1/registrations`` (one rule for both)."""
    values = {name: str(form.get(name) or "") for name in FORM_FIELDS}
    document: dict[str, Any] = {
        "event": values["event"].strip(),
        "participants": participant_lines(values["participants"]),
        "message": values["message"],
    }
    seats = values["seats"].strip()
    if seats:
        document["seats"] = int(seats) if seats.isdigit() else seats
    occurrence = _occurrence(values["occurrence"])
    if occurrence is not None:
        document["occurrence"] = occurrence
    return document


def _field_error(exc: Invalid) -> tuple[str, FieldError]:
    field = str(exc.extra.get("field") or "")
    keyword = str(exc.extra.get("keyword") or "")
    values: dict[str, Any] = {"limit": exc.extra.get("limit", "")}
    match = _PARTICIPANT_FIELD.match(field)
    if match:
        values["line"] = int(match.group(1)) + 1
        field = f"participants.{match.group(2)}" if match.group(2) else "participants"
    message = refusal_message(MESSAGES, field, keyword)
    name = field.partition(".")[0] if field.startswith("participants") else field
    return name, FieldError(message, values)


async def event_context(db: Database, event: str) -> dict[str, Any]:
    """The event to register for, its organiser and seats left, when ``event`` names
    one this node holds."""
    try:
        ref = Ref.parse(event)
    except ValueError:
        return {"event": None}
    async with db.transaction() as conn:
        found = await reads.current(conn, ref.origin, "event", ref.oid)
        names = await reads.place_names(conn, [ref.origin])
        left = (
            await registrations.seats_left_of(conn, [(ref, found.payload, None)])
            if found is not None and not registrations.is_recurring(found.payload)
            else {}
        )
    return {
        "event": found,
        "event_ref": str(ref),
        "organiser_name": names.get(ref.origin, ref.origin),
        "seats_left": left.get((ref, None)),
        "recurring": found is not None and registrations.is_recurring(found.payload),
    }


async def _request_page(
    request: Request, values: dict[str, str], errors: dict[str, FieldError], status: int = 200
) -> Response:
    return await admin_page(
        request,
        "admin/registration_request.html",
        {
            "values": values,
            "errors": errors,
            **await event_context(node_of(request).db, values.get("event", "")),
        },
        status=status,
    )


@login_required
async def request_form(request: Request) -> Response:
    event = request.query_params.get("event", "")
    return await _request_page(request, {"event": event, "seats": "1"}, {})


@login_required
@with_form
async def request_save(request: Request, form: FormData) -> Response:
    node = node_of(request)
    values = {name: str(form.get(name) or "") for name in FORM_FIELDS}
    try:
        wanted = registrations.parse_request(_document(form))
        written = await registrations.request_registration(node, wanted)
    except Invalid as exc:
        name, error = _field_error(exc)
        return await _request_page(request, values, {name: error}, status=400)
    except NotFound:
        error = FieldError(
            N_(
                "This event is not known to this node (yet): try again after the next"
                " synchronisation."
            )
        )
        return await _request_page(request, values, {"": error}, status=404)
    except EventOver:
        error = FieldError(N_("This event is over: registrations are closed."))
        return await _request_page(request, values, {"": error}, status=409)
    except OverCapacity as exc:
        error = FieldError(
            N_("This event has %(capacity)s seat(s) in all: register fewer people."),
            {"capacity": exc.extra.get("capacity", "")},
        )
        return await _request_page(request, values, {"seats": error}, status=409)
    except (LogRecovering, ClockSkew) as exc:
        error = FieldError(N_("The server refused the form: %(detail)s"), {"detail": str(exc)})
        return await _request_page(request, values, {"": error}, status=409)
    flash(
        request,
        N_(
            "The registration is sent. The organiser's node confirms it while seats remain,"
            " else puts it on the waiting list: you will see its answer here."
        ),
    )
    ref = written.ref
    return RedirectResponse(
        path_for(request, "admin.registration", origin=ref.origin, oid=ref.oid), status_code=303
    )


# -- one registration -------------------------------------------------------------------


async def _registration_page(request: Request, ref: Ref, status: int = 200) -> Response:
    node = node_of(request)
    async with node.db.transaction() as conn:
        registration = await registrations.read_registration(conn, ref)
    if registration is None:
        return await error_page(
            request,
            404,
            N_("Page not found"),
            N_(
                "This registration is not known to this node, or its data was deleted after"
                " the event."
            ),
        )
    opened = registrations.participants_of(node, registration)
    message = opened.get("message") if opened else None
    return await admin_page(
        request,
        "admin/registration.html",
        {
            "registration": registration,
            "row": registrations.registration_row(node, registration),
            "roles": registration.roles(node),
            "participants": registrations.participant_list(opened),
            "message": message if isinstance(message, str) else "",
            "reason_words": reason_label(registration.reason),
        },
        status=status,
    )


@login_required
async def registration_page(request: Request) -> Response:
    return await _registration_page(request, path_ref(request))


@login_required
@with_form
async def registration_action(request: Request, form: FormData) -> Response:
    node = node_of(request)
    ref = path_ref(request)
    page = path_for(request, "admin.registration", origin=ref.origin, oid=ref.oid)
    try:
        state = await registrations.cancel(node, ref)
    except NotFound:
        return await _registration_page(request, ref, 404)
    except CoopError as exc:
        flash(request, N_("This action is not possible: %(detail)s"), detail=exc.message)
        return RedirectResponse(back_to(request, form, page), status_code=303)
    except (LogRecovering, ClockSkew) as exc:
        flash(request, N_("The server refused the form: %(detail)s"), detail=str(exc))
        return RedirectResponse(back_to(request, form, page), status_code=303)
    flash(
        request,
        N_("Done: the registration is now “%(state)s”."),
        state=registrations.STATE_LABELS[state],
    )
    return RedirectResponse(back_to(request, form, page), status_code=303)


def routes() -> list[Route]:
    register_convertors()
    one = "/admin/registrations/{origin:origin}/{oid:oid}"
    new = "/admin/registrations/new"
    return [
        Route(new, request_form, methods=["GET"], name="admin.registrations.new"),
        Route(new, request_save, methods=["POST"], name="admin.registrations.new"),
        Route(one, registration_page, methods=["GET"], name="admin.registration"),
        Route(
            one + "/{action:registration_action}",
            registration_action,
            methods=["POST"],
            name="admin.registration.action",
        ),
    ]
