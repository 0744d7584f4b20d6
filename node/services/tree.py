"""The broadcast tree, node side (docs/protocol.md 12): the Plumtree decisions are
federation.broadcast's; here are their inputs and outputs as rows and requests.

- the state (neighbours and their modes, missing announced heads) lives in ``peer_links``
  and ``missing_heads`` (``store.tree``) and is mirrored in memory by one ``Broadcast`` per
  node; what each neighbour is known to hold stays in memory only (forgetting costs an
  announcement);
- outbound frames are ``frames`` rows (``store.frames``), created when entries are stored
  (store first), sent by ``FrameWorker`` one request in flight per neighbour, retried with
  the peer's backoff;
- an inbound frame is ingested as a push is, then answered (prune, graft, entries).

The database is the node's, reached through its ``Tree`` (``Tree.db``): its connection for
a statement of its own, its transactions where several statements go together.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.broadcast import (
    Action,
    Broadcast,
    EntryId,
    GiveUp,
    Gossip,
    Graft,
    Greet,
    Missing,
    Mode,
    Receipt,
    Serve,
    new_neighbours,
)
from federation.entry import Entry
from federation.errors import PeerBusy, PeerError, PeerLacksPath
from federation.netguard import normalise_url
from federation.timeutil import utc_now

from ..store import frames as frame_rows
from ..store import origins as origin_rows
from ..store import peers as peer_rows
from ..store import tree as tree_rows
from ..store.frames import FrameRow, NewFrame
from ..store.peers import PeerRow
from ..store.tree import MissingRow
from .deliveries import (
    DELIVERY,
    DeliveryState,
    PeerSender,
    enqueue_push,
    purge_finished,
    record_failed_batch,
)
from .entries import by_refs, read_after
from .features import broadcasting, forget_features, peers_speaking, speaks
from .ingest import IngestReport
from .peers import PeerState, record_success

if TYPE_CHECKING:
    from ..db import Database
    from ..runtime import Node

log = logging.getLogger(__name__)

#: Entries in one frame (the frame schema's bound).
MAX_FRAME_ENTRIES = 500
#: Attempts of one frame before it is given up (12.4), with the neighbour's backoff.
MAX_FRAME_ATTEMPTS = 6
#: Due frame rows looked at per neighbour at a time.
FRAME_BATCH = 500
#: A neighbour whose last this many pulls or frames failed no longer counts (12.1).
FAILING_AFTER = 2
#: Graft answers followed (``more``) in one go; the rest waits for the next announcement.
MAX_GRAFT_PAGES = 20
_rng = random.Random()


class Tree:
    """One node's Plumtree state, loaded from its database (``db``) on first use."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.state = Broadcast()
        self.loaded = False
        #: Peer id of each neighbour, by URL (the state knows peers by URL).
        self.ids: dict[str, int] = {}
        #: What the rows say, to write only what an event changed.
        self._modes: dict[str, Mode] = {}
        self._missing: dict[str, tuple[int, tuple[str, ...], float, int]] = {}
        self.lock = asyncio.Lock()


async def tree_of(node: Node) -> Tree:
    tree: Tree = node.tree
    if tree.loaded:
        return tree
    conn = tree.db.connection()
    for link in await tree_rows.neighbours(conn):
        mode = Mode.LAZY if link.mode == "lazy" else Mode.EAGER
        tree.state.add_neighbour(link.url, mode)
        tree.ids[link.url] = link.peer_id
        tree._modes[link.url] = mode
    for row in await tree_rows.missing(conn):
        announcers = list(row.announcers)
        tree.state.missing[row.origin] = Missing(row.wanted, announcers, row.due, row.tries)
        tree._missing[row.origin] = (row.wanted, row.announcers, row.due, row.tries)
    tree.loaded = True
    return tree


