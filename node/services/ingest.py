"""Ingest: verify entries from peers and store the good ones, one transaction per batch.

Each entry is first checked alone (``federation.parse_entry``: schema, size, signature,
payload hash, timestamp), then against its origin's log: the next ``seq`` whose ``prev``
is our head is stored; an entry we hold already is a duplicate (nothing changes, unless it
brings the payload of a stripped copy we hold: then it repairs it) unless its header
differs, which proves a fork and freezes the origin, as does a next ``seq`` whose ``prev``
is not our head; an entry beyond a gap is kept aside in ``pending_entries`` until the gap
is filled. docs/protocol.md 3.4-3.7 is the specification.

Bounds against hostile senders: entries kept aside are capped per origin and in all
(``pending_max_entries``, ``pending_max_bytes``; the sender holding the most loses its
oldest first), and each sender may introduce at most ``new_origins_per_hour`` origins.
One entry that fails unexpectedly is rejected (``unstorable``) without losing the rest.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import sqlite3
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from itertools import count
from typing import TYPE_CHECKING, Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.chain import Head
from federation.checking import Checked, checked_entry
from federation.entry import Entry, parse_entry
from federation.errors import (
    BrokenChain,
    EntryRejected,
    ForkDetected,
    OriginFrozen,
    PendingFull,
    Superseded,
    TooManyNewOrigins,
    Unstorable,
    WrongKey,
)
from federation.keychain import KeyState, advance, is_recovery
from federation.timeutil import utc_now

from ..store import entries as entry_rows
from ..store import keychain, pending
from ..store import origins as origin_rows
from ..store.origins import ChainState
from ..store.rows import savepoint
from .check_processes import CheckProcesses
from .membership import Gate, Membership
from .store import repair_payloads, store_entries, truncate_log

if TYPE_CHECKING:
    from ..db import Database

log = logging.getLogger(__name__)

#: What runs in an ingest's transaction after the entries accepted are stored.
AfterStore = Callable[[BaseDBAsyncClient, list[Entry]], Awaitable[None]]

#: Entries kept aside beyond a gap, per origin, before new ones are refused.
MAX_PENDING_PER_ORIGIN = 1000
#: Defaults of the settings of the same names (node/settings.py).
PENDING_MAX_ENTRIES = 50_000
PENDING_MAX_BYTES = 50 * 1024 * 1024
NEW_ORIGINS_PER_HOUR = 100
#: Window of ``new_origins_per_hour``.
ADMISSION_WINDOW = timedelta(hours=1)
#: Threads that check the entries of a large batch (``parse_entry``) side by side: the
#: Ed25519 verification releases the GIL, so a sync page is checked on every core (about
#: 1.6x on 2 cores, see docs/performance.md). 0 or 1: one by one in the caller's thread.
PARSE_THREADS = min(4, os.cpu_count() or 1)
#: Smaller batches (pushes) are checked inline: a trip to a thread costs about 0.1 ms.
PARSE_THREADS_MIN_BATCH = 64
#: Batches from this size on (a sync page holds about 1,000 entries) are checked by worker
#: processes during a scope of ``Ingestor.processes`` (a sync round); see
#: services/check_processes.py. Also off when ``PARSE_THREADS`` is below 2.
CHECK_PROCESSES_MIN_BATCH = 256
_parse_pool: ThreadPoolExecutor | None = None
#: Pending entries older than this are dropped by ``drop_stale_pending``.
PENDING_MAX_AGE = timedelta(days=7)
_savepoints = count()
T = TypeVar("T")


@dataclass(frozen=True)
class Rejection:
    index: int
    origin: str | None
    seq: int | None
    code: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "origin": self.origin,
            "seq": self.seq,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass
class IngestReport:
    #: Stored now; includes stripped copies we held whose payload this batch brought.
    accepted: list[Entry] = field(default_factory=list)
    duplicate: list[Entry] = field(default_factory=list)
    pending: list[Entry] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    #: Origins with entries still waiting behind a gap -> the seq we hold.
    need: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def ids(entries: list[Entry]) -> list[dict[str, Any]]:
            return [{"origin": e.origin, "seq": e.seq} for e in entries]

        return {
            "accepted": ids(self.accepted),
            "duplicate": ids(self.duplicate),
            "pending": ids(self.pending),
            "rejected": [r.to_json() for r in sorted(self.rejected, key=lambda r: r.index)],
            **({"need": self.need} if self.need else {}),
        }

    def reject(self, index: int, entry: Entry, exc: EntryRejected) -> None:
        self.rejected.append(Rejection(index, entry.origin, entry.seq, exc.code, exc.message))

    def merge(self, other: IngestReport) -> None:
        self.accepted += other.accepted
        self.duplicate += other.duplicate
        self.pending += other.pending
        self.rejected += other.rejected
        self.need.update(other.need)


def outcome_seen(future: asyncio.Future[Any]) -> None:
    """Done callback of work whose outcome may be wanted by no one (a check ahead, a
    request ahead dropped): its failure is then no news, and not logged as unretrieved."""
    if not future.cancelled():
        future.exception()


def client_sender(host: str | None) -> str:
    """The sender a push is charged to: its client address (``from`` is whatever the
    client writes), an IPv6 address by its /64, which one subscriber usually holds."""
    if not host:
        return "client:unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"client:{host[:200]}"
    if address.version == 6 and address.ipv4_mapped is None:
        return f"client:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return (
        f"client:{address.ipv4_mapped or address}" if address.version == 6 else f"client:{address}"
    )


def _claimed(document: Any) -> tuple[str | None, int | None]:
    """Origin and seq a rejected document claims, for the report (best effort)."""
    header = document.get("header") if isinstance(document, dict) else None
    if not isinstance(header, dict):
        return None, None
    origin, seq = header.get("origin"), header.get("seq")
    return (
        origin if isinstance(origin, str) and len(origin) <= 200 else None,
        seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
    )


async def _isolated(conn: BaseDBAsyncClient, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` in a savepoint of the batch's transaction: if it raises, what it wrote
    is undone and the exception goes on, the rest of the batch stays."""
    async with savepoint(conn, f"ingest_{next(_savepoints)}"):
        return await work()


