"""Outbound pushes as rows: created with the entry (store first), sent by the worker,
retried with the peer's backoff, given up after a few attempts (anti-entropy repairs the
rest). Different peers are served side by side; the due rows of one peer are coalesced
into one push."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from federation.entry import Entry
from federation.errors import PeerBusy, PeerError
from federation.timeutil import utc_now

from ..models import Delivery, Peer
from .features import broadcasting
from .peers import choose_push_targets, record_failure, record_success

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
#: Due deliveries looked at per peer at a time.
BATCH = 200
#: Most entries in one push (the push message's own bound).
MAX_PUSH_ENTRIES = 500


async def enqueue_push(
    conn: BaseDBAsyncClient,
    node: Node,
    entries: list[Entry],
    *,
    ttl: int,
    exclude_url: str | None = None,
) -> int:
    """Queue ``entries`` for ``push_fanout`` random peers, in the caller's transaction."""
    if not entries:
        return 0
    origins = {e.origin for e in entries}
    targets = await choose_push_targets(
        conn,
        node.settings.push_fanout,
        exclude_url,
        exclude_origin=origins.pop() if len(origins) == 1 else None,
        # Protocol 1.1 (11.2): peers that speak broadcast get entries along the tree, once
        # it has neighbours (not yet chosen, or a CLI process that has no frame worker:
        # pushes to every peer, as version 1 does).
        version_1_only=broadcasting(node) and bool(node.tree.ids),
    )
    refs = json.dumps([[e.origin, e.seq] for e in entries])
    now = utc_now()
    await conn.execute_many(
        "INSERT INTO deliveries (peer_id, entries, ttl, state, attempts, next_attempt, created)"
        " VALUES (?, ?, ?, 'pending', 0, ?, ?)",
        [[target["id"], refs, ttl, now, now] for target in targets],
    )
    return len(targets)


async def load_documents(refs: list[list[Any]]) -> list[dict[str, Any]]:
    from .log import entry_document

    documents: list[dict[str, Any]] = []
    async with in_transaction() as conn:
        for origin, seq in refs:
            rows = await conn.execute_query_dict(
                "SELECT header, sig, payload FROM entries WHERE origin = ? AND seq = ?",
                [origin, seq],
            )
            documents.extend(entry_document(row) for row in rows)
    return documents


#: Most entries sent to fill one peer's gap during a delivery; pull repairs larger gaps.
MAX_GAP_FILL = 1000


async def _fill_gap(
    client: Any, url: str, origin: str, held: int, ttl: int, sender: str | None
) -> None:
    from .log import read_entries
    from .sync import PUSH_BACK_BYTES

    sent = 0
    while sent < MAX_GAP_FILL:
        documents = await read_entries(origin, held, 200, PUSH_BACK_BYTES)
        if not documents:
            return
        await client.push(url, documents, ttl=ttl, sender=sender)
        sent += len(documents)
        held = documents[-1]["header"]["seq"]


async def due_peer_ids() -> list[int]:
    """Peers with pending deliveries that are due, the peer itself not in backoff: a
    peer that failed is left alone (all its deliveries wait) until it is due again."""
    now = utc_now()
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "SELECT DISTINCT d.peer_id AS id FROM deliveries d JOIN peers p ON p.id = d.peer_id"
            " WHERE d.state = 'pending' AND d.next_attempt <= ?"
            " AND (p.next_attempt IS NULL OR p.next_attempt <= ?) ORDER BY d.peer_id",
            [now, now],
        )
    return [row["id"] for row in rows]


async def run_due_deliveries(node: Node) -> int:
    """Send every delivery that is due, to ``delivery_concurrency`` peers at a time;
    return how many deliveries succeeded."""
    slots = asyncio.Semaphore(max(1, node.settings.delivery_concurrency))

    async def bounded(peer_id: int) -> tuple[int, bool]:
        async with slots:
            return await deliver_to_peer(node, peer_id)

    sent = 0
    while True:
        peer_ids = await due_peer_ids()
        if not peer_ids:
            return sent
        outcomes = await asyncio.gather(*(bounded(peer_id) for peer_id in peer_ids))
        sent += sum(count for count, _ in outcomes)
        if not any(count or failed for count, failed in outcomes):
            return sent  # nothing moved: do not spin


