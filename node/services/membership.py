"""Membership on this node: which origins it accepts, shows and relays (docs/protocol.md
section 16), the candidates it refused, the origins it hides, and its blocklist.

The rules are ``federation.membership`` (the closure of vouches from the founders); this
module keeps their state in the database (through ``store.membership``), and is the only
one that changes these tables:

- ``membership_candidates``: origins refused because they are not members (or blocked),
  with how often, since when, and who brought them; bounded (``candidates_max``). Nothing
  else of theirs is stored;
- ``excluded_origins``: origins whose log we hold but that are no longer members (a
  revocation) or that the operator blocked. Their objects are moved to
  ``hidden_objects`` at once (so that search, pages, feeds and the API stop showing
  them, whatever reads ``objects``), their entries are neither served nor relayed, and
  they are purged after ``member_purge_days`` unless they become members again (their
  objects then come back);
- ``blocklist``: origins and endpoints this node refuses, with the operator's reason.

Ingest asks a ``Gate`` before storing an origin's entries (``Membership.gate``), and calls
``Membership.settle`` after a batch that stored vouches; publishing calls it too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.entry import Entry
from federation.errors import Blocked, EntryRejected, NotMember
from federation.membership import Vouch, members
from federation.timeutil import utc_now

from ..store import membership as rows
from ..store import peers as peer_rows
from ..store.membership import Refusal

if TYPE_CHECKING:
    from ..db import Database
    from .rejections import RejectionMemory

log = logging.getLogger(__name__)

#: Defaults of the settings of the same names.
CANDIDATES_MAX = 1000
MEMBER_PURGE_DAYS = 30


@dataclass
class Gate:
    """Which origins one ingest batch may store: members (computed when the batch
    starts, and again when the batch itself brings vouches) that are not blocked."""

    own: str
    founders: frozenset[str]
    required: int
    vouches: dict[tuple[str, str], Vouch]
    blocked: frozenset[str]
    members: frozenset[str] | None = None
    changed: bool = False
    #: The members of ``vouches`` when already computed (cached by ``Membership``).
    known: frozenset[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.members = self.known if self.known is not None else self._compute()

    def _compute(self) -> frozenset[str] | None:
        if not self.founders:
            return None  # an open network
        return members(self.founders, self.vouches.values(), self.required)

    def admits(self, origin: str) -> bool:
        if origin == self.own:
            return True
        if origin in self.blocked:
            return False
        return self.members is None or origin in self.members

    def refusal(self, origin: str) -> EntryRejected:
        if origin in self.blocked:
            return Blocked(f"{origin} is on this node's blocklist")
        return NotMember(
            f"{origin} is not a member of this network (no vouch from its members); "
            "it is listed as a candidate for the coordinator"
        )

    def learn(self, entries: Iterable[Entry]) -> bool:
        """Take the vouches among ``entries`` (stored in this batch, in log order) into
        account; True when the members changed."""
        touched = False
        for entry in entries:
            if entry.kind != "vouch":
                continue
            key = (entry.origin, entry.oid)
            if entry.op == "delete":
                touched |= self.vouches.pop(key, None) is not None
            elif entry.payload is not None:
                self.vouches[key] = Vouch.of(entry.origin, entry.payload)
                touched = True
        if not touched or not self.founders:
            return False
        before, self.members = self.members, self._compute()
        if before != self.members:
            self.changed = True
            return True
        return False


@dataclass
class Settled:
    """What ``Membership.settle`` changed."""

    admitted: set[str] = field(default_factory=set)
    excluded: set[str] = field(default_factory=set)


class Membership:
    """This node's view of the membership; one per node."""

    def __init__(
        self,
        own: str,
        founders: Sequence[str],
        *,
        db: Database,
        required: int = 1,
        candidates_max: int = CANDIDATES_MAX,
        purge_days: int = MEMBER_PURGE_DAYS,
        rejections: RejectionMemory | None = None,
    ) -> None:
        self.own = own
        #: The node's database: the transactions of the methods that open their own.
        self.db = db
        self.founders = frozenset(founders)
        #: The founders in the order of the ``founders`` setting: the first ones are the
        #: network's coordination (reports are sealed to them; invitations pass the order on).
        self.founder_list = tuple(dict.fromkeys(founders))
        self.required = max(1, required)
        self.candidates_max = max(0, candidates_max)
        self.purge_after = timedelta(days=max(0, purge_days))
        self.rejections = rejections
        #: (marker of the stored vouches, their state, the members they make): reloaded
        #: and computed again only when a vouch changed.
        self._vouches: tuple[tuple[Any, ...], dict[tuple[str, str], Vouch]] | None = None
        self._members: tuple[tuple[Any, ...], frozenset[str]] | None = None

    @property
    def closed(self) -> bool:
        return bool(self.founders)

    # -- reading the state --------------------------------------------------------------

    async def _stored_vouches(self, conn: BaseDBAsyncClient) -> dict[tuple[str, str], Vouch]:
        """Every vouch object held, shown or hidden (a hidden origin's vouches count as
        soon as it is a member again), cached until one changes."""
        marker = await rows.vouches_marker(conn)
        if self._vouches is not None and self._vouches[0] == marker:
            return dict(self._vouches[1])
        vouches: dict[tuple[str, str], Vouch] = {}
        for row in await rows.stored_vouches(conn):
            try:
                vouches[(row.origin, row.oid)] = Vouch.of(row.origin, json.loads(row.payload))
            except (ValueError, KeyError, TypeError):  # stored data is never trusted
                continue
        self._vouches = (marker, vouches)
        return dict(vouches)

    async def blocked_origins(self, conn: BaseDBAsyncClient) -> frozenset[str]:
        return frozenset(await rows.blocked(conn, kind="origin"))

    async def gate(self, conn: BaseDBAsyncClient) -> Gate:
        vouches = await self._stored_vouches(conn) if self.closed else {}
        blocked = await self.blocked_origins(conn)
        key = (self._vouches[0] if self._vouches else None, self.founders, self.required)
        known = self._members[1] if self._members and self._members[0] == key else None
        gate = Gate(self.own, self.founders, self.required, vouches, blocked, known=known)
        if gate.members is not None:
            self._members = (key, gate.members)
        return gate

    async def current_members(self) -> frozenset[str] | None:
        """The members now (None: an open network, every origin is one)."""
        async with self.db.transaction() as conn:
            return (await self.gate(conn)).members

    # -- refusals ----------------------------------------------------------------------

    async def note_candidates(
        self, conn: BaseDBAsyncClient, refused: dict[str, tuple[int, str]], sender: str | None
    ) -> None:
        """Record the origins refused in a batch (origin -> (entries, code)); the table
        keeps the ``candidates_max`` most recently seen."""
        if not refused or self.candidates_max == 0:
            return
        await rows.note_candidates(
            conn,
            refusals=[
                Refusal(origin, count, code, (sender or "")[:300])
                for origin, (count, code) in refused.items()
            ],
            now=utc_now(),
            keep=self.candidates_max,
        )

    async def refused_origins(self, conn: BaseDBAsyncClient) -> set[str]:
        """Origins this node refuses now: candidates and excluded origins (bounded).
        A sync round claims them complete, so that peers send none of their entries,
        and a sync answer claims them complete, so that askers push none of them."""
        return await rows.refused_origins(conn)

    async def is_excluded(self, conn: BaseDBAsyncClient, origin: str) -> bool:
        return await rows.is_excluded(conn, origin=origin)

    # -- applying a change ---------------------------------------------------------------

    async def settle(self, conn: BaseDBAsyncClient) -> Settled:
        """Bring what this node shows and relays in line with the members now: origins
        that stopped being members (or were blocked) are hidden; hidden ones that are
        members again come back; candidates that became members are forgotten, so that
        the next round fetches their logs. Runs in the caller's transaction."""
        gate = await self.gate(conn)
        result = Settled()
        for origin in await rows.excluded_origins(conn):
            if gate.admits(origin):
                await rows.show_again(conn, origin=origin)
                result.admitted.add(origin)
        now = utc_now()
        for origin in await rows.shown_origins(conn, own=self.own):
            if not gate.admits(origin):
                reason = "blocked" if origin in gate.blocked else "not_member"
                await rows.hide(conn, origin=origin, reason=reason, now=now)
                result.excluded.add(origin)
        welcome = [o for o in await rows.candidate_origins(conn) if gate.admits(o)]
        if welcome:
            await rows.forget_candidates(conn, origins=welcome)
            result.admitted.update(welcome)
        if result.admitted and self.rejections is not None:
            self.rejections.forget(result.admitted)
        if result.admitted or result.excluded:
            log.info(
                "membership: %d origin(s) admitted, %d hidden",
                len(result.admitted),
                len(result.excluded),
            )
        return result

    async def settle_now(self) -> Settled:
        async with self.db.write_transaction() as conn:  # reads, then writes
            return await self.settle(conn)

    async def adopt(self, founders: Sequence[str]) -> Settled:
        """Become a node of a closed network (founders taken from an invitation): what
        this node held of origins that are not members is hidden at once."""
        self.founders = frozenset(founders)
        self.founder_list = tuple(dict.fromkeys(founders))
        return await self.settle_now()

    async def purge_former_members(self, now: datetime | None = None) -> list[str]:
        """Delete every row of the origins hidden for longer than ``member_purge_days``:
        entries, hidden objects, pending entries, evidence. Returns them."""
        cutoff = (now or utc_now()) - self.purge_after
        async with self.db.write_transaction() as conn:
            origins = await rows.excluded_before(conn, cutoff=cutoff)
            for origin in origins:
                await rows.purge(conn, origin=origin)
        if origins:
            log.info("membership: purged the data of %d former member(s)", len(origins))
        return origins

    # -- the blocklist -------------------------------------------------------------------

    async def block(self, kind: str, value: str, reason: str) -> None:
        """Put an origin or an endpoint on the blocklist (an origin is hidden at once)."""
        if kind not in ("origin", "endpoint"):
            raise ValueError(f"unknown blocklist kind {kind!r}")
        async with self.db.write_transaction() as conn:
            await rows.add_block(conn, kind=kind, value=value, reason=reason, now=utc_now())
            if kind == "endpoint":
                await peer_rows.delete_at(conn, url=value)
            else:
                await self.settle(conn)

    async def unblock(self, kind: str, value: str) -> bool:
        async with self.db.write_transaction() as conn:
            removed = await rows.remove_block(conn, kind=kind, value=value)
            if kind == "origin":
                await self.settle(conn)
        return removed