@dataclass
class _PendingRoom:
    """Totals of ``pending_entries`` during one batch (read once, then kept up to date)."""

    entries: int
    bytes: int


class Ingestor:
    def __init__(
        self,
        db: Database,
        *,
        max_payload_bytes: int,
        max_future: timedelta | None,
        pending_max_entries: int = PENDING_MAX_ENTRIES,
        pending_max_bytes: int = PENDING_MAX_BYTES,
        new_origins_per_hour: int = NEW_ORIGINS_PER_HOUR,
        on_stored: Callable[[Sequence[Entry]], None] | None = None,
        on_report: Callable[[IngestReport], None] | None = None,
        membership: Membership | None = None,
        own_origin: str | None = None,
        check_processes: int | None = None,
    ) -> None:
        #: The node's database: each batch is one write transaction of it.
        self.db = db
        self.max_payload_bytes = max_payload_bytes
        self.max_future = max_future
        self.pending_max_entries = pending_max_entries
        self.pending_max_bytes = pending_max_bytes
        self.new_origins_per_hour = new_origins_per_hour
        #: Told of the entries of each committed batch (wakes background work).
        self.on_stored = on_stored
        #: Told what became of each batch (the node's metrics).
        self.on_report = on_report
        #: Whose entries are accepted (None: everyone's, as in an open network).
        self.membership = membership
        #: This node's origin: steps of cooperation addressed to it become tasks as they
        #: are stored (``store_entries``); None (tools, benchmarks): none do.
        self.own_origin = own_origin
        #: Batches being checked ahead (``check_ahead``), by the identity of their list.
        self._ahead: dict[int, tuple[list[Any], asyncio.Future[list[Entry | EntryRejected]]]] = {}
        #: Worker processes that check large batches during their scopes (sync rounds);
        #: ``check_processes`` of them (None: ``CHECK_PROCESSES``).
        self.processes = CheckProcesses(check_processes)

    def parse(self, document: Any) -> Entry:
        return parse_entry(
            document, max_payload_bytes=self.max_payload_bytes, max_future=self.max_future
        )

    def _parse_each(self, documents: list[Any]) -> list[Entry | EntryRejected]:
        outcomes: list[Entry | EntryRejected] = []
        for document in documents:
            try:
                outcomes.append(self.parse(document))
            except EntryRejected as exc:
                outcomes.append(exc)
            except Exception as exc:  # a bug must cost one entry, not the batch
                log.exception("parse_entry failed unexpectedly")
                outcomes.append(Unstorable(f"this node could not check the entry: {exc!r}"))
        return outcomes

    async def _parse_all(
        self, documents: list[Any], *, ahead: bool = False
    ) -> list[Entry | EntryRejected]:
        """``parse`` of every document, in order; large batches on ``PARSE_THREADS``, or
        in worker processes (which this process helps unless the batch is checked
        ``ahead``: then only once it waits for it, ``_checked``)."""
        global _parse_pool
        if PARSE_THREADS < 2 or len(documents) < PARSE_THREADS_MIN_BATCH:
            return self._parse_each(documents)
        if len(documents) >= CHECK_PROCESSES_MIN_BATCH:
            checked = await self.processes.check(
                documents, self.max_payload_bytes, self.max_future, here=not ahead
            )
            if checked is not None:
                return self._outcomes_of(documents, checked)
        if _parse_pool is None:
            _parse_pool = ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="papi-parse")
        loop = asyncio.get_running_loop()
        size = -(-len(documents) // (PARSE_THREADS * 2))
        chunks = await asyncio.gather(
            *(
                loop.run_in_executor(_parse_pool, self._parse_each, documents[i : i + size])
                for i in range(0, len(documents), size)
            )
        )
        return [outcome for chunk in chunks for outcome in chunk]

    def _outcomes_of(
        self, documents: list[Any], checked: list[Checked | None]
    ) -> list[Entry | EntryRejected]:
        """The outcomes of ``parse`` from what the worker processes computed: an entry
        they accepted is built from its document and their canonical bytes; one they
        refused is checked again here, which says why."""
        outcomes: list[Entry | EntryRejected] = []
        for document, parts in zip(documents, checked, strict=True):
            if parts is None:
                outcomes.extend(self._parse_each([document]))
            else:
                outcomes.append(checked_entry(document, parts))
        return outcomes

    def check_ahead(self, documents: list[Any]) -> None:
        """Start checking ``documents`` on the parse threads now: a batch that ``ingest``
        will be given later, the very same list (the next page of a sync round, while the
        current one is stored). ``parse_entry`` depends on the documents alone, so the
        outcome is the one ``ingest`` would reach; it only comes sooner. Small batches,
        checked inline anyway, are not."""
        if PARSE_THREADS < 2 or len(documents) < PARSE_THREADS_MIN_BATCH:
            return
        self.forget_ahead(documents)
        checking = asyncio.ensure_future(self._parse_all(documents, ahead=True))
        checking.add_done_callback(outcome_seen)
        self._ahead[id(documents)] = (documents, checking)

    def forget_ahead(self, documents: list[Any]) -> None:
        """``documents`` will not be ingested after all: stop checking them ahead."""
        ahead = self._ahead.get(id(documents))
        if ahead is not None and ahead[0] is documents:
            del self._ahead[id(documents)]
            ahead[1].cancel()

    async def _checked(self, documents: list[Any]) -> list[Entry | EntryRejected]:
        ahead = self._ahead.get(id(documents))
        if ahead is not None and ahead[0] is documents:
            del self._ahead[id(documents)]
            # This process waits for them now: it checks what the workers have not begun.
            await self.processes.help(documents)
            return await ahead[1]
        return await self._parse_all(documents)

    async def ingest(
        self, documents: list[Any], *, sender: str | None = None, then: AfterStore | None = None
    ) -> IngestReport:
        """Verify and store ``documents``; say what became of each.

        ``sender`` is who brought them: the peer's URL for a pull, the client's address for
        a push. It is charged for the new origins it introduces and recorded on entries
        kept aside. ``None`` (the node itself, an import by the operator): not limited.
        ``then`` runs in the same transaction with the entries accepted, if any
        (services/receive.py: peers learnt, forwarding queued)."""
        report = await self._ingest(documents, sender, then)
        if self.on_report is not None:
            self.on_report(report)
        return report

    async def _ingest(
        self, documents: list[Any], sender: str | None, then: AfterStore | None
    ) -> IngestReport:
        report = IngestReport()
        by_origin: dict[str, list[tuple[int, Entry]]] = defaultdict(list)
        outcomes = await self._checked(documents)
        for index, (document, outcome) in enumerate(zip(documents, outcomes, strict=True)):
            if isinstance(outcome, EntryRejected):
                origin, seq = _claimed(document)
                report.rejected.append(Rejection(index, origin, seq, outcome.code, outcome.message))
                continue
            by_origin[outcome.origin].append((index, outcome))
        if not by_origin:
            return report
        async with self.db.write_transaction() as conn:
            heads = await origin_rows.chain_states(conn, origin_ids=list(by_origin))
            gate = None if self.membership is None else await self.membership.gate(conn)
            room: list[_PendingRoom] = []
            to_store: list[tuple[int, Entry]] = []
            waiting = list(by_origin)
            while waiting:
                # Members first; the vouches they bring may admit others of the batch.
                ready = [o for o in waiting if gate is None or gate.admits(o)]
                if not ready:
                    break
                waiting = [o for o in waiting if o not in ready]
                refused = await self._admit(conn, [o for o in ready if o not in heads], sender)
                for origin in ready:
                    stored = await self._ingest_origin(
                        conn, origin, by_origin[origin], heads, refused, sender, room, report
                    )
                    to_store.extend(stored)
                    if gate is not None:
                        gate.learn(entry for _, entry in stored)
            if gate is not None and waiting:
                await self._refuse_non_members(conn, gate, waiting, by_origin, sender, report)
            await self._store(conn, to_store, report)
            if self.membership is not None and (
                (gate is not None and gate.changed) or any(e.kind == "vouch" for _, e in to_store)
            ):
                await self.membership.settle(conn)
            if report.accepted and then is not None:
                await then(conn, report.accepted)
        if report.accepted and self.on_stored is not None:
            self.on_stored(report.accepted)
        return report

    async def _ingest_origin(
        self,
        conn: BaseDBAsyncClient,
        origin: str,
        items: list[tuple[int, Entry]],
        heads: dict[str, ChainState],
        refused: set[str],
        sender: str | None,
        room: list[_PendingRoom],
        report: IngestReport,
    ) -> list[tuple[int, Entry]]:
        """Chain one origin's entries of the batch in a savepoint; what to store."""
        items.sort(key=lambda item: item[1].seq)
        if origin in refused:
            exc: EntryRejected = TooManyNewOrigins(
                f"{sender} introduced {self.new_origins_per_hour} new origins in the"
                " last hour already; this one is refused for now"
            )
            for index, entry in items:
                report.reject(index, entry, exc)
            return []
        state = heads.get(origin, ChainState(Head(), False))
        head, frozen = state.head, state.frozen
        part = IngestReport()
        chain = partial(self._chain_origin, conn, origin, head, frozen, items, part, sender, room)
        try:
            stored = await _isolated(conn, chain)
        except Exception as exc2:
            if _environmental(exc2):
                raise
            log.exception("ingest of %s failed unexpectedly", origin)
            unstorable = Unstorable(f"this node could not store the entry: {exc2!r}")
            for index, entry in items:
                report.reject(index, entry, unstorable)
            room.clear()  # the savepoint undid what was counted
            return []
        report.merge(part)
        return stored

    async def _refuse_non_members(
        self,
        conn: BaseDBAsyncClient,
        gate: Gate,
        origins: list[str],
        by_origin: dict[str, list[tuple[int, Entry]]],
        sender: str | None,
        report: IngestReport,
    ) -> None:
        """Refuse every entry of ``origins`` (not members, or blocked); only the origin
        is remembered, as a candidate the coordinator sees."""
        assert self.membership is not None
        candidates: dict[str, tuple[int, str]] = {}
        for origin in origins:
            refusal = gate.refusal(origin)
            for index, entry in by_origin[origin]:
                report.reject(index, entry, refusal)
            candidates[origin] = (len(by_origin[origin]), refusal.code)
        await self.membership.note_candidates(conn, candidates, sender)

    async def _store(
        self, conn: BaseDBAsyncClient, items: list[tuple[int, Entry]], report: IngestReport
    ) -> None:
        """Store the batch in one go; if that fails, origin by origin and entry by entry,
        so that one entry this node cannot store costs that entry (and what follows it in
        its log), never the rest of the batch."""
        if not items:
            return
        try:
            entries = [entry for _, entry in items]
            await _isolated(conn, partial(store_entries, conn, entries, own_origin=self.own_origin))
            return
        except Exception as batch_error:
            if _environmental(batch_error):
                raise
            log.exception("storing a batch of %d entries failed; storing one by one", len(items))
        failed: set[str] = set()
        for index, entry in items:
            if entry.origin in failed:
                exc: EntryRejected = Unstorable(
                    "an earlier entry of this origin in the batch could not be stored"
                )
            else:
                try:
                    await _isolated(
                        conn, partial(store_entries, conn, [entry], own_origin=self.own_origin)
                    )
                    continue
                except Exception as error:
                    if _environmental(error):
                        raise
                    log.exception("storing %s seq %d failed", entry.origin, entry.seq)
                    failed.add(entry.origin)
                    exc = Unstorable(f"this node could not store the entry: {error!r}")
            report.accepted = [e for e in report.accepted if e is not entry]
            if index >= 0:  # entries drained from pending_entries have no index here
                report.reject(index, entry, exc)

    async def _admit(self, conn: BaseDBAsyncClient, new: list[str], sender: str | None) -> set[str]:
        """Charge ``sender`` for the origins of ``new`` it introduces; those over its
        hourly budget are returned (refused)."""
        if not new:
            return set()
        known = await pending.admitted_among(conn, origins=new)
        fresh = [origin for origin in new if origin not in known]
        if not fresh:
            return set()
        now = utc_now()
        refused: set[str] = set()
        if sender is not None:
            admitted = await pending.admissions_since(
                conn, sender=sender, since=now - ADMISSION_WINDOW
            )
            left = max(0, self.new_origins_per_hour - admitted)
            refused = set(fresh[left:])
            fresh = fresh[:left]
        await pending.admit(conn, origins=fresh, sender=sender or "", now=now)
        return refused

    async def _chain_origin(
        self,
        conn: BaseDBAsyncClient,
        origin: str,
        head: Head,
        frozen: bool,
        items: list[tuple[int, Entry]],
        report: IngestReport,
        sender: str | None,
        room: list[_PendingRoom],
    ) -> list[tuple[int, Entry]]:
        stored: list[tuple[int, Entry]] = []
        seen: dict[int, Entry] = {}
        repairs: list[Entry] = []
        keys = await keychain.state_at(conn, origin=origin) if not frozen else None
        #: (seq, keys after it) of each key entry stored, for ``key_chain``.
        key_rows: list[tuple[int, KeyState]] = []
        for index, entry in items:
            if frozen and await _lifts_freeze(conn, origin, head, entry):
                # A recovery right after the frozen head: its recovery key vouches for
                # this history; the place starts again from it with its new key.
                frozen = False
                keys = await keychain.state_at(conn, origin=origin)
                await origin_rows.unfreeze(conn, origin_id=origin)
            if frozen or keys is None:
                report.reject(
                    index,
                    entry,
                    OriginFrozen(
                        f"origin {origin} is frozen after a proven fork; nothing more is accepted"
                    ),
                )
                continue
            if entry.seq <= head.seq:
                known, missing = seen.get(entry.seq), False
                if known is None:
                    known, missing = await _stored_entry(conn, origin, entry.seq)
                if known is not None and known.header_hash == entry.header_hash:
                    if missing and entry.payload is not None and entry not in repairs:
                        repairs.append(entry)
                        report.accepted.append(entry)
                    else:
                        report.duplicate.append(entry)
                    continue
                if known is None:
                    continue
                # Only a key in force at that seq can prove a fork; another key's entry
                # proves nothing about this log (a rotated or stolen key).
                before = await keychain.state_at(conn, origin=origin, seq=entry.seq - 1)
                try:
                    after = advance(before, entry)
                except WrongKey as exc:
                    report.reject(index, entry, exc)
                    continue
                recovered = await keychain.latest_recovery(conn, origin=origin)
                recovery = is_recovery(before, entry)
                if recovered >= entry.seq and not recovery:
                    report.reject(index, entry, Superseded(
                        f"seq {entry.seq} competes with the history that the recovery at seq"
                        f" {recovered} vouches for; the old key's entries give way"
                    ))  # fmt: skip
                    continue
                if recovery and recovered < entry.seq:
                    previous = (
                        seen.get(entry.seq - 1)
                        or (await _stored_entry(conn, origin, entry.seq - 1))[0]
                    )
                    if previous is not None and previous.header_hash == entry.prev:
                        # The recovery wins over the old key's entries from its seq on.
                        await truncate_log(conn, origin, entry.seq)
                        await keychain.forget_from(conn, origin=origin, seq=entry.seq)
                        stored = [item for item in stored if item[1].seq < entry.seq]
                        report.accepted = [e for e in report.accepted if e.seq < entry.seq]
                        seen = {seq: e for seq, e in seen.items() if seq < entry.seq}
                        keys = after
                        key_rows = [row for row in key_rows if row[0] < entry.seq]
                        key_rows.append((entry.seq, after))
                        head = Head(entry.seq, entry.header_hash)
                        stored.append((index, entry))
                        seen[entry.seq] = entry
                        report.accepted.append(entry)
                        if self.membership is not None and self.membership.rejections:
                            self.membership.rejections.forget({origin})
                        # The entries kept before it were stored already: its own row
                        # goes with the batch, so the log is re-stored from here.
                        continue
                frozen = True
                await self._fork(conn, known, entry, index, report)
                continue
            if entry.seq > head.seq + 1:
                try:
                    await self._set_aside(conn, entry, sender, room)
                except EntryRejected as exc:
                    report.reject(index, entry, exc)
                else:
                    report.pending.append(entry)
                continue
            try:
                after = advance(keys, entry)
            except WrongKey as exc:
                report.reject(index, entry, exc)
                continue
            if head.seq > 0 and entry.prev != head.hash:
                # Validly signed, right after our head, yet not linked to it: the origin
                # signed two incompatible histories (this entry's predecessor is not ours).
                previous = seen.get(head.seq) or (await _stored_entry(conn, origin, head.seq))[0]
                if previous is not None:
                    frozen = True
                    await self._fork(conn, previous, entry, index, report)
                    continue
                report.reject(index, entry, BrokenChain(f"prev of seq {entry.seq} is not our head"))
                continue
            keys = after
            if entry.kind == "key":
                key_rows.append((entry.seq, after))
            head = Head(entry.seq, entry.header_hash)
            stored.append((index, entry))
            seen[entry.seq] = entry
            report.accepted.append(entry)
        if repairs:
            await repair_payloads(conn, repairs, own_origin=self.own_origin)
        if stored and not frozen and keys is not None:
            drained, frozen, keys = await self._drain_pending(
                conn, origin, head, keys, seen, report, key_rows
            )
            stored.extend((-1, entry) for entry in drained)
            if drained:
                head = Head(drained[-1].seq, drained[-1].header_hash)
        await keychain.insert(conn, origin=origin, rows=key_rows)
        if frozen:
            # Entries of this batch before the fork was found are stored (they extend
            # the verified chain); none after it, and nothing is kept aside.
            report.pending = [e for e in report.pending if e.origin != origin]
        elif any(e.origin == origin and e.seq > head.seq for e in report.pending):
            report.need[origin] = head.seq
        return stored

    async def _fork(
        self, conn: BaseDBAsyncClient, known: Entry, other: Entry, index: int, report: IngestReport
    ) -> None:
        await _record_fork(conn, known, other)
        if other.seq == known.seq:
            what = f"seq {other.seq} differs from the one we hold"
        else:
            what = f"the prev of seq {other.seq} is not the hash of our seq {known.seq}"
        report.reject(
            index,
            other,
            ForkDetected(
                f"{what}: {other.origin} signed two histories; it is frozen and the evidence kept"
            ),
        )

    async def _drain_pending(
        self,
        conn: BaseDBAsyncClient,
        origin: str,
        head: Head,
        keys: KeyState,
        seen: dict[int, Entry],
        report: IngestReport,
        key_rows: list[tuple[int, KeyState]],
    ) -> tuple[list[Entry], bool, KeyState]:
        """Apply entries kept aside that now follow the head; True when one of them
        proves a fork (the origin is then frozen); and the keys in force after them."""
        drained: list[Entry] = []
        for row in await pending.waiting_after(conn, origin=origin, seq=head.seq):
            if row.seq != head.seq + 1:
                break
            try:
                entry = self.parse(json.loads(row.document))
                after = advance(keys, entry)
            except WrongKey:
                # Signed by a key not in force: it will never fit; drop it.
                await pending.drop(conn, origin=origin, seq=row.seq)
                break
            except (EntryRejected, ValueError):
                break
            if entry.prev != head.hash:
                previous = seen.get(head.seq) or (await _stored_entry(conn, origin, head.seq))[0]
                if previous is not None:
                    await _record_fork(conn, previous, entry)
                    return drained, True, keys
                break
            keys = after
            if entry.kind == "key":
                key_rows.append((entry.seq, after))
            head = Head(entry.seq, entry.header_hash)
            seen[entry.seq] = entry
            drained.append(entry)
            report.accepted.append(entry)
        await pending.drop_through(conn, origin=origin, seq=head.seq)
        return drained, False, keys

    async def _set_aside(
        self,
        conn: BaseDBAsyncClient,
        entry: Entry,
        sender: str | None,
        room: list[_PendingRoom],
    ) -> None:
        """Keep ``entry`` in ``pending_entries`` (``PendingFull`` when it cannot be)."""
        if await pending.count_of(conn, origin=entry.origin) >= MAX_PENDING_PER_ORIGIN:
            raise PendingFull(
                f"{MAX_PENDING_PER_ORIGIN} entries of this origin already wait beyond a gap"
            )
        document = json.dumps(entry.to_json(), ensure_ascii=False)
        size = len(document.encode())
        if size > self.pending_max_bytes or self.pending_max_entries < 1:
            raise PendingFull("no room to keep entries beyond a gap")
        if not room:
            kept = await pending.totals(conn)
            room.append(_PendingRoom(kept.entries, kept.bytes))
        totals = room[0]
        while (
            totals.entries + 1 > self.pending_max_entries
            or totals.bytes + size > self.pending_max_bytes
        ):
            if not await self._evict(conn, totals, size):
                raise PendingFull("no room to keep entries beyond a gap")
        inserted = await pending.keep(
            conn,
            origin=entry.origin,
            seq=entry.seq,
            document=document,
            size=size,
            source=sender or "",
            now=utc_now(),
        )
        if inserted:
            totals.entries += 1
            totals.bytes += size

    async def _evict(self, conn: BaseDBAsyncClient, totals: _PendingRoom, size: int) -> bool:
        """Drop the oldest pending entries of the source holding the most bytes, enough
        for ``size`` more bytes and one more entry (with some headroom, so that a full
        store does not evict on every entry). False when there is nothing to drop."""
        source = await pending.biggest_source(conn)
        if source is None:
            return False
        need_entries = totals.entries + 1 - self.pending_max_entries
        need_bytes = totals.bytes + size - self.pending_max_bytes
        need_entries = max(need_entries, 0) + self.pending_max_entries // 100
        need_bytes = max(need_bytes, 0) + self.pending_max_bytes // 100
        dropped: list[int] = []
        for victim in await pending.oldest_of(conn, source=source, limit=1000):
            if need_entries <= 0 and need_bytes <= 0:
                break
            dropped.append(victim.id)
            need_entries -= 1
            need_bytes -= victim.size
            totals.entries -= 1
            totals.bytes -= victim.size
        await pending.drop_ids(conn, ids=dropped)
        return bool(dropped)


async def _stored_entry(
    conn: BaseDBAsyncClient, origin: str, seq: int
) -> tuple[Entry | None, bool]:
    """The stored entry (header and signature) and whether its payload is missing."""
    stored = await entry_rows.header_at(conn, origin=origin, seq=seq)
    return (None, False) if stored is None else (stored.entry, stored.payload_missing)


async def _lifts_freeze(conn: BaseDBAsyncClient, origin: str, head: Head, entry: Entry) -> bool:
    """True when ``entry`` is a recovery right after the frozen ``head``, linked to it."""
    if entry.kind != "key" or entry.seq != head.seq + 1 or entry.prev != head.hash:
        return False
    return is_recovery(await keychain.state_at(conn, origin=origin), entry)


async def _record_fork(conn: BaseDBAsyncClient, known: Entry, other: Entry) -> None:
    """Keep the evidence (two headers the origin signed that cannot both be in its log:
    same seq, or ``other`` right after ``known`` without linking to it) and freeze."""
    await origin_rows.record_fork(conn, known=known, other=other, now=utc_now())
    await pending.drop_origin(conn, origin=known.origin)


async def drop_stale_pending(db: Database, max_age: timedelta = PENDING_MAX_AGE) -> int:
    """Drop entries kept aside for longer than ``max_age``, and the admissions of origins
    that never got a log here; return how many entries."""
    async with db.write_transaction() as conn:
        return await pending.drop_older(conn, before=utc_now() - max_age)


async def pending_summary(
    conn: BaseDBAsyncClient,
    *,
    max_entries: int = PENDING_MAX_ENTRIES,
    max_bytes: int = PENDING_MAX_BYTES,
    top: int = 20,
) -> dict[str, Any]:
    """What is kept aside beyond gaps, for the operator: totals and limits, then the
    ``top`` peers (sources) and origins holding the most bytes."""
    totals = await pending.totals(conn)
    return {
        "entries": totals.entries,
        "bytes": totals.bytes,
        "max_entries": max_entries,
        "max_bytes": max_bytes,
        "by_peer": [
            {"peer": row.source or None, "entries": row.entries, "bytes": row.bytes}
            for row in await pending.by_source(conn, top=top)
        ],
        "by_origin": [
            {
                "origin": row.origin,
                "entries": row.entries,
                "bytes": row.bytes,
                "head": row.head,
                "first_pending": row.first,
            }
            for row in await pending.by_origin(conn, top=top)
        ],
        "missing_payloads": await entry_rows.missing_count(conn),
    }


def _environmental(exc: BaseException) -> bool:
    """True for failures of this node's storage (a full disk, an I/O error, the database
    locked), which no entry causes: they fail the whole batch, so that the caller reports
    them and retries (a smaller page), instead of refusing good entries as unstorable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.OperationalError | OSError):
            return True
        current = current.__cause__ or current.__context__
    return False
