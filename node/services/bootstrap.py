"""First start: publish the place profile from the settings when our log has none."""

from __future__ import annotations

from typing import Any

from ..models import CurrentObject
from ..runtime import Node
from .log import publish

DEFAULT_NAME = "Nouveau lieu"


async def ensure_place(node: Node) -> None:
    if await CurrentObject.exists(origin=node.origin, kind="place", oid="place"):
        return
    payload: dict[str, Any] = {"nom": node.settings.name or DEFAULT_NAME}
    if node.settings.commune:
        payload["commune"] = node.settings.commune
    if node.settings.url and not node.settings.pull_only:
        payload["endpoints"] = [node.settings.url]
    await publish(node, "place", "place", "put", payload)
