"""Registrations to events between places (BRIEF 8, docs/protocol.md 9.1, 9.4, 9.5).

An animator registers participants for an event of another place (or of its own): its
node writes a ``registration`` object (the seats, the session of a recurring event, the
participants and a message sealed to the organiser and itself; later its
cancellation). The organiser's node answers each one with one ``registration_decision``
object: ``confirmed`` while seats remain and nobody waits, else ``waitlisted`` (the
waiting list is the order of the organiser's log), ``declined`` (a training for member
places only, a session that does not exist, more seats than the event has, an event
over or deleted) or ``cancelled``. When seats are freed (a cancellation, a larger
capacity) the waiting registrations are confirmed in queue order while the first one
fits. The organiser decides one step at a time under its write lock
(``session.step``), in the order it stored the registrations, so an event is never
promised beyond its capacity however many nodes register at once.

This module holds the rules; ``api/registrations.py`` and
``web/routes_admin_registrations.py`` are their two faces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.cooperation import (
    REGISTRATION,
    REGISTRATION_ACTORS,
    Ref,
    Registered,
    RegistrationState,
    admission,
    decision_matches,
    decision_oid,
    positions,
    promotions,
    registration_state,
    seats_left,
    session_key,
    waiting_list,
)
from federation.recurrence import SERIES_TZ, find_occurrence, is_occurrence
from federation.timeutil import parse_ts

from ..mail import compose
from ..mail.compose import Participant
from ..store.cooperation import DictReads, Task
from ..web.i18n import N_
from . import privacy, reads
from .conversations import (
    REGISTRATIONS,
    Conversation,
    ConversationView,
    conversation_of,
    list_conversations,
)
from .errors import CoopError, Invalid, NotAllowed, NotFound, WrongState
from .membership import is_member
from .reads import Stored
from .session import PLACE_TZ, Step, step
from .views import Action, HistoryLine, Row, reason_label

if TYPE_CHECKING:
    from ..runtime import Node

HEADING = N_("Registrations to events")
#: Bounds of what a registration carries (the whole sealed box stays under 8 KiB).
MAX_SEATS = 100
MESSAGE_CHARS = 4000
NAME_CHARS = 200
EMAIL_CHARS = 254
PHONE_CHARS = 40
#: Longest waiting list of one session: later registrations are declined ``full``.
MAX_WAITING = 500
#: Roles of a node in a registration: the place that registers, the organiser.
REGISTRANT, ORGANISER = "registrant", "organiser"
#: Decision states that hold or wait for seats (the others are final).
OPEN = frozenset({RegistrationState.confirmed, RegistrationState.waitlisted})

STATE_LABELS = {
    RegistrationState.pending: N_("Pending"),
    RegistrationState.confirmed: N_("Confirmed"),
    RegistrationState.waitlisted: N_("On the waiting list"),
    RegistrationState.declined: N_("Declined"),
    RegistrationState.cancelled: N_("Cancelled"),
}
ACTION_LABELS = {"cancel": N_("Cancel the registration")}
#: The actions people take (the organiser's node confirms, waitlists, promotes and
#: declines on its own).
ACTIONS = ("cancel",)


class EventOver(CoopError):
    """The event (or the session) is over: nobody registers for it any more."""

    status = 409
    code = "event_over"


class OverCapacity(CoopError):
    """More seats than the event has: such a registration could never be confirmed."""

    status = 409
    code = "over_capacity"


# -- the event and its sessions ---------------------------------------------------------


def capacity_of(event: Mapping[str, Any]) -> int | None:
    """The event's seats; None when it has no capacity (unlimited)."""
    capacity = event.get("capacity")
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 0:
        return None
    return capacity


def is_recurring(event: Mapping[str, Any]) -> bool:
    """An event with ``recurrence`` is a series of sessions (registrations name one)."""
    return isinstance(event.get("recurrence"), dict)


def names_a_session(event: Mapping[str, Any], occurrence: str | None) -> bool:
    """Whether a registration naming ``occurrence`` (None: none) names a session of
    ``event``: no occurrence for an event without ``recurrence``; for a series, the
    start of one of the sessions its rule generates (``federation/recurrence.py``,
    docs/protocol.md 3.10), compared as instants, a cancelled session (``exdates``)
    being none."""
    if not is_recurring(event):
        return occurrence is None
    return isinstance(occurrence, str) and is_occurrence(event, occurrence)


