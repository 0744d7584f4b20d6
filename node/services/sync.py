"""Anti-entropy: both sides of ``POST /federation/v1/sync`` and one round with a peer.

A round starts with the digest of our version vector. Equal digests: nothing to do, one
small request each way. Otherwise we send the whole vector and receive, page by page,
the entries we lack plus the peer's vector, from which we push back what it lacks. Our
vector is recomputed from committed rows before each page, so an interrupted round
resumes exactly where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from federation.errors import AddressRefused, PeerBusy, PeerError, PeerUnreachable
from federation.membership import MEMBERSHIP_CODES
from federation.timeutil import utc_now
from federation.vector import (
    Vector,
    bucket_digests,
    bucket_of,
    differing_buckets,
    missing_ranges,
    restrict,
    vector_digest,
)

from ..store import keychain
from ..store import origins as origin_rows
from ..store import peers as peer_rows
from ..store.peers import PeerLike, PeerRow
from .bootstrap import settle_catch_up
from .entries import PUSH_PAGE_BYTES, Range, StoredEntry, by_refs, pages
from .features import remember_features
from .health import is_disk_full
from .ingest import IngestReport, outcome_seen
from .peers import failure_kind, identified, make_due, record_failure, record_success
from .receive import AlongTree, DiskFull, receive
from .round_lease import round_lease

if TYPE_CHECKING:
    from ..db import Database
    from ..runtime import Node
    from .ingest import Ingestor
    from .membership import Membership

log = logging.getLogger(__name__)

#: Most entries sent back in one push of a sync round (and ``PUSH_PAGE_BYTES``).
PUSH_BACK_PAGE = 200
#: Entries read at a time while filling the answer to a vector.
ANSWER_PAGE = 200
MAX_PAGES_PER_ROUND = 10_000
#: Above this many origins, a round compares bucket digests (about 5 KB) before sending
#: vectors (about 60 bytes per origin), and then only the vectors of differing buckets.
BUCKET_THRESHOLD = 256
#: Refusals of a peer's membership (docs/protocol.md 16).
#: Discovered peers visited per round (all the peers added by hand are visited).
DISCOVERED_PER_ROUND = 3


#: Per database: (newest entry row id, vector, digest). Heads only move when entry rows
#: are inserted (never deleted), so the newest row id tells whether the vector changed,
#: and an idle digest request costs one indexed lookup instead of reading every origin.
_vector_cache: weakref.WeakKeyDictionary[Any, tuple[Any, Vector, str]] = weakref.WeakKeyDictionary()


async def _vector_and_digest(db: Database) -> tuple[Vector, str]:
    async with db.transaction() as conn:
        # The connection that served the transaction, not the wrapper: one per database.
        key = getattr(conn, "connection", None) or conn
        # Origins hidden by membership (services/membership.py) are left out of the vector:
        # their count and newest row id change whenever one is hidden or shown again.
        newest = await origin_rows.vector_marker(conn)
        cached = _vector_cache.get(key)
        if cached is not None and cached[0] == newest:
            return cached[1], cached[2]
        vector = await origin_rows.shown_heads(conn)
    digest = vector_digest(vector)
    _vector_cache[key] = (newest, vector, digest)
    return vector, digest


async def current_vector(db: Database) -> Vector:
    """This node's version vector (``db``: its database)."""
    vector, _ = await _vector_and_digest(db)
    return dict(vector)


async def current_digest(db: Database) -> str:
    _, digest = await _vector_and_digest(db)
    return digest


#: Claimed as our head for frozen origins, so that peers send none of their entries (they
#: would all be refused, and could fill every page of a round).
FROZEN_SEQ = 2**53 - 1


async def frozen_origins(db: Database) -> set[str]:
    return await origin_rows.frozen_ids(db.connection())


