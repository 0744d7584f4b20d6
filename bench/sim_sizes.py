"""Sizes for the simulations: real signed entries, message bodies encoded as the node
encodes them, and one ActivityPub delivery as Mobilizon sends it (bench/activitypub/).

Requests are counted as ``PeerClient`` sends them (compact JSON, ASCII escapes), answers
as Starlette's ``JSONResponse`` (compact JSON, UTF-8). HTTP headers are a fixed
``REQUEST_HEADERS`` + ``ANSWER_HEADERS`` per exchange (httpx's request line and headers,
uvicorn's status line and headers), as in the version 1 simulation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REQUEST_HEADERS = 200
ANSWER_HEADERS = 150
HTTP_HEADERS = REQUEST_HEADERS + ANSWER_HEADERS
AP_DIR = Path(__file__).parent / "activitypub"

SKILL = {
    "title": "Atelier smartphone",
    "description": "Apprendre à utiliser son smartphone: appels, photos, messages. " * 3,
}
#: The event of bench/activitypub/create-event.json, as a papi ``event`` payload.
EVENT = {
    "title": "Atelier « Sécurité numérique » : arnaques et hameçonnage",
    "description": "Reconnaître les faux SMS de livraison et les faux courriels de la banque.",
    "start": "2025-10-14T14:00:00+02:00",
    "end": "2025-10-14T16:00:00+02:00",
    "location": "Médiathèque de Plougastel-Daoulas, salle d'animation",
    "capacity": 10,
    "audience": "public",
}
KINDS = {"skill": SKILL, "event": EVENT}


def client_bytes(body: Any) -> int:
    """Size of a request body as ``PeerClient`` sends it."""
    return len(json.dumps(body, separators=(",", ":")).encode())


def server_bytes(body: Any) -> int:
    """Size of an answer as Starlette's ``JSONResponse`` sends it."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())


def random_origin() -> str:
    """A real-format origin id (its last character canonical)."""
    return "ed25519:" + secrets.token_urlsafe(32)[:42] + "A"


def url_of(index: int) -> str:
    return f"https://papi-{index:05d}.example.fr"


@dataclass
class Entries:
    """Real signed entries, one per ``(author, seq)`` and kind, built on demand: the
    authors of new entries get real keys, their origin ids replacing the random ones."""

    origins: dict[str, str] = field(default_factory=dict)
    keys: dict[str, Any] = field(default_factory=dict)
    documents: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    _sizes: dict[tuple[str, str, int], tuple[int, int]] = field(default_factory=dict)

    def origin(self, author: str) -> str:
        if author not in self.origins:
            self.origins[author] = random_origin()
        return self.origins[author]

    def document(self, kind: str, author: str, seq: int) -> dict[str, Any]:
        from federation.entry import build_entry
        from federation.keys import NodeKey

        key = (kind, author, seq)
        if key not in self.documents:
            node_key = self.keys.get(author)
            if node_key is None:
                node_key = self.keys[author] = NodeKey.generate()
                self.origins[author] = node_key.origin
            entry = build_entry(
                node_key,
                seq=seq,
                prev=None if seq == 1 else "sha256:" + hashlib.sha256(key[1].encode()).hexdigest(),
                kind=kind,
                oid=f"{kind[0]}{seq}",
                op="put",
                payload=KINDS[kind],
            )
            self.documents[key] = entry.to_json()
        return self.documents[key]

    def sizes(self, kind: str, author: str, seq: int) -> tuple[int, int]:
        """(as a request sends it, as an answer sends it)."""
        key = (kind, author, seq)
        if key not in self._sizes:
            document = self.document(kind, author, seq)
            self._sizes[key] = (client_bytes(document), server_bytes(document))
        return self._sizes[key]


def body_bytes(
    body: dict[str, Any], entries: Entries, kind: str, names: dict[str, str], answer: bool
) -> int:
    """The exact size of a 1.1 message whose ``entries`` are ``(author, seq)`` and whose
    heads (``graft``, ``changes``) are keyed by author: real documents and origin ids
    substituted, members as the node writes them."""
    encode = server_bytes if answer else client_bytes
    wire: dict[str, Any] = {}
    for name, value in body.items():
        if name == "from":
            wire["from"] = names.get(value, value)
        elif name in ("graft", "changes"):
            wire[name] = {entries.origin(author): seq for author, seq in value.items()}
        elif name != "entries":
            wire[name] = value
    if "entries" not in body:
        return encode(wire)
    ids = body["entries"]
    wire["entries"] = []
    size = encode(wire) + max(0, len(ids) - 1)
    return size + sum(entries.sizes(kind, author, seq)[1 if answer else 0] for author, seq in ids)


def push_delivery(document: dict[str, Any], sender: str) -> int:
    """One delivery of ``document`` as version 1 sends it (the unit of the minimum): a
    push of it alone and its answer, with headers."""
    origin, seq = document["header"]["origin"], document["header"]["seq"]
    request = {"entries": [document], "ttl": 0, "from": sender}
    answer = {
        "accepted": [{"origin": origin, "seq": seq}],
        "duplicate": [],
        "pending": [],
        "rejected": [],
    }
    return client_bytes(request) + server_bytes(answer) + HTTP_HEADERS


@dataclass(frozen=True)
class ApDelivery:
    body: int
    request_headers: int
    answer: int

    @property
    def total(self) -> int:
        return self.body + self.request_headers + self.answer


def activitypub_delivery(host: str = "papi-00042.example.fr") -> ApDelivery:
    """One ``POST /inbox`` of bench/activitypub/create-event.json and its ``202``."""
    activity = json.loads((AP_DIR / "create-event.json").read_text(encoding="utf-8"))
    body = json.dumps(activity, ensure_ascii=False, separators=(",", ":")).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    signature = base64.b64encode(b"\x00" * 256).decode()  # RSA-2048: 256 bytes, 344 chars
    head = (
        (AP_DIR / "delivery-request.http")
        .read_text(encoding="utf-8")
        .format(host=host, content_length=len(body), digest=digest, signature=signature)
    )
    answer = (AP_DIR / "delivery-response.http").read_text(encoding="utf-8")
    return ApDelivery(len(body), _wire_len(head), _wire_len(answer))


def _wire_len(text: str) -> int:
    """Length of a header block with CRLF line ends (the files use LF)."""
    return len(text.encode()) + text.count("\n")
