"""Fetching the blobs of the resources we hold, in the background.

Each ``blob_fetches`` row is one blob to get. The worker takes the due rows, asks peers
for each (the author's endpoints first, then the peers added by hand, then a few
discovered ones, each through the same address checks as sync), streams the answer to a
temporary file while hashing it, and keeps it only if the hash and the length are right.
A wrong answer (a hostile or broken peer) is discarded and the next peer asked. When no
peer could give it, the row waits with the backoff of deliveries (federation/backoff.py).
Nothing is fetched past the storage quota: such rows say so (``over_quota``) and are
tried again when space frees.

Every change of a row's state is a move of ``services.blobs.BLOB_FETCH`` from the state
this worker last saw it in, and is written only if the row is still in that state (an
upload may have made it ``done`` meanwhile). Whatever raises during an attempt counts as
a failed attempt of that row, with its backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.backoff import backoff_seconds
from federation.errors import PeerError
from federation.timeutil import utc_now

from ..store import blobs as rows
from ..store import peers as peer_rows
from ..store.blobs import FetchRow
from ..store.peers import PeerRow
from .blobs import BLOB_FETCH, FetchState, collect_garbage, keep, references, usage

if TYPE_CHECKING:
    from ..db import Database
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


async def reset_interrupted(db: Database) -> None:
    """Rows left ``fetching`` by a stop in the middle are due again."""
    to_state = BLOB_FETCH.next(FetchState.fetching, "interrupted")
    await rows.move_fetches(
        db.connection(), from_state=FetchState.fetching, to_state=to_state, next_attempt=utc_now()
    )


async def run_blob_work(node: Node) -> int:
    """Drop unreferenced blobs, then fetch the due ones; returns how many were fetched."""
    await collect_garbage(node.db, node.blobs)
    await _requeue_quota(node)
    fetched = 0
    gate = asyncio.Semaphore(PARALLEL)

    async def one(row: FetchRow) -> int:
        async with gate:
            try:
                return await fetch_one(node, row)
            except Exception:  # one blob's trouble must not stop the others
                # fetch_one counted the attempt; what raised here is the database itself.
                log.exception("cannot record the attempt at blob %s", row.sha256)
                return 0

    while True:
        due = await rows.fetches_due(
            node.db.connection(), state=FetchState.pending, now=utc_now(), limit=BATCH
        )
        if not due:
            return fetched
        fetched += sum(await asyncio.gather(*(one(row) for row in due)))


async def _requeue_quota(node: Node) -> None:
    """Rows stopped by the quota are tried again when they would fit now."""
    conn = node.db.connection()
    room = node.settings.blob_quota_bytes - await usage(conn)
    for row in await rows.fetches_in(conn, state=FetchState.over_quota):
        if row.size <= room:
            room -= row.size
            await _schedule(conn, row, FetchState.over_quota, "room")


async def _schedule(conn: BaseDBAsyncClient, row: FetchRow, state: FetchState, action: str) -> bool:
    """Make the fetch due now, by ``action`` from ``state``."""
    return await rows.schedule_fetch(
        conn,
        sha256=row.sha256,
        from_state=state,
        state=BLOB_FETCH.next(state, action),
        next_attempt=utc_now(),
    )


async def _candidates(node: Node, sha256: str) -> list[PeerRow]:
    """Peers to ask: the authors' of the resources that list the blob, then the others
    (added by hand first, then discovered ones at random)."""
    conn = node.db.connection()
    authors = {ref.origin for ref in await references(conn, sha256)}
    peers = [p for p in await peer_rows.by_id(conn) if p.origin != node.origin]
    first = [p for p in peers if p.origin in authors]
    manual = [p for p in peers if p.origin not in authors and p.source != "discovered"]
    discovered = [p for p in peers if p.origin not in authors and p.source == "discovered"]
    random.shuffle(discovered)
    return first + (manual + discovered)[:OTHER_PEERS]


async def fetch_one(node: Node, row: FetchRow) -> int:
    """One attempt at one blob (a row seen ``pending``); returns 1 if it is now held.
    Whatever raises is a failed attempt, counted with its backoff."""
    state = BLOB_FETCH.parse(row.state)
    conn = node.db.connection()
    try:
        settings = node.settings
        if row.size > settings.blob_max_bytes:
            why = f"larger than blob_max_bytes ({settings.blob_max_bytes})"
            await _finish(conn, row, state, "too_large", why)
            return 0
        reserved = await rows.bytes_in(conn, state=FetchState.fetching, besides=row.sha256)
        if await usage(conn) + reserved + row.size > settings.blob_quota_bytes:
            why = f"the quota ({settings.blob_quota_bytes} bytes) is full"
            await _finish(conn, row, state, "quota_full", why)
            return 0
        fetching = BLOB_FETCH.next(state, "start")
        if not await rows.start_fetch(
            conn, sha256=row.sha256, from_state=state, state=fetching, now=utc_now()
        ):
            return 0  # held, dropped or moved meanwhile: nothing to do this time
        state = fetching
        tried: list[dict[str, str]] = []
        for peer in await _candidates(node, row.sha256):
            error = await _fetch_from(node, peer, row)
            if error is None:
                await rows.note_tried(conn, sha256=row.sha256, tried=json.dumps(tried))
                return 1
            tried.append({"url": peer.url, "error": error})
        await rows.note_tried(conn, sha256=row.sha256, tried=json.dumps(tried))
        await _retry_later(conn, row, state, "no peer could give it" if tried else "no peer to ask")
        return 0
    except Exception as exc:
        log.exception("fetching blob %s failed", row.sha256)
        await _retry_later(conn, row, state, f"{type(exc).__name__}: {exc}"[:300])
        return 0


async def _retry_later(
    conn: BaseDBAsyncClient, row: FetchRow, state: FetchState, error: str
) -> None:
    attempts = row.attempts + 1
    due = utc_now() + timedelta(
        seconds=backoff_seconds(attempts, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS)
    )
    await _finish(conn, row, state, "retry", error, attempts=attempts, next_attempt=due)


def blob_deadline(size: int) -> float:
    """Time allowed to download ``size`` bytes from one peer: a minute, plus a second per
    64 KiB (a slow link of 512 kbit/s still makes it)."""
    return 60.0 + size / 65536


async def _fetch_from(node: Node, peer: PeerRow, row: FetchRow) -> str | None:
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
    if await rows.fetch_wanted(node.db.connection(), sha256=row.sha256):  # not dropped meanwhile
        await keep(node.db, node.blobs, received)
    else:
        node.blobs.discard(received)
    return None


async def _finish(
    conn: BaseDBAsyncClient,
    row: FetchRow,
    state: FetchState,
    action: str,
    error: str | None,
    *,
    attempts: int | None = None,
    next_attempt: datetime | None = None,
) -> None:
    """The end of an attempt: ``action`` from ``state`` (the row is left alone if another
    path moved it meanwhile)."""
    await rows.end_fetch(
        conn,
        sha256=row.sha256,
        from_state=state,
        state=BLOB_FETCH.next(state, action),
        error=error,
        attempts=row.attempts if attempts is None else attempts,
        next_attempt=next_attempt or row.next_attempt,
        now=utc_now(),
    )


async def fetch_now(db: Database, sha256: str) -> bool:
    """Make a blob's fetch due at once (the "fetch now" button). False when there is
    nothing to fetch (no such row, held already, or larger than allowed). Asked again
    within ``FETCH_NOW_MIN_SECONDS`` of the last attempt, it changes nothing."""
    conn = db.connection()
    row = await rows.fetch(conn, sha256=sha256)
    if row is None:
        return False
    state = BLOB_FETCH.parse(row.state)
    if state in (FetchState.done, FetchState.failed):
        return False
    now = utc_now()
    if state == FetchState.fetching or (
        row.updated is not None and now - row.updated < timedelta(seconds=FETCH_NOW_MIN_SECONDS)
    ):
        return True
    await _schedule(conn, row, state, "fetch_now")
    return True
