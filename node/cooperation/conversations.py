"""A conversation as every node reads it: the requester's object, the owner's answer to
it, and the history of both (docs/protocol.md 9.1 and 9.4).

Generic over the workflows where the owner answers with a decision object of its own
(loans, registrations): a ``Pair`` names the kinds and fields. The state itself is
derived by ``federation.cooperation`` (``loan_state``, ``registration_state``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.cooperation import Ref, decision_matches, decision_oid

from . import reads
from .reads import Stored, Version

if TYPE_CHECKING:
    from ..runtime import Node


@dataclass(frozen=True)
class Pair:
    """A workflow where the requester writes ``request_kind`` objects naming a thing
    (``thing_field``) and the thing's owner answers with one ``decision_kind`` object
    per request (oid ``decision_oid(ref)``) naming it in ``request_field``."""

    request_kind: str
    decision_kind: str
    thing_field: str
    request_field: str


LOANS = Pair("loan", "loan_decision", "equipment", "loan")
REGISTRATIONS = Pair("registration", "registration_decision", "event", "registration")


@dataclass(frozen=True)
class Step:
    """One version of either side: what it said (``state``), when (``at``, the entry's
    informative ``ts``), who (``by``, the origin that signed it)."""

    state: str
    at: str
    by: str
    seq: int
    side: str  # "request" or "decision"
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        step: dict[str, Any] = {"state": self.state, "at": self.at, "by": self.by}
        if self.reason:
            step["reason"] = self.reason
        return step


@dataclass(frozen=True)
class Conversation:
    ref: Ref
    #: The requester's current object.
    request: Stored
    #: What the request is about (an equipment item, an event).
    thing: Ref
    #: The owner's current decision, when it is the owner's answer to this request.
    decision: Stored | None
    history: list[Step] = field(default_factory=list)

    @property
    def requester(self) -> str:
        return self.ref.origin

    @property
    def owner(self) -> str:
        return self.thing.origin


class ConversationView:
    """What a loan and a registration, as this node sees them, read alike from their
    conversation (the subclasses are dataclasses with a ``conversation`` field)."""

    conversation: Conversation
    #: The names of the two sides in the workflow (``borrower`` and ``lender``...).
    requester_role: ClassVar[str]
    owner_role: ClassVar[str]

    @property
    def ref(self) -> Ref:
        return self.conversation.ref

    @property
    def request(self) -> dict[str, Any]:
        return self.conversation.request.payload

    @property
    def decision(self) -> dict[str, Any] | None:
        decision = self.conversation.decision
        return decision.payload if decision else None

    def roles(self, node: Node) -> set[str]:
        """The sides ``node`` holds: both when a place asks for its own thing."""
        roles = set()
        if self.conversation.requester == node.origin:
            roles.add(self.requester_role)
        if self.conversation.owner == node.origin:
            roles.add(self.owner_role)
        return roles


def _thing(pair: Pair, request: Stored) -> Ref | None:
    try:
        return Ref.parse(str(request.payload.get(pair.thing_field)))
    except ValueError:
        return None


def _steps(pair: Pair, ref: Ref, request: dict[str, Any], found: Sequence[Version]) -> list[Step]:
    steps = []
    for version in found:
        payload = version.payload
        if payload is None:  # a tombstone, or a version it erased: nothing to show
            continue
        if version.kind == pair.decision_kind and not decision_matches(
            ref, request, version.origin, payload
        ):
            continue
        reason = payload.get("reason")
        steps.append(
            Step(
                state=str(payload.get("state", "")),
                at=version.ts,
                by=version.origin,
                seq=version.seq,
                side="request" if version.kind == pair.request_kind else "decision",
                reason=reason if isinstance(reason, str) else None,
            )
        )
    return sorted(steps, key=lambda step: (step.at, step.by, step.seq))


async def conversation_of(
    conn: BaseDBAsyncClient, pair: Pair, request: Stored, *, history: bool = True
) -> Conversation | None:
    """The conversation of a request object read before (None if it names no thing)."""
    thing = _thing(pair, request)
    if thing is None:
        return None
    ref = request.ref
    decision = await reads.current(conn, thing.origin, pair.decision_kind, decision_oid(ref))
    if decision is not None and not decision_matches(
        ref, request.payload, decision.origin, decision.payload
    ):
        decision = None
    steps: list[Step] = []
    if history:
        found = await reads.versions(conn, ref.origin, pair.request_kind, ref.oid)
        found += await reads.versions(conn, thing.origin, pair.decision_kind, decision_oid(ref))
        steps = _steps(pair, ref, request.payload, found)
    return Conversation(ref, request, thing, decision, steps)


async def read_conversation(
    conn: BaseDBAsyncClient, pair: Pair, ref: Ref, *, history: bool = True
) -> Conversation | None:
    """The conversation of the request ``ref``; None when this node does not hold the
    request (never seen, or purged: its tombstone erased it)."""
    request = await reads.current(conn, ref.origin, pair.request_kind, ref.oid)
    if request is None:
        return None
    return await conversation_of(conn, pair, request, history=history)


async def list_conversations(
    conn: BaseDBAsyncClient,
    pair: Pair,
    *,
    requester: str | None = None,
    owner: str | None = None,
    limit: int = reads.MAX_LIST,
    offset: int = 0,
) -> list[Conversation]:
    """Conversations whose request is ``requester``'s, or about a thing of ``owner``
    (one of the two), most recently changed request first."""
    if (requester is None) == (owner is None):
        raise ValueError("give requester or owner")
    requests = await reads.objects_of(
        conn,
        pair.request_kind,
        origin=requester,
        ref_to=None if owner is None else (pair.thing_field, owner),
        limit=limit,
        offset=offset,
    )
    found = []
    for request in requests:
        conversation = await conversation_of(conn, pair, request)
        if conversation is not None:
            found.append(conversation)
    return found
