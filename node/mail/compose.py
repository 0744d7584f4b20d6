"""The text of each notification, in French (English message ids through the gettext
catalogue of node/web/locale, like the web pages).

Pure functions: the workflow passes what it knows (titles, names, days, the contact it
opened from the sealed box) and gets a ``Notification``; nothing is read or sent here.
Every text that comes from another place (a title, a name, a message) is made inert:
control characters removed, lengths bounded, names and titles on one line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from federation.cooperation import Ref

from ..web.formatting import format_period
from ..web.i18n import DEFAULT_LANGUAGE, N_, translations

#: The /admin pages of this node about a conversation, by the ref of the request.
LOAN_PAGE = "/admin/loans/{origin}/{oid}"
REGISTRATION_PAGE = "/admin/registrations/{origin}/{oid}"
HELP_REQUEST_PAGE = "/admin/help-requests/{origin}/{oid}"

#: Bounds of what another place's text may take in a mail.
TITLE_CHARS = 120
NAME_CHARS = 120
MESSAGE_CHARS = 4000

LANGUAGE = DEFAULT_LANGUAGE

#: The reason codes of decisions (docs/protocol.md 9.1), in words.
REASONS = {
    "unavailable": N_("the item is not available on these days"),
    "declined_by_lender": N_("declined by the lending place"),
    "cancelled_by_borrower": N_("cancelled by the borrowing place"),
    "cancelled_by_lender": N_("cancelled by the lending place"),
    "item_withdrawn": N_("the item is no longer lent"),
    "full": N_("the event is full"),
    "cancelled_by_registrant": N_("cancelled by the registering place"),
    "cancelled_by_organiser": N_("cancelled by the organiser"),
    "event_cancelled": N_("the event is cancelled"),
    "not_member": N_("trainings are for member places"),
    "no_such_occurrence": N_("this session of the event does not exist"),
    "over_capacity": N_("more seats than the event has"),
    "event_over": N_("the event is over"),
}


@dataclass(frozen=True)
class Contact:
    """The requester's contact, as opened from the sealed box by this node."""

    name: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Participant:
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class Notification:
    """One mail to the place: ``kind`` (e.g. ``loan_requested``), its subject and text,
    and the path of the node's /admin page about it (the link is added when queued)."""

    kind: str
    subject: str
    body: str
    page: str


def _(message: str) -> str:
    return translations(LANGUAGE).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return translations(LANGUAGE).ngettext(singular, plural, count)


# -- loans ------------------------------------------------------------------------------

LOAN_OUTCOMES = ("approved", "declined", "cancelled", "checked_out", "returned", "overdue")
ROLES_OF_LOANS = ("borrower", "lender")


def new_loan_request(
    ref: str,
    *,
    item: str,
    quantity: int,
    start: date | str,
    end: date | str,
    borrower: str,
    contact: Contact | None = None,
    message: str = "",
) -> Notification:
    """To the lender: ``borrower`` (a place's name) asks for ``quantity`` units of
    ``item`` (the equipment's title) from ``start`` to ``end`` (days)."""
    values = _loan_values(item, quantity, start, end, borrower)
    lines = [
        _("%(place)s asks to borrow %(quantity)s × %(item)s from %(start)s to %(end)s.") % values
    ]
    lines += _contact_lines(contact)
    lines += _message_lines(_("Their message:"), message)
    lines += ["", _("Approve or decline the request on this page:")]
    return Notification(
        "loan_requested",
        _("Loan request: %(item)s") % values,
        "\n".join(lines),
        _page(LOAN_PAGE, ref),
    )


