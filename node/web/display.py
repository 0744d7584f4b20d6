"""Stored objects made safe for the templates.

A payload read back from the database is not trusted to match today's schemas: it may
have been stored by an older version, or be a value the templates cannot format. Before a
page shows an object, every member its kind's schema knows gets the type that schema
gives it (text, whole number, number, list of texts); a value of any other type becomes
its raw text, so the page shows what is stored instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from federation.schema import schemas_dir

from ..services.objects import raw_text


@cache
def member_types(kind: str) -> dict[str, str]:
    """JSON Schema ``type`` of each member of ``kind``'s payload (``string`` for the
    closed lists, which have none)."""
    path = schemas_dir() / "payload" / f"{kind}.schema.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    members = document.get("properties", {})
    return {name: str(spec.get("type", "string")) for name, spec in members.items()}


def _typed(value: Any, expected: str) -> Any:
    if value is None:
        return None
    if expected == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else raw_text(value)
    if expected == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return value if ok else raw_text(value)
    if expected == "object":
        # A recurring event's ``recurrence``: its members are read by federation.recurrence,
        # which refuses what it cannot read (the page then shows a single event).
        return value if isinstance(value, dict) else raw_text(value)
    if expected == "array":
        items = value if isinstance(value, list) else [value]
        # Lists of objects (a resource's attachments) keep their objects, whose members
        # the templates read one by one; anything else in a list is shown as text.
        return [item if isinstance(item, dict) else raw_text(item) for item in items
                if item is not None]  # fmt: skip
    return raw_text(value)


def shown(kind: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """``item`` (a payload with server fields) with the types templates rely on. An
    object without a title is titled by its id; a place always has a ``nom``."""
    types = member_types(kind)
    result = {name: _typed(value, types[name]) if name in types else value
              for name, value in item.items()}  # fmt: skip
    if kind != "place" and not result.get("title"):
        result["title"] = raw_text(item.get("id")) or "?"
    if kind == "place":
        result.setdefault("nom", "")
    return result
