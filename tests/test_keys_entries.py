"""Unit tests of ``federation``: keys and key files, origin ids, signed entries, chains.

Every entry built here is also checked by ``tests/independent_verifier.py``, which shares
no code with ``federation``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation import schema
from federation.canonical import canonical_bytes, sha256_tag
from federation.chain import Head, check_successor, verify_log
from federation.entry import Entry, build_entry, parse_entry
from federation.errors import (
    BadSignature,
    BrokenChain,
    EntryRejected,
    EntryTooLarge,
    FederationError,
    ForkDetected,
    FutureTimestamp,
    InvalidEntrySchema,
    KeyFileError,
    MalformedEntry,
    OriginFrozen,
    PayloadMismatch,
    SchemaError,
)
from federation.keys import NodeKey, origin_id, public_key_from_origin, verify_signature
from tests import independent_verifier as iv

ORIGIN_RE = re.compile(r"ed25519:[A-Za-z0-9_-]{43}")
FIXED_TS = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> NodeKey:
    return NodeKey.generate()


def signed(key: NodeKey, header: dict[str, Any], payload: Any = None) -> dict[str, Any]:
    """An entry document whose (possibly invalid) header carries a valid signature."""
    return {"header": header, "sig": key.sign(canonical_bytes(header)), "payload": payload}


def skill_entry(key: NodeKey, seq: int = 1, prev: str | None = None, **payload: Any) -> Entry:
    body = {"title": "Courriels pour débutants", "theme": "Courriels", **payload}
    return build_entry(
        key, seq=seq, prev=prev, kind="skill", oid="skill-1", op="put", payload=body, ts=FIXED_TS
    )


def wire(entry: Entry) -> dict[str, Any]:
    """The entry as another node receives it: JSON text, parsed again."""
    result: dict[str, Any] = json.loads(json.dumps(entry.to_json()))
    return result


# -- keys -----------------------------------------------------------------------------


def test_key_save_creates_file_0600_and_load_round_trips(tmp_path: Path, key: NodeKey) -> None:
    path = tmp_path / "node.key"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = NodeKey.load(path)
    assert loaded.origin == key.origin
    data = b"hello"
    assert verify_signature(key.origin, data, loaded.sign(data))


def test_save_ignores_a_permissive_umask(tmp_path: Path, key: NodeKey) -> None:
    old = os.umask(0)
    try:
        key.save(tmp_path / "node.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "node.key").stat().st_mode) == 0o600


def test_generated_keys_differ() -> None:
    assert NodeKey.generate().origin != NodeKey.generate().origin


def test_save_never_overwrites(tmp_path: Path, key: NodeKey) -> None:
    path = tmp_path / "node.key"
    NodeKey.generate().save(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="never overwritten"):
        key.save(path)
    assert path.read_bytes() == before
    assert NodeKey.load(path).origin != key.origin


def test_save_into_missing_directory_is_a_key_file_error(tmp_path: Path, key: NodeKey) -> None:
    with pytest.raises(KeyFileError, match="cannot create key file"):
        key.save(tmp_path / "missing" / "node.key")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o620, 0o602])
def test_load_refuses_a_key_others_can_access(tmp_path: Path, key: NodeKey, mode: int) -> None:
    path = tmp_path / "node.key"
    key.save(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError) as caught:
        NodeKey.load(path)
    message = str(caught.value)
    assert "readable by other users" in message
    assert f"chmod 600 {path}" in message
    assert f"{mode & 0o777:o}" in message
    assert "\n" not in message


def test_load_accepts_owner_read_only(tmp_path: Path, key: NodeKey) -> None:
    path = tmp_path / "node.key"
    key.save(path)
    path.chmod(0o400)
    assert NodeKey.load(path).origin == key.origin


def test_load_missing_key_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="papi init"):
        NodeKey.load(tmp_path / "node.key")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a key at all\n",
        b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n",
        bytes(range(256)),
    ],
    ids=["empty", "text", "truncated-pem", "binary"],
)
def test_load_corrupt_key_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "node.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="corrupt"):
        NodeKey.load(path)


def test_load_refuses_a_key_of_another_type(tmp_path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "node.key"
    path.write_bytes(pem)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="Ed25519"):
        NodeKey.load(path)


def test_key_file_error_is_a_federation_error() -> None:
    assert issubclass(KeyFileError, FederationError)


def test_repr_shows_the_origin_only(tmp_path: Path, key: NodeKey) -> None:
    key.save(tmp_path / "node.key")
    pem_body = (tmp_path / "node.key").read_text().splitlines()[1]
    assert key.origin in repr(key)
    assert pem_body not in repr(key)


# -- origin ids -----------------------------------------------------------------------


def test_origin_id_is_ed25519_prefix_and_unpadded_base64url_of_raw_public_key(
    key: NodeKey,
) -> None:
    assert ORIGIN_RE.fullmatch(key.origin)
    assert len(key.origin) == 51
    assert "=" not in key.origin
    raw = base64.urlsafe_b64decode(key.origin.removeprefix("ed25519:") + "=")
    assert len(raw) == 32
    public = public_key_from_origin(key.origin)
    assert origin_id(public) == key.origin
    assert public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw
    # The independent verifier reads it the same way.
    assert (
        iv.public_key_of(key.origin).public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        == raw
    )


@pytest.mark.parametrize(
    "origin",
    [
        "ed25519:",
        "rsa:AAAA",
        "ed25519:" + "A" * 42,
        "ed25519:" + "A" * 43 + "=",
        "ed25519:" + "A" * 44,
        "ed25519:" + "+" * 43,
    ],
)
def test_public_key_from_origin_rejects_malformed_ids(origin: str) -> None:
    with pytest.raises(ValueError):
        public_key_from_origin(origin)


def test_verify_signature(key: NodeKey) -> None:
    data = canonical_bytes({"a": 1})
    sig = key.sign(data)
    assert re.fullmatch(r"[A-Za-z0-9_-]{86}", sig)
    assert len(base64.urlsafe_b64decode(sig + "==")) == 64
    Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key.origin[8:] + "=")).verify(
        base64.urlsafe_b64decode(sig + "=="), data
    )
    assert verify_signature(key.origin, data, sig)
    assert not verify_signature(key.origin, data + b" ", sig)
    assert not verify_signature(NodeKey.generate().origin, data, sig)
    assert not verify_signature(key.origin, data, sig + "==")
    assert not verify_signature(key.origin, data, "not base64!")
    assert not verify_signature("ed25519:short", data, sig)


# -- building and parsing entries -----------------------------------------------------


def test_build_parse_round_trip(key: NodeKey) -> None:
    entry = skill_entry(key, description="Écrire, répondre, joindre un fichier 📎")
    parsed = parse_entry(wire(entry))
    assert parsed.header == entry.header
    assert parsed.sig == entry.sig
    assert parsed.payload == entry.payload
    assert (parsed.origin, parsed.seq, parsed.kind, parsed.oid, parsed.op, parsed.prev) == (
        key.origin,
        1,
        "skill",
        "skill-1",
        "put",
        None,
    )
    assert parsed.header_hash == iv.header_hash(entry.header)
    iv.verify_log([wire(entry)])


def test_header_fields_follow_the_brief(key: NodeKey) -> None:
    entry = skill_entry(key)
    header = entry.header
    assert set(header) == iv.HEADER_FIELDS
    assert header["v"] == 1
    assert header["origin"] == key.origin
    assert header["ts"] == "2026-03-14T09:30:00Z"
    payload_bytes = canonical_bytes(entry.payload)
    assert header["payload_hash"] == "sha256:" + hashlib.sha256(payload_bytes).hexdigest()
    assert header["payload_len"] == len(payload_bytes)
    assert entry.sig == key.sign(canonical_bytes(header))


def test_delete_entry_has_no_payload(key: NodeKey) -> None:
    entry = build_entry(
        key, seq=2, prev="sha256:" + "0" * 64, kind="skill", oid="skill-1", op="delete",
        payload={"title": "ignored"},
    )  # fmt: skip
    assert entry.payload is None
    assert entry.header["payload_hash"] is None
    assert entry.header["payload_len"] == 0
    assert parse_entry(wire(entry)).op == "delete"


def test_purged_put_parses(key: NodeKey) -> None:
    entry = skill_entry(key).without_payload()
    document = wire(entry)
    assert document["payload"] is None
    assert parse_entry(document).payload is None


def test_canonical_form_ignores_key_order_and_whitespace(key: NodeKey) -> None:
    entry = skill_entry(key, level="Débutant", description="x")
    document = wire(entry)
    assert document["payload"] is not None
    document["payload"] = dict(reversed(list(document["payload"].items())))
    document["header"] = dict(reversed(list(document["header"].items())))
    text = json.dumps(document, indent=4, ensure_ascii=True)
    parse_entry(json.loads(text))


def test_place_payload_with_numbers_round_trips(key: NodeKey) -> None:
    payload = {
        "nom": "Médiathèque de Landerneau",
        "latitude": 48.4508,
        "longitude": -4.2494,
        "services": ["Aide aux démarches administratives"],
    }
    entry = build_entry(key, seq=1, prev=None, kind="place", oid="place", op="put", payload=payload)
    parse_entry(wire(entry))
    iv.verify_log([wire(entry)])


def _mutate(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = document
        for part in parents:
            target = target[part]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return apply


_DELETE = object()
OTHER_HASH = "sha256:" + "ab" * 32
SOME_HASH = "sha256:" + "cd" * 32

# (name, mutation, exception): tampering with what the signature covers must fail.
TAMPERING: list[tuple[str, Callable[[dict[str, Any]], None], type[EntryRejected]]] = [
    ("header.seq", _mutate("header.seq", 3), BadSignature),
    ("header.prev", _mutate("header.prev", OTHER_HASH), BadSignature),
    ("header.ts", _mutate("header.ts", "2026-03-14T09:30:01Z"), BadSignature),
    ("header.kind", _mutate("header.kind", "equipment"), BadSignature),
    ("header.oid", _mutate("header.oid", "skill-2"), BadSignature),
    ("header.origin", _mutate("header.origin", NodeKey.generate().origin), BadSignature),
    ("header.payload_hash", _mutate("header.payload_hash", OTHER_HASH), BadSignature),
    ("header.payload_len", _mutate("header.payload_len", 12), BadSignature),
    ("header.op", _mutate("header.op", "delete"), InvalidEntrySchema),
    ("header.v", _mutate("header.v", 2), InvalidEntrySchema),
    ("header.origin format", _mutate("header.origin", "rsa:abc"), InvalidEntrySchema),
    ("header.seq zero", _mutate("header.seq", 0), InvalidEntrySchema),
    ("header.seq 1 with prev", _mutate("header.seq", 1), InvalidEntrySchema),
    ("header.prev null after 1", _mutate("header.prev", None), InvalidEntrySchema),
    ("header.prev format", _mutate("header.prev", "sha1:" + "0" * 40), InvalidEntrySchema),
    ("header.seq string", _mutate("header.seq", "1"), InvalidEntrySchema),
    ("header.ts format", _mutate("header.ts", "2026-03-14 09:30:00"), InvalidEntrySchema),
    ("header.kind unknown", _mutate("header.kind", "recipe"), InvalidEntrySchema),
    ("header.oid newline", _mutate("header.oid", "skill-1\n"), InvalidEntrySchema),
    ("header extra field", _mutate("header.extra", 1), InvalidEntrySchema),
    ("header missing field", _mutate("header.ts", _DELETE), InvalidEntrySchema),
    ("header.payload_len huge", _mutate("header.payload_len", 1_000_000), EntryTooLarge),
    ("sig other bytes", _mutate("sig", "A" * 86), BadSignature),
    ("sig padded", _mutate("sig", "A" * 86 + "=="), InvalidEntrySchema),
    ("sig standard base64", _mutate("sig", "+" * 86), InvalidEntrySchema),
    ("sig truncated", _mutate("sig", "A" * 85), InvalidEntrySchema),
    ("payload.title", _mutate("payload.title", "Courriels avancés"), PayloadMismatch),
    ("payload extra", _mutate("payload.level", "Avancé"), PayloadMismatch),
    ("payload removed field", _mutate("payload.theme", _DELETE), PayloadMismatch),
    ("payload not an object", _mutate("payload", ["Courriels"]), InvalidEntrySchema),
    ("entry extra key", _mutate("extra", True), MalformedEntry),
    ("entry missing sig", _mutate("sig", _DELETE), MalformedEntry),
]


@pytest.mark.parametrize(
    ("mutate", "error"), [(m, e) for _, m, e in TAMPERING], ids=[n for n, _, _ in TAMPERING]
)
def test_tampering_is_rejected_with_the_right_error(
    key: NodeKey, mutate: Callable[[dict[str, Any]], None], error: type[EntryRejected]
) -> None:
    document = wire(skill_entry(key, seq=2, prev=SOME_HASH))
    parse_entry(copy.deepcopy(document))  # the untouched entry is valid
    mutate(document)
    with pytest.raises(error) as caught:
        parse_entry(document)
    assert type(caught.value) is error
    assert caught.value.code == error.code
    # Another implementation rejects it too (payload_len over the limit aside, it is
    # a local policy, and a purely structural entry error).
    if error is not EntryTooLarge:
        with pytest.raises(AssertionError):
            iv.verify_entry(document)


@pytest.mark.parametrize("document", [None, [], "entry", 42, {"header": {}}])
def test_non_entries_are_malformed(document: Any) -> None:
    with pytest.raises(MalformedEntry):
        parse_entry(document)


def test_delete_carrying_a_payload_is_a_payload_mismatch(key: NodeKey) -> None:
    entry = build_entry(key, seq=1, prev=None, kind="skill", oid="s", op="delete", payload=None)
    document = wire(entry)
    document["payload"] = {"title": "smuggled"}
    with pytest.raises(PayloadMismatch):
        parse_entry(document)


def test_signed_entry_with_invalid_payload_is_a_schema_error(key: NodeKey) -> None:
    payload = {"title": "x", "theme": "Cuisine"}
    data = canonical_bytes(payload)
    header = {
        **skill_entry(key).header,
        "payload_hash": sha256_tag(data),
        "payload_len": len(data),
    }
    with pytest.raises(InvalidEntrySchema) as caught:
        parse_entry(signed(key, header, payload))
    assert caught.value.field == "theme"


def test_signed_entry_with_impossible_date_is_a_schema_error(key: NodeKey) -> None:
    header = {**skill_entry(key).header, "ts": "2026-13-45T25:61:00Z"}
    with pytest.raises(InvalidEntrySchema) as caught:
        parse_entry(signed(key, header, skill_entry(key).payload))
    assert caught.value.field == "header.ts"
    assert "does not match" in caught.value.message and "[0-9]" not in caught.value.message
    with pytest.raises(InvalidEntrySchema):
        parse_entry(signed(key, header, skill_entry(key).payload), max_future=None)


def test_signed_entry_whose_payload_has_no_canonical_form_is_malformed(key: NodeKey) -> None:
    # 2**60 is valid JSON but outside the I-JSON range that RFC 8785 can canonicalise.
    payload = {"title": "x", "quantity": 2**60}
    header = {**skill_entry(key).header, "kind": "equipment"}
    with pytest.raises(MalformedEntry):
        parse_entry(signed(key, header, payload))


def test_signed_header_with_trailing_newline_oid_is_rejected(key: NodeKey) -> None:
    header = {**skill_entry(key).header, "oid": "skill-1\n"}
    with pytest.raises(InvalidEntrySchema) as caught:
        parse_entry(signed(key, header, skill_entry(key).payload))
    assert caught.value.field == "header.oid"


@pytest.mark.parametrize("oid", ["abc\n", "abc\r\n", "\nabc", "a b", "", "a" * 65, "é"])
def test_schema_rejects_bad_oids(key: NodeKey, oid: str) -> None:
    header = {**skill_entry(key).header, "oid": oid}
    with pytest.raises(SchemaError) as caught:
        schema.validate("urn:papi:header", header)
    assert caught.value.field == "oid"
    with pytest.raises(SchemaError):
        build_entry(key, seq=1, prev=None, kind="skill", oid=oid, op="put", payload={"title": "t"})


def test_schema_pattern_anchors_like_ecmascript() -> None:
    payload = {"nom": "x", "code_postal": "29200\n"}
    with pytest.raises(SchemaError) as caught:
        schema.validate("urn:papi:payload/place", payload)
    assert caught.value.field == "code_postal"


def test_future_timestamp(key: NodeKey) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    entry = skill_entry(key)  # dated 2026-03-14
    with pytest.raises(FutureTimestamp) as caught:
        parse_entry(wire(entry), now=now)
    assert caught.value.code == "future_timestamp"
    parse_entry(wire(entry), now=now, max_future=timedelta(days=14))
    parse_entry(wire(entry), now=now, max_future=None)
    parse_entry(wire(entry), now=FIXED_TS - timedelta(hours=23))
    # An old timestamp is fine: ts is informative only.
    parse_entry(wire(entry), now=FIXED_TS + timedelta(days=3650))


def test_entry_too_large(key: NodeKey) -> None:
    entry = skill_entry(key, description="é" * 5000)
    assert entry.header["payload_len"] > 10_000
    with pytest.raises(EntryTooLarge) as caught:
        parse_entry(wire(entry), max_payload_bytes=10_000)
    assert caught.value.code == "too_large"
    parse_entry(wire(entry), max_payload_bytes=entry.header["payload_len"])
    with pytest.raises(SchemaError, match="over the 10000 limit"):
        build_entry(
            key, seq=1, prev=None, kind="skill", oid="s", op="put",
            payload={"title": "t", "description": "é" * 5000}, max_payload_bytes=10_000,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"payload": {"title": ""}}, "title"),
        ({"payload": {"title": "t" * 201}}, "title"),
        ({"payload": {"title": "t", "description": "d" * 20_001}}, "description"),
        ({"payload": {"title": "t", "bogus": 1}}, "bogus"),
        ({"payload": {"description": "no title"}}, "title"),
        ({"payload": None}, "payload"),
        ({"op": "patch"}, "op"),
        ({"kind": "letter"}, "kind"),
        ({"kind": "key"}, "oid"),
    ],
)
def test_build_entry_validates(key: NodeKey, kwargs: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {
        "seq": 1, "prev": None, "kind": "skill", "oid": "s", "op": "put",
        "payload": {"title": "t"}, **kwargs,
    }  # fmt: skip
    with pytest.raises(SchemaError) as caught:
        build_entry(key, **arguments)
    assert caught.value.field == field


def test_build_entry_event_end_before_start(key: NodeKey) -> None:
    payload = {
        "title": "Atelier",
        "start": "2026-05-02T14:00:00+02:00",
        "end": "2026-05-02T13:00:00+02:00",
    }
    with pytest.raises(SchemaError) as caught:
        build_entry(key, seq=1, prev=None, kind="event", oid="e", op="put", payload=payload)
    assert caught.value.field == "end"


def test_build_entry_seq_1_needs_null_prev(key: NodeKey) -> None:
    with pytest.raises(SchemaError):
        skill_entry(key, seq=1, prev=OTHER_HASH)
    with pytest.raises(SchemaError):
        skill_entry(key, seq=2, prev=None)


def test_rejection_codes_are_stable_and_distinct() -> None:
    classes = [
        MalformedEntry, EntryTooLarge, InvalidEntrySchema, BadSignature, PayloadMismatch,
        FutureTimestamp, BrokenChain, ForkDetected, OriginFrozen,
    ]  # fmt: skip
    codes = [cls.code for cls in classes]
    assert codes == [
        "malformed", "too_large", "schema", "bad_signature", "payload_mismatch",
        "future_timestamp", "broken_chain", "fork", "origin_frozen",
    ]  # fmt: skip
    for cls in classes:
        assert issubclass(cls, EntryRejected)
        assert issubclass(cls, FederationError)


# -- chains ---------------------------------------------------------------------------


def chain(key: NodeKey, length: int) -> list[Entry]:
    entries: list[Entry] = []
    head = Head()
    for seq in range(1, length + 1):
        entry = build_entry(
            key, seq=seq, prev=head.hash, kind="skill", oid=f"s{seq}", op="put",
            payload={"title": f"Compétence {seq}"},
        )  # fmt: skip
        head = Head(seq, entry.header_hash)
        entries.append(entry)
    return entries


def test_verify_log_accepts_a_good_chain(key: NodeKey) -> None:
    entries = chain(key, 4)
    head = verify_log(entries)
    assert head == Head(4, entries[-1].header_hash)
    assert entries[1].prev == iv.header_hash(entries[0].header)
    # Resuming from a known head.
    assert verify_log(entries[2:], Head(2, entries[1].header_hash)) == head
    iv.verify_log([wire(e) for e in entries])


def test_check_successor_wrong_prev(key: NodeKey) -> None:
    entries = chain(key, 2)
    forged = build_entry(
        key, seq=2, prev=OTHER_HASH, kind="skill", oid="x", op="put", payload={"title": "x"}
    )
    head = check_successor(Head(), entries[0])
    with pytest.raises(BrokenChain, match="prev"):
        check_successor(head, forged)
    with pytest.raises(BrokenChain):
        verify_log([entries[0], forged])
    with pytest.raises(AssertionError, match="prev"):
        iv.verify_log([wire(entries[0]), wire(forged)])


def test_check_successor_gap_and_duplicate(key: NodeKey) -> None:
    entries = chain(key, 3)
    with pytest.raises(BrokenChain, match="seq 3 does not follow 1"):
        verify_log([entries[0], entries[2]])
    with pytest.raises(BrokenChain):
        check_successor(Head(), entries[1])
    with pytest.raises(BrokenChain):
        verify_log([entries[0], entries[0]])
    with pytest.raises(AssertionError, match="contiguous"):
        iv.verify_log([wire(entries[0]), wire(entries[2])])
    with pytest.raises(AssertionError, match="contiguous"):
        iv.verify_log([wire(e) for e in entries[1:]])


def test_head_of_other_origin_breaks_the_chain(key: NodeKey) -> None:
    mine, theirs = chain(key, 2), chain(NodeKey.generate(), 2)
    with pytest.raises(BrokenChain):
        check_successor(Head(1, theirs[0].header_hash), mine[1])
    with pytest.raises(AssertionError, match="origin"):
        iv.verify_log([wire(mine[0]), wire(theirs[1])])


# -- the independent verifier agrees, and catches what it must ------------------------


def tombstoned_log(key: NodeKey) -> list[dict[str, Any]]:
    """seq 1 put A, 2 put B, 3 update A, 4 delete A: A's payloads purged, B kept."""
    entries: list[Entry] = []
    head = Head()
    steps: list[tuple[str, str, dict[str, Any] | None]] = [
        ("a", "put", {"title": "Tablette"}),
        ("b", "put", {"title": "Vidéoprojecteur", "quantity": 2}),
        ("a", "put", {"title": "Tablette Android", "condition": "bon état"}),
        ("a", "delete", None),
    ]
    for seq, (oid, op, payload) in enumerate(steps, 1):
        entry = build_entry(
            key, seq=seq, prev=head.hash, kind="equipment", oid=oid, op=op, payload=payload
        )
        head = check_successor(head, entry)
        entries.append(entry)
    purged = [e.without_payload() if e.oid == "a" else e for e in entries]
    return [wire(e) for e in purged]


