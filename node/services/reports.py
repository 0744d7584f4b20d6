"""Reports: an animator tells the network's coordination about an object (docs/protocol.md
16.5). A report is a ``report`` entry of our log whose whole content is sealed to at most
two founders (the coordination, in the order of the ``founders`` setting) and to our own
place: relays carry it, only they read it. It names the object, a reason and a message,
never the animator: the report is the place's."""

from __future__ import annotations

import json
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.entry import Entry
from federation.sealing import SealError, open_sealed, seal

from ..runtime import Node
from ..store import objects
from .log import new_oid, publish

#: Why an object is reported (``reason`` of the sealed plaintext).
REASONS = ("illegal", "personal_data", "wrong", "spam", "other")
MAX_MESSAGE = 1000
#: Founders a report is sealed to (the sealed object holds 3 recipients, one is us).
COORDINATORS = 2
#: Reports listed at most on the coordinator's page.
MAX_LISTED = 200


def recipients(node: Node) -> list[str]:
    """Who reads our reports: the first founders, and our own place."""
    founders = [f for f in node.membership.founder_list if f != node.origin]
    return [*founders[:COORDINATORS], node.origin]


async def file_report(node: Node, target: str, reason: str, message: str) -> Entry:
    """Publish a report about ``target`` (``<origin>/<kind>/<oid>``)."""
    parts = target.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError("l'objet signalé est <lieu>/<type>/<identifiant>")
    if reason not in REASONS:
        raise ValueError("choisissez une raison dans la liste")
    plaintext = {"object": target, "reason": reason, "message": message.strip()[:MAX_MESSAGE]}
    return await publish(
        node, "report", new_oid(), "put", {"sealed": seal(plaintext, recipients(node))}
    )


async def reports_for(conn: BaseDBAsyncClient, node: Node) -> list[dict[str, Any]]:
    """The reports of every place sealed to this node, newest first (bounded)."""
    found: list[dict[str, Any]] = []
    for row in await objects.latest_of_kind(conn, kind="report", limit=MAX_LISTED * 5):
        try:
            sealed = json.loads(row.payload)["sealed"]
            content = open_sealed(sealed, node.key)
        except (SealError, ValueError, KeyError, TypeError):
            continue  # sealed to others, or unreadable
        found.append(
            {
                "from": row.origin,
                "from_name": row.origin_name,
                "at": row.updated,
                "object": str(content.get("object", "")),
                "reason": str(content.get("reason", "")),
                "message": str(content.get("message", ""))[:MAX_MESSAGE],
            }
        )
        if len(found) >= MAX_LISTED:
            break
    return found
