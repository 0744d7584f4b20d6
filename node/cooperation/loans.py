"""Equipment loans between places (BRIEF 8, docs/protocol.md 9.1 and 9.5).

The borrower's node writes a ``loan`` object (its request, later its cancellation); the
lender's node answers with one ``loan_decision`` object per request (approved, declined,
checked out, returned, cancelled) and, while the units are promised or out, a public
``booking`` of the item (no personal data) from which every node draws the item's
availability. The lender decides one request at a time under its write lock
(``session.step``): a request that no longer fits is declined ``unavailable``, so an
item is never promised beyond its quantity, however many nodes ask at once.

This module holds the rules; ``api/loans.py`` and ``web/routes_admin_loans.py`` are
their two faces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.cooperation import (
    LOAN,
    LOAN_ACTORS,
    LoanState,
    Period,
    Ref,
    booking_oid,
    conflicts,
    decision_matches,
    decision_oid,
    loan_state,
)
from federation.timeutil import parse_ts

from ..mail import compose
from ..mail.compose import Contact
from ..store.cooperation import Task
from ..web.i18n import N_
from . import privacy, reads, rows
from .conversations import (
    LOANS,
    Conversation,
    ConversationView,
    list_conversations,
    read_conversation,
)
from .errors import Invalid, NotAllowed, NotFound, Unavailable, WrongState
from .reads import Stored
from .session import PLACE_TZ, Step, step
from .views import Action, HistoryLine, Row, reason_label

if TYPE_CHECKING:
    from ..runtime import Node

HEADING = N_("Equipment loans")
#: Longest loan, in days (first and last day included).
MAX_DAYS = 366
#: Bounds of what a request carries (the whole sealed box stays under 8 KiB).
MESSAGE_CHARS = 4000
NAME_CHARS = 200
EMAIL_CHARS = 254
PHONE_CHARS = 40
#: The decision states after which the units are back (nothing to cancel or return).
CLOSED = frozenset({LoanState.declined, LoanState.cancelled, LoanState.returned})

STATE_LABELS = {
    LoanState.requested: N_("Requested"),
    LoanState.approved: N_("Approved"),
    LoanState.declined: N_("Declined"),
    LoanState.cancelled: N_("Cancelled"),
    LoanState.checked_out: N_("Checked out"),
    LoanState.overdue: N_("Overdue"),
    LoanState.returned: N_("Returned"),
}
ACTION_LABELS = {
    "approve": N_("Approve"),
    "decline": N_("Decline"),
    "checkout": N_("Mark as handed over"),
    "return": N_("Mark as returned"),
    "cancel": N_("Cancel the loan"),
}
#: Roles of a node in a loan: the place that asks, the place that owns the item.
BORROWER, LENDER = "borrower", "lender"


# -- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Loan(ConversationView):
    """A loan as this node sees it."""

    requester_role = BORROWER
    owner_role = LENDER

    conversation: Conversation
    state: LoanState
    #: The item, when this node holds it.
    item: Stored | None
    #: The names of the two places (their origin ids when unknown).
    borrower_name: str
    lender_name: str

    @property
    def terms(self) -> dict[str, Any]:
        """Quantity and days: the lender's copy once it decided (what it lends), else the
        request's."""
        source = self.decision or self.request
        return {name: source.get(name) for name in ("quantity", "start", "end")}

    @property
    def title(self) -> str:
        if self.item is not None and self.item.payload.get("title"):
            return str(self.item.payload["title"])
        return str(self.request.get("title") or self.conversation.thing.oid)

    def actions(self, node: Node) -> list[str]:
        """What this node may do now, in the lifecycle's order."""
        roles = self.roles(node)
        return [action for action in LOAN.actions(self.state) if LOAN_ACTORS[action] & roles]


def _decision_state(loan: Conversation) -> LoanState | None:
    decision = loan.decision
    return LoanState(decision.payload["state"]) if decision else None


