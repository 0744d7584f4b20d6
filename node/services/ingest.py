"""Ingest: verify entries from peers and store the good ones, one transaction per batch.

Each entry is first checked alone (``federation.parse_entry``: schema, size, signature,
payload hash, timestamp), then against its origin's log: the next ``seq`` whose ``prev``
is our head is stored; an entry we hold already is a duplicate (nothing changes) unless
its header differs, which proves a fork and freezes the origin; an entry beyond a gap is
kept aside in ``pending_entries`` until the gap is filled.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from federation.chain import Head, check_successor
from federation.entry import Entry, parse_entry
from federation.errors import BrokenChain, EntryRejected, ForkDetected, OriginFrozen
from federation.timeutil import utc_now

from ..db import lock_for_write
from .store import store_entries

#: Entries kept aside beyond a gap, per origin, before new ones are refused.
MAX_PENDING_PER_ORIGIN = 1000
#: Threads that check the entries of a large batch (``parse_entry``) side by side: the
#: Ed25519 verification releases the GIL, so a sync page is checked on every core (about
#: 1.6x on 2 cores, see docs/performance.md). 0 or 1: one by one in the caller's thread.
PARSE_THREADS = min(4, os.cpu_count() or 1)
#: Smaller batches (pushes) are checked inline: a trip to a thread costs about 0.1 ms.
PARSE_THREADS_MIN_BATCH = 64
_parse_pool: ThreadPoolExecutor | None = None
#: Pending entries older than this are dropped by ``drop_stale_pending``.
PENDING_MAX_AGE = timedelta(days=7)


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
            "rejected": [r.to_json() for r in self.rejected],
            **({"need": self.need} if self.need else {}),
        }


def _claimed(document: Any) -> tuple[str | None, int | None]:
    """Origin and seq a rejected document claims, for the report (best effort)."""
    header = document.get("header") if isinstance(document, dict) else None
    if not isinstance(header, dict):
        return None, None
    origin, seq = header.get("origin"), header.get("seq")
    return (
        origin if isinstance(origin, str) else None,
        seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
    )


class Ingestor:
    def __init__(
        self,
        *,
        max_payload_bytes: int,
        max_future: timedelta | None,
        on_stored: Callable[[Sequence[Entry]], None] | None = None,
    ) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.max_future = max_future
        #: Told of the entries of each committed batch (wakes background work).
        self.on_stored = on_stored

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
        return outcomes

    async def _parse_all(self, documents: list[Any]) -> list[Entry | EntryRejected]:
        """``parse`` of every document, in order; large batches on ``PARSE_THREADS``."""
        global _parse_pool
        if PARSE_THREADS < 2 or len(documents) < PARSE_THREADS_MIN_BATCH:
            return self._parse_each(documents)
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

    async def ingest(self, documents: list[Any]) -> IngestReport:
        report = IngestReport()
        by_origin: dict[str, list[tuple[int, Entry]]] = defaultdict(list)
        outcomes = await self._parse_all(documents)
        for index, (document, outcome) in enumerate(zip(documents, outcomes, strict=True)):
            if isinstance(outcome, EntryRejected):
                origin, seq = _claimed(document)
                report.rejected.append(Rejection(index, origin, seq, outcome.code, outcome.message))
                continue
            by_origin[outcome.origin].append((index, outcome))
        if not by_origin:
            return report
        async with in_transaction() as conn:
            await lock_for_write(conn)
            heads = await _load_heads(conn, list(by_origin))
            to_store: list[Entry] = []
            for origin, items in by_origin.items():
                items.sort(key=lambda item: item[1].seq)
                head, frozen = heads.get(origin, (Head(), False))
                stored = await self._chain_origin(conn, origin, head, frozen, items, report)
                to_store.extend(stored)
            await store_entries(conn, to_store)
        if to_store and self.on_stored is not None:
            self.on_stored(to_store)
        return report

    async def _chain_origin(
        self,
        conn: BaseDBAsyncClient,
        origin: str,
        head: Head,
        frozen: bool,
        items: list[tuple[int, Entry]],
        report: IngestReport,
    ) -> list[Entry]:
        stored: list[Entry] = []
        seen: dict[int, Entry] = {}
        for index, entry in items:
            if frozen:
                exc: EntryRejected = OriginFrozen(
                    f"origin {origin} is frozen after a proven fork; nothing more is accepted"
                )
                report.rejected.append(Rejection(index, origin, entry.seq, exc.code, exc.message))
                continue
            if entry.seq <= head.seq:
                known = seen.get(entry.seq) or await _stored_entry(conn, origin, entry.seq)
                if known is not None and known.header_hash == entry.header_hash:
                    report.duplicate.append(entry)
                    continue
                if known is not None:
                    await _record_fork(conn, known, entry)
                    frozen = True
                    exc = ForkDetected(
                        f"seq {entry.seq} of {origin} differs from the one we hold: "
                        "the origin is frozen and the evidence kept"
                    )
                    report.rejected.append(
                        Rejection(index, origin, entry.seq, exc.code, exc.message)
                    )
                continue
            if entry.seq > head.seq + 1:
                if await _set_aside(conn, entry):
                    report.pending.append(entry)
                else:
                    report.rejected.append(
                        Rejection(index, origin, entry.seq, "gap", "too many entries beyond a gap")
                    )
                continue
            try:
                head = check_successor(head, entry)
            except BrokenChain as exc2:
                report.rejected.append(Rejection(index, origin, entry.seq, exc2.code, exc2.message))
                continue
            stored.append(entry)
            seen[entry.seq] = entry
            report.accepted.append(entry)
        if stored and not frozen:
            drained = await self._drain_pending(conn, origin, head, report)
            stored.extend(drained)
            if drained:
                head = Head(drained[-1].seq, drained[-1].header_hash)
        if not frozen and any(e.origin == origin and e.seq > head.seq for e in report.pending):
            report.need[origin] = head.seq
        return stored

    async def _drain_pending(
        self, conn: BaseDBAsyncClient, origin: str, head: Head, report: IngestReport
    ) -> list[Entry]:
        """Apply entries kept aside that now follow the head."""
        rows = await conn.execute_query_dict(
            "SELECT seq, document FROM pending_entries WHERE origin = ? AND seq > ? ORDER BY seq",
            [origin, head.seq],
        )
        drained: list[Entry] = []
        for row in rows:
            if row["seq"] != head.seq + 1:
                break
            try:
                entry = self.parse(json.loads(row["document"]))
                head = check_successor(head, entry)
            except (EntryRejected, ValueError):
                break
            drained.append(entry)
            report.accepted.append(entry)
        await conn.execute_query(
            "DELETE FROM pending_entries WHERE origin = ? AND seq <= ?", [origin, head.seq]
        )
        return drained


async def _load_heads(conn: BaseDBAsyncClient, origins: list[str]) -> dict[str, tuple[Head, bool]]:
    marks = ",".join("?" * len(origins))
    rows = await conn.execute_query_dict(
        f"SELECT id, head_seq, head_hash, frozen FROM origins WHERE id IN ({marks})", origins
    )
    return {r["id"]: (Head(r["head_seq"], r["head_hash"]), bool(r["frozen"])) for r in rows}


async def _stored_entry(conn: BaseDBAsyncClient, origin: str, seq: int) -> Entry | None:
    rows = await conn.execute_query_dict(
        "SELECT header, sig FROM entries WHERE origin = ? AND seq = ?", [origin, seq]
    )
    if not rows:
        return None
    return Entry(json.loads(rows[0]["header"]), rows[0]["sig"], None)


async def _record_fork(conn: BaseDBAsyncClient, known: Entry, other: Entry) -> None:
    await conn.execute_query(
        "INSERT INTO fork_evidence (origin, seq, header_a, sig_a, header_b, sig_b, detected_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            known.origin,
            known.seq,
            known.header_bytes.decode(),
            known.sig,
            other.header_bytes.decode(),
            other.sig,
            utc_now(),
        ],
    )
    # An upsert: the fork may be found in the very batch that brings the origin.
    await conn.execute_query(
        "INSERT INTO origins (id, head_seq, frozen, frozen_reason, first_seen)"
        " VALUES (?, 0, 1, ?, ?) ON CONFLICT (id) DO UPDATE SET frozen = 1,"
        " frozen_reason = excluded.frozen_reason",
        [known.origin, f"fork at seq {known.seq}", utc_now()],
    )
    await conn.execute_query("DELETE FROM pending_entries WHERE origin = ?", [known.origin])


async def _set_aside(conn: BaseDBAsyncClient, entry: Entry) -> bool:
    rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n FROM pending_entries WHERE origin = ?", [entry.origin]
    )
    if rows[0]["n"] >= MAX_PENDING_PER_ORIGIN:
        return False
    await conn.execute_query(
        "INSERT INTO pending_entries (origin, seq, document, received_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (origin, seq) DO NOTHING",
        [entry.origin, entry.seq, json.dumps(entry.to_json(), ensure_ascii=False), utc_now()],
    )
    return True


async def drop_stale_pending(max_age: timedelta = PENDING_MAX_AGE) -> int:
    """Drop entries kept aside for longer than ``max_age``; return how many."""
    async with in_transaction() as conn:
        count, _ = await conn.execute_query(
            "DELETE FROM pending_entries WHERE received_at < ?", [utc_now() - max_age]
        )
    return count
