"""Peers: the rows that hold who we talk to and how that went (backoff in the database).

The lifecycle of a peer's ``state`` (``PEER``) is declared here, next to the two functions
that move it (``record_success``, ``record_failure``): every exchange with a peer ends in
one of three outcomes, whatever its state before; a peer that policy refused is tried
again after its backoff (the operator may have allowed private peers meanwhile)."""

from __future__ import annotations

import contextlib
import random
from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.backoff import retry_delay
from federation.entry import Entry
from federation.netguard import normalise_url
from federation.statemachine import Lifecycle
from federation.timeutil import format_ts, utc_now

from ..db import current_connection
from ..store import peers as peer_rows
from ..store.peers import PeerLike, PeerRow, PushTarget

#: Keep trying a peer this often at most, however long it has been failing.
BACKOFF_CAP_SECONDS = 3600.0


class PeerState(StrEnum):
    new = "new"  # never contacted yet
    ok = "ok"  # the last exchange succeeded
    failing = "failing"  # the last exchange failed: in backoff
    refused = "refused"  # policy forbids contacting it (a discovered private address)


#: The outcome of an exchange, from any state.
_OUTCOMES = {
    "succeeded": PeerState.ok,
    "failed": PeerState.failing,
    "refused": PeerState.refused,
}
PEER = Lifecycle(
    "peer",
    PeerState,
    {
        **dict.fromkeys(PeerState, _OUTCOMES),
        # The operator names a refused address (papi peer add): tried again from scratch.
        PeerState.refused: {**_OUTCOMES, "added_by_hand": PeerState.new},
    },
    initial=PeerState.new,
)


def _conn(conn: BaseDBAsyncClient | None) -> BaseDBAsyncClient:
    """``conn``; without it, the current node's connection: only the tests and the
    benchmarks call ``add_peer`` so; the node's own code passes its connection."""
    return conn if conn is not None else current_connection()


def state_of(peer: PeerLike) -> PeerState:
    """The declared state of a row (``ValueError`` if the row holds an unknown one)."""
    return PEER.parse(peer.state)


