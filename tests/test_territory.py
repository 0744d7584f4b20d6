"""federation.territory: which origins a node that follows a territory keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from federation.territory import (
    Near,
    Territory,
    contains,
    distance_km,
    member_test,
    parse_territory,
    restrict,
)

BREST = {"nom": "EPN Bellevue", "code_insee": "29019", "latitude": 48.4049, "longitude": -4.5071}
QUIMPER = {"nom": "Médiathèque", "code_insee": "29232", "latitude": 47.996, "longitude": -4.1026}
LYON = {"nom": "Espace numérique", "code_insee": "69387"}  # no point
O_BREST, O_QUIMPER, O_LYON, O_UNKNOWN = "o-brest", "o-quimper", "o-lyon", "o-unknown"
PLACES = {O_BREST: BREST, O_QUIMPER: QUIMPER, O_LYON: LYON}


def test_distance_on_the_reference_sphere() -> None:
    assert distance_km(0, 0, 0, 1) == pytest.approx(111.1951, abs=1e-3)
    assert distance_km(48.4049, -4.5071, 48.4049, -4.5071) == 0
    assert distance_km(48.4049, -4.5071, 47.996, -4.1026) == pytest.approx(54.0, abs=1.0)


def test_membership_by_id_commune_or_distance() -> None:
    by_commune = Territory(communes=frozenset({"29019"}))
    assert contains(by_commune, O_BREST, BREST)
    assert not contains(by_commune, O_QUIMPER, QUIMPER)
    near = Territory(near=Near(48.3904, -4.4861, 30))
    assert contains(near, O_BREST, BREST)
    assert not contains(near, O_QUIMPER, QUIMPER)
    assert not contains(near, O_LYON, LYON)  # no point: not near anything
    wider = Territory(near=Near(48.3904, -4.4861, 60))
    assert contains(wider, O_QUIMPER, QUIMPER)
    by_id = Territory(origins=frozenset({O_UNKNOWN}))
    assert contains(by_id, O_UNKNOWN, None)
    assert not contains(by_commune, O_UNKNOWN, None)  # place unknown: only by id


def test_a_point_that_is_not_a_number_is_no_point() -> None:
    near = Territory(near=Near(48.39, -4.49, 30))
    assert not contains(near, "x", {"latitude": "48.39", "longitude": -4.49})


def test_member_test_and_restrict() -> None:
    territory = Territory(communes=frozenset({"29019", "29232"}))
    test = member_test(territory, PLACES.get)
    assert test is not None
    vector = {O_BREST: 4, O_QUIMPER: 2, O_LYON: 9, O_UNKNOWN: 1}
    assert restrict(vector, test) == {O_BREST: 4, O_QUIMPER: 2}
    assert member_test(None, PLACES.get) is None
    assert restrict(vector, None) == vector


def test_json_round_trip_of_the_examples() -> None:
    folder = Path(__file__).parent.parent / "schemas" / "examples" / "territory" / "valid"
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text())
        territory = parse_territory(document)
        assert territory.to_json() == {
            key: sorted(value) if isinstance(value, list) else value
            for key, value in document.items()
        }
