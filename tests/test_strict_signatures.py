"""Strict Ed25519 verification (libsodium's rules): small-order and non-canonical public
keys, small-order R and non-canonical S are refused, even where a lenient verifier (here
``cryptography``/OpenSSL) accepts the signature. Regression tests of issue 8, item 11."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from federation.canonical import canonical_bytes, sha256_tag
from federation.entry import parse_entry
from federation.errors import BadSignature
from federation.keys import NodeKey, verify_signature

P = 2**255 - 19
#: The order of the prime subgroup.
L = 2**252 + 27742317777372353535851937790883648493


def _le(value: int) -> bytes:
    return value.to_bytes(32, "little")


def _with_sign(encoding: bytes) -> bytes:
    return encoding[:31] + bytes([encoding[31] | 0x80])


_ORDER_8 = (
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
)
#: The 8 points of order dividing 8, canonically encoded (libsodium's blocklist, both
#: signs of x where x is not 0): identity, (0, -1), the 2 points of order 4, 4 of order 8.
SMALL_ORDER = (
    _le(1),
    _le(P - 1),
    _le(0),
    _with_sign(_le(0)),
    _ORDER_8[0],
    _with_sign(_ORDER_8[0]),
    _ORDER_8[1],
    _with_sign(_ORDER_8[1]),
)
#: Non-canonical encodings of small-order points: y >= p, or x = 0 with the sign bit set.
NON_CANONICAL = (
    _with_sign(_le(1)),
    _with_sign(_le(P - 1)),
    _le(P),
    _with_sign(_le(P)),
    _le(P + 1),
    _with_sign(_le(P + 1)),
)
IDENTITY_SIGNATURE = _le(1) + _le(0)  # R = identity, S = 0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def lenient_accepts(public: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def header_for(public: bytes, seq: int) -> dict[str, Any]:
    payload = {"title": "Prise de contrôle du journal"}
    data = canonical_bytes(payload)
    return {
        "v": 1,
        "origin": "ed25519:" + b64url(public),
        "seq": 1,
        "prev": None,
        "ts": f"2026-03-14T12:{seq // 60 % 60:02d}:{seq % 60:02d}Z",
        "kind": "skill",
        "oid": f"vol-{seq}",
        "op": "put",
        "payload_hash": sha256_tag(data),
        "payload_len": len(data),
    }


def test_the_issue_example_verifies_leniently_but_not_here() -> None:
    """``ed25519:AQAA...`` (the identity) with the identity signature: any message."""
    origin = "ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    for message in (b"", b"any message", canonical_bytes({"seq": 1})):
        assert lenient_accepts(_le(1), IDENTITY_SIGNATURE, message)
        assert not verify_signature(origin, message, b64url(IDENTITY_SIGNATURE))


@pytest.mark.parametrize("public", SMALL_ORDER + NON_CANONICAL, ids=lambda b: b.hex()[:8])
def test_small_order_or_non_canonical_key_is_refused(public: bytes) -> None:
    """For each such key, headers (messages) are tried until the lenient verifier accepts
    the identity signature (when it accepts at all): libsodium refuses every one."""
    for seq in range(64):
        header = header_for(public, seq)
        data = canonical_bytes(header)
        lenient_accepts(public, IDENTITY_SIGNATURE, data)
        document = {"header": header, "sig": b64url(IDENTITY_SIGNATURE), "payload": None}
        assert not verify_signature(header["origin"], data, document["sig"])
        if header["origin"][-1] in "AEIMQUYcgkosw048":  # else the schema refuses it first
            with pytest.raises(BadSignature):
                parse_entry(document)


def test_small_order_keys_do_verify_leniently_for_some_message() -> None:
    """The attack is real for more than the identity (guards the test above)."""
    forged = 0
    for public in SMALL_ORDER:
        forged += any(
            lenient_accepts(public, IDENTITY_SIGNATURE, canonical_bytes(header_for(public, s)))
            for s in range(64)
        )
    assert forged >= 2


@pytest.mark.parametrize("r", SMALL_ORDER, ids=lambda b: b.hex()[:8])
def test_small_order_r_is_refused(r: bytes) -> None:
    key = NodeKey.generate()
    data = b"papi"
    good = base64.urlsafe_b64decode(key.sign(data) + "==")
    assert not verify_signature(key.origin, data, b64url(r + good[32:]))


def test_non_canonical_s_is_refused_where_the_same_s_mod_l_verifies() -> None:
    key = NodeKey.generate()
    data = canonical_bytes({"ts": "2026-03-14T12:00:00Z"})
    good = base64.urlsafe_b64decode(key.sign(data) + "==")
    assert verify_signature(key.origin, data, b64url(good))
    s = int.from_bytes(good[32:], "little")
    for bigger in (s + L, s + 2 * L, s + 7 * L):
        if bigger < 2**256:
            assert not verify_signature(key.origin, data, b64url(good[:32] + _le(bigger)))