def session_bounds(
    event: Mapping[str, Any], occurrence: str | None
) -> tuple[datetime, datetime | None] | None:
    """Start and end (None: no end) of the session ``occurrence`` of ``event`` (the
    event itself without one), in Europe/Paris; None when they cannot be read. A start
    that is no longer a session of the series keeps the series' length."""
    try:
        if occurrence is not None and is_recurring(event):
            found = find_occurrence(event, occurrence)
            if found is not None:
                end = None if found.end is None else found.end.astimezone(SERIES_TZ)
                return found.start.astimezone(SERIES_TZ), end
        start = parse_ts(str(event.get("start")))
        end = parse_ts(str(event["end"])) if "end" in event else None
        if occurrence is None:
            return start, end
        moment = parse_ts(occurrence)
        return moment, None if end is None else moment + (end - start)
    except (ValueError, TypeError, OverflowError):
        return None


def is_over(event: Mapping[str, Any], occurrence: str | None, now: datetime) -> bool:
    """Whether the session has ended (has started, when it has no end)."""
    bounds = session_bounds(event, occurrence)
    if bounds is None:
        return False
    start, end = bounds
    return (end or start) <= now


def _key(occurrence: object) -> str | None:
    """The session key of a stored ``occurrence`` (None: none, or unreadable)."""
    if not isinstance(occurrence, str):
        return None
    try:
        return session_key(occurrence)
    except ValueError:
        return None


# -- the queues of events ---------------------------------------------------------------

#: Event ref -> session key (None: the event itself) -> its decided registrations.
Queues = dict[Ref, dict[str | None, list[Registered]]]


def _seats(payload: Mapping[str, Any]) -> int:
    seats = payload.get("seats", 1)
    if not isinstance(seats, int) or isinstance(seats, bool) or seats < 1:
        return 1
    return seats


async def read_queues(conn: DictReads, events: Iterable[Ref]) -> Queues:
    """The decided registrations of each event of ``events``, by session, in one read:
    each counted from its organiser's decision (the queue is the organiser's log) and
    its registrant's request when this node holds it (a request cancelled frees its
    seats at once, before the organiser writes it down)."""
    wanted = {ref for ref in events}
    found = await reads.event_registrations(conn, [str(ref) for ref in wanted])
    requests = {str(s.ref): s for s in found if s.kind == "registration"}
    queues: Queues = {ref: {} for ref in wanted}
    for decision in found:
        if decision.kind != "registration_decision":
            continue
        try:
            event = Ref.parse(str(decision.payload.get("event")))
            ref = Ref.parse(str(decision.payload.get("registration")))
        except ValueError:
            continue
        # Only the organiser's answer, at the one oid it has for this request (9.1).
        if event not in queues or event.origin != decision.origin:
            continue
        if decision.oid != decision_oid(ref):
            continue
        request = requests.get(str(ref))
        if request is not None and not decision_matches(
            ref, request.payload, decision.origin, decision.payload
        ):
            # A request rewritten for another event after its answer: the organiser's
            # word about this event stands (its seats stay taken).
            request = None
        try:
            state = (
                registration_state(request.payload, decision.payload)
                if request is not None
                else RegistrationState(str(decision.payload.get("state")))
            )
        except ValueError:
            continue
        session = queues[event].setdefault(_key(decision.payload.get("occurrence")), [])
        session.append(Registered(str(ref), state, _seats(decision.payload), decision.seq))
    return queues


async def seats_left_of(
    conn: DictReads, events: Sequence[tuple[Ref, Mapping[str, Any], str | None]]
) -> dict[tuple[Ref, str | None], int | None]:
    """Seats left of each ``(event ref, payload, occurrence)`` (None: unlimited), in one
    read for them all."""
    queues = await read_queues(conn, (ref for ref, _, _ in events))
    return {
        (ref, _key(occurrence)): seats_left(
            capacity_of(payload), queues.get(ref, {}).get(_key(occurrence), [])
        )
        for ref, payload, occurrence in events
    }


def _next_session(item: Mapping[str, Any]) -> str | None:
    """The session an event's ``seats_left`` is about: None for an event without
    ``recurrence``; for a series, its next session (the first of ``next_occurrences``
    when the server lists them), else its first (``start``)."""
    if not is_recurring(item) and "next_occurrences" not in item:
        return None
    upcoming = item.get("next_occurrences")
    if isinstance(upcoming, list) and upcoming and isinstance(upcoming[0], dict):
        start = upcoming[0].get("start")
        if isinstance(start, str):
            return start
    start = item.get("start")
    return start if isinstance(start, str) else None


