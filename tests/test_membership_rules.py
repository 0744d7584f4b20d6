"""The protocol rules of membership and keys, without a node: the closure of vouches
(federation/membership.py), the key chain (federation/keychain.py) and entries signed by
a key other than their origin's (``signer``)."""

from __future__ import annotations

import pytest

from federation.entry import build_entry, parse_entry
from federation.errors import BadSignature, InvalidEntrySchema, SchemaError, WrongKey
from federation.keychain import KeyState, advance, is_recovery, key_payload
from federation.keys import NodeKey
from federation.membership import Vouch, members, vouch_oid

F, G, A, B, C, D = (f"ed25519:{name}" for name in "FGABCD")


def test_no_founders_no_members_and_founders_alone() -> None:
    assert members([], [Vouch(A, B)]) == frozenset()
    assert members([F], []) == {F}


def test_closure_follows_chains_of_vouches() -> None:
    vouches = [Vouch(F, A), Vouch(A, B), Vouch(B, C), Vouch(D, A)]
    assert members([F], vouches) == {F, A, B, C}  # D vouches, nobody vouches for D


def test_a_vouch_by_a_revoked_member_no_longer_counts() -> None:
    vouches = [Vouch(F, A, revoked=True), Vouch(A, B), Vouch(B, C)]
    assert members([F], vouches) == {F}


def test_a_founders_revocation_excludes_whatever_others_vouch() -> None:
    vouches = [Vouch(F, A), Vouch(G, B), Vouch(A, B), Vouch(F, B, revoked=True)]
    assert members([F, G], vouches) == {F, G, A}
    # A member's revocation only withdraws its own vouch.
    vouches = [Vouch(F, A), Vouch(F, B), Vouch(A, B, revoked=True)]
    assert members([F], vouches) == {F, A, B}
    # A founder stays a founder.
    assert members([F, G], [Vouch(F, G, revoked=True)]) == {F, G}


def test_required_vouches_are_distinct_members_other_than_the_subject() -> None:
    vouches = [Vouch(F, A), Vouch(F, B), Vouch(A, C), Vouch(C, C), Vouch(D, C)]
    assert members([F], vouches, required=2) == {F, A, B}  # a founder's vouch is enough
    assert C in members([F], [*vouches, Vouch(B, C)], required=2)
    assert C in members([F], [*vouches, Vouch(B, C)], required=2)
    assert C not in members([F], [*vouches, Vouch(B, C)], required=3)
    # Order of the vouches does not matter; a cycle without a founder admits nobody.
    assert members([F], [Vouch(A, B), Vouch(B, A)], required=1) == {F}


def test_vouch_oid_is_derived_from_the_subject_and_checked() -> None:
    key = NodeKey.generate()
    subject = NodeKey.generate().origin
    payload = {"title": "Membre du réseau", "subject": subject}
    good = build_entry(
        key, seq=1, prev=None, kind="vouch", oid=vouch_oid(subject), op="put", payload=payload
    )
    assert parse_entry(good.to_json()).oid == vouch_oid(subject)
    with pytest.raises(SchemaError) as built:
        build_entry(key, seq=1, prev=None, kind="vouch", oid="x", op="put", payload=payload)
    assert built.value.field == "oid"
    forged = build_entry(key, seq=1, prev=None, kind="skill", oid="x", op="put",
                         payload={"title": "t"})  # fmt: skip
    document = forged.to_json()
    document["header"] = {**document["header"], "kind": "vouch"}
    document["payload"] = payload
    from federation.canonical import canonical_bytes, sha256_tag

    body = canonical_bytes(payload)
    document["header"].update(payload_hash=sha256_tag(body), payload_len=len(body))
    document["sig"] = key.sign(canonical_bytes(document["header"]))
    with pytest.raises(InvalidEntrySchema) as parsed:
        parse_entry(document)
    assert parsed.value.field == "oid"


def _key_entry(signing: NodeKey, origin: str, seq: int, payload: dict[str, str]) -> object:
    return build_entry(
        signing, seq=seq, prev=None if seq == 1 else "sha256:" + "0" * 64, kind="key",
        oid="key", op="put", payload=payload, origin=origin,
    )  # fmt: skip