async def _loan(conn: BaseDBAsyncClient, conversation: Conversation, today: date) -> Loan:
    request = conversation.request.payload
    decision = conversation.decision.payload if conversation.decision else None
    thing = conversation.thing
    item = await reads.current(conn, thing.origin, "equipment", thing.oid)
    names = await reads.place_names(conn, [conversation.requester, conversation.owner])
    return Loan(
        conversation,
        loan_state(request, decision, today),
        item,
        names.get(conversation.requester, conversation.requester),
        names.get(conversation.owner, conversation.owner),
    )


async def read_loan(conn: BaseDBAsyncClient, ref: Ref, today: date) -> Loan | None:
    conversation = await read_conversation(conn, LOANS, ref)
    return None if conversation is None else await _loan(conn, conversation, today)


async def list_loans(
    conn: BaseDBAsyncClient, node: Node, role: str, today: date, *, limit: int, offset: int = 0
) -> list[Loan]:
    """This node's loans as ``borrower`` or ``lender``, most recent first."""
    if role == BORROWER:
        found = await list_conversations(
            conn, LOANS, requester=node.origin, limit=limit, offset=offset
        )
    else:
        found = await list_conversations(conn, LOANS, owner=node.origin, limit=limit, offset=offset)
    return [await _loan(conn, conversation, today) for conversation in found]


def contact_of(node: Node, loan: Loan) -> dict[str, Any] | None:
    """The borrower's contact and message, when this node can open them (it is one of
    the two places); the caller shows them only to an authenticated person."""
    return privacy.opened(node, loan.request)


def note_of(node: Node, loan: Loan) -> str:
    """The lender's latest note (e.g. the condition at return), if this node can read it."""
    return privacy.text_member(privacy.opened(node, loan.decision), "message")


# -- availability -----------------------------------------------------------------------


def day_start(day: date) -> str:
    """00:00 of ``day`` in the place's time zone, RFC 3339 with its offset."""
    return datetime.combine(day, time(), tzinfo=PLACE_TZ).isoformat(timespec="seconds")


def booking_period(payload: Mapping[str, Any]) -> Period | None:
    """The days a booking covers (first and last, in the place's time zone) and its
    units; None for a booking whose period cannot be read."""
    try:
        start = parse_ts(str(payload["start"])).astimezone(PLACE_TZ)
        end = parse_ts(str(payload["end"])).astimezone(PLACE_TZ)
    except (KeyError, ValueError, OverflowError):
        return None
    first = start.date()
    # A booking up to midnight ends the day before: its last day is the one it covers.
    last = max(first, (end - timedelta(microseconds=1)).date()) if end > start else first
    quantity = payload.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        quantity = 1
    return Period(first, last, quantity)


async def bookings_of(
    conn: BaseDBAsyncClient, item: Ref, *, besides: Ref | None = None
) -> list[Period]:
    """The busy periods of ``item`` this node knows (its owner's bookings), but the one
    of the loan ``besides``."""
    found = await reads.objects_of(
        conn, "booking", origin=item.origin, equal=("equipment", item.oid)
    )
    periods = []
    for booking in found:
        if besides is not None and booking.payload.get("loan") == str(besides):
            continue
        period = booking_period(booking.payload)
        if period is not None:
            periods.append(period)
    return sorted(periods, key=lambda p: (p.start, p.end, p.quantity))


def item_quantity(item: Stored) -> int:
    quantity = item.payload.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        return 1
    return quantity


async def conflicts_for(
    conn: BaseDBAsyncClient, item: Stored, wanted: Period, *, besides: Ref | None = None
) -> list[Period] | None:
    """None when ``wanted`` fits in the item's free units, else the periods in the way."""
    return conflicts(
        item_quantity(item), await bookings_of(conn, item.ref, besides=besides), wanted
    )


def period_json(period: Period) -> dict[str, Any]:
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "quantity": period.quantity,
    }


# -- the borrower asks ------------------------------------------------------------------


