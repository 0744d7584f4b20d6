"""Signed entries with no validation at all, as a hostile or buggy author writes them."""

from __future__ import annotations

import copy
from typing import Any

from federation.canonical import canonical_bytes, sha256_tag
from federation.keys import NodeKey

TS = "2026-03-14T10:00:00Z"


class Forger:
    """One origin's log, written by hand: each ``write`` signs whatever it is given."""

    def __init__(self, key: NodeKey | None = None) -> None:
        self.key = key or NodeKey.generate()
        self.log: list[dict[str, Any]] = []

    @property
    def origin(self) -> str:
        return self.key.origin

    def sign(self, header: dict[str, Any], payload: Any) -> dict[str, Any]:
        return {"header": header, "sig": self.key.sign(canonical_bytes(header)), "payload": payload}

    def write(
        self,
        kind: str = "skill",
        oid: str = "s1",
        payload: Any = None,
        *,
        op: str = "put",
        ts: str = TS,
        prev: str | bool | None = True,
        **header: Any,
    ) -> dict[str, Any]:
        """The next entry of the log (``prev`` True: linked to the last one)."""
        if op == "put" and payload is None:
            payload = {"nom": "Lieu"} if kind == "place" else {"title": "Atelier tablette"}
        if prev is True:
            prev = sha256_tag(canonical_bytes(self.log[-1]["header"])) if self.log else None
        data = canonical_bytes(payload) if op == "put" else b""
        fields = {
            "v": 1,
            "origin": self.origin,
            "seq": len(self.log) + 1,
            "prev": prev,
            "ts": ts,
            "kind": kind,
            "oid": oid,
            "op": op,
            "payload_hash": sha256_tag(data) if op == "put" else None,
            "payload_len": len(data),
            **header,
        }
        entry = self.sign(fields, payload if op == "put" else None)
        self.log.append(entry)
        return copy.deepcopy(entry)

    def stripped(self, seq: int) -> dict[str, Any]:
        """Entry ``seq`` as a relay that dropped its payload sends it."""
        entry = copy.deepcopy(self.log[seq - 1])
        entry["payload"] = None
        return entry

    def entry(self, seq: int) -> dict[str, Any]:
        return copy.deepcopy(self.log[seq - 1])

    def branch(self, seq: int, **changes: Any) -> Forger:
        """Another history of this origin sharing entries ``1..seq-1``."""
        other = Forger(self.key)
        other.log = copy.deepcopy(self.log[: seq - 1])
        return other
