"""Entries of the cooperation kinds (docs/protocol.md section 9): built and verified like
every other kind, with the rules a schema cannot express, and only the owner decides."""

from __future__ import annotations

from typing import Any

import pytest

from federation.canonical import canonical_bytes, sha256_tag
from federation.entry import build_entry, parse_entry
from federation.errors import InvalidEntrySchema, NotOwner, SchemaError
from federation.keys import NodeKey
from federation.sealing import open_sealed, seal

LENDER, BORROWER, THIRD = NodeKey.generate(), NodeKey.generate(), NodeKey.generate()
CONTACT = {"contact": {"name": "Anne Le Gall", "email": "anne@example.org", "phone": "0600000000"}}


def _loan() -> dict[str, Any]:
    return {
        "equipment": f"{LENDER.origin}/projo",
        "quantity": 1,
        "start": "2026-12-07",
        "end": "2026-12-09",
        "state": "requested",
        "sealed": seal(CONTACT, [LENDER.origin, BORROWER.origin]),
    }


def _decision(equipment_origin: str) -> dict[str, Any]:
    return {
        "loan": f"{BORROWER.origin}/req1",
        "equipment": f"{equipment_origin}/projo",
        "quantity": 1,
        "start": "2026-12-07",
        "end": "2026-12-09",
        "state": "approved",
    }


def _sign(key: NodeKey, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An entry signed by ``key`` without the local checks of ``build_entry``."""
    data = canonical_bytes(payload)
    header = {"v": 1, "origin": key.origin, "seq": 1, "prev": None, "ts": "2026-11-26T10:00:00Z",
              "kind": kind, "oid": "x1", "op": "put", "payload_hash": sha256_tag(data),
              "payload_len": len(data)}  # fmt: skip
    return {"header": header, "sig": key.sign(canonical_bytes(header)), "payload": payload}


def test_a_loan_request_round_trips_and_only_the_two_places_read_the_contact() -> None:
    entry = build_entry(BORROWER, seq=1, prev=None, kind="loan", oid="req1", op="put",
                        payload=_loan())  # fmt: skip
    parsed = parse_entry(entry.to_json())
    assert "anne@example.org" not in parsed.payload_text  # type: ignore[operator]
    assert open_sealed(parsed.payload["sealed"], LENDER) == CONTACT  # type: ignore[index]
    assert open_sealed(parsed.payload["sealed"], BORROWER) == CONTACT  # type: ignore[index]


def test_the_lender_decides_about_its_own_item() -> None:
    entry = build_entry(LENDER, seq=1, prev=None, kind="loan_decision", oid="d1", op="put",
                        payload=_decision(LENDER.origin))  # fmt: skip
    assert parse_entry(entry.to_json()).payload["state"] == "approved"  # type: ignore[index]


@pytest.mark.parametrize("author", [BORROWER, THIRD], ids=["borrower", "third-place"])
def test_nobody_else_decides(author: NodeKey) -> None:
    with pytest.raises(SchemaError, match="thing of this place"):
        build_entry(author, seq=1, prev=None, kind="loan_decision", oid="d1", op="put",
                    payload=_decision(LENDER.origin))  # fmt: skip
    with pytest.raises(NotOwner) as caught:
        parse_entry(_sign(author, "loan_decision", _decision(LENDER.origin)))
    assert caught.value.code == "not_owner"
    registration = {"registration": f"{BORROWER.origin}/r", "event": f"{LENDER.origin}/ev",
                    "seats": 1, "state": "confirmed"}  # fmt: skip
    with pytest.raises(NotOwner):
        parse_entry(_sign(author, "registration_decision", registration))


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("loan", {"start": "2026-12-10"}, "end"),
        ("help_request", {"state": "closed"}, "state"),
        ("help_request", {"from": "2027-02-01"}, "to"),
    ],
)
def test_rules_a_schema_cannot_express(kind: str, change: dict[str, Any], field: str) -> None:
    payloads = {
        "loan": _loan(),
        "help_request": {
            "theme": "Bureautique",
            "title": "Atelier tableur",
            "from": "2027-01-10",
            "to": "2027-01-31",
            "state": "open",
        },
    }
    payload = {**payloads[kind], **change}
    with pytest.raises(SchemaError) as caught:
        build_entry(BORROWER, seq=1, prev=None, kind=kind, oid="x", op="put", payload=payload)
    assert caught.value.field == field
    with pytest.raises(InvalidEntrySchema):
        parse_entry(_sign(BORROWER, kind, payload))
