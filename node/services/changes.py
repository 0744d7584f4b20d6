"""Changes since the last visit (docs/protocol.md 13): the epoch of our positions, the
answer to ``POST /federation/v1/changes``, and the asker's side.

Positions are the row ids of the ``entries`` table (never deleted nor reused); the epoch
is kept in ``federation_state`` and renewed when a node starts restored from a backup
(its positions went back). The decisions are federation.reconcile's."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import string
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from federation.reconcile import (
    MAX_CHANGES,
    changes_since,
    decode_cursor,
    encode_cursor,
    missing_heads,
)
from federation.timeutil import utc_now

from ..store import changes as change_rows
from ..store import origins as origin_rows
from ..store import peers as peer_rows
from ..store.peers import PeerLike, PeerRow

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)

EPOCH_KEY = "changes_epoch"
EPOCH_LENGTH = 12
_ALPHABET = string.ascii_letters + string.digits
#: Entry rows read at once when listing changes; a listing of more rows stops there (with
#: ``more``), so that one request reads a bounded number of rows.
MAX_ROWS = 50_000
#: Rows looked at from the newest back to find the settled position.
SETTLE_SCAN = 1000


def new_epoch() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(EPOCH_LENGTH))


async def current_epoch(node: Node, *, renew: bool = False) -> str:
    """Our epoch, created on first use; ``renew``: a new one (positions may have gone back)."""
    if not renew:
        epoch = await change_rows.state_value(node.db.connection(), key=EPOCH_KEY)
        if epoch is not None:
            return epoch
    async with node.db.write_transaction() as conn:
        epoch = None if renew else await change_rows.state_value(conn, key=EPOCH_KEY)
        if epoch is None:  # not created meanwhile by another request
            epoch = new_epoch()
            await change_rows.save_state_value(conn, key=EPOCH_KEY, value=epoch)
    return epoch


async def renew_epoch_if_restored(node: Node) -> None:
    """A node restored from a backup numbers entries from the backup's last row again:
    its positions went back, so its cursors must not be taken (13.1)."""
    from .log import catching_up

    if catching_up(node):
        await current_epoch(node, renew=True)


async def settled_positions(node: Node, settle: float) -> tuple[int, int]:
    """(last position, settled position): the newest entry row, and the newest one stored
    ``settle`` seconds ago or more (13.1). Rows are inserted in time order, so the scan
    goes back from the newest, a page at a time, and stops at the first settled one."""
    cutoff = utc_now() - timedelta(seconds=settle)
    last = 0
    before = 2**62
    async with node.db.transaction() as conn:
        while True:
            rows = await change_rows.stored_before(conn, before=before, limit=SETTLE_SCAN)
            if not rows:
                return last, 0
            last = last or rows[0].position
            for row in rows:
                if row.received_at is None or row.received_at <= cutoff:
                    return last, row.position
            before = rows[-1].position


async def answer_changes(node: Node, request: dict[str, Any], settle: float) -> dict[str, Any]:
    """The answer to a (schema-valid) changes request (13.2): what moved after the cursor,
    up to the settled position, frozen origins left out."""
    epoch = await current_epoch(node)
    last, settled = await settled_positions(node, settle)
    since = decode_cursor(request.get("cursor"), epoch, last)
    if since is None:
        return {"cursor": encode_cursor(epoch, settled), "changes": {}, "reset": True}
    limit = min(int(request.get("limit", MAX_CHANGES)), MAX_CHANGES)
    if settled <= since:
        return {"cursor": encode_cursor(epoch, since), "changes": {}, "more": False}
    async with node.db.transaction() as conn:
        rows = await change_rows.moved_between(conn, after=since, upto=settled, limit=MAX_ROWS)
        frozen = await origin_rows.frozen_ids(conn)
    cut = len(rows) == MAX_ROWS
    upto = rows[-1].position if cut else settled
    listed = changes_since(rows, since, upto, limit=limit)  # (position, origin, seq) rows
    heads = {origin: seq for origin, seq in listed.heads.items() if origin not in frozen}
    return {
        "cursor": encode_cursor(epoch, listed.position),
        "changes": dict(sorted(heads.items())),
        "more": listed.more or cut,
    }


# -- the asker (13.3) ------------------------------------------------------------------------

#: Changes answers followed (``more``) in one visit; the rest is asked next interval.
MAX_PAGES_PER_VISIT = 20
#: Entries pages fetched per missing origin in one visit (a node that does not graft).
MAX_ENTRIES_PAGES = 20
#: Origins announced and missing that a node keeps track of (``missing_heads``) at most.
MAX_MISSING = 10_000


class CursorLink(Protocol):
    """What a visit reads of a link: a ``store.peers.PeerLinkRow`` (or a ``PeerLink``)."""

    @property
    def cursor(self) -> str | None: ...


async def pull_changes(node: Node, peer: PeerLike, link: CursorLink) -> int:
    """One visit: what ``peer`` stored since our cursor. Missing heads are grafted from it
    when it is a broadcast neighbour, else fetched with ``GET /federation/v1/entries``; a
    ``reset`` (or a graft given up) runs a full round. Returns the entries stored.

    Raises ``PeerError`` on a failed request (the caller records it)."""
    from .features import broadcasting
    from .sync import current_vector, frozen_origins, sync_with
    from .tree import send_grafts, tree_of

    stored = 0
    conn = node.db.connection()
    request: dict[str, Any] = {"limit": MAX_CHANGES}
    if link.cursor:
        request["cursor"] = link.cursor
    if node.settings.advertised_url:
        request["from"] = node.settings.advertised_url.rstrip("/")
    async with node.peer_client(peer) as client:
        for _ in range(MAX_PAGES_PER_VISIT):
            answer = await client.changes(peer.url, request)
            if answer.get("reset"):
                result = await _full_round(node, peer, sync_with)
                stored += result
                # The cursor was taken before the round (13.3).
                await peer_rows.save_cursor(conn, peer_id=peer.id, cursor=answer["cursor"])
                return stored
            changes: dict[str, int] = answer["changes"]
            mine = await current_vector(node.db)
            skipped = await frozen_origins(node.db) | set(node.rejections.skipped_origins(peer.url))
            missing = missing_heads(changes, mine, skipped)
            tree = await tree_of(node)
            neighbour = broadcasting(node) and peer.url in tree.ids
            if neighbour:
                tree.state.known.learn(peer.url, changes)
                # Missing records are bounded: beyond MAX_MISSING origins a neighbour's
                # announcements wait for the next visits (or a full round).
                room = max(0, MAX_MISSING - len(tree.state.missing))
                wanted = [o for o in missing if o in tree.state.missing][:MAX_MISSING]
                wanted += [o for o in missing if o not in tree.state.missing][:room]
                actions = tree.state.on_ihave(
                    peer.url, {o: changes[o] for o in wanted}, mine, time.time()
                )
                before = sum(mine.values())
                if await send_grafts(node, actions):
                    stored += await _full_round(node, peer, sync_with)
                stored += max(0, sum((await current_vector(node.db)).values()) - before)
            elif missing:
                stored += await _fetch_entries(node, client, peer, missing, changes)
            await peer_rows.save_cursor(conn, peer_id=peer.id, cursor=answer["cursor"])
            if not answer.get("more"):
                break
            request["cursor"] = answer["cursor"]
    return stored


async def _full_round(node: Node, peer: PeerLike, sync_with: Any) -> int:
    """The safety net (5.2) with ``peer``; a failed round is a failed visit."""
    from federation.errors import PeerError

    result = await sync_with(node, peer)
    if result.error is not None and not result.skipped:
        raise PeerError(f"full round with {peer.url}: {result.error}")
    return int(result.accepted)


async def _fetch_entries(
    node: Node, client: Any, peer: PeerLike, missing: dict[str, int], changes: dict[str, int]
) -> int:
    """Fetch what follows our heads of ``missing`` origins up to the announced heads."""
    from .sync import ingest_from_peer

    stored = 0
    for origin, after in missing.items():
        for _ in range(MAX_ENTRIES_PAGES):
            if after >= changes[origin]:
                break
            documents = await client.entries(peer.url, origin, after, 500)
            if not documents:
                break
            report = await ingest_from_peer(node, peer, documents)
            stored += len(report.accepted)
            if not report.accepted:
                break
            after = max(e.seq for e in report.accepted if e.origin == origin)
    return stored


# -- each sync interval ----------------------------------------------------------------------


async def visit(node: Node, peer: PeerLike, *, full: bool, deadline: float | None) -> None:
    """This interval's anti-entropy with ``peer``: a changes pull if both speak
    ``changes`` and no full round is asked, else a version 1 round (11.2). Whatever goes
    wrong is a failure of this peer, recorded with its backoff."""
    from federation.errors import PeerBusy, PeerError, PeerLacksPath

    from .features import forget_features, refresh_features, speaks, stale
    from .peers import PeerState, record_failure, record_success
    from .sync import sync_peers
    from .tree import link_failed, link_worked, tree_of

    full = full or node.wants_full_round(peer.id)
    conn = node.db.connection()
    link = await peer_rows.link_or_none(conn, peer_id=peer.id)
    # Its last round worked: read its features (11.1, at least once a day). A peer
    # never reached is identified by its first round (sync._identify) instead.
    reread = node.settings.features and peer.state == PeerState.ok and stale(link)
    if reread and await refresh_features(node, peer) is not None:
        link = await peer_rows.link_or_none(conn, peer_id=peer.id)
    if (
        full
        or link is None
        or "changes" not in node.settings.features
        or not speaks(link, "changes")
    ):
        await sync_peers(node, [peer], deadline=deadline)
        return
    tree = await tree_of(node)
    fall_back = False
    async with node.sync_slots:
        try:
            async with asyncio.timeout(deadline):
                stored = await pull_changes(node, peer, link)
        except PeerLacksPath:
            await forget_features(peer, conn=conn)
            fall_back = True
        except (PeerError, TimeoutError) as exc:
            kind = exc.kind if isinstance(exc, PeerError) else "unreachable"
            retry_after = exc.retry_after if isinstance(exc, PeerBusy) else None
            log.info("changes from %s failed (%s): %s", peer.url, kind, exc)
            await record_failure(
                peer, str(exc) or "deadline", kind=kind, retry_after=retry_after, conn=conn
            )
            await link_failed(tree, peer.url)
        else:
            await record_success(peer, stored, conn=conn)
            await link_worked(tree, peer.url)
    if fall_back:
        await sync_peers(node, [peer], deadline=deadline)


async def tick(node: Node) -> list[PeerRow]:
    """Protocol 1.1 upkeep before this interval's visits (the database only, so that the
    tick returns at once): keep the broadcast neighbours. Returns those to visit."""
    from .features import broadcasting
    from .tree import maintain_neighbours, tree_of

    if not broadcasting(node):
        return []
    await maintain_neighbours(node)
    tree = await tree_of(node)
    now = utc_now()
    neighbours = await peer_rows.with_ids(node.db.connection(), ids=tree.ids.values())
    return [p for p in neighbours if p.next_attempt is None or p.next_attempt <= now]


async def graft_due(node: Node) -> None:
    """Grafts whose time came (an announcer did not bring what it announced: the next
    one is asked, 12.3); a give-up runs a full round with a random neighbour. Run in a
    task of its own: a slow announcer holds no tick."""
    from .features import broadcasting
    from .sync import current_vector, sync_with
    from .tree import send_grafts, tree_of

    if not broadcasting(node):
        return
    tree = await tree_of(node)
    actions = tree.state.tick(time.time(), await current_vector(node.db))
    if actions and await send_grafts(node, actions) and tree.ids:
        chosen = random.choice(sorted(tree.ids.values()))
        peer = await peer_rows.with_id(node.db.connection(), peer_id=chosen)
        if peer is not None:
            await sync_with(node, peer, deadline=node.settings.sync_round_deadline_seconds)
