"""Peers: the rows that hold who we talk to and how that went (backoff in the database).

The lifecycle of a peer's ``state`` (``PEER``) is declared here, next to the two functions
that move it (``record_success``, ``record_failure``): every exchange with a peer ends in
one of three outcomes, whatever its state before; a peer that policy refused is tried
again after its backoff (the operator may have allowed private peers meanwhile)."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.backoff import retry_delay
from federation.entry import Entry
from federation.netguard import normalise_url
from federation.statemachine import Lifecycle
from federation.timeutil import format_ts, utc_now

from ..models import Peer
from ..store.peers import PeerRow

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


def state_of(peer: Peer) -> PeerState:
    """The declared state of a row (``ValueError`` if the row holds an unknown one)."""
    return PEER.parse(peer.state)


async def add_peer(url: str, *, source: str = "manual", origin: str | None = None) -> Peer:
    """Add a peer (idempotent). ``ValueError`` if the URL is not http(s)."""
    url = normalise_url(url)
    if url in await _blocked():
        raise ValueError(f"{url} is on this node's blocklist")
    peer = await Peer.get_or_none(url=url)
    if peer is None:
        peer = await Peer.create(url=url, source=source, origin=origin, state=PEER.initial)
    elif source == "manual" and peer.source != "manual":
        # The operator names this address: the discovered peers' address rules that
        # refused it no longer apply, and it is tried at once.
        changes: dict[str, Any] = {"source": "manual", "next_attempt": None}
        if state_of(peer) == PeerState.refused:
            state = PEER.next(PeerState.refused, "added_by_hand")
            changes.update(state=state, consecutive_failures=0, last_error=None)
        await Peer.filter(id=peer.id).update(**changes)
        await peer.refresh_from_db()
    return peer


async def remove_peer(url: str) -> Peer | None:
    """Forget a peer and its queued pushes (the deleted row, or None if unknown). A peer
    learnt from the network comes back when a place profile names it again."""
    try:
        url = normalise_url(url)
    except ValueError:
        return None
    peer = await Peer.get_or_none(url=url)
    if peer is not None:
        await peer.delete()  # its deliveries go with it (foreign key, cascade)
    return peer


async def learn_peers(node_url: str, own_origin: str, entries: list[Entry]) -> int:
    """Add the endpoints advertised by accepted place entries as candidate peers."""
    own = normalise_url(node_url) if node_url else None
    added = 0
    places = [entry for entry in entries if entry.kind == "place"]
    blocked = await _blocked() if places else set()
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
            _, created = await Peer.get_or_create(
                url=candidate,
                defaults={"source": "discovered", "origin": entry.origin, "state": PEER.initial},
            )
            added += int(created)
    return added


async def _blocked() -> set[str]:
    """The endpoints on the blocklist (node/services/membership.py): never contacted."""
    from tortoise.transactions import in_transaction

    from .membership import blocked_endpoints

    async with in_transaction() as conn:
        return await blocked_endpoints(conn)


async def choose_push_targets(
    conn: BaseDBAsyncClient,
    count: int,
    exclude_url: str | None = None,
    exclude_origin: str | None = None,
    *,
    version_1_only: bool = False,
) -> list[dict[str, Any]]:
    """Up to ``count`` random peers not in backoff, never the sender nor the entries'
    author. A peer that failed gets no new pushes until it is due again (anti-entropy
    brings it what it missed). ``version_1_only``: none whose node information lists the
    ``broadcast`` feature (those get entries along the broadcast tree)."""
    speaking = (
        " AND id NOT IN (SELECT peer_id FROM peer_links"
        " WHERE ' ' || features || ' ' LIKE '% broadcast %')"
        if version_1_only
        else ""
    )
    rows = await conn.execute_query_dict(
        "SELECT id, url, origin FROM peers WHERE state != ?"
        " AND (next_attempt IS NULL OR next_attempt <= ?)" + speaking,
        [PeerState.refused.value, utc_now()],
    )
    rows = [
        row
        for row in rows
        if row["url"] != exclude_url and (exclude_origin is None or row["origin"] != exclude_origin)
    ]
    return random.sample(rows, min(count, len(rows)))


async def record_success(peer: Peer, received: int = 0) -> None:
    now = utc_now()
    peer.state = PEER.next(state_of(peer), "succeeded")
    peer.last_attempt = now
    peer.last_success = now
    peer.consecutive_failures = 0
    peer.next_attempt = None
    peer.last_error = None  # type: ignore[assignment]
    peer.entries_received += received
    await peer.save()


async def record_failure(
    peer: Peer, error: str, *, kind: str = "protocol", retry_after: float | None = None
) -> None:
    """One more failure: backoff (at least ``retry_after``), and the error with its kind
    (``unreachable``, ``busy``, ``refused``, ``protocol``, ``disk_full``, ``internal``)."""
    now = utc_now()
    peer.consecutive_failures += 1
    peer.state = PEER.next(state_of(peer), "refused" if kind == "refused" else "failed")
    peer.last_attempt = now
    peer.last_error = f"[{kind}] {error}"[:500]
    delay = retry_delay(peer.consecutive_failures, retry_after=retry_after, cap=BACKOFF_CAP_SECONDS)
    peer.next_attempt = now + timedelta(seconds=delay)
    await peer.save()


def failure_kind(peer: Peer) -> str | None:
    """The kind of the peer's last failure (``record_failure`` writes it first)."""
    error = peer.last_error or ""
    if peer.consecutive_failures == 0 or not error.startswith("["):
        return None
    return error[1 : error.find("]")] or None


async def peers_heard_from(url: str | None, origins: set[str]) -> list[Peer]:
    """Peers in backoff that just showed they are alive: the one whose URL is ``url``
    (the ``from`` of its request) or whose origin is one of ``origins``."""
    candidates: list[Peer] = []
    if url:
        with contextlib.suppress(ValueError):  # not a URL: nothing to match
            candidates.extend(await Peer.filter(url=normalise_url(url)))
    if origins:
        candidates.extend(await Peer.filter(origin__in=sorted(origins)))
    now = utc_now()
    unique = {peer.id: peer for peer in candidates}
    return [
        peer
        for peer in unique.values()
        if peer.state != PeerState.refused
        and peer.next_attempt is not None
        and peer.next_attempt > now
    ]


async def make_due(peer: Peer) -> None:
    """End a peer's wait: it answered again, so it is retried at once (its failure count
    stays until a round with it succeeds)."""
    peer.next_attempt = None
    await peer.save(update_fields=["next_attempt"])


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
