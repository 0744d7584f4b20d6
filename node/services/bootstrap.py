"""First start: publish the place profile from the settings when our log has none.

Our log may be empty for two reasons: the key is new (``papi init`` left the
``new-log`` marker), or the database was lost while the key was kept. In the second case
our peers hold our log: writing a new seq 1 would be a fork that freezes us everywhere.
So without the marker the node waits in *recovery*: local changes are refused until a sync
brings our log back (or the operator runs ``papi init --new-log``).

A restored backup is the same danger one step later: our log stops at the backup's head,
while peers may hold the entries we published after it. ``papi restore`` leaves the
``restored`` marker; while it is there local changes are refused, and it goes once a sync
batch has reached at least one peer and every peer reached holds no more of our log than
we do (``settle_catch_up``)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from ..runtime import Node
from ..settings import NEW_LOG_MARKER, RESTORED_MARKER
from ..store import objects, origins
from .log import catching_up, publish

if TYPE_CHECKING:
    from .sync import RoundResult

DEFAULT_NAME = "Nouveau lieu"


log = logging.getLogger(__name__)


async def refresh_place(node: Node) -> None:
    """After ``papi init`` changed the name, commune or URL of an existing node: publish
    the place profile with them (only what changed; nothing if nothing did)."""
    await ensure_place(node)
    place = await objects.one(node.db.connection(), origin=node.origin, kind="place", oid="place")
    if place is None:  # recovering its log: it will be published later
        return
    payload: dict[str, Any] = json.loads(place.payload)
    wanted = dict(payload)
    if node.settings.name:
        wanted["nom"] = node.settings.name
    if node.settings.commune:
        wanted["commune"] = node.settings.commune
    if node.settings.advertised_url:
        wanted["endpoints"] = [node.settings.advertised_url]
    if wanted != payload:
        await publish(node, "place", "place", "put", wanted)


async def ensure_place(node: Node) -> None:
    marker = node.settings.data_dir / NEW_LOG_MARKER
    if await objects.exists(node.db.connection(), origin=node.origin, kind="place", oid="place"):
        # Our log has begun: a marker left now (by 'papi init --new-log' on a node that
        # had its log) would let a future lost database start a fork.
        marker.unlink(missing_ok=True)
        return
    if (
        not marker.exists()
        and (await origins.origin(node.db.connection(), origin_id=node.origin)) is None
    ):
        log.warning(
            "this node's key existed but its log is empty: recovering it from peers. "
            "Run 'papi peer add URL' and 'papi sync'; if no peer ever had it, "
            "run 'papi init --new-log'."
        )
        return
    payload: dict[str, Any] = {"nom": node.settings.name or DEFAULT_NAME}
    if node.settings.commune:
        payload["commune"] = node.settings.commune
    if node.settings.advertised_url:
        payload["endpoints"] = [node.settings.advertised_url]
    await publish(node, "place", "place", "put", payload, new_log=True)
    marker.unlink(missing_ok=True)


async def writes_waiting(node: Node) -> str | None:
    """Why local changes are refused now, for the admin pages: ``"restored"`` (catching
    up after ``papi restore``), ``"recovering"`` (our log is empty, the key is not new)."""
    if catching_up(node):
        return "restored"
    marker = node.settings.data_dir / NEW_LOG_MARKER
    if not marker.exists() and not await origins.has_log(
        node.db.connection(), origin_id=node.origin
    ):
        return "recovering"
    return None


async def settle_catch_up(node: Node, results: list[RoundResult]) -> None:
    """After a sync batch: end the catch-up of a restored node when at least one peer was
    reached and none of those reached holds more of our log than we now do."""
    if not catching_up(node):
        return
    seen = [r.peer_head_of_ours for r in results if r.error is None]
    known = [seq for seq in seen if seq is not None]
    if not known:
        log.warning(
            "restored from a backup: local changes stay refused until a sync round "
            "reaches a peer ('papi peer list' shows their state)"
        )
        return
    origin = await origins.origin(node.db.connection(), origin_id=node.origin)
    head = origin.head_seq if origin else 0
    if max(known) > head:
        log.warning(
            "restored from a backup: peers hold our log up to seq %d, we have %d; "
            "local changes stay refused until the next rounds bring the rest",
            max(known),
            head,
        )
        return
    (node.settings.data_dir / RESTORED_MARKER).unlink(missing_ok=True)
    log.info(
        "restored from a backup: our log caught up with %d peer(s) at seq %d; "
        "local changes allowed again",
        len(known),
        head,
    )
