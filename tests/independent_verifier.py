"""An independent verifier of a papi log, written from BRIEF section 3 alone.

It deliberately imports nothing from ``federation`` or ``node``: only ``rfc8785``,
``hashlib``, ``base64`` and ``cryptography``. The tests run the node's output through it,
as another implementation would, so that a bug shared by the node's writer and the node's
own verifier cannot hide.

``verify_log(entries)`` takes one origin's whole log as served by
``GET /federation/v1/entries`` (a list of ``{"header", "sig", "payload"}`` objects, from
seq 1) and raises ``AssertionError`` with a message naming the entry and the rule broken.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HEADER_FIELDS = {
    "v",
    "origin",
    "seq",
    "prev",
    "ts",
    "kind",
    "oid",
    "op",
    "payload_hash",
    "payload_len",
}
KINDS = {"place", "skill", "equipment", "event", "booking", "vouch", "key", "report"}
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


def b64url_nopad_decode(text: Any, what: str) -> bytes:
    """Strict base64url without padding: alphabet, no '=', canonical trailing bits."""
    assert isinstance(text, str), f"{what} is not a string: {text!r}"
    assert _B64URL.fullmatch(text), f"{what} is not unpadded base64url: {text!r}"
    assert len(text) % 4 != 1, f"{what} has an impossible base64 length: {text!r}"
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    reencoded = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert reencoded == text, f"{what} is not canonical base64url: {text!r}"
    return data


def public_key_of(origin: Any) -> Ed25519PublicKey:
    assert isinstance(origin, str), f"origin is not a string: {origin!r}"
    assert origin.startswith("ed25519:"), f"origin {origin!r} does not start with 'ed25519:'"
    raw = b64url_nopad_decode(origin[len("ed25519:") :], "origin key")
    assert len(raw) == 32, f"origin {origin!r} is {len(raw)} bytes, not 32"
    return Ed25519PublicKey.from_public_bytes(raw)


def jcs(value: Any) -> bytes:
    return rfc8785.dumps(value)


def sha256_tag(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def header_hash(header: dict[str, Any]) -> str:
    """What the next entry's ``prev`` must be."""
    return sha256_tag(jcs(header))


def verify_entry(entry: Any) -> None:
    """Everything one entry proves alone: shape, origin, signature, payload commitment."""
    assert isinstance(entry, dict), f"entry is not an object: {entry!r}"
    assert set(entry) == {"header", "sig", "payload"}, f"entry keys are {sorted(entry)}"
    header = entry["header"]
    assert isinstance(header, dict), f"header is not an object: {header!r}"
    assert set(header) - {"signer"} == HEADER_FIELDS, f"header fields are {sorted(header)}"
    assert header.get("signer") != header["origin"], "signer is given only when not the origin"
    seq = header["seq"]
    where = f"entry seq {seq!r}"
    assert header["v"] == 1 and type(header["v"]) is int, f"{where}: v is {header['v']!r}"
    assert type(seq) is int and seq >= 1, f"{where}: seq is not an integer >= 1"
    assert header["kind"] in KINDS, f"{where}: unknown kind {header['kind']!r}"
    assert isinstance(header["oid"], str) and header["oid"], f"{where}: bad oid"
    assert header["op"] in ("put", "delete"), f"{where}: op is {header['op']!r}"
    assert isinstance(header["ts"], str) and _TS.fullmatch(header["ts"]), (
        f"{where}: ts {header['ts']!r} is not RFC 3339 UTC"
    )
    # After a key rotation (docs/protocol.md 17) the header names the key that signed it;
    # verify_log checks that this key was the origin's key in force at that seq.
    public_key = public_key_of(header.get("signer", header["origin"]))
    signature = b64url_nopad_decode(entry["sig"], f"{where}: sig")
    assert len(signature) == 64, f"{where}: signature is {len(signature)} bytes, not 64"
    try:
        public_key.verify(signature, jcs(header))
    except InvalidSignature:
        raise AssertionError(
            f"{where}: Ed25519 signature does not verify over JCS(header)"
        ) from None

    payload = entry["payload"]
    if header["op"] == "delete":
        assert payload is None, f"{where}: a delete carries a payload"
        assert header["payload_hash"] is None, f"{where}: delete with a payload_hash"
        assert header["payload_len"] == 0 and type(header["payload_len"]) is int, (
            f"{where}: delete with payload_len {header['payload_len']!r}"
        )
        return
    assert isinstance(header["payload_hash"], str) and _SHA256.fullmatch(header["payload_hash"]), (
        f"{where}: put with payload_hash {header['payload_hash']!r}"
    )
    assert type(header["payload_len"]) is int and header["payload_len"] > 0, (
        f"{where}: put with payload_len {header['payload_len']!r}"
    )
    if payload is None:
        return  # purged after a tombstone: checked by verify_log
    assert isinstance(payload, dict), f"{where}: payload is not an object"
    data = jcs(payload)
    assert len(data) == header["payload_len"], (
        f"{where}: payload_len {header['payload_len']} but JCS(payload) is {len(data)} bytes"
    )
    assert sha256_tag(data) == header["payload_hash"], (
        f"{where}: payload_hash does not match sha256(JCS(payload))"
    )


def verify_log(entries: list[dict[str, Any]]) -> None:
    """Verify one origin's whole log, from seq 1: each entry, the chain, the tombstones."""
    assert isinstance(entries, list), "the log is not a list"
    assert entries, "the log is empty"
    origin = None
    previous: dict[str, Any] | None = None
    node_key: str | None = None
    recovery_key: str | None = None
    for index, entry in enumerate(entries):
        verify_entry(entry)
        header = entry["header"]
        where = f"entry seq {header['seq']}"
        if origin is None:
            origin = node_key = header["origin"]
        assert header["origin"] == origin, f"{where}: origin {header['origin']} != {origin}"
        signer = header.get("signer", header["origin"])
        recovering = header["kind"] == "key" and signer == recovery_key is not None
        assert signer == node_key or recovering, f"{where}: signed by {signer}, not {node_key}"
        if header["kind"] == "key":
            payload = entry["payload"]
            assert isinstance(payload, dict), f"{where}: a key entry without its payload"
            node_key = payload["node_key"]
            if recovering or recovery_key is None:
                recovery_key = payload.get("recovery_key", recovery_key)
        assert header["seq"] == index + 1, (
            f"{where}: expected seq {index + 1} (seq must be contiguous from 1)"
        )
        if previous is None:
            assert header["prev"] is None, f"{where}: prev must be null for seq 1"
        else:
            assert header["prev"] == header_hash(previous), (
                f"{where}: prev {header['prev']!r} is not sha256 of JCS(header of seq "
                f"{previous['seq']}) = {header_hash(previous)!r}"
            )
        previous = header

    # Tombstones: every version before a delete has its payload purged, and a purged put
    # is only allowed when a later delete of the same object explains it.
    last_delete: dict[tuple[str, str], int] = {}
    for entry in entries:
        header = entry["header"]
        if header["op"] == "delete":
            last_delete[(header["kind"], header["oid"])] = header["seq"]
    for entry in entries:
        header = entry["header"]
        if header["op"] != "put":
            continue
        key = (header["kind"], header["oid"])
        deleted_later = last_delete.get(key, 0) > header["seq"]
        where = f"entry seq {header['seq']} ({header['kind']} {header['oid']})"
        if deleted_later:
            assert entry["payload"] is None, (
                f"{where}: deleted later at seq {last_delete[key]} but its payload is kept"
            )
        else:
            assert entry["payload"] is not None, (
                f"{where}: payload is null but no later delete of this object exists"
            )
