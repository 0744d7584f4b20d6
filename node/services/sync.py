"""Anti-entropy: both sides of ``POST /federation/v1/sync`` and one round with a peer.

A round starts with the digest of our version vector. Equal digests: nothing to do, one
small request each way. Otherwise we send the whole vector and receive, page by page,
the entries we lack plus the peer's vector, from which we push back what it lacks. Our
vector is recomputed from committed rows before each page, so an interrupted round
resumes exactly where it stopped.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from federation.errors import AddressRefused, PeerError
from federation.timeutil import utc_now
from federation.vector import (
    Vector,
    bucket_digests,
    differing_buckets,
    missing_ranges,
    restrict,
    vector_digest,
)

from ..models import Peer
from .log import entry_document, read_entries
from .peers import check_address, learn_peers, record_failure, record_success

if TYPE_CHECKING:
    from ..runtime import Node

log = logging.getLogger(__name__)

#: Most entries sent back in one push of a sync round, and about how many bytes (so that
#: a page of large resources stays within a peer's default request body, 256 KiB).
PUSH_BACK_PAGE = 200
PUSH_BACK_BYTES = 192 * 1024
MAX_PAGES_PER_ROUND = 10_000
#: Above this many origins, a round compares bucket digests (about 5 KB) before sending
#: vectors (about 60 bytes per origin), and then only the vectors of differing buckets.
BUCKET_THRESHOLD = 256
#: Discovered peers visited per round (all the peers added by hand are visited).
DISCOVERED_PER_ROUND = 3


async def current_vector() -> Vector:
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict("SELECT id, head_seq FROM origins WHERE head_seq > 0")
    return {row["id"]: row["head_seq"] for row in rows}


#: Claimed as our head for frozen origins, so that peers send none of their entries (they
#: would all be refused, and could fill every page of a round).
FROZEN_SEQ = 2**53 - 1


async def frozen_origins() -> set[str]:
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict("SELECT id FROM origins WHERE frozen")
    return {row["id"] for row in rows}


def _json_size(document: Any) -> int:
    """Bytes of ``document`` as the answer serialises it (starlette's ``JSONResponse``)."""
    return len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())


async def answer_sync(request: dict[str, Any], page_bytes: int) -> dict[str, Any]:
    """The answer to a (schema-valid) sync request.

    The ``entries`` array, serialised, is at most ``min(max_bytes, page_bytes)`` bytes,
    unless its first entry alone is larger (one entry is always sent). A frozen origin
    (docs/protocol.md 3.5) is claimed at ``FROZEN_SEQ`` in the answered vector and none
    of its log is sent; an asker that holds it past the fork gets the two headers of the
    evidence instead, so that it finds the fork and freezes it too."""
    everything = await current_vector()
    digest = vector_digest(everything)
    if "buckets" in request and "vector" not in request:
        differ = differing_buckets(bucket_digests(everything), request["buckets"])
        return {"digest": digest, "in_sync": not differ, "differ": differ}
    if "vector" not in request:
        return {"digest": digest, "in_sync": request.get("digest") == digest}
    mine = restrict(everything, request.get("scope"))
    theirs: dict[str, int] = request["vector"]
    budget = min(page_bytes, int(request.get("max_bytes", page_bytes))) - 2  # the brackets
    entries: list[dict[str, Any]] = []
    used = 0
    more = False

    def fits(document: dict[str, Any]) -> bool:
        nonlocal used
        size = _json_size(document) + (1 if entries else 0)  # and its comma
        if entries and used + size > budget:
            return False
        used += size
        entries.append(document)
        return True

    async with in_transaction() as conn:
        frozen = {row["id"] for row in await conn.execute_query_dict(
            "SELECT id FROM origins WHERE frozen"
        ) if row["id"] in mine}  # fmt: skip
        for document in await _fork_evidence(conn, frozen, theirs):
            if not fits(document):
                more = True
                break
        wanted = {o: a for o, a in missing_ranges(mine, theirs).items() if o not in frozen}
        for origin, after in sorted(wanted.items()):
            if more:
                break
            while True:
                rows = await conn.execute_query_dict(
                    "SELECT header, sig, payload FROM entries WHERE origin = ? AND seq > ?"
                    " ORDER BY seq LIMIT 200",
                    [origin, after],
                )
                for row in rows:
                    if not fits(entry_document(row)):
                        more = True
                        break
                    after += 1
                if more or len(rows) < 200:
                    break
    claimed = {o: FROZEN_SEQ if o in frozen else seq for o, seq in mine.items()}
    return {
        "digest": digest,
        "in_sync": not entries and vector_digest(claimed) == vector_digest(theirs),
        "vector": claimed,
        "entries": entries,
        "more": more,
    }