async def save(tree: Tree) -> None:
    """Write the modes and missing records an event changed. Serialised: events run
    side by side (frames received, frames sent, pulls), and two writers of one new
    missing record must not both insert it."""
    async with tree.lock:
        for url, mode in list(tree.state.neighbours.items()):
            if tree._modes.get(url) is not mode and url in tree.ids:
                await tree_rows.set_mode(
                    tree.db.connection(), peer_id=tree.ids[url], mode=mode.value
                )
                tree._modes[url] = mode
        now = {
            origin: (r.wanted, tuple(r.announcers), r.due, r.tries)
            for origin, r in tree.state.missing.items()
        }
        gone = [origin for origin in tree._missing if origin not in now]
        changed = [
            MissingRow(origin, *record)
            for origin, record in now.items()
            if tree._missing.get(origin) != record
        ]
        if gone or changed:  # most events change no record: no transaction for nothing
            async with tree.db.write_transaction() as conn:
                await tree_rows.save_missing(conn, changed=changed, gone=gone)
        tree._missing = now


def _ids(entries: Iterable[Entry]) -> tuple[EntryId, ...]:
    return tuple((e.origin, e.seq) for e in entries)


# -- neighbours ----------------------------------------------------------------------------


async def make_neighbour(tree: Tree, peer: PeerRow) -> None:
    await tree_rows.make_neighbour(tree.db.connection(), peer_id=peer.id, mode=Mode.EAGER.value)
    tree.state.add_neighbour(peer.url, Mode.EAGER)
    tree.state.neighbours[peer.url] = Mode.EAGER
    tree.ids[peer.url] = peer.id
    tree._modes[peer.url] = Mode.EAGER


async def drop_neighbour(tree: Tree, url: str) -> None:
    peer_id = tree.ids.pop(url, None)
    if peer_id is not None:
        await tree_rows.drop_neighbour(tree.db.connection(), peer_id=peer_id)
    tree.state.remove_neighbour(url)
    tree._modes.pop(url, None)


async def maintain_neighbours(node: Node) -> list[str]:
    """Keep ``broadcast_degree`` working neighbours (12.1): drop those that no longer speak
    ``broadcast``, and add peers that speak it (those added by hand first, then discovered
    ones at random) while fewer work; never more than ``broadcast_max_neighbours``."""
    if not broadcasting(node):
        return []
    tree = await tree_of(node)
    conn = node.db.connection()
    speaking = await peers_speaking("broadcast", conn=conn)
    for url, peer_id in list(tree.ids.items()):
        if peer_id not in speaking:
            await drop_neighbour(tree, url)
    failures = {link.peer_id: link.link_failures for link in await tree_rows.neighbours(conn)}
    failing = [url for url, pid in tree.ids.items() if failures.get(pid, 0) >= FAILING_AFTER]
    now = utc_now()
    candidates = [
        peer
        for peer in await peer_rows.with_ids(conn, ids=speaking)
        if peer.url not in tree.ids
        and peer.state != PeerState.refused
        and peer.origin != node.origin
        and (peer.next_attempt is None or peer.next_attempt <= now)
    ]
    by_url = {peer.url: peer for peer in candidates}
    added: list[str] = []
    settings = node.settings
    for group in (
        [p.url for p in candidates if p.source != "discovered"],
        [p.url for p in candidates if p.source == "discovered"],
    ):
        room = settings.broadcast_max_neighbours - len(tree.ids)
        chosen = new_neighbours(tree.ids, failing, group, settings.broadcast_degree, _rng)
        for url in chosen[: max(0, room)]:
            await make_neighbour(tree, by_url[url])
            added.append(url)
    for url in added:
        # It may not have chosen us: told at the next grafts (12.1), it takes us as a
        # neighbour too and sends us entries.
        tree.state.greet.add(url)
    return added


async def link_failed(tree: Tree, url: str) -> None:
    peer_id = tree.ids.get(url)
    if peer_id is not None:
        await tree_rows.count_failure(tree.db.connection(), peer_id=peer_id, mode=Mode.EAGER.value)


async def link_worked(tree: Tree, url: str) -> None:
    peer_id = tree.ids.get(url)
    if peer_id is not None:
        await tree_rows.forget_failures(tree.db.connection(), peer_id=peer_id)


async def admit_sender(node: Node, tree: Tree, url: str | None) -> bool:
    """Whether the sender of a frame is (now) a neighbour: a known peer whose node
    information lists ``broadcast``, while we have fewer than ``broadcast_max_neighbours``
    (12.1). Others are answered as a push is, with ``prune``."""
    if url is None:
        return False
    if url in tree.ids:
        return True
    if len(tree.ids) >= node.settings.broadcast_max_neighbours:
        return False
    conn = node.db.connection()
    peer = await peer_rows.with_url(conn, url=url)
    if peer is None or peer.state == PeerState.refused or peer.origin == node.origin:
        return False
    if not speaks(await peer_rows.link_or_none(conn, peer_id=peer.id), "broadcast"):
        return False
    await make_neighbour(tree, peer)
    return True


