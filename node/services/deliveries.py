"""Outbound pushes as rows: created with the entry (store first), sent by the worker,
retried with backoff, given up after a few attempts (anti-entropy repairs the rest)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from federation.backoff import backoff_seconds
from federation.entry import Entry
from federation.errors import AddressRefused, PeerError
from federation.timeutil import utc_now

from ..models import Delivery, Peer
from .peers import check_address, choose_push_targets, record_failure, record_success

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BATCH = 50


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
    )
    refs = json.dumps([[e.origin, e.seq] for e in entries])
    now = utc_now()
    await conn.execute_many(
        "INSERT INTO deliveries (peer_id, entries, ttl, state, attempts, next_attempt, created)"
        " VALUES (?, ?, ?, 'pending', 0, ?, ?)",
        [[target["id"], refs, ttl, now, now] for target in targets],
    )
    return len(targets)


async def _load_documents(refs: list[list[Any]]) -> list[dict[str, Any]]:
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


async def run_due_deliveries(node: Node) -> int:
    """Send every delivery that is due; return how many succeeded."""
    sent = 0
    async with node.peer_client() as client:
        while True:
            due = (
                await Delivery.filter(state="pending", next_attempt__lte=utc_now())
                .order_by("next_attempt")
                .limit(BATCH)
            )
            if not due:
                return sent
            for delivery in due:
                sent += await _deliver(node, client, delivery)


async def _deliver(node: Node, client: Any, delivery: Delivery) -> int:
    peer = await Peer.get_or_none(id=delivery.peer_id)
    if peer is None:
        await delivery.delete()
        return 0
    documents = await _load_documents(json.loads(delivery.entries))
    delivery.attempts += 1
    sender = None if node.settings.pull_only else (node.settings.url or None)
    try:
        await check_address(peer, node.settings.allow_private_peers)
        if documents:
            answer = await client.push(peer.url, documents, ttl=delivery.ttl, sender=sender)
            # The peer lacks earlier entries of some origins: send them now, so that
            # what we pushed does not wait for the next anti-entropy round.
            for origin, held in sorted((answer.get("need") or {}).items()):
                await _fill_gap(client, peer.url, origin, held, delivery.ttl, sender)
    except PeerError as exc:
        delivery.last_error = str(exc)[:500]
        if delivery.attempts >= MAX_ATTEMPTS or isinstance(exc, AddressRefused):
            delivery.state = "failed"
        else:
            delay = backoff_seconds(delivery.attempts, base=5.0, cap=600.0)
            delivery.next_attempt = utc_now() + timedelta(seconds=delay)
        await delivery.save()
        await record_failure(peer, str(exc), refused=isinstance(exc, AddressRefused))
        log.info("push to %s failed: %s", peer.url, exc)
        return 0
    delivery.state = "done"
    await delivery.save()
    await record_success(peer)
    return 1


async def purge_finished(max_age: timedelta = timedelta(days=2)) -> None:
    await Delivery.filter(state__in=["done", "failed"], created__lt=utc_now() - max_age).delete()
