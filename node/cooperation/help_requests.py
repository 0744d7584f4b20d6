"""Help requests between places (BRIEF 8, docs/protocol.md 9.1 to 9.5): "who can help
with X (a theme, a description, wished days)?".

The asker's node writes a public ``help_request`` object (no personal data: it is shown
on every node); each place that offers writes a ``help_offer`` object in its own log,
whose message is sealed to the asker and to itself. The asker is the only authority on
its request: it accepts one open offer naming it (its request becomes ``closed`` with
``accepted_offer``), or cancels it; every other node derives the same state from the two
logs. Every node lists the open requests whose theme is one of its own published skill
themes, nearest first (its place's point to the asker's place, by their coordinates or
their communes).

The asker's node is told of each new offer (a ``coop_tasks`` row, then a mail); the
offerer's node of the acceptance of its offer (the closing version of the request names
its offer: ``inbox.ADDRESSEES``). This module holds the rules; ``api/help_requests.py``
and ``web/routes_admin_help.py`` are their two faces.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation import schema
from federation.cooperation import (
    HELP_OFFER,
    HELP_REQUEST,
    HelpOfferState,
    HelpState,
    Ref,
    help_offer_state,
)

from ..convertors import HELP_ACTIONS
from ..mail import compose
from ..mail.compose import Contact
from ..services.geo import distance_km
from ..services.places import place_point
from ..store.cooperation import Task
from ..web.i18n import N_
from . import privacy, reads
from .conversations import Step as HistoryStep
from .errors import CoopError, Invalid, NotAllowed, NotFound, WrongState
from .reads import Stored
from .session import Step, step
from .views import Action, HistoryLine, Row

if TYPE_CHECKING:
    from ..runtime import Node

HEADING = N_("Help requests")
#: Bounds of a request (the schema's) and of an offer's message (its sealed box stays
#: under 8 KiB).
TITLE_CHARS = 200
DESCRIPTION_CHARS = 20_000
MESSAGE_CHARS = 4000
#: Longest span of wished days (first and last included).
MAX_DAYS = 366
#: Most open requests of the network one listing considers (pages of ``reads.MAX_LIST``).
MAX_OPEN = 5000
#: Roles of a node: the place that asks, a place that offers.
ASKER, OFFERER = "asker", "offerer"

STATE_LABELS = {
    HelpState.open: N_("Open"),
    HelpState.closed: N_("Closed: an offer was accepted"),
    HelpState.cancelled: N_("Cancelled"),
}
OFFER_LABELS = {
    HelpOfferState.open: N_("Help offered"),
    HelpOfferState.withdrawn: N_("Offer withdrawn"),
    HelpOfferState.accepted: N_("Offer accepted"),
}
#: The buttons of a request's row (``action_route``): the asker cancels, an offerer
#: withdraws its offer.
ACTION_LABELS = {
    "cancel": N_("Cancel the request"),
    "withdraw": N_("Withdraw my offer"),
}
ROW_ACTIONS = HELP_ACTIONS

# Personal data never goes in clear into a public request (BRIEF 8): its text is refused
# when it holds an e-mail address or a phone number (the offers' messages are sealed).
_EMAIL_IN_TEXT = re.compile(r"[^\s@<>()\[\]]+@[^\s@<>()\[\]]+\.[^\W\d_]{2,}")
_PHONE_IN_TEXT = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9](?:[ .-]?\d){7,13}(?!\d)"  # international: +33 2 98 ...
    r"|(?<!\w)0[1-9](?:[ .-]?\d{2}){4}(?!\d)"  # French: 02 98 76 54 32
)


class AlreadyOffered(CoopError):
    """This place has an open offer for the request already (``offer``: its id)."""

    status = 409
    code = "already_offered"


@cache
def themes() -> tuple[str, ...]:
    """The skill themes a request may name (the schema's closed list)."""
    document = schema.document("urn:papi:payload/help_request")
    assert isinstance(document, dict)
    return tuple(str(theme) for theme in document["properties"]["theme"]["enum"])


# -- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """An offer of help as this node sees it."""

    stored: Stored
    state: HelpOfferState
    offerer_name: str
    #: When the offer was first made (RFC 3339), when history was read; else its update.
    offered_at: str

    @property
    def ref(self) -> Ref:
        return self.stored.ref

    @property
    def offerer(self) -> str:
        return self.stored.origin


@dataclass(frozen=True)
class Place:
    """What a request shows of its asker's place (public data of its profile)."""

    name: str
    commune: str | None
    profile: dict[str, Any] | None


@dataclass(frozen=True)
class HelpRequest:
    """A help request as this node sees it: the asker's object, the offers naming it."""

    stored: Stored
    state: HelpState
    offers: list[Offer]
    asker: Place
    #: Its theme is one of this node's published skill themes.
    matching: bool
    history: list[HistoryStep] = field(default_factory=list)
    #: From this node's place to the asker's (km, one decimal); None when unknown.
    distance_km: float | None = None

    @property
    def ref(self) -> Ref:
        return self.stored.ref

    @property
    def payload(self) -> dict[str, Any]:
        return self.stored.payload

    @property
    def title(self) -> str:
        return str(self.payload.get("title") or self.ref.oid)

    @property
    def last_day(self) -> str:
        return str(self.payload.get("to") or "")

    @property
    def accepted_offer(self) -> str | None:
        value = self.payload.get("accepted_offer")
        return value if self.state is HelpState.closed and isinstance(value, str) else None

    def past(self, today: date) -> bool:
        """Its last day is over (no more offers)."""
        return self.last_day < today.isoformat()

    def offer_of(self, origin: str) -> Offer | None:
        """``origin``'s current offer that is not withdrawn (one at a time), if any."""
        for offer in self.offers:
            if offer.offerer == origin and offer.state is not HelpOfferState.withdrawn:
                return offer
        return None

    def roles(self, node: Node) -> set[str]:
        roles = set()
        if self.ref.origin == node.origin:
            roles.add(ASKER)
        if any(offer.offerer == node.origin for offer in self.offers):
            roles.add(OFFERER)
        return roles

    def actions(self, node: Node, today: date) -> list[str]:
        """What this node may do now: ``cancel`` and ``accept`` (the asker), ``offer``
        and ``withdraw`` (another place)."""
        if self.ref.origin == node.origin:
            return [
                action
                for action in HELP_REQUEST.actions(self.state)
                if action != "accept" or self.open_offers
            ]
        actions = []
        mine = self.offer_of(node.origin)
        if mine is None and self.state is HelpState.open and not self.past(today):
            actions.append("offer")
        if mine is not None and HELP_OFFER.allows(mine.state, "withdraw"):
            actions.append("withdraw")
        return actions

    @property
    def open_offers(self) -> list[Offer]:
        return [offer for offer in self.offers if offer.state is HelpOfferState.open]


def _place(origin: str, stored: Stored | None, names: Mapping[str, str]) -> Place:
    profile = stored.payload if stored is not None else None
    name = str((profile or {}).get("nom") or names.get(origin) or origin)
    commune = (profile or {}).get("commune")
    return Place(name, commune if isinstance(commune, str) and commune else None, profile)


def _offer_steps(versions: Sequence[reads.Version]) -> list[HistoryStep]:
    steps = []
    for version in versions:
        if version.payload is None:
            continue
        state = "withdrawn" if version.payload.get("state") == "withdrawn" else "offered"
        steps.append(HistoryStep(state, version.ts, version.origin, version.seq, "offer"))
    return steps


async def _build(
    conn: BaseDBAsyncClient,
    stored: Stored,
    own_themes: frozenset[str],
    *,
    history: bool,
) -> HelpRequest:
    ref = stored.ref
    found = await reads.objects_of(conn, "help_offer", equal=("request", str(ref)))
    names = await reads.place_names(conn, [ref.origin, *(o.origin for o in found)])
    profile = await reads.current(conn, ref.origin, "place", "place")
    steps: list[HistoryStep] = []
    first_seen: dict[Ref, str] = {}
    if history:
        for version in await reads.versions(conn, ref.origin, "help_request", ref.oid):
            if version.payload is not None:
                state = str(version.payload.get("state", ""))
                steps.append(HistoryStep(state, version.ts, version.origin, version.seq, "request"))
        for offer in found:
            offer_steps = _offer_steps(
                await reads.versions(conn, offer.origin, "help_offer", offer.oid)
            )
            if offer_steps:
                first_seen[offer.ref] = offer_steps[0].at
            steps += offer_steps
        steps.sort(key=lambda s: (s.at, s.by, s.seq))
    offers = [
        Offer(
            offer,
            help_offer_state(ref, stored.payload, offer.ref, offer.payload),
            names.get(offer.origin, offer.origin),
            first_seen.get(offer.ref, offer.updated),
        )
        for offer in found
    ]
    offers.sort(key=lambda o: (o.offered_at, str(o.ref)))
    return HelpRequest(
        stored,
        HELP_REQUEST.parse(str(stored.payload.get("state"))),
        offers,
        _place(ref.origin, profile, names),
        str(stored.payload.get("theme")) in own_themes,
        steps,
    )


async def own_themes(conn: BaseDBAsyncClient, origin: str) -> frozenset[str]:
    """The themes of ``origin``'s published skills."""
    found: set[str] = set()
    offset = 0
    while True:
        page = await reads.objects_of(conn, "skill", origin=origin, offset=offset)
        found.update(
            str(s.payload["theme"]) for s in page if isinstance(s.payload.get("theme"), str)
        )
        if len(page) < reads.MAX_LIST:
            return frozenset(found)
        offset += len(page)


async def read_help(
    conn: BaseDBAsyncClient, node: Node, ref: Ref, *, history: bool = True
) -> HelpRequest | None:
    """The request ``ref`` (None when this node does not hold it)."""
    stored = await reads.current(conn, ref.origin, "help_request", ref.oid)
    if stored is None:
        return None
    return await _build(conn, stored, await own_themes(conn, node.origin), history=history)


def located(here: Mapping[str, Any] | None, found: Sequence[HelpRequest]) -> list[HelpRequest]:
    """``found`` with the distance from this node's place (``here``, its profile) to each
    asker's place, nearest first; unknown distances last, then by first wished day.
    CPU work (the communes table): run it in a thread."""
    origin_point = place_point(dict(here))[0] if here else None
    result = []
    for request in found:
        profile = request.asker.profile
        point = place_point(profile)[0] if profile else None
        distance = (
            round(distance_km(origin_point, point), 1)
            if origin_point is not None and point is not None
            else None
        )
        result.append(replace(request, distance_km=distance))
    result.sort(
        key=lambda r: (
            r.distance_km is None,
            r.distance_km or 0.0,
            str(r.payload.get("from")),
            r.title.casefold(),
            str(r.ref),
        )
    )
    return result


async def with_distances(node: Node, found: Sequence[HelpRequest]) -> list[HelpRequest]:
    """``located`` from this node's place, read here and computed in a thread."""
    async with node.db.transaction() as conn:
        here = await reads.current(conn, node.origin, "place", "place")
    return await asyncio.to_thread(located, here.payload if here else None, found)


async def open_requests(
    conn: BaseDBAsyncClient,
    node: Node,
    today: date,
    *,
    matching: bool,
    theme: str | None = None,
    history: bool = False,
) -> list[HelpRequest]:
    """The open requests of the network whose last day is not past (of origins not
    frozen), only those whose theme is one of this node's skill themes when
    ``matching``; in no particular order (``located`` sorts them)."""
    mine = await own_themes(conn, node.origin)
    frozen = await reads.frozen_origins(conn)
    found = []
    offset = 0
    while offset < MAX_OPEN:
        page = await reads.objects_of(
            conn, "help_request", equal=("state", HelpState.open.value), offset=offset
        )
        for stored in page:
            wanted = str(stored.payload.get("theme"))
            if stored.origin in frozen or str(stored.payload.get("to")) < today.isoformat():
                continue
            if (matching and wanted not in mine) or (theme is not None and wanted != theme):
                continue
            found.append(await _build(conn, stored, mine, history=history))
        if len(page) < reads.MAX_LIST:
            break
        offset += len(page)
    return found


async def network_requests(
    node: Node, today: date, *, matching: bool, theme: str | None = None
) -> list[HelpRequest]:
    """``open_requests``, nearest first."""
    async with node.db.transaction() as conn:
        found = await open_requests(conn, node, today, matching=matching, theme=theme, history=True)
    return await with_distances(node, found)


async def asked_by(
    conn: BaseDBAsyncClient, node: Node, *, limit: int = reads.MAX_LIST, history: bool = True
) -> list[HelpRequest]:
    """This node's own requests (every state), most recently changed first."""
    mine = await own_themes(conn, node.origin)
    found = await reads.objects_of(conn, "help_request", origin=node.origin, limit=limit)
    return [await _build(conn, stored, mine, history=history) for stored in found]


async def offered_by(
    conn: BaseDBAsyncClient, node: Node, *, limit: int = reads.MAX_LIST, history: bool = True
) -> list[HelpRequest]:
    """The requests this node offered help to (every state), most recent offer first."""
    mine = await own_themes(conn, node.origin)
    offers = await reads.objects_of(conn, "help_offer", origin=node.origin, limit=limit)
    found: list[HelpRequest] = []
    seen: set[Ref] = set()
    for offer in offers:
        try:
            ref = Ref.parse(str(offer.payload.get("request")))
        except ValueError:
            continue
        if ref in seen:
            continue
        seen.add(ref)
        stored = await reads.current(conn, ref.origin, "help_request", ref.oid)
        if stored is not None:
            found.append(await _build(conn, stored, mine, history=history))
    return found


def message_of(node: Node, offer: Offer) -> str | None:
    """The offer's message when this node can open it (the asker's and the offerer's
    nodes); the caller shows it only to an authenticated person."""
    opened = privacy.opened(node, offer.stored.payload)
    return None if opened is None else privacy.text_member(opened, "message", MESSAGE_CHARS)


# -- the asker asks ---------------------------------------------------------------------


@dataclass(frozen=True)
class HelpAsk:
    theme: str
    title: str
    description: str
    first: date
    last: date


REQUEST_FIELDS = ("theme", "title", "description", "from", "to")


def _text(document: Mapping[str, Any], name: str, limit: int, *, required: bool) -> str:
    value = document.get(name, "")
    if not isinstance(value, str):
        raise Invalid(f"'{name}' must be text", field=name, keyword="type", limit="string")
    value = value.strip()
    if required and not value:
        raise Invalid(f"'{name}' is required", field=name, keyword="required")
    if len(value) > limit:
        raise Invalid(
            f"'{name}' is at most {limit} characters", field=name, keyword="maxLength", limit=limit
        )
    return value


def holds_contact(text: str) -> bool:
    """True when ``text`` holds an e-mail address or a phone number."""
    return bool(_EMAIL_IN_TEXT.search(text) or _PHONE_IN_TEXT.search(text))


def _day(document: Mapping[str, Any], name: str) -> date:
    value = document.get(name)
    if value is None:
        raise Invalid(f"'{name}' is required", field=name, keyword="required")
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"'{name}' must be a day, YYYY-MM-DD", field=name, keyword="format", limit="date"
        ) from None