def _compact(value: Any) -> str:
    """``value`` as compact JSON (what starlette's ``JSONResponse`` writes)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


async def answer_sync(
    db: Database,
    request: dict[str, Any],
    page_bytes: int,
    membership: Membership | None = None,
) -> dict[str, Any]:
    """The answer to a (schema-valid) sync request, as a document (``answer_sync_json``
    parsed: for the node's own tests and tools; the route sends the bytes)."""
    answer: dict[str, Any] = json.loads(await answer_sync_json(db, request, page_bytes, membership))
    return answer


async def answer_sync_json(
    db: Database,
    request: dict[str, Any],
    page_bytes: int,
    membership: Membership | None = None,
) -> bytes:
    """The answer to a (schema-valid) sync request to the node of ``db``, as the JSON bytes
    sent.

    The ``entries`` array, serialised, is at most ``min(max_bytes, page_bytes)`` bytes,
    unless its first entry alone is larger (one entry is always sent). Entries are written
    from their stored text (RFC 8785: compact JSON already), neither decoded nor encoded
    again, and each is counted by the bytes of that text. A frozen origin
    (docs/protocol.md 3.5) is claimed at ``FROZEN_SEQ`` in the answered vector and none
    of its log is sent; an asker that holds it past the fork gets the two headers of the
    evidence instead, so that it finds the fork and freezes it too. Origins this node
    refuses (``membership``: candidates, hidden origins) are claimed at ``FROZEN_SEQ``
    too, so that the asker pushes none of their entries."""
    if "buckets" not in request and "vector" not in request:
        digest = await current_digest(db)
        return _compact({"digest": digest, "in_sync": request.get("digest") == digest}).encode()
    everything = await current_vector(db)
    digest = vector_digest(everything)
    if "buckets" in request and "vector" not in request:
        differ = differing_buckets(bucket_digests(everything), request["buckets"])
        return _compact({"digest": digest, "in_sync": not differ, "differ": differ}).encode()
    if "vector" not in request:
        return _compact({"digest": digest, "in_sync": request.get("digest") == digest}).encode()
    mine = restrict(everything, request.get("scope"))
    theirs: dict[str, int] = request["vector"]
    budget = min(page_bytes, int(request.get("max_bytes", page_bytes))) - 2  # the brackets
    entries: list[str] = []
    used = 0
    more = False

    def fits(text: str) -> bool:
        nonlocal used
        size = _utf8_size(text) + (1 if entries else 0)  # and its comma
        if entries and used + size > budget:
            return False
        used += size
        entries.append(text)
        return True

    async with db.transaction() as conn:
        frozen = {origin for origin in await origin_rows.frozen_ids(conn) if origin in mine}
        refused = set() if membership is None else await membership.refused_origins(conn)
        evidence = [_compact(document) for document in await fork_evidence(conn, frozen, theirs)]
        evidence += [entry.json() for entry in await _recoveries(conn, set(mine) - frozen, theirs)]
        for text in evidence:
            if not fits(text):
                more = True
                break
        wanted = [
            Range(origin, after)
            for origin, after in sorted(missing_ranges(mine, theirs).items())
            if origin not in frozen
        ]
        if not more:
            async for page in pages(conn, wanted, page_size=ANSWER_PAGE):
                if not all(fits(entry.json()) for entry in page):
                    more = True
                    break
    claimed = {o: FROZEN_SEQ if o in frozen else seq for o, seq in mine.items()}
    claimed.update(restrict(dict.fromkeys(refused - set(mine), FROZEN_SEQ), request.get("scope")))
    in_sync = not entries and vector_digest(claimed) == vector_digest(theirs)
    head = _compact({"digest": digest, "in_sync": in_sync, "vector": claimed})
    return (
        f'{head[:-1]},"entries":[{",".join(entries)}],"more":{"true" if more else "false"}}}'
    ).encode()


async def fork_evidence(
    conn: Any, frozen: set[str], theirs: dict[str, int]
) -> list[dict[str, Any]]:
    """The two signed headers proving the fork of each frozen origin that the asker holds
    up to the fork and has not frozen itself (``payload`` null: the headers are the proof)."""
    documents: list[dict[str, Any]] = []
    for origin in sorted(frozen):
        proof = await origin_rows.first_fork(conn, origin_id=origin)
        held = theirs.get(origin, 0)
        if proof is None or held == FROZEN_SEQ or held < proof.seq:
            continue
        for header, sig in ((proof.header_a, proof.sig_a), (proof.header_b, proof.sig_b)):
            documents.append({"header": json.loads(header), "sig": sig, "payload": None})
    return documents


async def _recoveries(conn: Any, origins: set[str], theirs: dict[str, int]) -> list[StoredEntry]:
    """The latest recovery of each origin the asker holds at or beyond it (docs/protocol.md
    17): an asker that kept an old key's entries from that seq on gives way to it, which
    the vectors alone cannot show (they only count entries)."""
    found: list[StoredEntry] = []
    for origin, seq in sorted((await keychain.latest_recoveries(conn)).items()):
        if origin not in origins or theirs.get(origin, 0) < seq:
            continue
        found.extend(await by_refs([(origin, seq)], conn))
    return found


#: Smallest sync page asked for when the disk is full (a page holds one entry at least).
MIN_PAGE_BYTES = 4096
#: The peer's ``max_future`` is not known: assume the reference one (protocol section 8).
PEER_FUTURE_MARGIN = timedelta(days=1)
#: A probe of a peer in backoff (``GET /api/v1/node``) gets this long.
PROBE_DEADLINE_SECONDS = 5.0


@dataclass
class RoundResult:
    peer: str
    in_sync_at_start: bool = False
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    pushed_back: int = 0
    pages: int = 0
    error: str | None = None
    #: ``unreachable``, ``busy``, ``refused``, ``protocol``, ``disk_full`` or ``internal``.
    error_kind: str | None = None
    #: The round deadline stopped a round that was making progress (it resumes next time).
    partial: bool = False
    #: Not run: a round with this peer was already running.
    skipped: bool = False
    #: Bytes of the round's requests and of the peer's answers.
    bytes_sent: int = 0
    bytes_received: int = 0

    @property
    def synced(self) -> bool:
        return self.error is None and not self.skipped

    #: The peer's head of our own log at the end of the round (a restored node catches
    #: up with it before writing: services/bootstrap.py).
    peer_head_of_ours: int | None = None


Progress = Callable[[RoundResult], None]


async def sync_with(
    node: Node,
    peer: PeerLike,
    progress: Progress | None = None,
    *,
    deadline: float | None = None,
    waiting: Progress | None = None,
) -> RoundResult:
    """One anti-entropy round with ``peer``; its state row records the outcome.

    One round per peer at a time in the node's processes (``round_lease``): when another
    process (``papi serve`` and ``papi sync`` on one data directory) runs one, the round
    is skipped (``skipped``), or with ``waiting`` (called once) waits for it to end first.

    Never raises (but for cancellation): whatever goes wrong is a failure of this peer,
    recorded with its kind and a backoff, and logged once."""
    result = RoundResult(peer.url)
    if peer.id in node.syncing:
        result.skipped = True
        return result
    node.syncing.add(peer.id)
    try:
        told = None if waiting is None else (lambda: waiting(result))
        async with round_lease(node.settings.data_dir, peer.id, waiting=told) as held:
            if held:
                await _recorded_round(node, peer, result, progress, deadline)
            else:
                result.skipped = True
                log.info("round with %s skipped: another process of this node runs one", peer.url)
    finally:
        node.syncing.discard(peer.id)
    return result


async def _recorded_round(
    node: Node,
    peer: PeerLike,
    result: RoundResult,
    progress: Progress | None,
    deadline: float | None,
) -> None:
    started = time.monotonic()
    try:
        await _run_round(node, peer, result, progress, deadline)
    except PeerError as exc:
        retry_after = exc.retry_after if isinstance(exc, PeerBusy) else None
        await _failed(node, peer, result, exc.kind, str(exc), retry_after)
        log.info("sync with %s failed (%s): %s", peer.url, exc.kind, exc)
    except Exception as exc:
        if isinstance(exc, DiskFull) or is_disk_full(exc):
            node.storage.record_full(f"sync with {peer.url}: {exc}")
            log.error("sync with %s: the disk is full (%s)", peer.url, exc)
            await _failed(node, peer, result, "disk_full", f"the disk is full: {exc}")
        else:
            log.exception("sync with %s failed unexpectedly", peer.url)
            await _failed(node, peer, result, "internal", f"{type(exc).__name__}: {exc}")
    else:
        await _succeeded(node, peer, result)
    node.metrics.count_round(result, time.monotonic() - started)


async def _run_round(
    node: Node,
    peer: PeerLike,
    result: RoundResult,
    progress: Progress | None,
    deadline: float | None,
) -> None:
    try:
        async with (
            asyncio.timeout(deadline),
            # Large pages are checked by worker processes during the round.
            node.ingestor.processes.scope(),
            node.peer_client(peer) as client,
        ):
            try:
                if peer.origin is None:
                    peer = await _identify(node, client, peer)
                await _round(node, client, peer, result, progress)
            finally:
                result.bytes_sent = client.bytes_sent
                result.bytes_received = client.bytes_received
    except TimeoutError:
        if result.accepted or result.pushed_back:
            result.partial = True  # progress was stored: the next round goes on from there
            log.info("round with %s stopped at its deadline after %d pages", peer.url, result.pages)
            return
        raise PeerUnreachable(
            f"{peer.url}: no progress within the round deadline of {deadline} s"
        ) from None


async def _failed(
    node: Node,
    peer: PeerLike,
    result: RoundResult,
    kind: str,
    error: str,
    retry_after: float | None = None,
) -> None:
    result.error, result.error_kind = error, kind
    try:
        await record_failure(
            peer, error, kind=kind, retry_after=retry_after, conn=node.db.connection()
        )
    except Exception:  # the database itself may be what fails (a full disk)
        log.exception("cannot record the failure of %s", peer.url)


async def _succeeded(node: Node, peer: PeerLike, result: RoundResult) -> None:
    try:
        await record_success(peer, result.accepted, conn=node.db.connection())
    except Exception:
        log.exception("cannot record the success of %s", peer.url)


async def _identify(node: Node, client: Any, peer: PeerLike) -> PeerRow:
    """Learn the origin id of a peer added while it was unreachable."""
    info = await client.node_info(peer.url)
    if info["id"] == node.origin:
        raise AddressRefused(f"{peer.url} is this node itself")
    identified_peer = await identified(peer, info["id"], conn=node.db.connection())
    await remember_features(identified_peer, info, conn=node.db.connection())
    return identified_peer


def _sender(node: Node) -> str | None:
    return node.settings.advertised_url


async def _round(
    node: Node, client: Any, peer: PeerLike, result: RoundResult, progress: Progress | None
) -> None:
    sender = _sender(node)
    mine = await current_vector(node.db)
    first_request: dict[str, Any] = {"digest": vector_digest(mine)}
    if sender:
        first_request["from"] = sender  # lets the peer see we are back (section 6)
    first = await client.sync(peer.url, first_request)
    if first["in_sync"]:
        result.in_sync_at_start = True
        result.peer_head_of_ours = mine.get(node.origin, 0)
        return
    scope: list[int] | None = None
    if len(mine) > BUCKET_THRESHOLD:
        answer = await client.sync(peer.url, {"buckets": bucket_digests(mine)})
        if answer.get("differ"):
            scope = answer["differ"]
    theirs: dict[str, int] = {}
    frozen = await frozen_origins(node.db)
    page_bytes = node.settings.sync_page_bytes

    async def page_request(vector: Vector) -> dict[str, Any]:
        async with node.db.transaction() as conn:  # each page: members may have changed
            refused = await node.membership.refused_origins(conn)
        request: dict[str, Any] = {
            "vector": _asked_vector(node, peer, vector, scope, frozen | refused),
            "max_bytes": page_bytes,
        }
        if scope is not None:
            request["scope"] = scope
        if sender:
            request["from"] = sender
        return request

    ahead = _PageAhead(client, peer.url, node.ingestor)
    try:
        while result.pages < MAX_PAGES_PER_ROUND:
            answer = await ahead.answer(await page_request(mine))
            result.pages += 1
            theirs = answer.get("vector") or {}
            documents = answer.get("entries") or []
            result.received += len(documents)
            if documents:
                if answer.get("more"):
                    # Ask for the next page while this one is checked and stored.
                    ahead.ask(await page_request(_vector_after(mine, documents)))
                try:
                    await _ingest_page(node, peer, documents, result)
                except DiskFull:
                    if page_bytes <= MIN_PAGE_BYTES:
                        raise
                    page_bytes = max(MIN_PAGE_BYTES, page_bytes // 2)
                    log.warning("disk full: asking %s for pages of %d bytes", peer.url, page_bytes)
                    continue  # nothing was stored: ask again for a smaller page
            if progress:
                progress(result)
            new_mine = await current_vector(node.db)
            if not answer.get("more") or new_mine == mine:
                mine = new_mine
                break
            mine = new_mine
    finally:
        await ahead.drop()
    # Outside the compared buckets, the peer's vector equals ours.
    in_scope = scope is None or bool(restrict({node.origin: 0}, scope))
    ours = mine.get(node.origin, 0)
    result.peer_head_of_ours = theirs.get(node.origin, 0) if in_scope else ours
    await _push_back(node, client, peer, restrict(mine, scope), theirs, result, progress)


def _vector_after(mine: Vector, documents: list[Any]) -> Vector:
    """Our vector once every entry of a sync page that extends it is stored: what the
    next page's request says unless some entry is refused or kept aside."""
    after = dict(mine)
    for document in documents:
        origin, seq = document["header"]["origin"], document["header"]["seq"]
        if seq == after.get(origin, 0) + 1:
            after[origin] = seq
    return after


class _PageAhead:
    """At most one sync request sent ahead of its turn (the next page, asked for while
    the current one is stored). Its answer is used only if the request the round then
    makes is the very same one; otherwise it is dropped and the round's request sent,
    so a round asks for exactly what it did one page at a time, only sooner."""

    def __init__(self, client: Any, url: str, ingestor: Ingestor) -> None:
        self.client = client
        self.url = url
        self.ingestor = ingestor
        self.pending: tuple[dict[str, Any], asyncio.Task[dict[str, Any]]] | None = None

    async def _fetch(self, request: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = await self.client.sync(self.url, request)
        # Its entries are checked (signatures...) while the current page is stored.
        self.ingestor.check_ahead(answer.get("entries") or [])
        return answer

    def ask(self, request: dict[str, Any]) -> None:
        task = asyncio.create_task(self._fetch(request))
        task.add_done_callback(outcome_seen)
        self.pending = (request, task)

    async def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.pending is not None and self.pending[0] == request:
            task = self.pending[1]
            self.pending = None
            return await task
        await self.drop()
        answer: dict[str, Any] = await self.client.sync(self.url, request)
        return answer

    async def drop(self) -> None:
        if self.pending is None:
            return
        task = self.pending[1]
        self.pending = None
        task.cancel()
        await asyncio.wait([task])  # its outcome is not wanted (our own cancellation is)
        if not task.cancelled() and task.exception() is None:
            self.ingestor.forget_ahead(task.result().get("entries") or [])


def _asked_vector(
    node: Node, peer: PeerLike, mine: Vector, scope: list[int] | None, frozen: set[str]
) -> Vector:
    """Our vector as we send it: origins we would refuse are claimed complete, so that the
    peer sends none of them (frozen origins, non-members; entries of this peer we just
    refused)."""
    asked = restrict(mine, scope)
    buckets = None if scope is None else set(scope)
    # Frozen origins we hold, and origins our membership refuses (held or not).
    asked.update(
        (origin, FROZEN_SEQ) for origin in frozen if buckets is None or bucket_of(origin) in buckets
    )
    for origin in node.rejections.skipped_origins(peer.url):
        if buckets is None or bucket_of(origin) in buckets:
            asked[origin] = FROZEN_SEQ
    return asked


async def _ingest_page(
    node: Node, peer: PeerLike, documents: list[Any], result: RoundResult
) -> None:
    report = await ingest_from_peer(node, peer, documents)
    result.accepted += len(report.accepted)
    result.rejected += len(report.rejected)


async def ingest_from_peer(
    node: Node, peer: PeerLike, documents: list[Any], *, along_tree: bool = True
) -> IngestReport:
    """Store entries ``peer`` sent us when asked (a sync page, a graft answer, an entries
    page); with ``along_tree``, what was new goes on along the broadcast tree (protocol
    1.1, 12.3), but not by version 1 pushes: pulled entries are not pushed, as in
    version 1 (11.2)."""
    # A peer the operator added by hand is trusted like the operator (a new node's first
    # pull brings the whole network); a discovered one is charged for the origins it brings.
    sender = None if peer.source == "manual" else peer.url
    tree = AlongTree(peer.url) if along_tree else None
    report = await receive(
        node, documents, sender=sender, source=f"entries from {peer.url}", tree=tree
    )
    margin = timedelta(seconds=node.settings.max_future_seconds)
    for rejection in report.rejected:
        new = True
        if rejection.origin is not None and rejection.seq is not None:
            new = node.rejections.remember(
                peer.url,
                rejection.origin,
                rejection.seq,
                rejection.code,
                documents[rejection.index],
                margin,
            )
        if new:
            log.warning("refused from %s: %s", peer.url, rejection.to_json())
    return report


async def _push_back(
    node: Node,
    client: Any,
    peer: PeerLike,
    mine: Vector,
    theirs: Vector,
    result: RoundResult,
    progress: Progress | None,
) -> None:
    # What the peer refused before (its clock is behind ours, say) is not sent again
    # every round while the refusal is remembered.
    refused = node.rejections.skipped_origins(peer.url, outbound=True)
    margin = PEER_FUTURE_MARGIN
    taken = refused_origins = False
    for origin, after in sorted(missing_ranges(mine, theirs).items()):
        if origin in refused:
            continue
        wanted = [Range(origin, after, mine.get(origin, 0) - after)]
        async for page in pages(
            node.db, wanted, page_size=PUSH_BACK_PAGE, max_bytes=PUSH_PAGE_BYTES
        ):
            documents = [entry.document() for entry in page]
            answer = await client.push(peer.url, documents, ttl=0)
            result.pushed_back += len(documents)
            rejected = answer.get("rejected") or []
            node.note_refusals(peer.id, rejected)
            taken = taken or len(rejected) < len(documents)
            refused_origins = refused_origins or any(
                r.get("code") in MEMBERSHIP_CODES for r in rejected if isinstance(r, dict)
            )
            for rejection in answer.get("rejected") or []:
                index = rejection.get("index")
                if rejection.get("code") in MEMBERSHIP_CODES:
                    # Not remembered: the peer's answers claim the origins it refuses,
                    # until they become members there (then they are pushed at once).
                    continue
                if isinstance(index, int) and 0 <= index < len(documents):
                    header = documents[index]["header"]
                    node.rejections.remember(
                        peer.url, header["origin"], header["seq"], str(rejection.get("code")),
                        documents[index], margin, outbound=True,
                    )  # fmt: skip
            if answer.get("rejected"):
                break  # the rest of this origin waits for the next round
            if progress:
                progress(result)
    if taken and not refused_origins:
        node.full_round_wanted.pop(peer.id, None)  # it takes what it refused before


async def sync_all(
    node: Node, progress: Progress | None = None, *, deadline: float | None = -1.0
) -> list[RoundResult]:
    """One round with the peers of ``round_peers``, waiting for all of them.

    ``deadline`` bounds each peer's round (default: ``sync_round_deadline_seconds``)."""
    if deadline is not None and deadline < 0:
        deadline = node.settings.sync_round_deadline_seconds
    return await sync_peers(node, await round_peers(node), progress, deadline=deadline)


async def round_peers(node: Node) -> list[PeerRow]:
    """Every due peer the operator added, and a few due discovered ones; none that a
    round is already running with.

    A node learns the whole network from place entries; syncing with all of it every
    interval would cost one request per node of the network (20,000 in France). Peers
    in backoff are probed first: one that answers again is due at once."""
    await probe_waiting_peers(node)
    now = utc_now()
    due = [
        peer
        for peer in await peer_rows.by_id(node.db.connection())
        if (peer.next_attempt is None or peer.next_attempt <= now) and peer.id not in node.syncing
    ]
    manual = [peer for peer in due if peer.source != "discovered"]
    discovered = [peer for peer in due if peer.source == "discovered"]
    return manual + random.sample(discovered, min(DISCOVERED_PER_ROUND, len(discovered)))


async def sync_peers(
    node: Node,
    peers: Sequence[PeerLike],
    progress: Progress | None = None,
    *,
    deadline: float | None,
    done: Progress | None = None,
    waiting: Progress | None = None,
) -> list[RoundResult]:
    """Rounds with ``peers``, side by side (at most ``sync_concurrency`` at a time in
    the whole node), so that a slow or silent peer delays no other; ``done`` is called as
    each ends; results in ``peers`` order. A node restored from a backup writes again
    once these rounds show its log caught up with its peers' (``settle_catch_up``).
    ``waiting``: wait for the round another process runs with a peer (``sync_with``)."""

    async def one(peer: PeerLike) -> RoundResult:
        async with node.sync_slots:
            result = await sync_with(node, peer, progress, deadline=deadline, waiting=waiting)
        if done:
            done(result)
        return result

    results = list(await asyncio.gather(*(one(peer) for peer in peers)))
    await settle_catch_up(node, results)
    return results


async def probe_waiting_peers(node: Node) -> list[PeerRow]:
    """Ask peers in backoff whether they answer again (``GET /api/v1/node``, short
    deadline): those that do are due at once, instead of after up to an hour of backoff.
    Every unreachable peer added by hand, and a few discovered ones, each time."""
    now = utc_now()
    # Only peers that did not answer: a busy one asked for its Retry-After, and one that
    # answered nonsense is not cured by answering /api/v1/node.
    waiting = [
        peer
        for peer in await peer_rows.waiting(node.db.connection(), now=now)
        if failure_kind(peer) == "unreachable"
    ]
    manual = [peer for peer in waiting if peer.source != "discovered"]
    discovered = [peer for peer in waiting if peer.source == "discovered"]
    chosen = manual + random.sample(discovered, min(DISCOVERED_PER_ROUND, len(discovered)))
    slots = asyncio.Semaphore(max(1, node.settings.sync_concurrency))

    async def probe(peer: PeerRow) -> PeerRow | None:
        async with slots:  # not the rounds' slots: a probe must not wait behind a slow peer
            try:
                async with node.peer_client(peer, deadline=PROBE_DEADLINE_SECONDS) as client:
                    info = await client.node_info(peer.url)
            except Exception:  # still down (or worse): it stays in backoff
                return None
        await make_due(peer, conn=node.db.connection())
        if info["id"] != node.origin:
            # Protocol 1.1: it may have changed.
            await remember_features(peer, info, conn=node.db.connection())
        log.info("%s answers again: retried at once", peer.url)
        return peer

    back = [peer for peer in await asyncio.gather(*(probe(p) for p in chosen)) if peer]
    if back:
        node.wake_push()
    return back
