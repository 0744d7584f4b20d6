"""Cooperation between places (BRIEF 8): the rules every implementation applies alike.

A loan, a registration or an offer of help is a conversation between two logs. The
requester writes its steps in its own log (``loan``, ``registration``, ``help_offer``
objects); the owner of the thing (the lender of an equipment item, the organiser of an
event, the asker of a help request) writes its steps in its own log (``loan_decision``,
``registration_decision`` objects, or its ``help_request`` itself). This module holds
what follows from that, without any storage:

- references ``<origin>/<oid>`` and the deterministic oid of the owner's decision;
- the lifecycles (declared moves, ``federation.statemachine``) and who may take each step;
- the state any node derives from the two sides;
- whether an equipment item still has the units a request asks for.
See docs/protocol.md, "Cooperation".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from .encoding import b64url_encode
from .statemachine import Lifecycle

_REF = re.compile(r"^(ed25519:[A-Za-z0-9_-]{43})/([A-Za-z0-9_-]{1,64})$")


@dataclass(frozen=True, order=True)
class Ref:
    """``<origin>/<oid>``: how a request, an item or an event is named network-wide."""

    origin: str
    oid: str

    @classmethod
    def parse(cls, text: str) -> Ref:
        match = _REF.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{text!r} is not <origin id>/<oid>")
        return cls(match.group(1), match.group(2))

    def __str__(self) -> str:
        return f"{self.origin}/{self.oid}"


def derived_oid(prefix: str, ref: Ref | str) -> str:
    """The oid of the object the owner writes about ``ref`` (its decision, its booking):
    ``prefix`` + base64url of the SHA-256 of the ref's text, so that every step of the
    owner about one request lands on one object, and no requester can choose it."""
    digest = hashlib.sha256(str(ref).encode("ascii")).digest()
    return prefix + b64url_encode(digest)


def decision_oid(ref: Ref | str) -> str:
    return derived_oid("d", ref)


def booking_oid(ref: Ref | str) -> str:
    return derived_oid("b", ref)


# -- lifecycles ---------------------------------------------------------------------


class LoanState(StrEnum):
    requested = "requested"
    approved = "approved"
    declined = "declined"
    cancelled = "cancelled"
    checked_out = "checked_out"
    overdue = "overdue"  # derived: checked out and the end date is past
    returned = "returned"


LOAN = Lifecycle(
    "loan",
    LoanState,
    {
        LoanState.requested: {
            "approve": LoanState.approved,
            "decline": LoanState.declined,
            "cancel": LoanState.cancelled,
        },
        LoanState.approved: {"checkout": LoanState.checked_out, "cancel": LoanState.cancelled},
        LoanState.checked_out: {"return": LoanState.returned},
        LoanState.overdue: {"return": LoanState.returned},
    },
    initial=LoanState.requested,
)
#: Who may take each step of a loan: the lender decides, either side may cancel.
LOAN_ACTORS: Mapping[str, frozenset[str]] = {
    "approve": frozenset({"lender"}),
    "decline": frozenset({"lender"}),
    "checkout": frozenset({"lender"}),
    "return": frozenset({"lender"}),
    "cancel": frozenset({"lender", "borrower"}),
}


class RegistrationState(StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    declined = "declined"
    cancelled = "cancelled"


REGISTRATION = Lifecycle(
    "registration",
    RegistrationState,
    {
        RegistrationState.pending: {
            "confirm": RegistrationState.confirmed,
            "waitlist": RegistrationState.waitlisted,
            "decline": RegistrationState.declined,
            "cancel": RegistrationState.cancelled,
        },
        RegistrationState.waitlisted: {
            "promote": RegistrationState.confirmed,
            "decline": RegistrationState.declined,
            "cancel": RegistrationState.cancelled,
        },
        RegistrationState.confirmed: {"cancel": RegistrationState.cancelled},
    },
    initial=RegistrationState.pending,
)
#: The organiser's node confirms, waitlists, promotes and declines on its own; people
#: only cancel (either side).
REGISTRATION_ACTORS: Mapping[str, frozenset[str]] = {
    "confirm": frozenset({"organiser"}),
    "waitlist": frozenset({"organiser"}),
    "promote": frozenset({"organiser"}),
    "decline": frozenset({"organiser"}),
    "cancel": frozenset({"organiser", "registrant"}),
}


class HelpState(StrEnum):
    open = "open"
    closed = "closed"
    cancelled = "cancelled"


HELP_REQUEST = Lifecycle(
    "help request",
    HelpState,
    {HelpState.open: {"accept": HelpState.closed, "cancel": HelpState.cancelled}},
    initial=HelpState.open,
)


class HelpOfferState(StrEnum):
    open = "open"
    withdrawn = "withdrawn"
    accepted = "accepted"  # derived: the asker's closed request names this offer


HELP_OFFER = Lifecycle(
    "help offer",
    HelpOfferState,
    {HelpOfferState.open: {"withdraw": HelpOfferState.withdrawn}},
    initial=HelpOfferState.open,
)


def help_offer_state(
    request_ref: Ref, request: Mapping[str, Any] | None, offer_ref: Ref, offer: Mapping[str, Any]
) -> HelpOfferState:
    """The state of an offer of help from the offerer's ``help_offer`` payload and the
    asker's ``help_request`` payload (None when unknown here): ``accepted`` when the
    request is closed naming this offer (and the offer answers this very request), else
    the offerer's own state."""
    if (
        request is not None
        and offer.get("request") == str(request_ref)
        and request.get("state") == HelpState.closed
        and request.get("accepted_offer") == str(offer_ref)
    ):
        return HelpOfferState.accepted
    if offer.get("state") == HelpOfferState.withdrawn:
        return HelpOfferState.withdrawn
    return HelpOfferState.open