def test_rotation_then_recovery() -> None:
    first, second, third, recovery = (NodeKey.generate() for _ in range(4))
    origin = first.origin
    state = KeyState.initial(origin)
    declare = build_entry(first, seq=2, prev="sha256:" + "0" * 64, kind="key", oid="key",
                          op="put", payload=key_payload(origin, recovery.origin))  # fmt: skip
    assert "signer" not in declare.header
    state = advance(state, declare)
    assert state == KeyState(origin, recovery.origin)
    rotate = build_entry(first, seq=3, prev="sha256:" + "0" * 64, kind="key", oid="key",
                         op="put", payload=key_payload(second.origin))  # fmt: skip
    state = advance(state, rotate)
    assert state.node_key == second.origin and state.recovery_key == recovery.origin
    skill = build_entry(second, seq=4, prev="sha256:" + "0" * 64, kind="skill", oid="s",
                        op="put", payload={"title": "Tableur"}, origin=origin)  # fmt: skip
    assert skill.header["signer"] == second.origin
    assert parse_entry(skill.to_json()) == skill  # the signature is checked against signer
    assert advance(state, skill) == state
    old = build_entry(first, seq=4, prev="sha256:" + "0" * 64, kind="skill", oid="s",
                      op="put", payload={"title": "Tableur"})  # fmt: skip
    with pytest.raises(WrongKey):
        advance(state, old)
    # The node key cannot replace the recovery key; the recovery key can.
    hijack = build_entry(second, seq=5, prev="sha256:" + "0" * 64, kind="key", oid="key",
                         op="put", payload=key_payload(second.origin, third.origin),
                         origin=origin)  # fmt: skip
    with pytest.raises(WrongKey):
        advance(state, hijack)
    recover = build_entry(recovery, seq=5, prev="sha256:" + "0" * 64, kind="key", oid="key",
                          op="put", payload=key_payload(third.origin), origin=origin)  # fmt: skip
    assert is_recovery(state, recover)
    state = advance(state, recover)
    assert state == KeyState(third.origin, recovery.origin, 5)
    # The recovery key signs key entries only.
    stray = build_entry(recovery, seq=6, prev="sha256:" + "0" * 64, kind="skill", oid="s",
                        op="put", payload={"title": "x"}, origin=origin)  # fmt: skip
    with pytest.raises(WrongKey):
        advance(state, stray)


def test_signer_is_checked_and_never_equal_to_the_origin() -> None:
    first, second = NodeKey.generate(), NodeKey.generate()
    entry = build_entry(second, seq=2, prev="sha256:" + "0" * 64, kind="skill", oid="s",
                        op="put", payload={"title": "t"}, origin=first.origin)  # fmt: skip
    document = entry.to_json()
    document["sig"] = first.sign(entry.header_bytes)  # signed by the origin's key instead
    with pytest.raises(BadSignature):
        parse_entry(document)
    plain = build_entry(first, seq=2, prev="sha256:" + "0" * 64, kind="skill", oid="s",
                        op="put", payload={"title": "t"})  # fmt: skip
    header = {**plain.header, "signer": first.origin}
    from federation.canonical import canonical_bytes

    with pytest.raises(InvalidEntrySchema):
        parse_entry({"header": header, "sig": first.sign(canonical_bytes(header)),
                     "payload": plain.payload})  # fmt: skip


def test_a_key_entry_is_a_put_of_oid_key_with_its_payload() -> None:
    key = NodeKey.generate()
    with pytest.raises(SchemaError):
        build_entry(key, seq=2, prev="sha256:" + "0" * 64, kind="key", oid="other", op="put",
                    payload=key_payload(key.origin))  # fmt: skip
    entry = build_entry(key, seq=2, prev="sha256:" + "0" * 64, kind="key", oid="key",
                        op="put", payload=key_payload(key.origin))  # fmt: skip
    with pytest.raises(InvalidEntrySchema):
        parse_entry(entry.without_payload().to_json())  # a stripped key entry
