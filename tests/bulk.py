"""Many valid signed entries from many origins, for large-sync tests and benchmarks."""

from __future__ import annotations

from typing import Any

from federation.entry import build_entry
from federation.keys import NodeKey

COMMUNES = ["Brest", "Plouzané", "Guipavas", "Landerneau", "Crozon", "Lesneven", "Ouessant"]


def origin_log(index: int, count: int, key: NodeKey | None = None) -> list[dict[str, Any]]:
    """``count`` chained entries of one origin: its place, then skills and equipment."""
    key = key or NodeKey.generate()
    entries: list[dict[str, Any]] = []
    prev = None
    for seq in range(1, count + 1):
        if seq == 1:
            kind, oid = "place", "place"
            payload: dict[str, Any] = {
                "nom": f"Lieu numérique {index}",
                "commune": COMMUNES[index % len(COMMUNES)],
            }
        else:
            kind = "skill" if seq % 2 else "equipment"
            oid = f"o{seq}"
            payload = {
                "title": f"{'Atelier' if kind == 'skill' else 'Matériel'} {index}-{seq}",
                "description": "Accompagnement numérique au Pays de Brest. " * 3,
            }
        entry = build_entry(key, seq=seq, prev=prev, kind=kind, oid=oid, op="put", payload=payload)
        prev = entry.header_hash
        entries.append(entry.to_json())
    return entries


def network_logs(origins: int, per_origin: int) -> list[list[dict[str, Any]]]:
    return [origin_log(index, per_origin) for index in range(origins)]
