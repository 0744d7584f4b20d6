"""Sealed personal data: only the recipients open it; anything altered does not open."""

from __future__ import annotations

import pytest

from federation.canonical import canonical_bytes
from federation.encoding import b64url_decode, b64url_encode
from federation.keys import NodeKey
from federation.sealing import MAX_PLAINTEXT_BYTES, SealError, open_sealed, seal

CONTACT = {"contact": {"name": "Anne Le Gall", "email": "anne@example.org", "phone": "0298000000"}}


def test_each_recipient_opens_its_box() -> None:
    lender, borrower = NodeKey.generate(), NodeKey.generate()
    sealed = seal(CONTACT, [lender.origin, borrower.origin])
    assert set(sealed) == {lender.origin, borrower.origin}
    assert open_sealed(sealed, lender) == CONTACT
    assert open_sealed(sealed, borrower) == CONTACT


def test_nothing_in_clear_and_boxes_differ() -> None:
    lender = NodeKey.generate()
    first, second = seal(CONTACT, [lender.origin]), seal(CONTACT, [lender.origin])
    assert first != second  # an ephemeral key per box: equal plaintexts are not linkable
    text = canonical_bytes(first).decode()
    for secret in ("Anne", "anne@example.org", "0298000000"):
        assert secret not in text


def test_a_third_node_cannot_open() -> None:
    lender, third = NodeKey.generate(), NodeKey.generate()
    sealed = seal(CONTACT, [lender.origin])
    with pytest.raises(SealError, match="nothing here"):
        open_sealed(sealed, third)
    # Nor by relabelling the box with its own origin id.
    with pytest.raises(SealError, match="does not open"):
        open_sealed({third.origin: sealed[lender.origin]}, third)


def test_a_tampered_box_does_not_open() -> None:
    lender = NodeKey.generate()
    box = bytearray(b64url_decode(seal(CONTACT, [lender.origin])[lender.origin]))
    box[-1] ^= 1
    with pytest.raises(SealError, match="does not open"):
        open_sealed({lender.origin: b64url_encode(bytes(box))}, lender)
    with pytest.raises(SealError):
        open_sealed({lender.origin: "not base64!"}, lender)


def test_bounds() -> None:
    keys = [NodeKey.generate() for _ in range(4)]
    with pytest.raises(SealError, match="recipients"):
        seal(CONTACT, [])
    with pytest.raises(SealError, match="recipients"):
        seal(CONTACT, [key.origin for key in keys])
    # Duplicates count once.
    assert len(seal(CONTACT, [keys[0].origin, keys[0].origin])) == 1
    with pytest.raises(SealError, match="over"):
        seal({"message": "x" * MAX_PLAINTEXT_BYTES}, [keys[0].origin])
    with pytest.raises(SealError, match="cannot seal"):
        seal(CONTACT, ["ed25519:short"])
