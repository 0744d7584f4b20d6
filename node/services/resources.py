"""Resources beyond their CRUD: the versions of one from its log, the differences between
two versions, the adaptations known of one, and adapting one (a copy in our own log that
names its original in ``based_on``)."""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass
from typing import Any

from ..db import Database
from ..runtime import Node
from ..store import entries as entry_rows
from ..store import objects
from .licences import allows_adaptation
from .log import new_oid, publish

#: Lines of context around each change in a difference.
DIFF_CONTEXT = 3


@dataclass(frozen=True)
class Version:
    seq: int
    ts: str
    op: str
    #: None once purged (after a tombstone): nothing of it is shown.
    payload: dict[str, Any] | None


async def versions(db: Database, origin: str, oid: str) -> list[Version]:
    """Every entry of the resource ``(origin, oid)`` in our copy of its log, oldest first."""
    async with db.transaction() as conn:
        rows = await entry_rows.entries_of(conn, origin=origin, kind="resource", oid=oid)
    return [
        Version(
            row.seq,
            str(json.loads(row.header)["ts"]),
            row.op,
            None if row.payload is None else json.loads(row.payload),
        )
        for row in rows
    ]


def _lines(payload: dict[str, Any]) -> list[str]:
    """What a difference compares: title, summary, then the body, line by line."""
    lines = [f"# {payload.get('title', '')}", ""]
    if payload.get("summary"):
        lines += [str(payload["summary"]), ""]
    lines += str(payload.get("body", "")).splitlines()
    return lines


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    """A unified difference of two versions' texts, as ``(kind, line)`` pairs where kind
    is ``"add"``, ``"del"``, ``"same"`` or ``"hunk"`` (a ``@@`` line). Lines are plain text:
    the page escapes them."""
    result: list[tuple[str, str]] = []
    diff = difflib.unified_diff(_lines(old), _lines(new), n=DIFF_CONTEXT, lineterm="")
    for line in list(diff)[2:]:  # the ---/+++ header lines
        if line.startswith("@@"):
            result.append(("hunk", line))
        elif line.startswith("+"):
            result.append(("add", line[1:]))
        elif line.startswith("-"):
            result.append(("del", line[1:]))
        else:
            result.append(("same", line[1:]))
    return result


async def adaptations(db: Database, origin: str, oid: str) -> list[dict[str, Any]]:
    """The live resources, of any origin we hold, that say they adapt ``origin/oid``."""
    return [
        asdict(row)
        for row in await objects.adaptations_of(db.connection(), based_on=f"{origin}/{oid}")
    ]


class AdaptationRefused(Exception):
    """The resource cannot be adapted (unknown, or its licence forbids it)."""


async def adapt(node: Node, origin: str, oid: str) -> str:
    """Copy the resource ``origin/oid`` into our own log with ``based_on`` naming it, its
    licence and attachments kept; returns the new oid."""
    row = await objects.one(node.db.connection(), origin=origin, kind="resource", oid=oid)
    if row is None:
        raise AdaptationRefused(f"this node holds no resource {origin}/{oid}")
    payload: dict[str, Any] = json.loads(row.payload)
    if not allows_adaptation(payload.get("licence")):
        raise AdaptationRefused(f"the licence {payload.get('licence')} forbids adaptations")
    copy = {**payload, "based_on": f"{origin}/{oid}"}
    own = new_oid()
    await publish(node, "resource", own, "put", copy)
    return own


def parse_reference(text: str) -> tuple[str, str] | None:
    """``<origin>/<oid>`` as a pair, or None when it is not one."""
    origin, slash, oid = text.partition("/")
    if not slash or not origin.startswith("ed25519:") or not oid or "/" in oid:
        return None
    return origin, oid
