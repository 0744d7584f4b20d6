"""federation.reconcile: the cursor of "what did you store since my last visit"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from federation import schema
from federation.reconcile import (
    changes_since,
    decode_cursor,
    encode_cursor,
    missing_heads,
    settled_position,
)

O1, O2, O3 = "ed25519:one", "ed25519:two", "ed25519:three"
# (position, origin, seq) in the order a node stored them.
ARRIVALS = [(1, O1, 1), (2, O1, 2), (3, O2, 1), (4, O1, 3), (5, O3, 7), (6, O2, 2)]


def test_cursor_round_trip_and_epochs() -> None:
    cursor = encode_cursor("k3v9QdA7", 1844)
    assert cursor == "k3v9QdA7.1844"
    assert decode_cursor(cursor, "k3v9QdA7") == 1844
    assert decode_cursor(cursor, "another") is None  # restored or rebuilt: reset
    assert decode_cursor(cursor, "k3v9QdA7", last=1844) == 1844
    assert decode_cursor(cursor, "k3v9QdA7", last=1843) is None  # not a position of ours
    for bad in (None, "", "k3v9QdA7", "k3v9QdA7.", "k3v9QdA7.12\n", "k3 9.12", "a.b.1x"):
        assert decode_cursor(bad, "k3v9QdA7") is None, bad
    with pytest.raises(ValueError):
        encode_cursor("not an epoch", 1)


def test_the_cursor_pattern_is_the_schemas() -> None:
    changes = {"cursor": encode_cursor("Zt0p1x", 9120), "changes": {}}
    schema.validate("urn:papi:changes-response", changes)


def test_changes_are_heads_of_the_origins_that_moved() -> None:
    assert changes_since(ARRIVALS, since=0, settled=6).heads == {O1: 3, O2: 2, O3: 7}
    after = changes_since(ARRIVALS, since=3, settled=6)
    assert after.heads == {O1: 3, O3: 7, O2: 2}
    assert after.position == 6 and not after.more


def test_only_settled_arrivals_are_listed_and_heads_are_as_of_that_position() -> None:
    answer = changes_since(ARRIVALS, since=2, settled=4)
    assert answer.heads == {O2: 1, O1: 3}
    assert answer.position == 4
    # The next visit lists what came after.
    assert changes_since(ARRIVALS, since=answer.position, settled=6).heads == {O3: 7, O2: 2}


def test_nothing_moved_advances_the_cursor_to_the_settled_position() -> None:
    answer = changes_since([], since=6, settled=9)
    assert answer.heads == {} and answer.position == 9 and not answer.more
    # A settled position behind the cursor (the responder's clock went back) keeps it.
    assert changes_since([], since=6, settled=4).position == 6


def test_a_long_listing_is_cut_between_origins() -> None:
    first = changes_since(ARRIVALS, since=0, settled=6, limit=2)
    assert first.heads == {O1: 3, O2: 1} and first.more
    assert first.position == 4  # (5, O3) would be a third origin
    rest = changes_since(ARRIVALS, since=first.position, settled=6, limit=2)
    assert rest.heads == {O3: 7, O2: 2} and not rest.more


def test_settled_position() -> None:
    stored = [(1, 100.0), (2, 105.0), (3, 112.0), (4, 120.0)]
    assert settled_position(stored, now=121.0, settle=10.0) == 2
    assert settled_position(stored, now=200.0, settle=10.0) == 4
    assert settled_position(stored, now=105.0, settle=10.0) == 0


def test_missing_heads() -> None:
    changes = {O1: 5, O2: 2, O3: 7}
    mine = {O1: 5, O2: 1}
    assert missing_heads(changes, mine) == {O2: 1, O3: 0}
    assert missing_heads(changes, mine, skipped=[O3]) == {O2: 1}


def test_examples_use_cursors_the_reference_decodes() -> None:
    folder = Path(__file__).parent.parent / "schemas" / "examples" / "changes-response" / "valid"
    for path in folder.glob("*.json"):
        cursor = json.loads(path.read_text())["cursor"]
        epoch = cursor.rpartition(".")[0]
        assert decode_cursor(cursor, epoch) is not None, path
