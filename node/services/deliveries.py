"""Outbound pushes as rows: created with the entry (store first), sent by the worker,
retried with the peer's backoff, given up after a few attempts (anti-entropy repairs the
rest). Different peers are served side by side; the due rows of one peer are coalesced
into one push.

The lifecycle of a delivery (``DELIVERY``) is declared here, next to the attempt that
moves it (``deliver_to_peer``): a row is ``pending`` until a push carrying it succeeds
(``sent``: ``done``); an attempt that fails, whatever the exception and wherever it is
raised (opening the client, reading the rows or the entries, pushing), is counted on each
row it tried (``retry``: it waits for the peer's next attempt; ``give_up`` after
``MAX_ATTEMPTS`` or when policy refuses the peer: ``failed``)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from federation.entry import Entry
from federation.errors import PeerBusy, PeerError
from federation.statemachine import Lifecycle
from federation.timeutil import utc_now

from ..models import Delivery, Frame, Peer
from . import entries
from .features import broadcasting
from .peers import choose_push_targets, record_failure, record_success

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)


class DeliveryState(StrEnum):
    pending = "pending"  # waiting for the next attempt of its peer
    done = "done"  # pushed
    failed = "failed"  # given up: anti-entropy brings the peer these entries


DELIVERY = Lifecycle(
    "delivery",
    DeliveryState,
    {
        DeliveryState.pending: {
            "sent": DeliveryState.done,
            "retry": DeliveryState.pending,
            "give_up": DeliveryState.failed,
        },
    },
    initial=DeliveryState.pending,
)

MAX_ATTEMPTS = 6
#: Due deliveries looked at per peer at a time.
BATCH = 200
#: Most entries in one push (the push message's own bound).
MAX_PUSH_ENTRIES = 500


async def enqueue_push(
    conn: BaseDBAsyncClient,
    node: Node,
    pushed: list[Entry],
    *,
    ttl: int,
    exclude_url: str | None = None,
) -> int:
    """Queue ``pushed`` for ``push_fanout`` random peers, in the caller's transaction."""
    if not pushed:
        return 0
    origins = {e.origin for e in pushed}
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
    refs = json.dumps([[e.origin, e.seq] for e in pushed])
    now = utc_now()
    await conn.execute_many(
        "INSERT INTO deliveries (peer_id, entries, ttl, state, attempts, next_attempt, created)"
        " VALUES (?, ?, ?, ?, 0, ?, ?)",
        [[target.id, refs, ttl, DELIVERY.initial.value, now, now] for target in targets],
    )
    return len(targets)


#: Most entries sent to fill one peer's gap during a delivery; pull repairs larger gaps.
MAX_GAP_FILL = 1000
#: Entries per push of a gap fill.
GAP_FILL_PAGE = 200


async def due_peer_ids() -> list[int]:
    """Peers with pending deliveries that are due, the peer itself not in backoff: a
    peer that failed is left alone (all its deliveries wait) until it is due again."""
    now = utc_now()
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "SELECT DISTINCT d.peer_id AS id FROM deliveries d JOIN peers p ON p.id = d.peer_id"
            " WHERE d.state = ? AND d.next_attempt <= ?"
            " AND (p.next_attempt IS NULL OR p.next_attempt <= ?) ORDER BY d.peer_id",
            [DeliveryState.pending.value, now, now],
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
    batch: list[Delivery] = []
    try:
        async with node.peer_client(peer, deadline=node.settings.push_deadline_seconds) as client:
            while True:
                batch = await _next_batch(peer.id)
                if not batch:
                    return done, False
                await _push_batch(node, client, peer, batch)
                await _sent(peer, batch)
                done += len(batch)
                batch = []
    except Exception as exc:
        await _attempt_failed(peer, batch, exc)
        return done, True


async def _due(peer_id: int) -> list[Delivery]:
    return await (
        Delivery.filter(peer_id=peer_id, state=DeliveryState.pending, next_attempt__lte=utc_now())
        .order_by("id")
        .limit(BATCH)
    )


async def _next_batch(peer_id: int) -> list[Delivery]:
    """The oldest due deliveries of a peer with one ``ttl``, up to ``MAX_PUSH_ENTRIES``."""
    due = await _due(peer_id)
    batch: list[Delivery] = []
    count = 0
    for delivery in due:
        size = len(json.loads(delivery.entries))
        if batch and (delivery.ttl != batch[0].ttl or count + size > MAX_PUSH_ENTRIES):
            continue
        batch.append(delivery)
        count += size
    return batch


