"""Epidemic broadcast trees for signed logs: one node's Plumtree state and its decisions,
without I/O (docs/protocol.md section 11).

Plumtree (Leitão, Pereira and Rodrigues, "Epidemic Broadcast Trees", SRDS 2007) sends a
new entry in full along the *eager* links, which form a spanning tree of the peer graph,
and only announces it (IHAVE) on the other, *lazy*, links. A frame that brought nothing
new turns its link lazy (PRUNE); an announced entry that the tree did not bring turns the
announcing link eager (GRAFT) and is sent in reply. The tree heals itself: a dead node's
subtree hears of the entries from its lazy links and grafts around it.

As in the paper (and unlike riak_core's plumtree, which keeps one tree per root), one
eager/lazy state per link serves every origin: an acyclic eager graph delivers an entry
from any root exactly once, so a tree built by one author serves all of them.

What is specific to papi logs:

- entries are identified by ``(origin, seq)`` and logs are contiguous, so what a peer holds
  is summed up by *heads* (``{origin: seq}``: it holds every seq up to that one). IHAVE,
  GRAFT and the peers' known holdings are heads;
- IHAVE is not pushed on a timer: it is the ``changes`` a node pulls from each neighbour
  every sync interval (federation.reconcile), minus what that neighbour is known to hold
  (``announce_to``). A tree link therefore announces nothing, and a lazy link each entry
  once, in whichever direction is pulled first; announcements cost no request of their
  own;
- a neighbour may follow only part of the network (federation.territory): it is sent and
  announced the origins it follows only (``interests``);
- pulls and full rounds repair alongside the tree, so a duplicate prunes only when the
  copy held came along the tree (``along_tree``), and a node never loses its last eager
  link (it does not prune it, and grafts it back when the other side does);
- entries of many authors spread at once (a network starting, every node's first
  entries catching up), and the duplicates of one author's entries pruned links that
  another's were spreading along: the eager graph fell in pieces, joined again only by
  the next pulls. A link whose frames brought something new less than ``prune_guard``
  seconds ago is not pruned by either side, which keeps the trees of the entries still
  spreading.

The caller owns the transport and the store: it feeds events in (a frame received and what
its ingest made of it, a frame's answer, changes pulled, entries stored, a peer lost, the
clock) and carries the returned actions out. Every method is deterministic.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

EntryId = tuple[str, int]
"""``(origin, seq)`` of one entry."""

Heads = dict[str, int]
"""``{origin: seq}``: every seq of the origin up to this one."""


class Mode(StrEnum):
    """The state of a link, as this node sees it."""

    EAGER = "eager"
    LAZY = "lazy"


# -- actions: what the caller sends ------------------------------------------------------


@dataclass(frozen=True)
class Gossip:
    """Send these entries, in full, to ``peer`` (a frame with ``entries``)."""

    peer: str
    ids: tuple[EntryId, ...]


@dataclass(frozen=True)
class Graft:
    """Ask ``peer`` for what follows ``after`` (a frame with ``graft``); the link is eager."""

    peer: str
    after: Heads


@dataclass(frozen=True)
class Greet:
    """``peer`` just became our neighbour by our choice: tell it (a frame with ``graft``
    of our own head, which asks for nothing), so that it takes us as a neighbour too."""

    peer: str


@dataclass(frozen=True)
class Serve:
    """``peer`` grafted: send it the entries that follow ``after`` (in the answer)."""

    peer: str
    after: Heads


@dataclass(frozen=True)
class GiveUp:
    """Nobody could give us ``origin`` past ``held`` after every graft: run a full
    anti-entropy round (the safety net) with some peer."""

    origin: str
    held: int
    wanted: int


Action = Gossip | Graft | Serve | GiveUp | Greet


# -- what the caller reports --------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """What the receiver's ingest made of one frame's entries.

    ``accepted``: new to us and stored (including pending entries a frame released);
    ``duplicate``: already held; ``pending``: kept aside beyond a gap, ``heads`` giving our
    head of each origin after the frame (to ask for the gap); ``rejected``: invalid.
    """

    accepted: tuple[EntryId, ...] = ()
    duplicate: tuple[EntryId, ...] = ()
    pending: tuple[EntryId, ...] = ()
    rejected: tuple[EntryId, ...] = ()
    heads: Mapping[str, int] = field(default_factory=dict)


def heads_of(ids: Iterable[EntryId]) -> Heads:
    """The highest seq of each origin among ``ids``."""
    heads: Heads = {}
    for origin, seq in ids:
        if seq > heads.get(origin, 0):
            heads[origin] = seq
    return heads


# -- choosing neighbours ------------------------------------------------------------------


def new_neighbours(
    neighbours: Iterable[str],
    failing: Iterable[str],
    candidates: Iterable[str],
    degree: int,
    rng: random.Random,
) -> list[str]:
    """Peers to add as neighbours so that ``degree`` of them work: those ``failing``
    (their frames or pulls fail) do not count, so that the live nodes stay connected when
    some stop. Drawn at random from ``candidates`` (known peers that speak ``broadcast``,
    those of the node's territory first: the caller orders and filters them)."""
    current = set(neighbours)
    working = len(current - set(failing))
    pool = [peer for peer in candidates if peer not in current]
    return rng.sample(pool, max(0, min(degree - working, len(pool))))


# -- what we know each peer holds ---------------------------------------------------------


class RecentIds:
    """The last ``limit`` entry ids added, oldest out first (a bounded set)."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._ids: OrderedDict[EntryId, None] = OrderedDict()

    def add(self, ids: Iterable[EntryId]) -> None:
        for entry in ids:
            self._ids[entry] = None
            self._ids.move_to_end(entry)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)

    def __contains__(self, entry: object) -> bool:
        return entry in self._ids


class KnownHeads:
    """For each peer, the heads it is known to hold (it sent them, announced them, or
    took them from us), at most ``per_peer`` origins each, least recently learnt first
    out. Forgetting is safe: it only means announcing again what the peer has."""

    def __init__(self, per_peer: int = 4096) -> None:
        self.per_peer = per_peer
        self._peers: dict[str, OrderedDict[str, int]] = {}

    def learn(self, peer: str, heads: Mapping[str, int]) -> None:
        known = self._peers.setdefault(peer, OrderedDict())
        for origin, seq in heads.items():
            if seq > known.get(origin, 0):
                known[origin] = seq
                known.move_to_end(origin)
        while len(known) > self.per_peer:
            known.popitem(last=False)

    def holds(self, peer: str, origin: str, seq: int) -> bool:
        known = self._peers.get(peer)
        return known is not None and known.get(origin, 0) >= seq

    def forget(self, peer: str) -> None:
        self._peers.pop(peer, None)

    def size(self, peer: str) -> int:
        return len(self._peers.get(peer, ()))


# -- missing entries: announced, not received ---------------------------------------------


@dataclass
class Missing:
    """An origin announced further than we hold: who announced it, and when to graft."""

    wanted: int
    announcers: list[str]
    due: float
    tries: int = 0


Interest = Callable[[str], bool]
"""Whether a neighbour follows an origin (None in ``interests``: it follows every one)."""


@dataclass
class Broadcast:
    """One node's Plumtree state: its neighbours' modes, what they are known to hold, the
    announced entries it still misses (timers as data: ``Missing.due``)."""

    #: A graft is sent this long after an announcement of a missing entry (the paper's
    #: first timeout). Announcements come from pulls that only list settled entries, so a
    #: missing one is really missing: 0 by default.
    graft_delay: float = 0.0
    #: Then, while it is still missing, the next announcer is asked after this long,
    #: doubling each time (the paper's second timeout, with backoff).
    graft_retry: float = 30.0
    #: Grafts sent for one origin before giving up (and asking for a full round).
    max_graft_tries: int = 6
    neighbours: dict[str, Mode] = field(default_factory=dict)
    interests: dict[str, Interest | None] = field(default_factory=dict)
    known: KnownHeads = field(default_factory=KnownHeads)
    missing: dict[str, Missing] = field(default_factory=dict)
    #: Entries that came to us along the tree: in a frame, or written here. Only a
    #: duplicate of one of those shows a redundant eager link; a duplicate of an entry
    #: that came by a pull, a full round, a graft or a version 1 push says nothing of the
    #: tree (the tree link may be the one that was slower than the repair).
    along_tree: RecentIds = field(default_factory=RecentIds)
    #: A link whose frames brought us something new this recently is a tree link of
    #: entries still spreading: a duplicate from it does not prune it, and its prune in an
    #: answer is grafted back.
    prune_guard: float = 3.0
    #: When each neighbour's frames last brought us something new.
    fed: dict[str, float] = field(default_factory=dict)
    #: A node to which something new came by a repair (a pull, a full round, a graft's
    #: answer, a version 1 push) less than this long ago neither prunes a link nor lets
    #: one be pruned: the tree did not bring it that entry, so the node may be in a piece
    #: of the tree cut off from the rest, and the frames that spread what the repair
    #: brought inside that piece would prune the links that join it back.
    repair_guard: float = 10.0
    #: When something new last came to us by a repair.
    repaired: float | None = None
    #: Neighbours we chose that are not told yet (``Greet`` at the next ``tick``): a peer
    #: learns it is our neighbour from our frames only, and until it has one from us it
    #: sends us nothing while we hold the link eager.
    greet: set[str] = field(default_factory=set)

    # -- membership ---------------------------------------------------------------------

    def add_neighbour(
        self, peer: str, mode: Mode = Mode.EAGER, interest: Interest | None = None
    ) -> None:
        """A new link starts eager (the paper): the first entries flood it, duplicates
        prune it into the tree. A known link keeps its mode (it is stored with the peer)."""
        self.neighbours.setdefault(peer, mode)
        self.interests[peer] = interest

    def remove_neighbour(self, peer: str) -> None:
        self.greet.discard(peer)
        self.neighbours.pop(peer, None)
        self.interests.pop(peer, None)
        self.known.forget(peer)
        self.fed.pop(peer, None)
        for record in self.missing.values():
            if peer in record.announcers:
                record.announcers.remove(peer)

    def eager(self) -> list[str]:
        return sorted(p for p, mode in self.neighbours.items() if mode is Mode.EAGER)

    def lazy(self) -> list[str]:
        return sorted(p for p, mode in self.neighbours.items() if mode is Mode.LAZY)

    def follows(self, peer: str, origin: str) -> bool:
        interest = self.interests.get(peer)
        return interest is None or interest(origin)

    def _set(self, peer: str, mode: Mode) -> None:
        if peer in self.neighbours:
            self.neighbours[peer] = mode

    # -- events -------------------------------------------------------------------------

    def on_local(
        self,
        ids: Iterable[EntryId],
        source: str | None = None,
        *,
        ours: bool = False,
        now: float | None = None,
    ) -> list[Action]:
        """Entries new to us that did not come in a frame (we wrote them: ``ours``, or a
        pull or a version 1 push from ``source`` brought them, at ``now``): push them along
        every eager link."""
        ids = tuple(ids)
        if ours:
            self.along_tree.add(ids)
        elif ids and now is not None:
            self.repaired = now
        return self._forward(ids, source=source)

    def on_frame(
        self, peer: str, receipt: Receipt, now: float, *, again: bool = False
    ) -> tuple[dict[str, Any], list[Action]]:
        """A frame of entries from ``peer`` was ingested: the answer to send back (a frame
        member dict: ``prune``, ``graft``) and the entries to forward.

        A sender that is not a neighbour (protocol 12.1: unknown, or one too many) is
        answered ``prune`` whatever it brought. Nothing new and nothing pending: the link
        is a redundant path, made lazy on both sides (PRUNE in the answer), unless the
        frame is sent ``again`` (its sender saw an error, maybe after we had stored it: its
        duplicates say nothing of the tree). Something new: the link is (again) a tree
        link, and the new entries go on along our other eager links. Entries beyond a
        gap: the answer grafts what we lack before them. Call ``add_neighbour`` first for
        a sender that becomes a neighbour by this frame.

        Duplicates prune only when one of them came to us along the tree (``along_tree``)
        and ``peer`` is not our last eager link: a node keeps an eager link whatever
        comes, so that the tree's links are never all cut around it; nor a link that
        brought something new less than ``prune_guard`` seconds ago (``fed``).

        The answer says ``prune`` whenever the link is lazy here after the frame, even if
        this frame did not make it so: both sides then agree (the sender makes it lazy
        too, or grafts it back when it is its last eager link)."""
        sent = receipt.accepted + receipt.duplicate + receipt.pending
        self.known.learn(peer, heads_of(sent))
        self.on_stored(receipt.accepted, now)
        self.along_tree.add(receipt.accepted)
        answer: dict[str, Any] = {}
        if peer not in self.neighbours:
            # Not (or no longer) a neighbour: its entries are taken as a push's, and it is
            # told not to push to us.
            answer["prune"] = True
        elif again and not receipt.accepted and not receipt.pending:
            pass
        elif not receipt.accepted and not receipt.pending and receipt.duplicate:
            redundant = any(entry in self.along_tree for entry in receipt.duplicate)
            if (
                redundant
                and self.eager() != [peer]
                and not self.recently_fed(peer, now)
                and not self.recently_repaired(now)
            ):
                self._set(peer, Mode.LAZY)
                answer["prune"] = True
        elif receipt.accepted or receipt.pending:
            self._set(peer, Mode.EAGER)
        if self.neighbours.get(peer) is Mode.LAZY:
            # Nothing new came and the link is lazy here, by this frame or before: say
            # so, whatever made it lazy. A sender that holds it eager (the answer to our
            # prune was lost, its graft back failed) would otherwise wait for entries we
            # never send it, cut off the tree until its next pulls.
            answer["prune"] = True
        if receipt.accepted and peer in self.neighbours:
            self.fed[peer] = now
        if receipt.pending:
            gaps = {origin: receipt.heads.get(origin, 0) for origin in heads_of(receipt.pending)}
            answer["graft"] = dict(sorted(gaps.items()))
        return answer, self._forward(receipt.accepted, source=peer)

    def on_answer(
        self,
        peer: str,
        sent: Iterable[EntryId],
        answer: Mapping[str, Any],
        now: float | None = None,
    ) -> list[Action]:
        """The answer to a frame we sent: ``peer`` now holds what it did not reject;
        ``prune`` makes the link lazy; ``graft`` asks for what it lacks before them.

        A ``prune`` of our last eager link would cut us off the tree (its other side
        only knows it has other links), and one of a link whose frames brought us
        something new less than ``prune_guard`` seconds before ``now`` would cut the tree
        of entries still spreading (its other side only knows what it received): the
        link stays eager, and a ``Graft`` of the frame's origins makes it eager on the
        other side again."""
        rejected = {
            (item["origin"], item["seq"])
            for item in answer.get("rejected", [])
            if item.get("origin") is not None and item.get("seq") is not None
        }
        gaps: Mapping[str, int] = answer.get("graft") or {}
        held = heads_of(i for i in sent if i not in rejected and i[0] not in gaps)
        self.known.learn(peer, held)
        if gaps:
            self.known.learn(peer, gaps)
        actions: list[Action] = []
        if answer.get("prune"):
            guarded = now is not None and (
                self.recently_fed(peer, now) or self.recently_repaired(now)
            )
            if self.eager() == [peer] or (guarded and peer in self.neighbours):
                self._set(peer, Mode.EAGER)
                actions.append(Graft(peer, heads_of(sent)))
            else:
                self._set(peer, Mode.LAZY)
        if gaps:
            self._set(peer, Mode.EAGER)
            actions.append(Serve(peer, dict(gaps)))
        return actions

    def on_served(self, peer: str, receipt: Receipt, now: float) -> list[Action]:
        """The entries a graft asked ``peer`` for came in its answer: what was new goes on
        along our other eager links (our subtree missed it too)."""
        self.known.learn(peer, heads_of(receipt.accepted + receipt.duplicate + receipt.pending))
        self.on_stored(receipt.accepted, now)
        if receipt.accepted:
            self.repaired = now
        return self._forward(receipt.accepted, source=peer)

    def on_graft(self, peer: str, after: Mapping[str, int]) -> list[Action]:
        """``peer`` misses what follows ``after``: the link becomes eager, and we serve."""
        self._set(peer, Mode.EAGER)
        self.known.learn(peer, after)
        return [Serve(peer, dict(after))] if after else []

    def recently_fed(self, peer: str, now: float) -> bool:
        """Whether ``peer``'s frames brought us something new within ``prune_guard``."""
        last = self.fed.get(peer)
        return last is not None and now - last < self.prune_guard

    def recently_repaired(self, now: float) -> bool:
        """Whether something new came to us by a repair within ``repair_guard``."""
        return self.repaired is not None and now - self.repaired < self.repair_guard

    def on_prune(self, peer: str) -> None:
        self._set(peer, Mode.LAZY)

    def on_unreachable(self, peer: str) -> None:
        """A frame to ``peer`` failed: route around it until it shows up again (its
        subtree grafts through its lazy links meanwhile; it grafts back when it returns)."""
        self._set(peer, Mode.LAZY)

    def announce_to(self, peer: str, changes: Mapping[str, int]) -> Heads:
        """The IHAVE for ``peer``: our ``changes`` (heads of the origins that moved since
        its last pull) that it follows and is not known to hold."""
        return {
            origin: seq
            for origin, seq in changes.items()
            if self.follows(peer, origin) and not self.known.holds(peer, origin, seq)
        }

    def on_ihave(
        self, peer: str, heads: Mapping[str, int], mine: Mapping[str, int], now: float
    ) -> list[Action]:
        """``peer`` announced ``heads`` (pulled changes). Those beyond ours are missing:
        graft after ``graft_delay``, from the first announcer."""
        self.known.learn(peer, heads)
        for origin, seq in heads.items():
            if seq <= mine.get(origin, 0):
                continue
            record = self.missing.get(origin)
            if record is None:
                self.missing[origin] = Missing(seq, [peer], now + self.graft_delay)
                continue
            record.wanted = max(record.wanted, seq)
            if peer not in record.announcers:
                record.announcers.append(peer)
        return self.tick(now, mine)

    def on_stored(self, ids: Iterable[EntryId], now: float) -> None:
        """Entries were stored (by any path): announcements they satisfy are done."""
        for origin, seq in heads_of(ids).items():
            record = self.missing.get(origin)
            if record is not None and seq >= record.wanted:
                del self.missing[origin]

    def tick(self, now: float, mine: Mapping[str, int]) -> list[Action]:
        """Grafts that are due: each missing origin asks its next announcer, with a
        doubling wait, and gives up after ``max_graft_tries`` (the caller then runs a full
        round). One graft per peer and tick, grouping its origins."""
        grafts: dict[str, Heads] = {}
        actions: list[Action] = []
        for origin in sorted(self.missing):
            record = self.missing[origin]
            held = mine.get(origin, 0)
            if held >= record.wanted:
                del self.missing[origin]
                continue
            if record.due > now:
                continue
            usable = [p for p in record.announcers if p in self.neighbours]
            if record.tries >= self.max_graft_tries or not usable:
                del self.missing[origin]
                actions.append(GiveUp(origin, held, record.wanted))
                continue
            peer = usable[record.tries % len(usable)]
            record.tries += 1
            record.due = now + self.graft_retry * 2 ** (record.tries - 1)
            grafts.setdefault(peer, {})[origin] = held
        for peer, after in sorted(grafts.items()):
            self._set(peer, Mode.EAGER)
            actions.append(Graft(peer, after))
        # A graft tells a peer as well as a greeting does.
        actions.extend(
            Greet(peer)
            for peer in sorted(self.greet)
            if peer in self.neighbours and peer not in grafts
        )
        self.greet.clear()
        return actions

    def next_due(self) -> float | None:
        """When ``tick`` has something to do next (None: nothing is missing)."""
        return min((record.due for record in self.missing.values()), default=None)

    # -- internals ----------------------------------------------------------------------

    def _forward(self, ids: tuple[EntryId, ...], source: str | None) -> list[Action]:
        actions: list[Action] = []
        if not ids:
            return actions
        for peer in self.eager():
            if peer == source:
                continue
            chosen = tuple(
                (origin, seq)
                for origin, seq in ids
                if self.follows(peer, origin) and not self.known.holds(peer, origin, seq)
            )
            if chosen:
                actions.append(Gossip(peer, chosen))
        return actions