async def blocked_endpoints(conn: BaseDBAsyncClient) -> set[str]:
    return await rows.blocked(conn, kind="endpoint")


async def overview(conn: BaseDBAsyncClient, membership: Membership) -> dict[str, Any]:
    """What the coordinator sees: founders, members, who vouched for whom, candidates,
    hidden origins, origins frozen after a proven fork and the blocklist (bounded by their
    tables' bounds)."""
    gate = await membership.gate(conn)
    names = await rows.origin_names(conn)
    vouches = sorted(
        gate.vouches.values(), key=lambda v: (names.get(v.subject, ""), v.subject, v.voucher)
    )
    members_now = gate.members if gate.members is not None else frozenset(names)
    candidates = await rows.candidates(conn)
    excluded = await rows.exclusions(conn)
    blocklist = await rows.blocklist(conn)
    frozen = await rows.frozen_origins(conn)
    return {
        "open": not membership.closed,
        "founders": sorted(membership.founders),
        "vouches_required": membership.required,
        "members": [
            {"id": origin, "name": names.get(origin, ""), "founder": origin in membership.founders}
            for origin in sorted(members_now, key=lambda o: (names.get(o, ""), o))
        ],
        "vouches": [
            {
                "voucher": v.voucher,
                "voucher_name": names.get(v.voucher, ""),
                "subject": v.subject,
                "subject_name": names.get(v.subject, ""),
                "revoked": v.revoked,
                "counts": v.voucher in members_now,
            }
            for v in vouches
        ],
        "candidates": [
            {
                "origin": row.origin,
                "first_seen": row.first_seen,
                "last_seen": row.last_seen,
                "refused": row.refused,
                "brought_by": row.brought_by or None,
                "code": row.code,
            }
            for row in candidates
        ],
        "hidden": [
            {
                "origin": row.origin,
                "name": names.get(row.origin, ""),
                "since": row.since,
                "reason": row.reason,
                "purged_after_days": membership.purge_after.days,
            }
            for row in excluded
        ],
        "frozen": [
            {
                "origin": row.origin,
                "name": names.get(row.origin, ""),
                "since": row.since,
                "reason": row.reason,
            }
            for row in frozen
        ],
        "blocklist": [
            {"kind": row.kind, "value": row.value, "reason": row.reason, "created": row.created}
            for row in blocklist
        ],
    }