@dataclass(frozen=True)
class LoanRequest:
    equipment: Ref
    quantity: int
    start: date
    end: date
    message: str
    contact: dict[str, str]


def _text(document: Mapping[str, Any], name: str, limit: int, *, field: str) -> str:
    value = document.get(name, "")
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


def _day(document: Mapping[str, Any], name: str) -> date:
    value = document.get(name)
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"'{name}' must be a day, YYYY-MM-DD", field=name, keyword="format", limit="date"
        ) from None


REQUEST_FIELDS = frozenset({"equipment", "quantity", "start", "end", "message", "contact"})
CONTACT_FIELDS = frozenset({"name", "email", "phone"})


def parse_request(document: Any) -> LoanRequest:
    """A loan request from the body of ``POST /api/v1/loans`` (or the /admin form);
    ``Invalid`` names the first field at fault. Days in the past are accepted (a loan
    recorded afterwards); the /admin form refuses them, as a typing mistake."""
    from ..settings import single_address

    if not isinstance(document, dict):
        raise Invalid("the body must be a JSON object", field="", keyword="type", limit="object")
    unknown = sorted(set(document) - REQUEST_FIELDS)
    if unknown:
        raise Invalid(
            f"unknown field '{unknown[0]}'", field=unknown[0], keyword="additionalProperties"
        )
    for name in ("equipment", "quantity", "start", "end", "contact"):
        if name not in document:
            raise Invalid(f"'{name}' is required", field=name, keyword="required")
    try:
        equipment = Ref.parse(document["equipment"])
    except ValueError:
        raise Invalid(
            "'equipment' must be '<origin>/<oid>' of an equipment item",
            field="equipment",
            keyword="pattern",
        ) from None
    quantity = document["quantity"]
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise Invalid(
            "'quantity' must be an integer", field="quantity", keyword="type", limit="integer"
        )
    if not 1 <= quantity <= 1000:
        keyword, limit = ("minimum", 1) if quantity < 1 else ("maximum", 1000)
        raise Invalid(
            "'quantity' must be 1 to 1000", field="quantity", keyword=keyword, limit=limit
        )
    start, end = _day(document, "start"), _day(document, "end")
    if end < start:
        raise Invalid(
            "'end' must not be before 'start'", field="end", keyword="notBefore", limit="start"
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid(
            f"a loan lasts at most {MAX_DAYS} days", field="end", keyword="maxDays", limit=MAX_DAYS
        )
    message = _text(document, "message", MESSAGE_CHARS, field="message")
    contact = document["contact"]
    if not isinstance(contact, dict):
        raise Invalid(
            "'contact' must be an object", field="contact", keyword="type", limit="object"
        )
    unknown = sorted(set(contact) - CONTACT_FIELDS)
    if unknown:
        field = f"contact.{unknown[0]}"
        raise Invalid(f"unknown field '{field}'", field=field, keyword="additionalProperties")
    name = _text(contact, "name", NAME_CHARS, field="contact.name")
    email = _text(contact, "email", EMAIL_CHARS, field="contact.email")
    phone = _text(contact, "phone", PHONE_CHARS, field="contact.phone")
    if not name:
        raise Invalid("'contact.name' is required", field="contact.name", keyword="required")
    if not email and not phone:
        raise Invalid(
            "give 'contact.email' or 'contact.phone' (how the lender reaches the borrower)",
            field="contact.email",
            keyword="required",
        )
    if email and single_address(email) != email:
        raise Invalid(
            "'contact.email' is not an e-mail address",
            field="contact.email",
            keyword="format",
            limit="email",
        )
    if phone and not all(char.isdigit() or char in "+ .-()" for char in phone):
        raise Invalid(
            "'contact.phone' is not a phone number",
            field="contact.phone",
            keyword="format",
            limit="phone",
        )
    return LoanRequest(
        equipment, quantity, start, end, message, {"name": name, "email": email, "phone": phone}
    )


async def request_loan(node: Node, wanted: LoanRequest) -> Ref:
    """Write this node's request for ``wanted``; its ref. ``NotFound`` when this node
    does not know the item, ``Invalid`` when the item has fewer units, ``Unavailable``
    (with ``conflicts``) when its bookings known here leave too few on those days."""
    from ..services.log import new_oid

    async with step(node) as current:
        item = await reads.current(
            current.conn, wanted.equipment.origin, "equipment", wanted.equipment.oid
        )
        if item is None:
            raise NotFound(f"no equipment item {wanted.equipment} is known to this node")
        total = item_quantity(item)
        if wanted.quantity > total:
            raise Invalid(
                f"the item has {total} unit(s)", field="quantity", keyword="maximum", limit=total
            )
        period = Period(wanted.start, wanted.end, wanted.quantity)
        found = await conflicts_for(current.conn, item, period)
        if found is not None:
            raise Unavailable(
                "the item's bookings leave fewer units than asked on these days",
                conflicts=[period_json(p) for p in found],
            )
        sealed = privacy.seal_for(
            node, wanted.equipment.origin, {"contact": wanted.contact, "message": wanted.message}
        )
        payload: dict[str, Any] = {
            "equipment": str(wanted.equipment),
            "quantity": wanted.quantity,
            "start": wanted.start.isoformat(),
            "end": wanted.end.isoformat(),
            "state": "requested",
            "sealed": sealed,
        }
        title = str(item.payload.get("title") or "").strip()[:200]
        if title:
            payload["title"] = title
        oid = new_oid()
        await current.publish("loan", oid, "put", payload)
    return Ref(node.origin, oid)


# -- steps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What an action did: the loan's new state, and when it was refused after all
    (approve that no longer fits), the error to answer once the refusal is committed."""

    state: LoanState
    refused: Unavailable | None = None


def _decision_payload(
    loan: Loan, state: LoanState, *, reason: str | None = None, sealed: dict[str, str] | None = None
) -> dict[str, Any]:
    terms = loan.terms
    payload: dict[str, Any] = {
        "loan": str(loan.ref),
        "equipment": str(loan.conversation.thing),
        "quantity": terms["quantity"],
        "start": terms["start"],
        "end": terms["end"],
        "state": state.value,
    }
    if reason:
        payload["reason"] = reason
    if sealed:
        payload["sealed"] = sealed
    return payload


def _booking_payload(loan: Loan) -> dict[str, Any]:
    terms = loan.terms
    end = date.fromisoformat(str(terms["end"]))
    return {
        "title": loan.title[:200].strip() or "Prêt",
        "equipment": loan.conversation.thing.oid,
        "start": day_start(date.fromisoformat(str(terms["start"]))),
        "end": day_start(end + timedelta(days=1)),
        "quantity": terms["quantity"],
        "loan": str(loan.ref),
    }


async def _decide(
    current: Step,
    loan: Loan,
    state: LoanState,
    *,
    reason: str | None = None,
    note: str = "",
) -> None:
    """Write the lender's step ``state`` and bring the booking in line with it."""
    sealed = None
    if note:
        sealed = privacy.seal_for(current.node, loan.ref.origin, {"message": note})
    await current.publish(
        "loan_decision",
        decision_oid(loan.ref),
        "put",
        _decision_payload(loan, state, reason=reason, sealed=sealed),
    )
    oid = booking_oid(loan.ref)
    booked = await reads.current(current.conn, current.node.origin, "booking", oid)
    if state in (LoanState.approved, LoanState.checked_out):
        payload = _booking_payload(loan)
        if booked is None or booked.payload != payload:
            await current.publish("booking", oid, "put", payload)
    elif booked is not None:
        await current.publish("booking", oid, "delete", None)


async def _approve_or_decline(current: Step, loan: Loan) -> Outcome:
    """Approve ``loan`` if its units are free on its days, else decline it
    ``unavailable`` (``item_withdrawn`` when the item is gone)."""
    if loan.item is None:
        await _decide(current, loan, LoanState.declined, reason="item_withdrawn")
        refused = Unavailable(
            "the item is no longer lent", conflicts=[], state="declined", reason="item_withdrawn"
        )
        return Outcome(LoanState.declined, refused)
    terms = loan.terms
    wanted = Period(
        date.fromisoformat(str(terms["start"])),
        date.fromisoformat(str(terms["end"])),
        int(terms["quantity"]),
    )
    found = await conflicts_for(current.conn, loan.item, wanted, besides=loan.ref)
    if found is None:
        await _decide(current, loan, LoanState.approved)
        return Outcome(LoanState.approved)
    await _decide(current, loan, LoanState.declined, reason="unavailable")
    refused = Unavailable(
        "the item no longer has these units free on these days: the request is declined",
        conflicts=[period_json(p) for p in found],
        state="declined",
        reason="unavailable",
    )
    return Outcome(LoanState.declined, refused)


async def act(node: Node, ref: Ref, action: str, *, note: str = "") -> Outcome:
    """Take ``action`` on the loan ``ref`` as this node (``approve``, ``decline``,
    ``checkout``, ``return`` as the lender; ``cancel`` as either side). ``NotFound``,
    ``NotAllowed`` (not this node's action), ``WrongState``; an approval that no longer
    fits is committed as a refusal and returned with ``refused`` set."""
    if action not in LOAN_ACTORS:
        raise NotFound(f"no loan action {action!r}")
    if len(note) > MESSAGE_CHARS:
        raise Invalid(
            f"'message' is at most {MESSAGE_CHARS} characters",
            field="message",
            keyword="maxLength",
            limit=MESSAGE_CHARS,
        )
    async with step(node) as current:
        loan = await read_loan(current.conn, ref, current.today)
        if loan is None:
            raise NotFound(f"no loan {ref} is known to this node")
        roles = loan.roles(node)
        if not LOAN_ACTORS[action] & roles:
            raise NotAllowed(
                f"'{action}' is for the {' or '.join(sorted(LOAN_ACTORS[action]))}'s node;"
                f" this node is {' and '.join(sorted(roles)) or 'neither borrower nor lender'}"
            )
        if not LOAN.allows(loan.state, action):
            raise WrongState(
                f"'{action}' is not possible: the loan is {loan.state.value}",
                state=loan.state.value,
            )
        target = LOAN.next(loan.state, action)
        if action == "approve":
            return await _approve_or_decline(current, loan)
        if action == "cancel" and BORROWER in roles:
            # The borrower withdraws its request; the lender's node answers (a task).
            request = {**loan.request, "state": "cancelled"}
            await current.publish("loan", ref.oid, "put", request)
            return Outcome(target)
        reason = {
            "decline": "declined_by_lender",
            "cancel": "cancelled_by_lender",
        }.get(action)
        await _decide(current, loan, target, reason=reason, note=note.strip())
        return Outcome(target)


async def set_auto_approve(node: Node, oid: str, value: bool) -> None:
    """Set the lending rule of this node's item ``oid`` (``NotFound`` if it has none)."""
    async with step(node) as current:
        if await reads.current(current.conn, node.origin, "equipment", oid) is None:
            raise NotFound(f"no equipment item {oid!r} on this node")
        await rows.set_auto_approve(current.conn, oid, value, current.now)


async def auto_approves(conn: BaseDBAsyncClient, oid: str) -> bool:
    return await rows.auto_approves(conn, oid)


# -- the worker's handlers --------------------------------------------------------------


def _contact(opened: Mapping[str, Any] | None) -> Contact | None:
    contact = opened.get("contact") if opened else None
    if not isinstance(contact, dict):
        return None
    return Contact(
        privacy.text_member(contact, "name", NAME_CHARS),
        privacy.text_member(contact, "email", EMAIL_CHARS),
        privacy.text_member(contact, "phone", PHONE_CHARS),
    )


def _mail_terms(loan: Loan) -> dict[str, Any]:
    terms = loan.terms
    return {
        "item": loan.title,
        "quantity": int(terms["quantity"]),
        "start": str(terms["start"]),
        "end": str(terms["end"]),
    }


async def on_request(current: Step, task: Task) -> None:
    """The lender's node stored a version of a request for one of its items: answer it
    if there is something to answer (a new request under an auto-approve rule, a
    cancellation of an approved loan) and tell the place."""
    node = current.node
    loan = await read_loan(current.conn, Ref(task.origin, task.oid), current.today)
    if loan is None or loan.conversation.owner != node.origin:
        return  # purged since, or not ours (the hook only queues ours)
    ref = loan.ref
    decided = _decision_state(loan.conversation)
    opened = privacy.opened(node, loan.request)
    lender_mail = {**_mail_terms(loan), "role": LENDER, "other_place": loan.borrower_name}
    if loan.request.get("state") == "cancelled":
        if decided is LoanState.approved:
            await _decide(current, loan, LoanState.cancelled, reason="cancelled_by_borrower")
        if decided in (None, LoanState.approved):
            notification = compose.loan_decided(
                str(ref), "cancelled", reason="cancelled_by_borrower", **lender_mail
            )
            await current.notify(notification, once_key=f"loan:{ref}:cancelled:lender")
        return
    if decided is not None:
        return  # already answered: this version changes nothing the lender decides
    if loan.item is None:
        await _decide(current, loan, LoanState.declined, reason="item_withdrawn")
        return
    if await rows.auto_approves(current.conn, loan.item.oid):
        outcome = await _approve_or_decline(current, loan)
        reason = outcome.refused.extra.get("reason") if outcome.refused else None
        notification = compose.loan_decided(
            str(ref), outcome.state.value, reason=reason, contact=_contact(opened), **lender_mail
        )
        await current.notify(notification, once_key=f"loan:{ref}:{outcome.state.value}:lender")
        return
    notification = compose.new_loan_request(
        str(ref),
        **_mail_terms(loan),
        borrower=loan.borrower_name,
        contact=_contact(opened),
        message=privacy.text_member(opened, "message", MESSAGE_CHARS),
    )
    await current.notify(notification, once_key=f"loan:{ref}:requested:lender")


async def on_item_deleted(current: Step, task: Task) -> None:
    """This node deleted one of its items: the requests still waiting for it are declined,
    the approved ones cancelled (reason ``item_withdrawn``); units already out stay
    until they are returned."""
    node = current.node
    if task.origin != node.origin:
        return
    if await reads.current(current.conn, node.origin, "equipment", task.oid) is not None:
        return  # published again since
    item = Ref(node.origin, task.oid)
    for loan in await list_loans(current.conn, node, LENDER, current.today, limit=reads.MAX_LIST):
        if loan.conversation.thing != item:
            continue
        if loan.state is LoanState.requested:
            await _decide(current, loan, LoanState.declined, reason="item_withdrawn")
        elif loan.state is LoanState.approved:
            await _decide(current, loan, LoanState.cancelled, reason="item_withdrawn")


async def on_decision(current: Step, task: Task) -> None:
    """The borrower's node stored a step of the lender about one of its requests: tell
    the place (once per state)."""
    node = current.node
    version = await reads.version_at(current.conn, task.origin, task.seq)
    if version is None or version.payload is None:
        return
    try:
        ref = Ref.parse(str(version.payload.get("loan")))
    except ValueError:
        return
    loan = await read_loan(current.conn, ref, current.today)
    if loan is None or ref.origin != node.origin:
        return
    if not decision_matches(ref, loan.request, version.origin, version.payload):
        return  # not the lender's answer to this request: ignored (9.4)
    state = str(version.payload.get("state"))
    reason = version.payload.get("reason")
    if state not in compose.LOAN_OUTCOMES or reason == "cancelled_by_borrower":
        return  # nothing new for the borrower (it cancelled itself)
    notification = compose.loan_decided(
        str(ref),
        state,
        role=BORROWER,
        other_place=loan.lender_name,
        reason=reason if isinstance(reason, str) else None,
        note=privacy.text_member(privacy.opened(node, version.payload), "message", MESSAGE_CHARS),
        **_mail_terms(loan),
    )
    await current.notify(notification, once_key=f"loan:{ref}:{state}:borrower")


# -- periodic: reminders and retention --------------------------------------------------


async def remind_overdue(node: Node, now: datetime) -> int:
    """Queue one reminder per overdue loan to each of the places concerned that is this
    node (``once_key``: a loan is reminded once per side); how many loans were seen."""
    seen = 0
    async with step(node, now) as current:
        today = current.today
        for role in (LENDER, BORROWER):
            offset = 0
            while True:
                page = await list_loans(
                    current.conn, node, role, today, limit=reads.MAX_LIST, offset=offset
                )
                for loan in page:
                    if loan.state is not LoanState.overdue:
                        continue
                    seen += 1
                    other = loan.borrower_name if role == LENDER else loan.lender_name
                    notification = compose.loan_decided(
                        str(loan.ref), "overdue", role=role, other_place=other, **_mail_terms(loan)
                    )
                    await current.notify(notification, once_key=f"loan:{loan.ref}:overdue:{role}")
                if len(page) < reads.MAX_LIST:
                    break
                offset += len(page)
    return seen


async def retention_day(conn: BaseDBAsyncClient, request: Stored) -> date | None:
    """The day from which this node's request ``request`` counts its retention: its last
    day, unless the units are still out (not returned: kept until they are)."""
    conversation = await read_conversation(conn, LOANS, request.ref, history=False)
    if conversation is None:
        return None
    try:
        end = date.fromisoformat(str(request.payload.get("end")))
    except ValueError:
        return None
    if _decision_state(conversation) is LoanState.checked_out:
        return None
    return end


# -- /admin -----------------------------------------------------------------------------


async def admin_rows(conn: BaseDBAsyncClient, node: Node, role: str, today: date) -> list[Row]:
    """The loans of the /admin inbox (``owner``: this node lends) or outbox."""
    mine = await list_loans(
        conn, node, LENDER if role == "owner" else BORROWER, today, limit=reads.MAX_LIST
    )
    return [loan_row(node, loan) for loan in mine]


def history_lines(loan: Loan) -> list[HistoryLine]:
    """The history of ``loan`` for a page: each step's label, time, place and reason."""
    names = {
        loan.conversation.requester: loan.borrower_name,
        loan.conversation.owner: loan.lender_name,
    }
    lines = []
    for taken in loan.conversation.history:
        try:
            label = STATE_LABELS[LoanState(taken.state)]
        except ValueError:
            label = taken.state
        lines.append(
            HistoryLine(label, taken.at, names.get(taken.by, taken.by), reason_label(taken.reason))
        )
    return lines


def loan_row(node: Node, loan: Loan) -> Row:
    lender = LENDER in loan.roles(node) and loan.conversation.requester != node.origin
    terms = loan.terms
    history = loan.conversation.history
    return Row(
        ref=loan.ref,
        title=loan.title,
        state=loan.state.value,
        state_label=STATE_LABELS[loan.state],
        other_place=loan.borrower_name if lender else loan.lender_name,
        history=history_lines(loan),
        actions=[
            Action(name, ACTION_LABELS[name], danger=name in ("decline", "cancel"))
            for name in loan.actions(node)
        ],
        page_route="admin.loan",
        action_route="admin.loan.action",
        summary="admin/_loan_summary.html",
        facts={**terms, "item": loan.conversation.thing},
        updated=history[-1].at if history else loan.conversation.request.updated,
    )