async def add_seats_left(items: Sequence[dict[str, Any]], conn: DictReads) -> None:
    """Add ``seats_left`` to each event of ``items`` (API objects or search results,
    with ``origin``, ``id`` and the payload's members), and to each of its
    ``next_occurrences`` when it has them: one read for the whole page, on ``conn``
    (the node's connection, or a search's snapshot)."""
    events: list[tuple[Ref, Mapping[str, Any], str | None]] = []
    for item in items:
        if item.get("kind") != "event":
            continue
        try:
            ref = Ref(str(item["origin"]), str(item["id"]))
            Ref.parse(str(ref))
        except (KeyError, ValueError):
            continue
        events.append((ref, item, _next_session(item)))
        for session in item.get("next_occurrences") or ():
            if isinstance(session, dict) and isinstance(session.get("start"), str):
                events.append((ref, item, session["start"]))
    if not events:
        return
    # One statement per 500 events (all of an event's rows in one): no transaction.
    left = await seats_left_of(conn, events)
    for item in items:
        if item.get("kind") != "event" or "origin" not in item or "id" not in item:
            continue
        ref = Ref(str(item["origin"]), str(item["id"]))
        item["seats_left"] = left.get((ref, _key(_next_session(item))), capacity_of(item))
        for session in item.get("next_occurrences") or ():
            if isinstance(session, dict) and isinstance(session.get("start"), str):
                session["seats_left"] = left.get((ref, _key(session["start"])))


# -- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration(ConversationView):
    """A registration as this node sees it."""

    requester_role = REGISTRANT
    owner_role = ORGANISER

    conversation: Conversation
    state: RegistrationState
    #: The event, when this node holds it.
    event: Stored | None
    #: The names of the two places (their origin ids when unknown).
    registrant_name: str
    organiser_name: str
    #: On the waiting list: the position (1 = next).
    position: int | None
    #: Seats left of the registration's session (None: unlimited or event unknown).
    seats_left: int | None

    @property
    def seats(self) -> int:
        """The organiser's copy once it decided, else the request's."""
        return _seats(self.decision or self.request)

    @property
    def occurrence(self) -> str | None:
        value = (self.decision or self.request).get("occurrence")
        return value if isinstance(value, str) else None

    @property
    def title(self) -> str:
        if self.event is not None and self.event.payload.get("title"):
            return str(self.event.payload["title"])
        return str(self.request.get("title") or self.conversation.thing.oid)

    @property
    def bounds(self) -> tuple[datetime, datetime | None] | None:
        """When the session takes place, when this node holds the event."""
        if self.event is None:
            return None
        return session_bounds(self.event.payload, self.occurrence)

    @property
    def reason(self) -> str | None:
        """Why it is declined, cancelled or waiting."""
        if self.state is RegistrationState.cancelled and self.request.get("state") == "cancelled":
            return "cancelled_by_registrant"
        if self.state is RegistrationState.pending or self.state is RegistrationState.confirmed:
            return None
        reason = (self.decision or {}).get("reason")
        return reason if isinstance(reason, str) else None

    def actions(self, node: Node) -> list[str]:
        """What people of this node may do now."""
        roles = self.roles(node)
        return [
            action
            for action in ACTIONS
            if REGISTRATION.allows(self.state, action) and REGISTRATION_ACTORS[action] & roles
        ]


async def _registrations(
    conn: BaseDBAsyncClient, conversations: Sequence[Conversation]
) -> list[Registration]:
    """The registrations of ``conversations``, their events and queues read once."""
    things = {c.thing for c in conversations}
    queues = await read_queues(conn, things)
    events = {ref: await reads.current(conn, ref.origin, "event", ref.oid) for ref in things}
    names = await reads.place_names(
        conn, [o for c in conversations for o in (c.requester, c.owner)]
    )
    found = []
    for conversation in conversations:
        request = conversation.request.payload
        decision = conversation.decision.payload if conversation.decision else None
        state = registration_state(request, decision)
        source = decision or request
        session = queues[conversation.thing].get(_key(source.get("occurrence")), [])
        event = events[conversation.thing]
        found.append(
            Registration(
                conversation,
                state,
                event,
                names.get(conversation.requester, conversation.requester),
                names.get(conversation.owner, conversation.owner),
                positions(session).get(str(conversation.ref))
                if state is RegistrationState.waitlisted
                else None,
                None if event is None else seats_left(capacity_of(event.payload), session),
            )
        )
    return found