def loan_decided(
    ref: str,
    outcome: str,
    *,
    role: str,
    item: str,
    quantity: int,
    start: date | str,
    end: date | str,
    other_place: str,
    reason: str | None = None,
    note: str = "",
    contact: Contact | None = None,
) -> Notification:
    """A step of a loan after the request: ``outcome`` is one of ``LOAN_OUTCOMES``
    (``overdue``: the reminder once the last day is past); ``role`` says which side this
    place is (``borrower`` or ``lender``) and ``other_place`` names the other one.
    ``reason`` is the decision's reason code, ``note`` the lender's note (opened from its
    sealed box), ``contact`` the borrower's contact (for the lender)."""
    _check(outcome, LOAN_OUTCOMES, "outcome")
    _check(role, ROLES_OF_LOANS, "role")
    values = _loan_values(item, quantity, start, end, other_place)
    subjects = {
        "approved": _("Loan approved: %(item)s"),
        "declined": _("Loan declined: %(item)s"),
        "cancelled": _("Loan cancelled: %(item)s"),
        "checked_out": _("Loan checked out: %(item)s"),
        "returned": _("Loan returned: %(item)s"),
        "overdue": _("Loan overdue: %(item)s"),
    }
    if role == "borrower":
        sentences = {
            "approved": _(
                "%(place)s approved your request to borrow %(quantity)s × %(item)s"
                " from %(start)s to %(end)s."
            ),
            "declined": _(
                "%(place)s declined your request to borrow %(quantity)s × %(item)s"
                " from %(start)s to %(end)s."
            ),
            "cancelled": _(
                "Your loan of %(quantity)s × %(item)s from %(place)s, from %(start)s to"
                " %(end)s, is cancelled."
            ),
            "checked_out": _(
                "You took %(quantity)s × %(item)s on loan from %(place)s; it is due back"
                " on %(end)s."
            ),
            "returned": _("The return of %(quantity)s × %(item)s to %(place)s is recorded."),
            "overdue": _(
                "%(quantity)s × %(item)s borrowed from %(place)s was due back on %(end)s:"
                " please bring it back or get in touch with them."
            ),
        }
    else:
        sentences = {
            "approved": _(
                "The loan of %(quantity)s × %(item)s to %(place)s from %(start)s to"
                " %(end)s is approved."
            ),
            "declined": _(
                "The request of %(place)s to borrow %(quantity)s × %(item)s from"
                " %(start)s to %(end)s is declined."
            ),
            "cancelled": _(
                "The loan of %(quantity)s × %(item)s to %(place)s, from %(start)s to"
                " %(end)s, is cancelled."
            ),
            "checked_out": _(
                "%(quantity)s × %(item)s went out on loan to %(place)s; it is due back on %(end)s."
            ),
            "returned": _("%(place)s returned %(quantity)s × %(item)s."),
            "overdue": _(
                "%(quantity)s × %(item)s lent to %(place)s was due back on %(end)s and is"
                " not back yet."
            ),
        }
    lines = [sentences[outcome] % values]
    lines += _reason_lines(reason)
    lines += _contact_lines(contact)
    lines += _message_lines(_("Note from %(place)s:") % values, note)
    lines += ["", _("The loan's page:")]
    return Notification(
        f"loan_{outcome}", subjects[outcome] % values, "\n".join(lines), _page(LOAN_PAGE, ref)
    )


def _loan_values(
    item: str, quantity: int, start: date | str, end: date | str, place: str
) -> dict[str, object]:
    return {
        "item": _line(item, TITLE_CHARS),
        "quantity": int(quantity),
        "start": _day(start),
        "end": _day(end),
        "place": _line(place, NAME_CHARS),
    }


# -- registrations ----------------------------------------------------------------------

REGISTRATION_OUTCOMES = ("confirmed", "waitlisted", "promoted", "cancelled", "declined")
ROLES_OF_REGISTRATIONS = ("registrant", "organiser")


def new_registration(
    ref: str,
    *,
    event: str,
    event_start: datetime | str,
    event_end: datetime | str | None = None,
    seats: int,
    registrant: str,
    participants: Sequence[Participant] = (),
    message: str = "",
    decided: str | None = None,
    position: int | None = None,
) -> Notification:
    """To the organiser: ``registrant`` (a place's name) registers ``seats`` people for
    ``event`` (its title; start and end as RFC 3339 or datetimes). ``decided`` is what
    this node decided at once, if it did (``confirmed``, or ``waitlisted`` at
    ``position``): one mail says both."""
    if decided is not None:
        _check(decided, ("confirmed", "waitlisted", "declined"), "decided")
    values = _registration_values(event, event_start, event_end, seats, registrant)
    lines = [_("%(place)s registers %(seats)s for %(event)s, %(when)s.") % values]
    if decided == "confirmed":
        lines.append(_("The registration is confirmed."))
    elif decided == "waitlisted":
        lines.append(_("The event is full: the registration is on the waiting list."))
        lines += _position_lines(position)
    elif decided == "declined":
        lines.append(_("The registration is declined."))
    lines += _participant_lines(participants)
    lines += _message_lines(_("Their message:"), message)
    lines += ["", _("The registration's page:")]
    return Notification(
        "registration_requested",
        _("New registration: %(event)s") % values,
        "\n".join(lines),
        _page(REGISTRATION_PAGE, ref),
    )