def test_independent_verifier_accepts_federation_logs(key: NodeKey) -> None:
    log = tombstoned_log(key)
    iv.verify_log(log)
    for document in log:
        parse_entry(document)


def test_independent_verifier_catches_unpurged_tombstoned_payload(key: NodeKey) -> None:
    log = tombstoned_log(key)
    log[0]["payload"] = {"title": "Tablette"}
    parse_entry(log[0])  # valid alone...
    with pytest.raises(AssertionError, match="deleted later"):
        iv.verify_log(log)  # ...but not in a log where it was deleted


def test_independent_verifier_catches_purge_without_tombstone(key: NodeKey) -> None:
    log = tombstoned_log(key)
    log[1]["payload"] = None
    with pytest.raises(AssertionError, match="no later delete"):
        iv.verify_log(log)


def test_independent_verifier_catches_tampered_payload(key: NodeKey) -> None:
    log = tombstoned_log(key)
    log[1]["payload"]["quantity"] = 3
    with pytest.raises(AssertionError, match="payload_hash"):
        iv.verify_log(log)


def test_independent_verifier_catches_bad_signature(key: NodeKey) -> None:
    log = tombstoned_log(key)
    log[2]["sig"] = log[1]["sig"]
    with pytest.raises(AssertionError, match="signature"):
        iv.verify_log(log)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(min_size=1, max_size=200),
    description=st.text(max_size=400),
    quantity=st.integers(min_value=1, max_value=100_000),
)
def test_any_valid_payload_round_trips_and_verifies(
    title: str, description: str, quantity: int
) -> None:
    key = _PROPERTY_KEY
    payload = {"title": title, "description": description, "quantity": quantity}
    first = build_entry(key, seq=1, prev=None, kind="equipment", oid="p", op="put", payload=payload)
    second = build_entry(
        key, seq=2, prev=first.header_hash, kind="equipment", oid="p", op="delete", payload=None
    )
    documents = [wire(first), wire(second)]
    parsed = [parse_entry(d) for d in documents]
    assert parsed[0].payload == payload
    verify_log(parsed)
    iv.verify_log([wire(first), wire(second)][:1])
    iv.verify_log([wire(first.without_payload()), wire(second)])


_PROPERTY_KEY = NodeKey.generate()
