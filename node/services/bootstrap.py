"""First start: publish the place profile from the settings when our log has none.

Our log may be empty for two reasons: the key is new (``papi init`` left the
``new-log`` marker), or the database was lost while the key was kept. In the second case
our peers hold our log: writing a new seq 1 would be a fork that freezes us everywhere.
So without the marker the node waits in *recovery*: local changes are refused until a sync
brings our log back (or the operator runs ``papi init --new-log``)."""

from __future__ import annotations

import json
import logging
from typing import Any

from ..models import CurrentObject, Origin
from ..runtime import Node
from ..settings import NEW_LOG_MARKER
from .log import publish

DEFAULT_NAME = "Nouveau lieu"


log = logging.getLogger(__name__)


async def refresh_place(node: Node) -> None:
    """After ``papi init`` changed the name, commune or URL of an existing node: publish
    the place profile with them (only what changed; nothing if nothing did)."""
    await ensure_place(node)
    place = await CurrentObject.get_or_none(origin=node.origin, kind="place", oid="place")
    if place is None:  # recovering its log: it will be published later
        return
    payload: dict[str, Any] = json.loads(place.payload)
    wanted = dict(payload)
    if node.settings.name:
        wanted["nom"] = node.settings.name
    if node.settings.commune:
        wanted["commune"] = node.settings.commune
    if node.settings.url and not node.settings.pull_only:
        wanted["endpoints"] = [node.settings.url]
    if wanted != payload:
        await publish(node, "place", "place", "put", wanted)


async def ensure_place(node: Node) -> None:
    if await CurrentObject.exists(origin=node.origin, kind="place", oid="place"):
        return
    marker = node.settings.data_dir / NEW_LOG_MARKER
    if not marker.exists() and (await Origin.get_or_none(id=node.origin)) is None:
        log.warning(
            "this node's key existed but its log is empty: recovering it from peers. "
            "Run 'papi peer add URL' and 'papi sync'; if no peer ever had it, "
            "run 'papi init --new-log'."
        )
        return
    payload: dict[str, Any] = {"nom": node.settings.name or DEFAULT_NAME}
    if node.settings.commune:
        payload["commune"] = node.settings.commune
    if node.settings.url and not node.settings.pull_only:
        payload["endpoints"] = [node.settings.url]
    await publish(node, "place", "place", "put", payload, new_log=True)
    marker.unlink(missing_ok=True)