def registration_decided(
    ref: str,
    outcome: str,
    *,
    role: str,
    event: str,
    event_start: datetime | str,
    event_end: datetime | str | None = None,
    seats: int,
    other_place: str,
    position: int | None = None,
    reason: str | None = None,
) -> Notification:
    """A step of a registration: ``outcome`` is one of ``REGISTRATION_OUTCOMES``
    (``promoted``: confirmed from the waiting list; ``waitlisted`` with its
    ``position``, 1 = next); ``role`` says which side this place is (``registrant`` or
    ``organiser``) and ``other_place`` names the other one."""
    _check(outcome, REGISTRATION_OUTCOMES, "outcome")
    _check(role, ROLES_OF_REGISTRATIONS, "role")
    values = _registration_values(event, event_start, event_end, seats, other_place)
    subjects = {
        "confirmed": _("Registration confirmed: %(event)s"),
        "waitlisted": _("Registration on the waiting list: %(event)s"),
        "promoted": _("Registration confirmed from the waiting list: %(event)s"),
        "cancelled": _("Registration cancelled: %(event)s"),
        "declined": _("Registration declined: %(event)s"),
    }
    if role == "registrant":
        sentences = {
            "confirmed": _(
                "%(place)s confirmed your registration (%(seats)s) for %(event)s, %(when)s."
            ),
            "waitlisted": _(
                "%(event)s (%(when)s) at %(place)s is full: your registration (%(seats)s)"
                " is on the waiting list."
            ),
            "promoted": _(
                "Seats were freed: your registration (%(seats)s) for %(event)s, %(when)s,"
                " at %(place)s moves from the waiting list to confirmed."
            ),
            "cancelled": _(
                "Your registration (%(seats)s) for %(event)s, %(when)s, at %(place)s is cancelled."
            ),
            "declined": _(
                "%(place)s declined your registration (%(seats)s) for %(event)s, %(when)s."
            ),
        }
    else:
        sentences = {
            "confirmed": _(
                "The registration of %(place)s (%(seats)s) for %(event)s, %(when)s, is confirmed."
            ),
            "waitlisted": _(
                "%(event)s (%(when)s) is full: the registration of %(place)s (%(seats)s)"
                " is on the waiting list."
            ),
            "promoted": _(
                "Seats were freed: the registration of %(place)s (%(seats)s) for"
                " %(event)s, %(when)s, moves from the waiting list to confirmed."
            ),
            "cancelled": _(
                "The registration of %(place)s (%(seats)s) for %(event)s, %(when)s, is cancelled."
            ),
            "declined": _(
                "The registration of %(place)s (%(seats)s) for %(event)s, %(when)s, is declined."
            ),
        }
    lines = [sentences[outcome] % values]
    if outcome == "waitlisted":
        lines += _position_lines(position)
    lines += _reason_lines(reason)
    lines += ["", _("The registration's page:")]
    return Notification(
        f"registration_{outcome}",
        subjects[outcome] % values,
        "\n".join(lines),
        _page(REGISTRATION_PAGE, ref),
    )


def _registration_values(
    event: str,
    start: datetime | str,
    end: datetime | str | None,
    seats: int,
    place: str,
) -> dict[str, object]:
    count = int(seats)
    return {
        "event": _line(event, TITLE_CHARS),
        "when": format_period(start, end, LANGUAGE),
        "seats": ngettext("%(num)s person", "%(num)s people", count) % {"num": count},
        "place": _line(place, NAME_CHARS),
    }


def _position_lines(position: int | None) -> list[str]:
    if position is None:
        return []
    return [_("Position on the waiting list: %(position)s (1 = next).") % {"position": position}]


def _participant_lines(participants: Sequence[Participant]) -> list[str]:
    lines = []
    for person in participants:
        name = _line(person.name, NAME_CHARS)
        email = _line(person.email, NAME_CHARS)
        text = f"{name} <{email}>" if name and email else name or email
        if text:
            lines.append(f"- {text}")
    return ["", _("Participants:"), *lines] if lines else []


# -- help -------------------------------------------------------------------------------


def new_help_offer(
    request_ref: str, *, request_title: str, offerer: str, message: str = ""
) -> Notification:
    """To the asker: ``offerer`` (a place's name) offers to help with its help request."""
    values = {"title": _line(request_title, TITLE_CHARS), "place": _line(offerer, NAME_CHARS)}
    lines = [_('%(place)s offers to help with your request "%(title)s".') % values]
    lines += _message_lines(_("Their message:"), message)
    lines += ["", _("Accept an offer on the page of your request:")]
    return Notification(
        "help_offer",
        _("Offer of help: %(title)s") % values,
        "\n".join(lines),
        _page(HELP_REQUEST_PAGE, request_ref),
    )