async def add_peer(
    url: str,
    *,
    source: str = "manual",
    origin: str | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> PeerRow:
    """Add a peer (idempotent). ``ValueError`` if the URL is not http(s)."""
    url = normalise_url(url)
    conn = _conn(conn)
    if url in await _blocked(conn):
        raise ValueError(f"{url} is on this node's blocklist")
    peer = await peer_rows.with_url(conn, url=url)
    if peer is None:
        peer = await peer_rows.create(
            conn, url=url, source=source, origin=origin, state=PEER.initial
        )
    elif source == "manual" and peer.source != "manual":
        # The operator names this address: the discovered peers' address rules that
        # refused it no longer apply, and it is tried at once.
        refused = state_of(peer) == PeerState.refused
        state = PEER.next(PeerState.refused, "added_by_hand") if refused else None
        peer = await peer_rows.name_by_hand(conn, peer_id=peer.id, state=state)
    return peer


async def remove_peer(url: str, *, conn: BaseDBAsyncClient) -> PeerRow | None:
    """Forget a peer and its queued pushes (the deleted row, or None if unknown). A peer
    learnt from the network comes back when a place profile names it again."""
    try:
        url = normalise_url(url)
    except ValueError:
        return None
    peer = await peer_rows.with_url(conn, url=url)
    if peer is not None:
        await peer_rows.delete(conn, peer_id=peer.id)  # its deliveries go with it (cascade)
    return peer


async def identified(peer: PeerLike, origin: str, *, conn: BaseDBAsyncClient) -> PeerRow:
    """``peer`` answered in the name of ``origin`` (a peer added while unreachable)."""
    await peer_rows.set_origin(conn, peer_id=peer.id, origin=origin)
    return replace(_as_row(peer), origin=origin)


def _as_row(peer: PeerLike) -> PeerRow:
    if isinstance(peer, PeerRow):
        return peer
    return PeerRow(
        peer.id, peer.url, peer.origin, peer.source, peer.state, peer.last_attempt,
        peer.last_success, peer.consecutive_failures, peer.next_attempt, peer.last_error,
        peer.entries_received, peer.created,
    )  # fmt: skip


async def learn_peers(
    node_url: str, own_origin: str, entries: list[Entry], *, conn: BaseDBAsyncClient
) -> int:
    """Add the endpoints advertised by accepted place entries as candidate peers."""
    own = normalise_url(node_url) if node_url else None
    added = 0
    places = [entry for entry in entries if entry.kind == "place"]
    blocked = await _blocked(conn) if places else set()
    for entry in places:
        if entry.kind != "place" or entry.payload is None or entry.origin == own_origin:
            continue
        for url in entry.payload.get("endpoints") or []:
            try:
                candidate = normalise_url(url)
            except ValueError:
                continue
            if candidate == own or candidate in blocked:
                continue
            added += await peer_rows.add_discovered(
                conn, url=candidate, origin=entry.origin, state=PEER.initial
            )
    return added


async def _blocked(conn: BaseDBAsyncClient) -> set[str]:
    """The endpoints on the blocklist (node/services/membership.py): never contacted."""
    from .membership import blocked_endpoints

    return await blocked_endpoints(conn)


async def choose_push_targets(
    conn: BaseDBAsyncClient,
    count: int,
    exclude_url: str | None = None,
    exclude_origin: str | None = None,
    *,
    version_1_only: bool = False,
) -> list[PushTarget]:
    """Up to ``count`` random peers not in backoff, never the sender nor the entries'
    author. A peer that failed gets no new pushes until it is due again (anti-entropy
    brings it what it missed). ``version_1_only``: none whose node information lists the
    ``broadcast`` feature (those get entries along the broadcast tree)."""
    rows = [
        row
        for row in await peer_rows.push_targets(
            conn, now=utc_now(), except_state=PeerState.refused, version_1_only=version_1_only
        )
        if row.url != exclude_url and (exclude_origin is None or row.origin != exclude_origin)
    ]
    return random.sample(rows, min(count, len(rows)))


async def record_success(peer: PeerLike, received: int = 0, *, conn: BaseDBAsyncClient) -> PeerRow:
    """The exchange worked: no backoff left. Returns the peer as now stored (the columns
    of the outcome only are written: a concurrent change of its origin or source stays)."""
    now = utc_now()
    state = PEER.next(state_of(peer), "succeeded")
    await peer_rows.save_success(conn, peer_id=peer.id, state=state, at=now, received=received)
    return replace(
        _as_row(peer), state=state, last_attempt=now, last_success=now, consecutive_failures=0,
        next_attempt=None, last_error=None, entries_received=peer.entries_received + received,
    )  # fmt: skip


async def record_failure(
    peer: PeerLike,
    error: str,
    *,
    kind: str = "protocol",
    retry_after: float | None = None,
    conn: BaseDBAsyncClient,
) -> PeerRow:
    """One more failure: backoff (at least ``retry_after``), and the error with its kind
    (``unreachable``, ``busy``, ``refused``, ``protocol``, ``disk_full``, ``internal``).
    Returns the peer as now stored (its ``next_attempt``: when it is due again)."""
    now = utc_now()
    failures = peer.consecutive_failures + 1
    state = PEER.next(state_of(peer), "refused" if kind == "refused" else "failed")
    error = f"[{kind}] {error}"[:500]
    delay = retry_delay(failures, retry_after=retry_after, cap=BACKOFF_CAP_SECONDS)
    next_attempt = now + timedelta(seconds=delay)
    await peer_rows.save_failure(
        conn, peer_id=peer.id, state=state, at=now, consecutive_failures=failures,
        next_attempt=next_attempt, last_error=error,
    )  # fmt: skip
    return replace(
        _as_row(peer), state=state, last_attempt=now, consecutive_failures=failures,
        next_attempt=next_attempt, last_error=error,
    )  # fmt: skip


def failure_kind(peer: PeerLike) -> str | None:
    """The kind of the peer's last failure (``record_failure`` writes it first)."""
    error = peer.last_error or ""
    if peer.consecutive_failures == 0 or not error.startswith("["):
        return None
    return error[1 : error.find("]")] or None


async def peers_heard_from(
    url: str | None, origins: set[str], *, conn: BaseDBAsyncClient
) -> list[PeerRow]:
    """Peers in backoff that just showed they are alive: the one whose URL is ``url``
    (the ``from`` of its request) or whose origin is one of ``origins``."""
    candidates: list[PeerRow] = []
    if url:
        with contextlib.suppress(ValueError):  # not a URL: nothing to match
            found = await peer_rows.with_url(conn, url=normalise_url(url))
            candidates.extend([found] if found is not None else [])
    if origins:
        candidates.extend(await peer_rows.serving(conn, origins=sorted(origins)))
    now = utc_now()
    unique = {peer.id: peer for peer in candidates}
    return [
        peer
        for peer in unique.values()
        if peer.state != PeerState.refused
        and peer.next_attempt is not None
        and peer.next_attempt > now
    ]


async def make_due(peer: PeerLike, *, conn: BaseDBAsyncClient) -> None:
    """End a peer's wait: it answered again, so it is retried at once (its failure count
    stays until a round with it succeeds)."""
    await peer_rows.make_due(conn, peer_id=peer.id)


def peer_json(peer: PeerRow) -> dict[str, Any]:
    """A peer as ``/api/v1/nodes`` and the admin's peers page show it."""

    def ts(value: Any) -> str | None:
        return None if value is None else format_ts(value)

    return {
        "url": peer.url,
        "origin": peer.origin,
        "source": peer.source,
        "state": peer.state,
        "last_attempt": ts(peer.last_attempt),
        "last_success": ts(peer.last_success),
        "consecutive_failures": peer.consecutive_failures,
        "next_attempt": ts(peer.next_attempt),
        "last_error": peer.last_error,
        "entries_received": peer.entries_received,
    }