async def _push_batch(node: Node, client: Any, peer: Peer, batch: list[Delivery]) -> None:
    refs = {(str(origin), int(seq)) for d in batch for origin, seq in json.loads(d.entries)}
    ttl = batch[0].ttl
    sender = node.settings.advertised_url
    pushed = await entries.by_refs(sorted(refs))
    if not pushed:
        return
    answer = await client.push(peer.url, entries.documents(pushed), ttl=ttl, sender=sender)
    node.note_refusals(peer.id, answer.get("rejected") or [])
    # The peer lacks earlier entries of some origins: send them now, so that what we
    # pushed does not wait for the next anti-entropy round.
    gaps = [
        entries.Range(origin, held, MAX_GAP_FILL)
        for origin, held in sorted((answer.get("need") or {}).items())
    ]
    pages = entries.pages(gaps, page_size=GAP_FILL_PAGE, max_bytes=entries.PUSH_PAGE_BYTES)
    async for page in pages:
        await client.push(peer.url, entries.documents(page), ttl=ttl, sender=sender)


async def _sent(peer: Peer, batch: list[Delivery]) -> None:
    done = DELIVERY.next(DeliveryState.pending, "sent")  # the batch was chosen pending
    await Delivery.filter(id__in=[d.id for d in batch], state=DeliveryState.pending).update(
        state=done
    )
    await record_success(peer)


async def _attempt_failed(peer: Peer, batch: list[Delivery], exc: Exception) -> None:
    if isinstance(exc, PeerError):
        kind = exc.kind
        log.info("push to %s failed (%s): %s", peer.url, kind, exc)
    else:
        kind = "internal"
        log.exception("push to %s failed unexpectedly", peer.url)
    error = str(exc) if isinstance(exc, PeerError) else f"{type(exc).__name__}: {exc}"
    try:
        # Failed before a batch was chosen (the client, the rows): the peer's due rows
        # were what this attempt was for.
        batch = batch or await _due(peer.id)
        retry_after = exc.retry_after if isinstance(exc, PeerBusy) else None
        failed = await record_failure(peer, error, kind=kind, retry_after=retry_after)
        for delivery in batch:
            delivery.attempts += 1
            delivery.last_error = f"[{kind}] {error}"[:500]
            give_up = delivery.attempts >= MAX_ATTEMPTS or kind == "refused"
            delivery.state = DELIVERY.next(
                DELIVERY.parse(delivery.state), "give_up" if give_up else "retry"
            )
            if not give_up:  # wait for the peer's next attempt, with the peer's backoff
                delivery.next_attempt = failed.next_attempt or utc_now()
            await delivery.save()
        # The other rows queued for this peer wait for the same attempt.
        await Delivery.filter(peer_id=peer.id, state=DeliveryState.pending).update(
            next_attempt=failed.next_attempt or utc_now()
        )
    except Exception:  # the database itself may be what fails (a full disk)
        log.exception("cannot record the failed push to %s", peer.url)


class PeerSender:
    """The background side of rows sent to peers (deliveries, frames): one task per peer
    with due rows (never two for one peer), at most ``delivery_concurrency`` sending at
    once. A silent peer holds its own task only; the others are served meanwhile."""

    def __init__(
        self,
        node: Node,
        what: str,
        due: Callable[[], Awaitable[list[int]]],
        send: Callable[[Node, int], Awaitable[tuple[int, bool]]],
    ) -> None:
        self.node, self.what, self._due, self._send = node, what, due, send
        self.slots = asyncio.Semaphore(max(1, node.settings.delivery_concurrency))
        self.in_flight: dict[int, asyncio.Task[None]] = {}

    async def dispatch(self) -> None:
        """Start a task for each peer with due rows and none running."""
        for peer_id in await self._due():
            if peer_id not in self.in_flight:
                self.in_flight[peer_id] = asyncio.create_task(self._run(peer_id))

    async def _run(self, peer_id: int) -> None:
        done, failed = 0, False
        try:
            async with self.slots:
                with self.node.db.activated():
                    done, failed = await self._send(self.node, peer_id)
        except Exception:
            log.exception("%s to peer %d failed", self.what, peer_id)
        finally:
            self.in_flight.pop(peer_id, None)
        if done or failed:
            self.node.wake_push()  # rows queued meanwhile, to this peer or others

    async def stop(self) -> None:
        tasks = list(self.in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class DeliveryWorker(PeerSender):
    """Version 1 pushes (``deliveries`` rows)."""

    def __init__(self, node: Node) -> None:
        super().__init__(node, "deliveries", due_peer_ids, deliver_to_peer)


async def purge_finished(
    max_age: timedelta = timedelta(days=2), model: type[Delivery | Frame] = Delivery
) -> None:
    """Delete the finished rows (deliveries, or frames: the same lifecycle) of ``model``
    older than ``max_age``."""
    finished = [state for state in DeliveryState if DELIVERY.is_final(state)]
    await model.filter(state__in=finished, created__lt=utc_now() - max_age).delete()
