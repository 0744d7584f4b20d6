"""Fetching the blobs of the resources we hold, in the background.

Each ``blob_fetches`` row is one blob to get. The worker takes the due rows, asks peers
for each (the author's endpoints first, then the peers added by hand, then a few
discovered ones, each through the same address checks as sync), streams the answer to a
temporary file while hashing it, and keeps it only if the hash and the length are right.
A wrong answer (a hostile or broken peer) is discarded and the next peer asked. When no
peer could give it, the row waits with the backoff of deliveries (federation/backoff.py).
Nothing is fetched past the storage quota: such rows say so (``over_quota``) and are
tried again when space frees.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from datetime import timedelta
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from federation.backoff import backoff_seconds
from federation.errors import PeerError
from federation.timeutil import utc_now

from ..models import BlobFetch, Peer
from .blobs import collect_garbage, keep, references, usage

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)

#: Rows taken per pass, and blobs fetched side by side.
BATCH = 20
PARALLEL = 2
#: Peers asked for one blob at one attempt, besides the author's.
OTHER_PEERS = 8
#: Backoff between attempts (each attempt asks every candidate peer once).
BACKOFF_BASE_SECONDS = 15.0
BACKOFF_CAP_SECONDS = 3600.0
#: A "fetch now" moves the next attempt at most this often.
FETCH_NOW_MIN_SECONDS = 10


async def reset_interrupted() -> None:
    """Rows left ``fetching`` by a stop in the middle are due again."""
    await BlobFetch.filter(state="fetching").update(state="pending", next_attempt=utc_now())


async def run_blob_work(node: Node) -> int:
    """Drop unreferenced blobs, then fetch the due ones; returns how many were fetched."""
    await collect_garbage(node.blobs)
    await _requeue_quota(node)
    fetched = 0
    gate = asyncio.Semaphore(PARALLEL)

    async def one(row: BlobFetch) -> int:
        async with gate:
            try:
                return await fetch_one(node, row)
            except Exception as exc:  # one blob's trouble must not stop the others
                log.exception("fetching blob %s failed", row.sha256)
                await _retry_later(row, f"{type(exc).__name__}: {exc}"[:300])
                return 0

    while True:
        due = (
            await BlobFetch.filter(state="pending", next_attempt__lte=utc_now())
            .order_by("next_attempt", "created")
            .limit(BATCH)
        )
        if not due:
            return fetched
        fetched += sum(await asyncio.gather(*(one(row) for row in due)))


async def _requeue_quota(node: Node) -> None:
    """Rows stopped by the quota are tried again when they would fit now."""
    room = node.settings.blob_quota_bytes - await usage()
    for row in await BlobFetch.filter(state="over_quota").order_by("created"):
        if row.size <= room:
            room -= row.size
            row.state = "pending"
            row.next_attempt = utc_now()
            await row.save(update_fields=["state", "next_attempt"])


async def _candidates(node: Node, sha256: str) -> list[Peer]:
    """Peers to ask: the authors' of the resources that list the blob, then the others
    (added by hand first, then discovered ones at random)."""
    authors = {ref.origin for ref in await references(sha256)}
    peers = [p for p in await Peer.all().order_by("id") if p.origin != node.origin]
    first = [p for p in peers if p.origin in authors]
    manual = [p for p in peers if p.origin not in authors and p.source != "discovered"]
    discovered = [p for p in peers if p.origin not in authors and p.source == "discovered"]
    random.shuffle(discovered)
    return first + (manual + discovered)[:OTHER_PEERS]


async def fetch_one(node: Node, row: BlobFetch) -> int:
    """One attempt at one blob; returns 1 if it is now held."""
    settings = node.settings
    if row.size > settings.blob_max_bytes:
        await _finish(row, "failed", f"larger than blob_max_bytes ({settings.blob_max_bytes})")
        return 0
    reserved = await _reserved(row.sha256)
    if await usage() + reserved + row.size > settings.blob_quota_bytes:
        await _finish(row, "over_quota", f"the quota ({settings.blob_quota_bytes} bytes) is full")
        return 0
    row.state = "fetching"
    row.updated = utc_now()
    await row.save(update_fields=["state", "updated"])
    tried: list[dict[str, str]] = []
    for peer in await _candidates(node, row.sha256):
        error = await _fetch_from(node, peer, row)
        if error is None:
            row.tried = json.dumps(tried)
            await row.save(update_fields=["tried"])
            return 1
        tried.append({"url": peer.url, "error": error})
    row.tried = json.dumps(tried)
    await _retry_later(row, "no peer could give it" if tried else "no peer to ask")
    return 0


async def _retry_later(row: BlobFetch, error: str) -> None:
    row.attempts += 1
    row.next_attempt = utc_now() + timedelta(
        seconds=backoff_seconds(row.attempts, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS)
    )
    await _finish(row, "pending", error)


async def _reserved(sha256: str) -> int:
    """Bytes of the other blobs being fetched right now (they count against the quota)."""
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "SELECT coalesce(sum(size), 0) AS n FROM blob_fetches"
            " WHERE state = 'fetching' AND sha256 != ?",
            [sha256],
        )
    return int(rows[0]["n"])


def blob_deadline(size: int) -> float:
    """Time allowed to download ``size`` bytes from one peer: a minute, plus a second per
    64 KiB (a slow link of 512 kbit/s still makes it)."""
    return 60.0 + size / 65536


async def _fetch_from(node: Node, peer: Peer, row: BlobFetch) -> str | None:
    """Get the blob from ``peer``: None when it is now held, else what went wrong."""
    writer = node.blobs.writer(row.size)
    try:
        # The peer's own client: a discovered peer must be on a public address, checked on
        # the very address the download connects to.
        async with node.peer_client(peer, deadline=blob_deadline(row.size)) as client:
            found = await client.fetch_blob(peer.url, row.sha256, writer.write, max_bytes=row.size)
        received = await writer.finish()
    except PeerError as exc:
        writer.abort()
        return str(exc)[:300]
    except OSError as exc:  # our side: disk full, permissions...
        writer.abort()
        log.warning("blob %s: cannot write it: %s", row.sha256, exc)
        return f"cannot write it here: {exc.strerror or exc}"
    except BaseException:
        writer.abort()
        raise
    if not found:
        node.blobs.discard(received)
        return "does not hold it"
    if received.sha256 != row.sha256 or received.size != row.size:
        node.blobs.discard(received)
        log.warning("blob %s from %s: the bytes do not match their hash", row.sha256, peer.url)
        return "the bytes do not match the hash"
    if await BlobFetch.exists(sha256=row.sha256):  # still wanted (not dropped meanwhile)
        await keep(node.blobs, received)
    else:
        node.blobs.discard(received)
    return None


async def _finish(row: BlobFetch, state: str, error: str | None) -> None:
    row.state = state
    row.last_error = error  # type: ignore[assignment]
    row.updated = utc_now()
    await row.save()


async def fetch_now(sha256: str) -> bool:
    """Make a blob's fetch due at once (the "fetch now" button). False when there is
    nothing to fetch (no such row, held already, or larger than allowed). Asked again
    within ``FETCH_NOW_MIN_SECONDS`` of the last attempt, it changes nothing."""
    row = await BlobFetch.get_or_none(sha256=sha256)
    if row is None or row.state in ("done", "failed"):
        return False
    now = utc_now()
    if row.state == "fetching" or (
        row.updated is not None and now - row.updated < timedelta(seconds=FETCH_NOW_MIN_SECONDS)
    ):
        return True
    row.state = "pending"
    row.next_attempt = now
    await row.save(update_fields=["state", "next_attempt"])
    return True