async def deliver_to_peer(node: Node, peer_id: int) -> tuple[int, bool]:
    """Send the due deliveries of one peer, coalesced into pushes of up to
    ``MAX_PUSH_ENTRIES`` entries, until none is left or one push fails.

    Returns (deliveries done, whether a push failed). Any exception is a failed attempt
    of this peer: recorded with backoff, never left pending without counting."""
    peer = await Peer.get_or_none(id=peer_id)
    if peer is None:
        return 0, False
    done = 0
    async with node.peer_client(peer, deadline=node.settings.push_deadline_seconds) as client:
        while True:
            batch = await _next_batch(peer.id)
            if not batch:
                return done, False
            if not await _push_batch(node, client, peer, batch):
                return done, True
            done += len(batch)


async def _next_batch(peer_id: int) -> list[Delivery]:
    """The oldest due deliveries of a peer with one ``ttl``, up to ``MAX_PUSH_ENTRIES``."""
    due = (
        await Delivery.filter(peer_id=peer_id, state="pending", next_attempt__lte=utc_now())
        .order_by("id")
        .limit(BATCH)
    )
    batch: list[Delivery] = []
    count = 0
    for delivery in due:
        size = len(json.loads(delivery.entries))
        if batch and (delivery.ttl != batch[0].ttl or count + size > MAX_PUSH_ENTRIES):
            continue
        batch.append(delivery)
        count += size
    return batch


async def _push_batch(node: Node, client: Any, peer: Peer, batch: list[Delivery]) -> bool:
    refs = sorted({(origin, seq) for d in batch for origin, seq in json.loads(d.entries)})
    ttl = batch[0].ttl
    sender = node.settings.advertised_url
    try:
        documents = await load_documents([list(ref) for ref in refs])
        if documents:
            answer = await client.push(peer.url, documents, ttl=ttl, sender=sender)
            node.note_refusals(peer.id, answer.get("rejected") or [])
            # The peer lacks earlier entries of some origins: send them now, so that
            # what we pushed does not wait for the next anti-entropy round.
            for origin, held in sorted((answer.get("need") or {}).items()):
                await _fill_gap(client, peer.url, origin, held, ttl, sender)
    except Exception as exc:
        await _push_failed(peer, batch, exc)
        return False
    await Delivery.filter(id__in=[d.id for d in batch]).update(state="done")
    await record_success(peer)
    return True


async def _push_failed(peer: Peer, batch: list[Delivery], exc: Exception) -> None:
    if isinstance(exc, PeerError):
        kind = exc.kind
        log.info("push to %s failed (%s): %s", peer.url, kind, exc)
    else:
        kind = "internal"
        log.exception("push to %s failed unexpectedly", peer.url)
    error = str(exc) if isinstance(exc, PeerError) else f"{type(exc).__name__}: {exc}"
    try:
        retry_after = exc.retry_after if isinstance(exc, PeerBusy) else None
        await record_failure(peer, error, kind=kind, retry_after=retry_after)
        for delivery in batch:
            delivery.attempts += 1
            delivery.last_error = f"[{kind}] {error}"[:500]
            if delivery.attempts >= MAX_ATTEMPTS or kind == "refused":
                delivery.state = "failed"
            else:  # wait for the peer's next attempt, with the peer's backoff
                delivery.next_attempt = peer.next_attempt or utc_now()
            await delivery.save()
        # The other rows queued for this peer wait for the same attempt.
        await Delivery.filter(peer_id=peer.id, state="pending").update(
            next_attempt=peer.next_attempt or utc_now()
        )
    except Exception:  # the database itself may be what fails (a full disk)
        log.exception("cannot record the failed push to %s", peer.url)


class DeliveryWorker:
    """The background side: one task per peer with due deliveries (never two for one
    peer), at most ``delivery_concurrency`` sending at once. A silent peer holds its own
    task only; the others are served meanwhile."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.slots = asyncio.Semaphore(max(1, node.settings.delivery_concurrency))
        self.in_flight: dict[int, asyncio.Task[None]] = {}

    async def dispatch(self) -> None:
        """Start a task for each peer with due deliveries and none running."""
        for peer_id in await due_peer_ids():
            if peer_id not in self.in_flight:
                self.in_flight[peer_id] = asyncio.create_task(self._run(peer_id))

    async def _run(self, peer_id: int) -> None:
        done, failed = 0, False
        try:
            async with self.slots:
                with self.node.db.activated():
                    done, failed = await deliver_to_peer(self.node, peer_id)
        except Exception:
            log.exception("deliveries to peer %d failed", peer_id)
        finally:
            self.in_flight.pop(peer_id, None)
        if done or failed:
            self.node.wake_push()  # deliveries queued meanwhile, to this peer or others

    async def stop(self) -> None:
        tasks = list(self.in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def purge_finished(max_age: timedelta = timedelta(days=2)) -> None:
    await Delivery.filter(state__in=["done", "failed"], created__lt=utc_now() - max_age).delete()