# -- entries new to us: along the tree, and by version 1 pushes to the others ---------------


async def spread(
    node: Node,
    entries: Sequence[Entry],
    *,
    source: str | None = None,
    actions: Sequence[Action] | None = None,
    ttl: int | None = None,
) -> None:
    """Entries new to us (written here, or brought by any path from ``source``): frames to
    our eager neighbours (``actions`` if the tree already decided them), and version 1
    pushes with ``ttl`` (default ``gossip_ttl``) to ``push_fanout`` peers that do not speak
    ``broadcast`` (11.2). Rows first, then the workers are woken."""
    if not entries or not broadcasting(node):
        return
    tree = await tree_of(node)
    if actions is None:
        ids = _ids(entries)
        now = time.time()
        tree.state.on_stored(ids, now)
        actions = tree.state.on_local(ids, source, now=now)
    async with node.db.write_transaction() as conn:
        await enqueue_frames(conn, tree, actions)
        hops = node.settings.gossip_ttl if ttl is None else ttl
        if hops > 0:
            await enqueue_push(conn, node, list(entries), ttl=hops, exclude_url=source)
    await save(tree)
    node.wake_push()


async def enqueue_frames(conn: BaseDBAsyncClient, tree: Tree, actions: Iterable[Action]) -> int:
    """Frame rows for the ``Gossip`` actions, in the caller's transaction; a neighbour in
    backoff gets none (12.3: it grafts what it missed when it is back)."""
    frames = [
        NewFrame(tree.ids[a.peer], tuple(a.ids))
        for a in actions
        if isinstance(a, Gossip) and a.peer in tree.ids
    ]
    return await frame_rows.enqueue(
        conn, frames=frames, state=DELIVERY.initial.value, now=utc_now()
    )


def receipt_of(report: IngestReport) -> Receipt:
    return Receipt(
        accepted=_ids(report.accepted),
        duplicate=_ids(report.duplicate),
        pending=_ids(report.pending),
        rejected=tuple(
            (r.origin, r.seq) for r in report.rejected if r.origin is not None and r.seq is not None
        ),
        heads=dict(report.need),
    )


# -- serving a graft -----------------------------------------------------------------------


async def entries_after(
    db: Database, after: dict[str, int], max_bytes: int, heads: dict[str, int]
) -> tuple[list[dict[str, Any]], bool]:
    """The entries held after ``after`` (origins in lexicographic order, seq order), at
    most ``MAX_FRAME_ENTRIES`` and about ``max_bytes`` (the first always); True when cut
    short. ``heads``: our heads; ``db``: our database (a transaction per page)."""
    documents: list[dict[str, Any]] = []
    used = 0
    for origin, seq in sorted(after.items()):
        while seq < heads.get(origin, 0):
            room = MAX_FRAME_ENTRIES - len(documents)
            budget = max_bytes - used
            if room <= 0 or (documents and budget <= 0):
                return documents, True
            async with db.transaction() as conn:
                stored = await read_after(conn, origin, seq, min(room, 200), max(budget, 1))
            page = [entry.document() for entry in stored]
            if not page:
                break
            if documents and _size(page[0]) > budget:
                return documents, True
            for document in page:
                used += _size(document)
            documents.extend(page)
            seq = int(page[-1]["header"]["seq"])
    return documents, False


def _size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode()) + 1


# -- sending frames ------------------------------------------------------------------------


def _sender(node: Node) -> str:
    return (node.settings.advertised_url or "").rstrip("/")


async def due_frame_peers(node: Node) -> list[int]:
    """Neighbours with pending frames that are due, the peer itself not in backoff."""
    return await frame_rows.due_peer_ids(
        node.db.connection(), state=DeliveryState.pending.value, now=utc_now()
    )