def help_offer_accepted(
    request_ref: str,
    *,
    request_title: str,
    asker: str,
    contact: Contact | None = None,
) -> Notification:
    """To the offerer: ``asker`` accepted its offer of help."""
    values = {"title": _line(request_title, TITLE_CHARS), "place": _line(asker, NAME_CHARS)}
    lines = [
        _('%(place)s accepted your offer of help for "%(title)s". Get in touch to organise it.')
        % values
    ]
    lines += _contact_lines(contact)
    lines += ["", _("The request's page:")]
    return Notification(
        "help_offer_accepted",
        _("Your offer of help is accepted: %(title)s") % values,
        "\n".join(lines),
        _page(HELP_REQUEST_PAGE, request_ref),
    )


# -- a test mail and the common parts ----------------------------------------------------


def trial_mail(place: str) -> Notification:
    """What ``papi mail test`` and the /admin button send."""
    return Notification(
        "test",
        _("Test mail from papi-node"),
        _(
            "This test mail shows that the node of %(place)s can send its notifications"
            " (new requests, decisions, seats freed on a waiting list)."
        )
        % {"place": _line(place, NAME_CHARS) or "papi-node"}
        + "\n\n"
        + _("The node's administration:"),
        "/admin",
    )


def render_body(notification: Notification, *, base_url: str, place: str) -> str:
    """The mail's full text: the notification's, the link to its page (the ``url``
    setting, else the path alone), and a footer that says where it comes from."""
    if base_url:
        link = base_url.rstrip("/") + notification.page
    else:
        link = _("%(path)s (after the address of your node)") % {"path": notification.page}
    footer = _(
        "Sent by the papi-node of %(place)s to its contact address. It may hold personal"
        " data of people of another place: keep it within the place."
    ) % {"place": _line(place, NAME_CHARS) or "papi-node"}
    return f"{notification.body}\n{link}\n\n-- \n{footer}\n"


# -- helpers ----------------------------------------------------------------------------


def _check(value: str, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def _page(template: str, ref: str) -> str:
    parsed = Ref.parse(ref)
    return template.format(origin=parsed.origin, oid=parsed.oid)


def _day(value: date | str) -> str:
    """``samedi 5 décembre 2026``; a text that is not a day is shown as it is."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        text = value
        try:
            value = date.fromisoformat(text)
        except ValueError:
            return _line(text, NAME_CHARS)
    from babel.dates import format_date  # imported with the first mail: see web.formatting

    return str(format_date(value, "full", locale=LANGUAGE))


def _line(text: str, limit: int) -> str:
    """Another place's text on one line: control characters and line breaks become
    spaces, runs of spaces one, at most ``limit`` characters."""
    cleaned = "".join(
        " " if char.isspace() or unicodedata.category(char)[0] == "C" else char
        for char in str(text)
    )
    return _cut(" ".join(cleaned.split()), limit)


def _block(text: str, limit: int) -> str:
    """Another place's text on several lines: line breaks kept (at most two in a row),
    other control characters dropped, at most ``limit`` characters."""
    lines = []
    for raw in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        lines.append(
            "".join(
                " " if char == "\t" else char
                for char in raw
                if char == "\t" or unicodedata.category(char)[0] != "C"
            ).rstrip()
        )
    joined = "\n".join(lines).strip("\n")
    while "\n\n\n" in joined:
        joined = joined.replace("\n\n\n", "\n\n")
    return _cut(joined, limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _reason_lines(reason: str | None) -> list[str]:
    if not reason or reason not in REASONS:
        return []
    return [_("Reason: %(reason)s.") % {"reason": _(REASONS[reason])}]


def _contact_lines(contact: Contact | None) -> list[str]:
    if contact is None:
        return []
    rows = [
        (_("Name: %(value)s"), contact.name),
        (_("E-mail: %(value)s"), contact.email),
        (_("Phone: %(value)s"), contact.phone),
    ]
    lines = [
        label % {"value": _line(value, NAME_CHARS)} for label, value in rows if _line(value, 1)
    ]
    return ["", _("Contact:"), *lines] if lines else []


def _message_lines(heading: str, message: str) -> list[str]:
    text = _block(message, MESSAGE_CHARS)
    if not text:
        return []
    return ["", heading, *(f"> {line}" if line else ">" for line in text.split("\n"))]