async def read_registration(conn: BaseDBAsyncClient, ref: Ref) -> Registration | None:
    request = await reads.current(conn, ref.origin, "registration", ref.oid)
    if request is None:
        return None
    conversation = await conversation_of(conn, REGISTRATIONS, request)
    if conversation is None:
        return None
    [registration] = await _registrations(conn, [conversation])
    return registration


async def list_registrations(
    conn: BaseDBAsyncClient, node: Node, role: str, *, limit: int, offset: int = 0
) -> list[Registration]:
    """This node's registrations as ``registrant`` or ``organiser``, most recent first."""
    if role == REGISTRANT:
        found = await list_conversations(
            conn, REGISTRATIONS, requester=node.origin, limit=limit, offset=offset
        )
    else:
        found = await list_conversations(
            conn, REGISTRATIONS, owner=node.origin, limit=limit, offset=offset
        )
    return await _registrations(conn, found)


def participants_of(node: Node, registration: Registration) -> dict[str, Any] | None:
    """The participants and message, when this node can open them (it is one of the
    two places); the caller shows them only to an authenticated person."""
    return privacy.opened(node, registration.request)


def participant_list(opened: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The participants of an opened box, each ``{"name", "email"}`` (and ``phone``
    when given), bounded."""
    people = opened.get("participants") if opened else None
    if not isinstance(people, list):
        return []
    found = []
    for person in people[:MAX_SEATS]:
        if not isinstance(person, dict):
            continue
        entry = {
            "name": privacy.text_member(person, "name", NAME_CHARS),
            "email": privacy.text_member(person, "email", EMAIL_CHARS),
        }
        phone = privacy.text_member(person, "phone", PHONE_CHARS)
        if phone:
            entry["phone"] = phone
        found.append(entry)
    return found


# -- the registrant asks ----------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationRequest:
    event: Ref
    seats: int
    participants: list[dict[str, str]]
    message: str
    occurrence: str | None = None


REQUEST_FIELDS = frozenset({"event", "seats", "participants", "message", "occurrence"})
PARTICIPANT_FIELDS = frozenset({"name", "email", "phone"})


def _text(document: Mapping[str, Any], name: str, limit: int, *, field: str) -> str:
    value = document.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(f"'{field}' must be text", field=field, keyword="type", limit="string")
    if len(value) > limit:
        raise Invalid(
            f"'{field}' is at most {limit} characters",
            field=field,
            keyword="maxLength",
            limit=limit,
        )
    return value.strip()


def _participant(person: Any, index: int) -> dict[str, str]:
    from ..settings import single_address

    where = f"participants[{index}]"
    if not isinstance(person, dict):
        raise Invalid(f"'{where}' must be an object", field=where, keyword="type", limit="object")
    unknown = sorted(set(person) - PARTICIPANT_FIELDS)
    if unknown:
        field = f"{where}.{unknown[0]}"
        raise Invalid(f"unknown field '{field}'", field=field, keyword="additionalProperties")
    name = _text(person, "name", NAME_CHARS, field=f"{where}.name")
    email = _text(person, "email", EMAIL_CHARS, field=f"{where}.email")
    phone = _text(person, "phone", PHONE_CHARS, field=f"{where}.phone")
    if not name:
        raise Invalid(f"'{where}.name' is required", field=f"{where}.name", keyword="required")
    if email and single_address(email) != email:
        raise Invalid(
            f"'{where}.email' is not an e-mail address",
            field=f"{where}.email",
            keyword="format",
            limit="email",
        )
    if phone and not all(char.isdigit() or char in "+ .-()" for char in phone):
        raise Invalid(
            f"'{where}.phone' is not a phone number",
            field=f"{where}.phone",
            keyword="format",
            limit="phone",
        )
    entry = {"name": name, "email": email}
    if phone:
        entry["phone"] = phone
    return entry


def parse_request(document: Any) -> RegistrationRequest:
    """A registration from the body of ``POST /api/v1/registrations`` (or the form);
    ``Invalid`` names the first field at fault. ``seats`` defaults to the number of
    participants; there may be fewer participants than seats (names not known yet)."""
    if not isinstance(document, dict):
        raise Invalid("the body must be a JSON object", field="", keyword="type", limit="object")
    unknown = sorted(set(document) - REQUEST_FIELDS)
    if unknown:
        raise Invalid(
            f"unknown field '{unknown[0]}'", field=unknown[0], keyword="additionalProperties"
        )
    if "event" not in document:
        raise Invalid("'event' is required", field="event", keyword="required")
    try:
        event = Ref.parse(document["event"])
    except ValueError:
        raise Invalid(
            "'event' must be '<origin>/<oid>' of an event", field="event", keyword="pattern"
        ) from None
    people = document.get("participants", [])
    if people is None:
        people = []
    if not isinstance(people, list):
        raise Invalid(
            "'participants' must be a list", field="participants", keyword="type", limit="array"
        )
    if len(people) > MAX_SEATS:
        raise Invalid(
            f"at most {MAX_SEATS} participants",
            field="participants",
            keyword="maxItems",
            limit=MAX_SEATS,
        )
    participants = [_participant(person, index) for index, person in enumerate(people)]
    seats = document.get("seats")
    if seats is None:  # absent (or null): one seat per participant
        seats = len(participants) or None
    if seats is None:
        raise Invalid(
            "'seats' is required (or give the participants)", field="seats", keyword="required"
        )
    if not isinstance(seats, int) or isinstance(seats, bool):
        raise Invalid("'seats' must be an integer", field="seats", keyword="type", limit="integer")
    if not 1 <= seats <= MAX_SEATS:
        keyword, limit = ("minimum", 1) if seats < 1 else ("maximum", MAX_SEATS)
        raise Invalid(
            f"'seats' must be 1 to {MAX_SEATS}", field="seats", keyword=keyword, limit=limit
        )
    if len(participants) > seats:
        raise Invalid(
            "more participants than seats", field="participants", keyword="maxItems", limit=seats
        )
    message = _text(document, "message", MESSAGE_CHARS, field="message")
    occurrence = document.get("occurrence")
    if occurrence is not None:
        if not isinstance(occurrence, str):
            raise Invalid(
                "'occurrence' must be a date-time", field="occurrence", keyword="type",
                limit="string",
            )  # fmt: skip
        try:
            session_key(occurrence)
        except ValueError:
            raise Invalid(
                "'occurrence' must be an RFC 3339 date-time with its offset",
                field="occurrence",
                keyword="format",
                limit="date-time",
            ) from None
    return RegistrationRequest(event, seats, participants, message, occurrence)


def _check_session(event: Stored, occurrence: str | None) -> None:
    """``Invalid`` when ``occurrence`` does not fit the event (given for an event
    without sessions, missing or not a session of a series)."""
    if not is_recurring(event.payload):
        if occurrence is not None:
            raise Invalid(
                "this event is not a series of sessions: give no 'occurrence'",
                field="occurrence",
                keyword="notRecurring",
            )
        return
    if occurrence is None:
        raise Invalid(
            "this event is a series of sessions: 'occurrence' (the start of the session)"
            " is required",
            field="occurrence",
            keyword="required",
        )
    if not names_a_session(event.payload, occurrence):
        raise Invalid(
            "'occurrence' is not the start of a session of this event",
            field="occurrence",
            keyword="occurrence",
        )


async def request_registration(node: Node, wanted: RegistrationRequest) -> Registration:
    """Write this node's registration ``wanted``; the registration as written (pending:
    the organiser's node decides later, even when it is this one). ``NotFound`` when this node
    does not know the event, ``Invalid`` for a session that does not fit it,
    ``EventOver`` when it is over, ``OverCapacity`` when it has fewer seats than asked.
    A full event still takes registrations (its waiting list)."""
    from ..services.log import new_oid

    async with step(node) as current:
        event = await reads.current(current.conn, wanted.event.origin, "event", wanted.event.oid)
        if event is None:
            raise NotFound(f"no event {wanted.event} is known to this node")
        _check_session(event, wanted.occurrence)
        if is_over(event.payload, wanted.occurrence, current.now):
            raise EventOver("the event is over: registrations are closed")
        capacity = capacity_of(event.payload)
        if capacity is not None and wanted.seats > capacity:
            raise OverCapacity(
                f"the event has {capacity} seat(s) in all", capacity=capacity, seats=wanted.seats
            )
        sealed = privacy.seal_for(
            node,
            wanted.event.origin,
            {"participants": wanted.participants, "message": wanted.message},
            field="participants",
        )
        payload: dict[str, Any] = {
            "event": str(wanted.event),
            "seats": wanted.seats,
            "state": "requested",
            "sealed": sealed,
        }
        if wanted.occurrence is not None:
            payload["occurrence"] = wanted.occurrence
        title = str(event.payload.get("title") or "").strip()[:200]
        if title:
            payload["title"] = title
        oid = new_oid()
        await current.publish("registration", oid, "put", payload)
        written = await read_registration(current.conn, Ref(node.origin, oid))
    if written is None:  # pragma: no cover - just written in this transaction
        raise NotFound(f"the registration {node.origin}/{oid} cannot be read back")
    return written


# -- the organiser's steps --------------------------------------------------------------


async def _write(
    current: Step,
    ref: Ref,
    base: Mapping[str, Any],
    state: RegistrationState,
    reason: str | None = None,
) -> None:
    """Write the organiser's step ``state`` about ``ref``; ``base`` is the request or
    the current decision (its event, seats and session are copied)."""
    payload: dict[str, Any] = {
        "registration": str(ref),
        "event": str(base["event"]),
        "seats": _seats(base),
        "state": state.value,
    }
    occurrence = base.get("occurrence")
    if isinstance(occurrence, str):
        payload["occurrence"] = occurrence
    if reason:
        payload["reason"] = reason
    await current.publish("registration_decision", decision_oid(ref), "put", payload)


async def _redecide(
    current: Step, registered: Registered, state: RegistrationState, reason: str | None = None
) -> Stored | None:
    """A new step about a registration already decided (its decision is copied)."""
    ref = Ref.parse(registered.ref)
    decision = await reads.current(
        current.conn, current.node.origin, "registration_decision", decision_oid(ref)
    )
    if decision is None:
        return None
    await _write(current, ref, decision.payload, state, reason)
    return decision


async def _admit(current: Step, conversation: Conversation) -> tuple[RegistrationState, str | None]:
    """Decide a new registration of one of this node's events; the state and reason
    written."""
    request = conversation.request.payload
    thing = conversation.thing
    occurrence = request.get("occurrence")
    occurrence = occurrence if isinstance(occurrence, str) else None
    event = await reads.current(current.conn, thing.origin, "event", thing.oid)
    seats = _seats(request)
    state, reason = RegistrationState.declined, None
    if event is None:
        reason = "event_cancelled"
    elif not names_a_session(event.payload, occurrence):
        reason = "no_such_occurrence"
    elif is_over(event.payload, occurrence, current.now):
        reason = "event_over"
    elif event.payload.get("audience") == "animateurs" and not await is_member(
        current.conn, conversation.requester
    ):
        reason = "not_member"
    else:
        capacity = capacity_of(event.payload)
        session = (await read_queues(current.conn, [thing]))[thing].get(_key(occurrence), [])
        if capacity is not None and seats > capacity:
            reason = "over_capacity"
        else:
            state = admission(capacity, session, seats)
            if state is RegistrationState.waitlisted:
                reason = "full"
                if len(waiting_list(session)) >= MAX_WAITING:
                    state = RegistrationState.declined
    await _write(current, conversation.ref, request, state, reason)
    return state, reason


async def _promote(current: Step, event_ref: Ref, key: str | None) -> int:
    """Confirm the waiting registrations of a session of this node's event in queue
    order while the first one fits (declining on the way those that can never fit);
    how many were confirmed."""
    event = await reads.current(current.conn, event_ref.origin, "event", event_ref.oid)
    if event is None:
        return 0
    session = (await read_queues(current.conn, [event_ref]))[event_ref].get(key, [])
    promoted, dropped = promotions(capacity_of(event.payload), session)
    for registered in dropped:
        await _redecide(current, registered, RegistrationState.declined, "over_capacity")
    for registered in promoted:
        decision = await _redecide(current, registered, RegistrationState.confirmed)
        if decision is not None:
            await _tell_organiser(current, Ref.parse(registered.ref), "promoted")
    return len(promoted)


async def _tell_organiser(current: Step, ref: Ref, outcome: str, reason: str | None = None) -> None:
    registration = await read_registration(current.conn, ref)
    if registration is None:
        return
    notification = compose.registration_decided(
        str(ref),
        outcome,
        role=ORGANISER,
        other_place=registration.registrant_name,
        position=registration.position,
        reason=reason,
        **_mail_event(registration),
    )
    await current.notify(notification, once_key=f"registration:{ref}:{outcome}:organiser")


async def cancel(node: Node, ref: Ref) -> RegistrationState:
    """Cancel the registration ``ref`` as this node: the registrant withdraws its
    request (the organiser's node answers and promotes: at once when it is this node);
    the organiser cancels it and promotes the first waiting ones in the same step.
    ``NotFound``, ``NotAllowed`` (a third place), ``WrongState`` (already over)."""
    async with step(node) as current:
        registration = await read_registration(current.conn, ref)
        if registration is None:
            raise NotFound(f"no registration {ref} is known to this node")
        roles = registration.roles(node)
        if not roles:
            raise NotAllowed(
                "'cancel' is for the registrant's or the organiser's node; this node is neither"
            )
        if not REGISTRATION.allows(registration.state, "cancel"):
            raise WrongState(
                f"'cancel' is not possible: the registration is {registration.state.value}",
                state=registration.state.value,
            )
        if REGISTRANT in roles:
            await current.publish("registration", ref.oid, "put", {
                **registration.request, "state": "cancelled",
            })  # fmt: skip
        if ORGANISER in roles:
            reason = "cancelled_by_registrant" if REGISTRANT in roles else "cancelled_by_organiser"
            await _organiser_cancels(current, registration, reason)
        return RegistrationState.cancelled


async def _organiser_cancels(current: Step, registration: Registration, reason: str) -> None:
    """Write the organiser's ``cancelled`` and promote if seats were freed."""
    decided = registration.decision
    was = decided.get("state") if decided else None
    await _write(
        current, registration.ref, decided or registration.request,
        RegistrationState.cancelled, reason,
    )  # fmt: skip
    if was == RegistrationState.confirmed.value:
        await _promote(current, registration.conversation.thing, _key(registration.occurrence))


# -- the worker's handlers --------------------------------------------------------------


def _mail_event(registration: Registration) -> dict[str, Any]:
    bounds = registration.bounds
    start: datetime | str = bounds[0] if bounds else str(registration.occurrence or "")
    return {
        "event": registration.title,
        "event_start": start,
        "event_end": bounds[1] if bounds else None,
        "seats": registration.seats,
    }


def _participants(opened: Mapping[str, Any] | None) -> list[Participant]:
    return [Participant(p["name"], p["email"]) for p in participant_list(opened)]


async def on_request(current: Step, task: Task) -> None:
    """The organiser's node stored a version of a registration for one of its events:
    decide a new one, or write down a cancellation and promote; tell the place."""
    node = current.node
    registration = await read_registration(current.conn, Ref(task.origin, task.oid))
    if registration is None or registration.conversation.owner != node.origin:
        return  # purged since, or not ours (the hook only queues ours)
    decided = registration.decision
    if registration.request.get("state") == "cancelled":
        if decided is not None and decided.get("state") in {s.value for s in OPEN}:
            await _organiser_cancels(current, registration, "cancelled_by_registrant")
            await _tell_organiser(current, registration.ref, "cancelled", "cancelled_by_registrant")
        return
    if decided is not None:
        return  # already answered: this version changes nothing the organiser decides
    answered = await reads.current(
        current.conn, node.origin, "registration_decision", decision_oid(registration.ref)
    )
    if answered is not None:
        return  # answered about another event: a request rewritten since is not asked again
    state, _ = await _admit(current, registration.conversation)
    fresh = await read_registration(current.conn, registration.ref)
    opened = privacy.opened(node, registration.request)
    notification = compose.new_registration(
        str(registration.ref),
        **_mail_event(registration),
        registrant=registration.registrant_name,
        participants=_participants(opened),
        message=privacy.text_member(opened, "message", MESSAGE_CHARS),
        decided=state.value,
        position=fresh.position if fresh else None,
    )
    await current.notify(notification, once_key=f"registration:{registration.ref}:requested")


async def on_decision(current: Step, task: Task) -> None:
    """The registrant's node stored a step of the organiser about one of its
    registrations: tell the place (once per outcome)."""
    node = current.node
    version = await reads.version_at(current.conn, task.origin, task.seq)
    if version is None or version.payload is None:
        return
    try:
        ref = Ref.parse(str(version.payload.get("registration")))
    except ValueError:
        return
    if ref.origin != node.origin:
        return
    registration = await read_registration(current.conn, ref)
    if registration is None:
        return
    if not decision_matches(ref, registration.request, version.origin, version.payload):
        return  # not the organiser's answer to this registration: ignored (9.4)
    state = str(version.payload.get("state"))
    reason = version.payload.get("reason")
    if reason == "cancelled_by_registrant" or state not in compose.REGISTRATION_OUTCOMES:
        return  # the registrant cancelled itself: nothing new for it
    outcome = state
    if state == RegistrationState.confirmed.value:
        earlier = await reads.versions(current.conn, version.origin, version.kind, version.oid)
        if any(
            v.seq < version.seq and (v.payload or {}).get("state") == "waitlisted" for v in earlier
        ):
            outcome = "promoted"
    notification = compose.registration_decided(
        str(ref),
        outcome,
        role=REGISTRANT,
        other_place=registration.organiser_name,
        position=registration.position if outcome == "waitlisted" else None,
        reason=reason if isinstance(reason, str) else None,
        **_mail_event(registration),
    )
    await current.notify(notification, once_key=f"registration:{ref}:{outcome}:registrant")


async def on_event(current: Step, task: Task) -> None:
    """This node changed one of its events: a deleted event declines its registrations
    (``event_cancelled``); a session gone from a series declines those of that session
    (``no_such_occurrence``); seats freed by a larger capacity promote the waiting ones."""
    node = current.node
    if task.origin != node.origin:
        return
    ref = Ref(node.origin, task.oid)
    event = await reads.current(current.conn, node.origin, "event", task.oid)
    sessions = (await read_queues(current.conn, [ref]))[ref]
    for key, session in sorted(sessions.items(), key=lambda pair: pair[0] or ""):
        live = [r for r in session if r.state in OPEN]
        # A session key is the occurrence in UTC: the same instant as the one registered.
        if event is None or not names_a_session(event.payload, key):
            reason = "event_cancelled" if event is None else "no_such_occurrence"
            for registered in sorted(live, key=lambda r: r.order):
                await _redecide(current, registered, RegistrationState.declined, reason)
            continue
        await _promote(current, ref, key)


# -- retention and /admin ---------------------------------------------------------------


async def retention_day(conn: BaseDBAsyncClient, request: Stored) -> date | None:
    """The day from which this node's registration counts its retention: the day its
    session ends (starts, without an end); when the event is gone, the day of the last
    step of the conversation."""
    registration = await read_registration(conn, request.ref)
    if registration is None:
        return None
    bounds = registration.bounds
    if bounds is not None:
        start, end = bounds
        return (end or start).astimezone(PLACE_TZ).date()
    history = registration.conversation.history
    last = history[-1].at if history else request.updated
    try:
        return parse_ts(last).astimezone(PLACE_TZ).date()
    except ValueError:
        return None


async def admin_rows(conn: BaseDBAsyncClient, node: Node, role: str, today: date) -> list[Row]:
    """The registrations of the /admin inbox (``owner``: this node organises) or outbox."""
    mine = await list_registrations(
        conn, node, ORGANISER if role == "owner" else REGISTRANT, limit=reads.MAX_LIST
    )
    return [registration_row(node, registration) for registration in mine]


def history_lines(registration: Registration) -> list[HistoryLine]:
    names = {
        registration.conversation.requester: registration.registrant_name,
        registration.conversation.owner: registration.organiser_name,
    }
    lines = []
    for taken in registration.conversation.history:
        label = {"requested": N_("Registered")}.get(taken.state)
        if label is None:
            try:
                label = STATE_LABELS[RegistrationState(taken.state)]
            except ValueError:
                label = taken.state
        lines.append(
            HistoryLine(label, taken.at, names.get(taken.by, taken.by), reason_label(taken.reason))
        )
    return lines


def registration_row(node: Node, registration: Registration) -> Row:
    organiser = ORGANISER in registration.roles(node)
    other = (
        registration.registrant_name
        if organiser and registration.conversation.requester != node.origin
        else registration.organiser_name
    )
    history = registration.conversation.history
    bounds = registration.bounds
    return Row(
        ref=registration.ref,
        title=registration.title,
        state=registration.state.value,
        state_label=STATE_LABELS[registration.state],
        other_place=other,
        history=history_lines(registration),
        actions=[
            Action(name, ACTION_LABELS[name], danger=True) for name in registration.actions(node)
        ],
        page_route="admin.registration",
        action_route="admin.registration.action",
        summary="admin/_registration_summary.html",
        facts={
            "seats": registration.seats,
            "start": bounds[0] if bounds else registration.occurrence,
            "end": bounds[1] if bounds else None,
            "position": registration.position,
            "seats_left": registration.seats_left,
            "event": registration.conversation.thing,
        },
        updated=history[-1].at if history else registration.conversation.request.updated,
    )