async def _fork_evidence(
    conn: Any, frozen: set[str], theirs: dict[str, int]
) -> list[dict[str, Any]]:
    """The two signed headers proving the fork of each frozen origin that the asker holds
    up to the fork and has not frozen itself (``payload`` null: the headers are the proof)."""
    documents: list[dict[str, Any]] = []
    for origin in sorted(frozen):
        rows = await conn.execute_query_dict(
            "SELECT seq, header_a, sig_a, header_b, sig_b FROM fork_evidence WHERE origin = ?"
            " ORDER BY id LIMIT 1",
            [origin],
        )
        held = theirs.get(origin, 0)
        if not rows or held == FROZEN_SEQ or held < rows[0]["seq"]:
            continue
        for header, sig in (("header_a", "sig_a"), ("header_b", "sig_b")):
            documents.append(
                {"header": json.loads(rows[0][header]), "sig": rows[0][sig], "payload": None}
            )
    return documents


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


Progress = Callable[[RoundResult], None]


async def sync_with(node: Node, peer: Peer, progress: Progress | None = None) -> RoundResult:
    """One anti-entropy round with ``peer``; its state row records the outcome."""
    result = RoundResult(peer.url)
    try:
        await check_address(peer, node.settings.allow_private_peers)
        async with node.peer_client() as client:
            if peer.origin is None:
                await _identify(node, client, peer)
            await _round(node, client, peer, result, progress)
    except AddressRefused as exc:
        result.error = str(exc)
        await record_failure(peer, str(exc), refused=True)
        return result
    except PeerError as exc:
        result.error = str(exc)
        await record_failure(peer, str(exc))
        log.info("sync with %s failed: %s", peer.url, exc)
        return result
    await record_success(peer, result.accepted)
    return result


async def _identify(node: Node, client: Any, peer: Peer) -> None:
    """Learn the origin id of a peer added while it was unreachable."""
    info = await client.node_info(peer.url)
    if info["id"] == node.origin:
        raise AddressRefused(f"{peer.url} is this node itself")
    peer.origin = info["id"]
    await peer.save(update_fields=["origin"])


async def _round(
    node: Node, client: Any, peer: Peer, result: RoundResult, progress: Progress | None
) -> None:
    sender = None if node.settings.pull_only else (node.settings.url or None)
    mine = await current_vector()
    first = await client.sync(peer.url, {"digest": vector_digest(mine)})
    if first["in_sync"]:
        result.in_sync_at_start = True
        return
    scope: list[int] | None = None
    if len(mine) > BUCKET_THRESHOLD:
        answer = await client.sync(peer.url, {"buckets": bucket_digests(mine)})
        if answer.get("differ"):
            scope = answer["differ"]
    theirs: dict[str, int] = {}
    frozen = await frozen_origins()
    while result.pages < MAX_PAGES_PER_ROUND:
        asked = restrict(mine, scope)
        asked.update((origin, FROZEN_SEQ) for origin in frozen if origin in asked)
        request: dict[str, Any] = {
            "vector": asked,
            "max_bytes": node.settings.sync_page_bytes,
        }
        if scope is not None:
            request["scope"] = scope
        if sender:
            request["from"] = sender
        answer = await client.sync(peer.url, request)
        result.pages += 1
        theirs = answer.get("vector") or {}
        documents = answer.get("entries") or []
        result.received += len(documents)
        if documents:
            report = await node.ingestor.ingest(documents)
            result.accepted += len(report.accepted)
            result.rejected += len(report.rejected)
            await learn_peers(node.settings.url, node.origin, report.accepted)
            for rejection in report.rejected:
                log.warning("rejected from %s: %s", peer.url, rejection.to_json())
        if progress:
            progress(result)
        new_mine = await current_vector()
        if not answer.get("more") or new_mine == mine:
            mine = new_mine
            break
        mine = new_mine
    await _push_back(node, client, peer, restrict(mine, scope), theirs, result, progress)


async def _push_back(
    node: Node,
    client: Any,
    peer: Peer,
    mine: Vector,
    theirs: Vector,
    result: RoundResult,
    progress: Progress | None,
) -> None:
    for origin, after in sorted(missing_ranges(mine, theirs).items()):
        while True:
            documents = await read_entries(origin, after, PUSH_BACK_PAGE, PUSH_BACK_BYTES)
            if not documents:
                break
            await client.push(peer.url, documents, ttl=0)
            result.pushed_back += len(documents)
            after = documents[-1]["header"]["seq"]
            if progress:
                progress(result)
            if after >= mine.get(origin, 0):
                break


async def sync_all(node: Node, progress: Progress | None = None) -> list[RoundResult]:
    """One round with every due peer the operator added, and a few due discovered ones.

    A node learns the whole network from place entries; syncing with all of it every
    interval would cost one request per node of the network (20,000 in France)."""
    now = utc_now()
    due = [
        peer
        for peer in await Peer.all().order_by("id")
        if peer.next_attempt is None or peer.next_attempt <= now
    ]
    manual = [peer for peer in due if peer.source != "discovered"]
    discovered = [peer for peer in due if peer.source == "discovered"]
    chosen = random.sample(discovered, min(DISCOVERED_PER_ROUND, len(discovered)))
    return [await sync_with(node, peer, progress) for peer in manual + chosen]