# -- derived state ------------------------------------------------------------------


def loan_state(
    request: Mapping[str, Any], decision: Mapping[str, Any] | None, today: date
) -> LoanState:
    """The state of a loan from the borrower's ``loan`` payload and the lender's
    ``loan_decision`` payload (None while the lender has not written one).

    The caller passes a decision only if it is the lender's (its entry's origin is the
    equipment's origin) and names this request and this item (``decision_matches``)."""
    if decision is None:
        cancelled = request.get("state") == "cancelled"
        return LoanState.cancelled if cancelled else LoanState.requested
    decided = LoanState(decision["state"])
    if request.get("state") == "cancelled" and decided not in (
        LoanState.checked_out,
        LoanState.returned,
    ):
        return LoanState.cancelled
    if decided is LoanState.checked_out and today > date.fromisoformat(str(decision["end"])):
        return LoanState.overdue
    return decided


def decision_matches(
    request_ref: Ref, request: Mapping[str, Any], decision_origin: str, decision: Mapping[str, Any]
) -> bool:
    """True when ``decision`` is the owner's answer to this very request: written by the
    owner of the thing asked for, naming the request and the same thing."""
    thing_field = "equipment" if "equipment" in request else "event"
    request_field = "loan" if thing_field == "equipment" else "registration"
    try:
        thing = Ref.parse(str(request.get(thing_field)))
    except ValueError:
        return False
    return (
        thing.origin == decision_origin
        and decision.get(request_field) == str(request_ref)
        and decision.get(thing_field) == str(thing)
    )


def registration_state(
    request: Mapping[str, Any], decision: Mapping[str, Any] | None
) -> RegistrationState:
    """The state of a registration from the registrant's and the organiser's payloads."""
    if request.get("state") == "cancelled":
        return RegistrationState.cancelled
    if decision is None:
        return RegistrationState.pending
    return RegistrationState(decision["state"])


# -- availability of an equipment item ----------------------------------------------


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end`` included, with ``quantity`` units busy."""

    start: date
    end: date
    quantity: int = 1

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end


def conflicts(total: int, bookings: Iterable[Period], wanted: Period) -> list[Period] | None:
    """None when ``wanted.quantity`` units of an item of ``total`` units are free on every
    day of ``wanted``; otherwise the bookings that overlap it (to show the borrower)."""
    overlapping = sorted(
        (b for b in bookings if b.overlaps(wanted)), key=lambda b: (b.start, b.end)
    )
    if wanted.quantity > total:
        return overlapping
    # The busiest day decides; only days where some booking starts can be busiest.
    days = {max(b.start, wanted.start) for b in overlapping}
    for day in days:
        busy = sum(b.quantity for b in overlapping if b.start <= day <= b.end)
        if busy + wanted.quantity > total:
            return overlapping
    return None