def parse_request(document: Any, today: date) -> HelpAsk:
    """A help request from the body of ``POST /api/v1/help-requests`` (or the /admin
    form); ``Invalid`` names the first field at fault."""
    if not isinstance(document, dict):
        raise Invalid("the body must be a JSON object", field="", keyword="type", limit="object")
    unknown = sorted(set(document) - set(REQUEST_FIELDS))
    if unknown:
        raise Invalid(
            f"unknown field '{unknown[0]}'", field=unknown[0], keyword="additionalProperties"
        )
    if "theme" not in document:
        raise Invalid("'theme' is required", field="theme", keyword="required")
    theme = document["theme"]
    if theme not in themes():
        raise Invalid(
            "'theme' must be one of the skill themes", field="theme", keyword="enum",
            limit=list(themes()),
        )  # fmt: skip
    title = _text(document, "title", TITLE_CHARS, required=True)
    description = _text(document, "description", DESCRIPTION_CHARS, required=False)
    for name, text in (("title", title), ("description", description)):
        if holds_contact(text):
            raise Invalid(
                f"'{name}' holds an e-mail address or a phone number: a help request is public;"
                " personal data goes in the offers' messages, which are sealed",
                field=name,
                keyword="personalData",
            )
    first, last = _day(document, "from"), _day(document, "to")
    if last < first:
        raise Invalid(
            "'to' must not be before 'from'", field="to", keyword="notBefore", limit="from"
        )
    if first < today:
        raise Invalid(
            "'from' is in the past", field="from", keyword="minimum", limit=today.isoformat()
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid(
            f"a request spans at most {MAX_DAYS} days", field="to", keyword="maxDays",
            limit=MAX_DAYS,
        )  # fmt: skip
    return HelpAsk(str(theme), title, description, first, last)


async def ask_help(node: Node, wanted: HelpAsk) -> Ref:
    """Write this node's request; its ref."""
    from ..services.log import new_oid

    payload: dict[str, Any] = {
        "theme": wanted.theme,
        "title": wanted.title,
        "from": wanted.first.isoformat(),
        "to": wanted.last.isoformat(),
        "state": HelpState.open.value,
    }
    if wanted.description:
        payload["description"] = wanted.description
    oid = new_oid()
    async with step(node) as current:
        await current.publish("help_request", oid, "put", payload)
    return Ref(node.origin, oid)


async def _request_for_step(current: Step, ref: Ref) -> HelpRequest:
    found = await read_help(current.conn, current.node, ref, history=False)
    if found is None:
        raise NotFound(f"no help request {ref} is known to this node")
    return found


def _wrong_state(found: HelpRequest, action: str) -> WrongState:
    return WrongState(
        f"'{action}' is not possible: the request is {found.state.value}", state=found.state.value
    )


async def cancel(node: Node, ref: Ref) -> HelpState:
    """The asker withdraws its open request."""
    async with step(node) as current:
        found = await _request_for_step(current, ref)
        if ref.origin != node.origin:
            raise NotAllowed("only the asker's node cancels a help request")
        if not HELP_REQUEST.allows(found.state, "cancel"):
            raise _wrong_state(found, "cancel")
        target = HELP_REQUEST.next(found.state, "cancel")
        payload = {**found.payload, "state": target.value}
        await current.publish("help_request", ref.oid, "put", payload)
    return target


async def accept(node: Node, ref: Ref, offer_ref: Ref) -> HelpState:
    """The asker accepts ``offer_ref``: its request is closed with that offer, for
    every other offerer too."""
    async with step(node) as current:
        found = await _request_for_step(current, ref)
        if ref.origin != node.origin:
            raise NotAllowed("only the asker's node accepts an offer")
        offer = next((o for o in found.offers if o.ref == offer_ref), None)
        if offer is None:
            elsewhere = await reads.current(
                current.conn, offer_ref.origin, "help_offer", offer_ref.oid
            )
            if elsewhere is None:
                raise NotFound(f"no offer {offer_ref} is known to this node")
            raise NotAllowed(f"the offer {offer_ref} answers another request")
        if not HELP_REQUEST.allows(found.state, "accept"):
            raise _wrong_state(found, "accept")
        if offer.state is not HelpOfferState.open:
            raise WrongState(
                f"the offer is {offer.state.value}: only an open offer is accepted",
                state=found.state.value,
                offer_state=offer.state.value,
            )
        target = HELP_REQUEST.next(found.state, "accept")
        payload = {**found.payload, "state": target.value, "accepted_offer": str(offer_ref)}
        await current.publish("help_request", ref.oid, "put", payload)
    return target


async def offer_help(node: Node, ref: Ref, message: str) -> Ref:
    """This node offers help with ``ref``; the offer's ref. Its message is sealed to the
    asker and to this node."""
    from ..services.log import new_oid

    if not isinstance(message, str) or not message.strip():
        raise Invalid("'message' is required", field="message", keyword="required")
    message = message.strip()
    if len(message) > MESSAGE_CHARS:
        raise Invalid(
            f"'message' is at most {MESSAGE_CHARS} characters", field="message",
            keyword="maxLength", limit=MESSAGE_CHARS,
        )  # fmt: skip
    async with step(node) as current:
        found = await _request_for_step(current, ref)
        if ref.origin == node.origin:
            raise NotAllowed("a place does not offer help with its own request")
        if found.state is not HelpState.open:
            raise _wrong_state(found, "offer")
        if found.past(current.today):
            raise WrongState(
                "the request's last day is past", state=found.state.value, reason="past"
            )
        mine = found.offer_of(node.origin)
        if mine is not None:
            raise AlreadyOffered(
                "this place has offered help with this request already (withdraw it first)",
                offer=str(mine.ref),
            )
        sealed = privacy.seal_for(node, ref.origin, {"message": message})
        oid = new_oid()
        payload = {"request": str(ref), "state": HelpOfferState.open.value, "sealed": sealed}
        await current.publish("help_offer", oid, "put", payload)
    return Ref(node.origin, oid)


async def withdraw(node: Node, ref: Ref, offer_ref: Ref | None = None) -> HelpOfferState:
    """The offerer withdraws its offer ``offer_ref`` on ``ref`` (None: its current one)."""
    async with step(node) as current:
        found = await _request_for_step(current, ref)
        if offer_ref is None:
            mine = found.offer_of(node.origin)
            if mine is None:
                raise WrongState("this place has no open offer for this request", state="none")
            offer_ref = mine.ref
        if offer_ref.origin != node.origin:
            raise NotAllowed("only the offerer's node withdraws an offer")
        offer = next((o for o in found.offers if o.ref == offer_ref), None)
        if offer is None:
            elsewhere = await reads.current(current.conn, node.origin, "help_offer", offer_ref.oid)
            if elsewhere is None:
                raise NotFound(f"no offer {offer_ref} is known to this node")
            raise NotAllowed(f"the offer {offer_ref} answers another request")
        if not HELP_OFFER.allows(offer.state, "withdraw"):
            raise WrongState(
                f"'withdraw' is not possible: the offer is {offer.state.value}",
                state=offer.state.value,
            )
        target = HELP_OFFER.next(offer.state, "withdraw")
        payload = {**offer.stored.payload, "state": target.value}
        await current.publish("help_offer", offer_ref.oid, "put", payload)
    return target


async def read_offer(node: Node, ref: Ref, offer_ref: Ref) -> Offer:
    """The offer ``offer_ref`` of the request ``ref`` (``NotFound`` otherwise)."""
    async with node.db.transaction() as conn:
        found = await read_help(conn, node, ref)
    offer = next((o for o in found.offers if o.ref == offer_ref), None) if found else None
    if offer is None:
        raise NotFound(f"no offer {offer_ref} of the help request {ref} is known to this node")
    return offer


# -- the worker's handlers --------------------------------------------------------------


async def on_offer(current: Step, task: Task) -> None:
    """The asker's node stored an offer for one of its requests: tell the place (once
    per offer, while both are open)."""
    node = current.node
    offer = await reads.current(current.conn, task.origin, "help_offer", task.oid)
    if offer is None or offer.payload.get("state") != HelpOfferState.open:
        return  # purged or withdrawn since
    try:
        ref = Ref.parse(str(offer.payload.get("request")))
    except ValueError:
        return
    if ref.origin != node.origin:
        return
    found = await read_help(current.conn, node, ref, history=False)
    if found is None or found.state is not HelpState.open:
        return  # closed or cancelled meanwhile: nothing to accept any more
    names = await reads.place_names(current.conn, [offer.origin])
    opened = privacy.opened(node, offer.payload)
    notification = compose.new_help_offer(
        str(ref),
        request_title=found.title,
        offerer=names.get(offer.origin, offer.origin),
        message=privacy.text_member(opened, "message", MESSAGE_CHARS),
    )
    await current.notify(notification, once_key=f"help:{offer.ref}:offered")


def _public_contact(place: Place) -> Contact:
    """The asker place's public contact (its profile's first address and phone)."""
    profile = place.profile or {}
    courriels = profile.get("courriels")
    email = (
        next((c for c in courriels if isinstance(c, str)), "")
        if isinstance(courriels, list)
        else ""
    )
    phone = profile.get("telephone")
    return Contact(place.name, email, phone if isinstance(phone, str) else "")


async def on_closed(current: Step, task: Task) -> None:
    """The offerer's node stored the closing of a request that names one of its offers:
    tell the place, if the offer is really its answer to that request (a request of
    another asker naming our offer changes nothing)."""
    node = current.node
    ref = Ref(task.origin, task.oid)
    found = await read_help(current.conn, node, ref, history=False)
    if found is None or found.accepted_offer is None:
        return
    try:
        offer_ref = Ref.parse(found.accepted_offer)
    except ValueError:
        return
    offer = next((o for o in found.offers if o.ref == offer_ref), None)
    if offer_ref.origin != node.origin or offer is None:
        return  # not ours, or not an offer for this very request
    if offer.state is not HelpOfferState.accepted:
        return
    notification = compose.help_offer_accepted(
        str(ref),
        request_title=found.title,
        asker=found.asker.name,
        contact=_public_contact(found.asker),
    )
    await current.notify(notification, once_key=f"help:{ref}:accepted:{offer_ref}")


# -- retention --------------------------------------------------------------------------


async def offer_retention_day(conn: BaseDBAsyncClient, offer: Stored) -> date | None:
    """The day from which this node's offer counts its retention: the request's last
    wished day; when the request is unknown here, the day of the offer's last change."""
    try:
        ref = Ref.parse(str(offer.payload.get("request")))
    except ValueError:
        ref = None
    request = await reads.current(conn, ref.origin, "help_request", ref.oid) if ref else None
    text = str(request.payload.get("to")) if request else offer.updated[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# -- /admin -----------------------------------------------------------------------------


async def admin_rows(conn: BaseDBAsyncClient, node: Node, role: str, today: date) -> list[Row]:
    """The help requests of the /admin inbox (``owner``: the open requests of others
    that match this place's skills, and those it offered help to) or outbox (this
    place's own requests)."""
    if role != "owner":
        return [help_row(node, found, today) for found in await asked_by(conn, node)]
    shown = await offered_by(conn, node)
    seen = {found.ref for found in shown}
    for found in await open_requests(conn, node, today, matching=True, history=True):
        if found.ref.origin != node.origin and found.ref not in seen:
            shown.append(found)
    return [help_row(node, found, today) for found in shown]


def history_lines(found: HelpRequest) -> list[HistoryLine]:
    names = {found.ref.origin: found.asker.name}
    names.update({offer.offerer: offer.offerer_name for offer in found.offers})
    labels: dict[str, str] = {
        "open": N_("Help asked"),
        "closed": N_("Offer accepted, request closed"),
        "cancelled": N_("Request cancelled"),
        "offered": OFFER_LABELS[HelpOfferState.open],
        "withdrawn": OFFER_LABELS[HelpOfferState.withdrawn],
    }
    return [
        HistoryLine(labels.get(taken.state, taken.state), taken.at, names.get(taken.by, taken.by))
        for taken in found.history
    ]


def help_row(node: Node, found: HelpRequest, today: date) -> Row:
    history = found.history
    mine = found.offer_of(node.origin)
    return Row(
        ref=found.ref,
        title=found.title,
        state=found.state.value,
        state_label=STATE_LABELS[found.state],
        other_place=found.asker.name,
        history=history_lines(found),
        actions=[
            Action(name, ACTION_LABELS[name], danger=True)
            for name in found.actions(node, today)
            if name in ROW_ACTIONS
        ],
        page_route="admin.help_request",
        action_route="admin.help_request.action",
        summary="admin/_help_summary.html",
        facts={
            "theme": found.payload.get("theme"),
            "from": found.payload.get("from"),
            "to": found.payload.get("to"),
            "commune": found.asker.commune,
            "offers": len(found.open_offers),
            "my_offer": mine.state.value if mine else None,
        },
        updated=history[-1].at if history else found.stored.updated,
    )
