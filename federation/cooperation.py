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
- the seats left and the waiting list of an event's session, and how its organiser
  admits and promotes registrations;
- whether an equipment item still has the units a request asks for.
See docs/protocol.md, "Cooperation".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from .encoding import b64url_encode
from .statemachine import Lifecycle
from .timeutil import format_ts, parse_ts

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
        # An event deleted declines every registration, confirmed ones too.
        RegistrationState.confirmed: {
            "decline": RegistrationState.declined,
            "cancel": RegistrationState.cancelled,
        },
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


# -- seats and waiting lists of an event ---------------------------------------------


def session_key(occurrence: str | None) -> str | None:
    """The session a registration names, as one text whatever the offset it is written
    with (UTC, ``Z``): seats and waiting lists are counted per (event, session). None
    for an event without sessions (no ``occurrence``). ``ValueError`` for text that is
    not an RFC 3339 date-time."""
    if occurrence is None:
        return None
    return format_ts(parse_ts(occurrence))


@dataclass(frozen=True)
class Registered:
    """One registration of an event's session as its queue counts it: its ref, derived
    state, seats, and ``order``, the seq in the organiser's log of its decision's
    current version (the waiting list is the order of that log)."""

    ref: str
    state: RegistrationState
    seats: int
    order: int


def confirmed_seats(registrations: Iterable[Registered]) -> int:
    return sum(r.seats for r in registrations if r.state is RegistrationState.confirmed)


def seats_left(capacity: int | None, registrations: Iterable[Registered]) -> int | None:
    """``capacity`` minus the seats of the confirmed registrations, never below 0 (a
    capacity lowered under them); None when the event has no capacity (unlimited)."""
    if capacity is None:
        return None
    return max(0, capacity - confirmed_seats(registrations))


def waiting_list(registrations: Iterable[Registered]) -> list[Registered]:
    """The waitlisted registrations in queue order: the first is position 1."""
    waiting = [r for r in registrations if r.state is RegistrationState.waitlisted]
    return sorted(waiting, key=lambda r: (r.order, r.ref))


def positions(registrations: Iterable[Registered]) -> dict[str, int]:
    """Ref -> position on the waiting list (1 = next) of each waitlisted registration."""
    return {r.ref: index for index, r in enumerate(waiting_list(registrations), start=1)}


def admission(
    capacity: int | None, registrations: Sequence[Registered], seats: int
) -> RegistrationState:
    """The organiser's answer to a new registration of ``seats`` (docs/protocol.md 9.5):
    ``confirmed`` while nobody waits and the seats fit, else ``waitlisted`` (strict
    order: a later, smaller registration never overtakes one that waits). The caller
    declines before asking what can never fit (``seats`` above ``capacity``)."""
    if capacity is None:
        return RegistrationState.confirmed
    left = seats_left(capacity, registrations)
    if not waiting_list(registrations) and left is not None and seats <= left:
        return RegistrationState.confirmed
    return RegistrationState.waitlisted


def promotions(
    capacity: int | None, registrations: Sequence[Registered]
) -> tuple[list[Registered], list[Registered]]:
    """What freed seats change, in queue order: the waiting registrations to confirm
    while the first one fits, and those that can never fit any more (more seats than
    the capacity, once lowered) to decline on the way. Strict order: the first one that
    does not fit stops the promotions."""
    promoted: list[Registered] = []
    dropped: list[Registered] = []
    left = seats_left(capacity, registrations)
    for waiting in waiting_list(registrations):
        if capacity is not None and waiting.seats > capacity:
            dropped.append(waiting)
            continue
        if left is not None and waiting.seats > left:
            break
        promoted.append(waiting)
        if left is not None:
            left -= waiting.seats
    return promoted, dropped


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