async def _due_frames(conn: BaseDBAsyncClient, peer_id: int) -> list[FrameRow]:
    return await frame_rows.due(
        conn, peer_id=peer_id, state=DeliveryState.pending.value, now=utc_now(), limit=FRAME_BATCH
    )


async def _next_frames(conn: BaseDBAsyncClient, peer_id: int) -> list[FrameRow]:
    """The oldest due frames of a neighbour, up to ``MAX_FRAME_ENTRIES`` entries."""
    batch: list[FrameRow] = []
    count = 0
    for frame in await _due_frames(conn, peer_id):
        size = len(frame.refs)
        if batch and count + size > MAX_FRAME_ENTRIES:
            break
        batch.append(frame)
        count += size
    return batch


async def send_frames(node: Node, peer_id: int) -> tuple[int, bool]:
    """Send the due frames of one neighbour, coalesced (up to 500 entries a request), until
    none is left or one fails. Returns (rows sent, whether a request failed)."""
    conn = node.db.connection()
    peer = await peer_rows.with_id(conn, peer_id=peer_id)
    if peer is None:
        return 0, False
    tree = await tree_of(node)
    if peer.url not in tree.ids or not broadcasting(node):
        # No longer a neighbour (or the feature was turned off): what the frames held
        # reaches it by pulls and full rounds.
        await _give_up_all(conn, peer_id, "no longer a broadcast neighbour")
        return 0, False
    done = 0
    batch: list[FrameRow] = []
    try:
        async with node.peer_client(peer, deadline=node.settings.push_deadline_seconds) as client:
            while True:
                batch = await _next_frames(conn, peer.id)
                if not batch:
                    return done, False
                sent = await _send_batch(node, tree, client, peer, batch)
                await _frames_sent(conn, tree, peer, batch, sent)
                done += len(batch)
                batch = []
    except Exception as exc:  # any of them is a counted attempt, as for deliveries
        await _frames_failed(conn, tree, peer, batch, exc)
        return done, True


async def _give_up_all(conn: BaseDBAsyncClient, peer_id: int, error: str) -> None:
    """The pending frames of ``peer_id`` are given up."""
    await frame_rows.settle_all(
        conn,
        peer_id=peer_id,
        from_state=DeliveryState.pending.value,
        to_state=DELIVERY.next(DeliveryState.pending, "give_up"),
        last_error=error,
    )


async def _send_batch(
    node: Node, tree: Tree, client: Any, peer: PeerRow, batch: list[FrameRow]
) -> bool:
    """Send the entries of ``batch`` that ``peer`` is not known to hold by now (a row
    waits, and the peer may have got them meanwhile, 12.3); whether a request went."""
    known = tree.state.known
    refs = sorted({(o, s) for f in batch for o, s in f.refs if not known.holds(peer.url, o, s)})
    stored = await by_refs(refs, node.db.connection()) if refs else []
    documents = [entry.document() for entry in stored]
    if documents:
        frame: dict[str, Any] = {"from": _sender(node), "entries": documents}
        if any(f.attempts for f in batch):
            frame["again"] = True
        answer = await client.broadcast(peer.url, frame)
        node.note_refusals(peer.id, answer.get("rejected") or [])
        actions = tree.state.on_answer(peer.url, refs, answer, time.time())
        await _serve_all(node, tree, client, peer, actions)
        await _keep_last_link(node, actions)
    return bool(documents)


async def _frames_sent(
    conn: BaseDBAsyncClient, tree: Tree, peer: PeerRow, batch: list[FrameRow], sent: bool
) -> None:
    """``batch`` is done: sent in one request (its first row's id), or with nothing left
    to send (no request)."""
    await frame_rows.sent(
        conn,
        ids=[f.id for f in batch],
        from_state=DeliveryState.pending.value,
        to_state=DELIVERY.next(DeliveryState.pending, "sent"),
        request=batch[0].id if sent else None,
    )
    if sent:
        await record_success(peer, conn=conn)
        await link_worked(tree, peer.url)
    await save(tree)


