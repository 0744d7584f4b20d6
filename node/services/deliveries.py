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
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.entry import Entry
from federation.errors import PeerBusy, PeerError
from federation.statemachine import Lifecycle
from federation.timeutil import utc_now

from ..store import deliveries as delivery_rows
from ..store import peers as peer_rows
from ..store.deliveries import Attempt, DeliveryRow
from ..store.frames import FrameRow
from ..store.peers import PeerLike
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


class QueuedRows(Protocol):
    """Where rows sent to peers are kept: ``store.deliveries``, ``store.frames``."""

    async def save_attempts(
        self, conn: BaseDBAsyncClient, *, attempts: Sequence[Attempt]
    ) -> None: ...

    async def postpone(
        self, conn: BaseDBAsyncClient, *, peer_id: int, state: str, until: datetime
    ) -> None: ...


async def record_failed_batch(
    conn: BaseDBAsyncClient,
    rows: QueuedRows,
    peer: PeerLike,
    batch: Sequence[DeliveryRow | FrameRow],
    *,
    max_attempts: int,
    kind: str,
    error: str,
    retry_after: float | None,
) -> list[Attempt]:
    """An attempt to send ``batch`` to ``peer`` failed: the peer's failure (its backoff),
    each row's attempt (``after_failure``), and the peer's other due rows postponed to its
    next attempt. The rows' attempts are returned."""
    failed = await record_failure(peer, error, kind=kind, retry_after=retry_after, conn=conn)
    attempts = [
        after_failure(
            row, max_attempts=max_attempts, kind=kind, error=error, retry_at=failed.next_attempt
        )
        for row in batch
    ]
    await rows.save_attempts(conn, attempts=attempts)
    # The other rows queued for this peer wait for the same attempt.
    await rows.postpone(
        conn,
        peer_id=peer.id,
        state=DeliveryState.pending.value,
        until=failed.next_attempt or utc_now(),
    )
    return attempts


def after_failure(
    row: DeliveryRow | FrameRow,
    *,
    max_attempts: int,
    kind: str,
    error: str,
    retry_at: datetime | None,
) -> Attempt:
    """What ``row`` (a delivery or a frame: the same lifecycle) becomes when an attempt
    fails once more: given up after ``max_attempts``, or at once when the peer refused it
    (``kind``); otherwise it waits for ``retry_at``, the peer's next attempt with its
    backoff."""
    count = row.attempts + 1
    give_up = count >= max_attempts or kind == "refused"
    return Attempt(
        row_id=row.id,
        state=DELIVERY.next(DELIVERY.parse(row.state), "give_up" if give_up else "retry"),
        attempts=count,
        last_error=f"[{kind}] {error}"[:500],
        next_attempt=None if give_up else retry_at or utc_now(),
    )


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
    await delivery_rows.enqueue(
        conn,
        peer_ids=[target.id for target in targets],
        refs=[(e.origin, e.seq) for e in pushed],
        ttl=ttl,
        state=DELIVERY.initial.value,
        now=utc_now(),
    )
    return len(targets)


#: Most entries sent to fill one peer's gap during a delivery; pull repairs larger gaps.
MAX_GAP_FILL = 1000
#: Entries per push of a gap fill.
GAP_FILL_PAGE = 200


async def due_peer_ids(node: Node) -> list[int]:
    """Peers with pending deliveries that are due, the peer itself not in backoff: a
    peer that failed is left alone (all its deliveries wait) until it is due again."""
    return await delivery_rows.due_peer_ids(
        node.db.connection(), state=DeliveryState.pending.value, now=utc_now()
    )


async def run_due_deliveries(node: Node) -> int:
    """Send every delivery that is due, to ``delivery_concurrency`` peers at a time;
    return how many deliveries succeeded."""
    slots = asyncio.Semaphore(max(1, node.settings.delivery_concurrency))

    async def bounded(peer_id: int) -> tuple[int, bool]:
        async with slots:
            return await deliver_to_peer(node, peer_id)

    sent = 0
    while True:
        peer_ids = await due_peer_ids(node)
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
    conn = node.db.connection()
    peer = await peer_rows.with_id(conn, peer_id=peer_id)
    if peer is None:
        return 0, False
    done = 0
    batch: list[DeliveryRow] = []
    try:
        async with node.peer_client(peer, deadline=node.settings.push_deadline_seconds) as client:
            while True:
                batch = await _next_batch(conn, peer.id)
                if not batch:
                    return done, False
                await _push_batch(node, client, peer, batch)
                await _sent(conn, peer, batch)
                done += len(batch)
                batch = []
    except Exception as exc:
        await _attempt_failed(conn, peer, batch, exc)
        return done, True


async def _due(conn: BaseDBAsyncClient, peer_id: int) -> list[DeliveryRow]:
    return await delivery_rows.due(
        conn, peer_id=peer_id, state=DeliveryState.pending.value, now=utc_now(), limit=BATCH
    )


async def _next_batch(conn: BaseDBAsyncClient, peer_id: int) -> list[DeliveryRow]:
    """The oldest due deliveries of a peer with one ``ttl``, up to ``MAX_PUSH_ENTRIES``."""
    due = await _due(conn, peer_id)
    batch: list[DeliveryRow] = []
    count = 0
    for delivery in due:
        size = len(delivery.refs)
        if batch and (delivery.ttl != batch[0].ttl or count + size > MAX_PUSH_ENTRIES):
            continue
        batch.append(delivery)
        count += size
    return batch


async def _push_batch(node: Node, client: Any, peer: PeerLike, batch: list[DeliveryRow]) -> None:
    refs = {ref for d in batch for ref in d.refs}
    ttl = batch[0].ttl
    sender = node.settings.advertised_url
    pushed = await entries.by_refs(sorted(refs), node.db.connection())
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
    pages = entries.pages(node.db, gaps, page_size=GAP_FILL_PAGE, max_bytes=entries.PUSH_PAGE_BYTES)
    async for page in pages:
        await client.push(peer.url, entries.documents(page), ttl=ttl, sender=sender)


async def _sent(conn: BaseDBAsyncClient, peer: PeerLike, batch: list[DeliveryRow]) -> None:
    done = DELIVERY.next(DeliveryState.pending, "sent")  # the batch was chosen pending
    await delivery_rows.move(
        conn, ids=[d.id for d in batch], from_state=DeliveryState.pending.value, to_state=done
    )
    await record_success(peer, conn=conn)


async def _attempt_failed(
    conn: BaseDBAsyncClient, peer: PeerLike, batch: list[DeliveryRow], exc: Exception
) -> None:
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
        batch = batch or await _due(conn, peer.id)
        retry_after = exc.retry_after if isinstance(exc, PeerBusy) else None
        await record_failed_batch(
            conn,
            delivery_rows,
            peer,
            batch,
            max_attempts=MAX_ATTEMPTS,
            kind=kind,
            error=error,
            retry_after=retry_after,
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
        super().__init__(node, "deliveries", partial(due_peer_ids, node), deliver_to_peer)


async def purge_finished(
    max_age: timedelta = timedelta(days=2),
    *,
    table: str = "deliveries",
    conn: BaseDBAsyncClient,
) -> None:
    """Delete the finished deliveries older than ``max_age`` (or frames, the same
    lifecycle: ``table`` is then ``frames``, as ``services.tree`` passes)."""
    finished = [state.value for state in DeliveryState if DELIVERY.is_final(state)]
    await delivery_rows.purge_finished(
        conn, states=finished, before=utc_now() - max_age, table=table
    )