async def _serve_all(
    node: Node, tree: Tree, client: Any, peer: PeerRow, actions: Iterable[Action]
) -> None:
    """``peer`` lacks what follows some heads (its answer grafted): send it at once."""
    from .sync import current_vector

    for action in actions:
        if not isinstance(action, Serve):
            continue
        after = dict(action.after)
        for _ in range(MAX_GRAFT_PAGES):
            documents, more = await entries_after(
                node.db, after, node.settings.sync_page_bytes, await current_vector(node.db)
            )
            if not documents:
                break
            answer = await client.broadcast(peer.url, {"from": _sender(node), "entries": documents})
            node.note_refusals(peer.id, answer.get("rejected") or [])
            sent = [(d["header"]["origin"], int(d["header"]["seq"])) for d in documents]
            kept = tree.state.on_answer(
                peer.url, sent, {k: v for k, v in answer.items() if k != "graft"}, time.time()
            )
            # A prune of our last eager link (or of one that fed us lately) is grafted
            # back, as for any frame's answer: dropped, the link stayed eager here only.
            await _keep_last_link(node, kept)
            for origin, seq in sent:
                after[origin] = max(after.get(origin, 0), seq)
            if not more:
                break


async def _keep_last_link(node: Node, actions: Iterable[Action]) -> None:
    """``prune`` of our last eager link: graft it back (the state kept it eager), from our
    heads of the frame's origins, so that its other side sends us entries again."""
    from .sync import current_vector

    grafts = [a for a in actions if isinstance(a, Graft)]
    if grafts:
        mine = await current_vector(node.db)
        await send_grafts(
            node,
            [
                Graft(g.peer, {o: max(seq, mine.get(o, 0)) for o, seq in g.after.items()})
                for g in grafts
            ],
        )


async def _frames_failed(
    conn: BaseDBAsyncClient, tree: Tree, peer: PeerRow, batch: list[FrameRow], exc: Exception
) -> None:
    if isinstance(exc, PeerLacksPath):
        # It went back to version 1: forget its features, it is pulled and pushed to as
        # a version 1 peer until its node information says otherwise.
        await forget_features(peer, conn=conn)
        await drop_neighbour(tree, peer.url)
        await _give_up_all(conn, peer.id, f"[protocol] {exc}"[:500])
        return
    kind = exc.kind if isinstance(exc, PeerError) else "internal"
    if isinstance(exc, PeerError):
        log.info("frame to %s failed (%s): %s", peer.url, kind, exc)
    else:
        log.exception("frame to %s failed unexpectedly", peer.url)
    error = str(exc) if isinstance(exc, PeerError) else f"{type(exc).__name__}: {exc}"
    try:
        # Failed before a batch was chosen (the client, the rows): the neighbour's due
        # rows were what this attempt was for.
        batch = batch or await _next_frames(conn, peer.id)
        retry_after = exc.retry_after if isinstance(exc, PeerBusy) else None
        attempts = await record_failed_batch(
            conn,
            frame_rows,
            peer,
            batch,
            max_attempts=MAX_FRAME_ATTEMPTS,
            kind=kind,
            error=error,
            retry_after=retry_after,
        )
        if any(attempt.given_up for attempt in attempts):
            # Route around it until it grafts or sends something new (12.3).
            tree.state.on_unreachable(peer.url)
            await link_failed(tree, peer.url)
            await save(tree)
    except Exception:  # the database itself may be what fails (a full disk)
        log.exception("cannot record the failed frame to %s", peer.url)


class FrameWorker(PeerSender):
    """Frames to broadcast neighbours: one request in flight per neighbour."""

    def __init__(self, node: Node) -> None:
        super().__init__(node, "frames", partial(due_frame_peers, node), send_frames)


async def purge_finished_frames(
    conn: BaseDBAsyncClient, max_age: timedelta = timedelta(days=2)
) -> None:
    """Delete the finished frames older than ``max_age`` (as for deliveries)."""
    await purge_finished(max_age, table="frames", conn=conn)


# -- grafting what announcements say we miss -------------------------------------------------


async def send_grafts(node: Node, actions: Iterable[Action]) -> list[GiveUp]:
    """Carry out ``Graft`` actions: a frame with ``graft`` to the announcer, whose answer
    brings the entries (ingested, then spread along our other eager links). Returns the
    give-ups (the caller runs a full round)."""
    tree = await tree_of(node)
    give_ups = [a for a in actions if isinstance(a, GiveUp)]
    for action in actions:
        if not isinstance(action, Graft | Greet):
            continue
        conn = node.db.connection()
        peer = await peer_rows.with_url(conn, url=action.peer)
        if peer is None:
            continue
        after = dict(action.after) if isinstance(action, Graft) else await _own_head(node)
        if not after:
            continue
        try:
            await _graft_from(node, tree, peer, after)
        except PeerLacksPath:
            await forget_features(peer, conn=conn)
            await drop_neighbour(tree, peer.url)
        except PeerError as exc:
            log.info("graft from %s failed (%s): %s", peer.url, exc.kind, exc)
    await save(tree)
    return give_ups


async def _own_head(node: Node) -> dict[str, int]:
    """Our head of our own log: a graft of it asks for nothing (a greeting, 12.1)."""
    head = await origin_rows.head(node.db.connection(), origin_id=node.origin)
    return {node.origin: head.seq} if head.seq else {}


async def _graft_from(node: Node, tree: Tree, peer: PeerRow, after: dict[str, int]) -> None:
    from .sync import ingest_from_peer

    async with node.peer_client(peer) as client:
        for _ in range(MAX_GRAFT_PAGES):
            answer = await client.broadcast(peer.url, {"from": _sender(node), "graft": after})
            if answer.get("prune"):
                tree.state.on_prune(peer.url)
            documents = answer.get("entries") or []
            if not documents:
                return
            report = await ingest_from_peer(node, peer, documents, along_tree=False)
            actions = tree.state.on_served(peer.url, receipt_of(report), time.time())
            await spread(node, report.accepted, source=peer.url, actions=actions)
            if not answer.get("more") or not report.accepted:
                return
            for entry in report.accepted:
                after[entry.origin] = max(after.get(entry.origin, 0), entry.seq)


def normalised(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    try:
        return normalise_url(url)
    except ValueError:
        return None


# -- receiving a frame -----------------------------------------------------------------------


async def receive_frame(
    node: Node, message: dict[str, Any], url: str | None, sender: str
) -> tuple[dict[str, Any], list[Entry]]:
    """Process a (schema-valid) frame from ``url`` in the order of 12.3 (prune, graft,
    entries); the answer and the entries it brought that were new. ``sender`` is charged
    for the new origins, as for a push."""
    from .receive import receive  # receive spreads along the tree: it imports this module
    from .sync import current_vector

    tree = await tree_of(node)
    neighbour = await admit_sender(node, tree, url)
    # The state knows non-neighbours under a key of their own, forgotten after the frame:
    # a sender cannot make it remember anything by writing many ``from`` values.
    key = url if neighbour and url is not None else f"not-a-neighbour:{sender}"
    answer: dict[str, Any] = {}
    if message.get("prune"):
        tree.state.on_prune(key)
    graft = message.get("graft")
    if graft:
        tree.state.on_graft(key, graft)
        documents, more = await entries_after(
            node.db, dict(graft), node.settings.sync_page_bytes, await current_vector(node.db)
        )
        if documents:
            answer["entries"], answer["more"] = documents, more
    accepted: list[Entry] = []
    if "entries" in message:
        # The tree decides below where what was new goes on (``actions``).
        report = await receive(node, message["entries"], sender=sender, source="broadcast frame")
        reply, actions = tree.state.on_frame(
            key, receipt_of(report), time.time(), again=bool(message.get("again"))
        )
        answer.update(reply)
        if report.rejected:
            answer["rejected"] = [
                r.to_json() for r in sorted(report.rejected, key=lambda r: r.index)
            ]
        await spread(node, report.accepted, source=url, actions=actions)
        accepted = report.accepted
    if not neighbour:
        tree.state.known.forget(key)
        if answer.get("prune") and not await can_pull_from(node, url):
            # ``prune`` means "I will pull your announcements instead": untrue of a sender
            # we cannot reach (unknown, or refused by our address rules). Its frames are
            # then the only way its entries reach us; it goes on sending them (12.1).
            del answer["prune"]
    await save(tree)
    return answer, accepted


async def can_pull_from(node: Node, url: str | None) -> bool:
    """Whether this node pulls from ``url``: a peer it knows and does not refuse."""
    if url is None:
        return False
    peer = await peer_rows.with_url(node.db.connection(), url=url)
    return peer is not None and peer.state != PeerState.refused and peer.origin != node.origin
