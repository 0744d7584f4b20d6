"""``GET /api/v1/places`` and ``GET /api/v1/places/{origin}``: the orientation search of
BRIEF section 10 over a small network of the Pays de Brest, in process."""

from __future__ import annotations

from typing import Any

import pytest

from node.models import Origin
from tests.conftest import InProcessNode
from tests.test_search import RemoteLog, ingest

AIDE = "Aide aux démarches administratives"
INSERTION = "Insertion professionnelle via le numérique"
FRIDAY_10 = "2026-11-27T10:00:00+01:00"
BASTILLE_DAY_10 = "2026-07-14T10:00:00+02:00"
OWN = {
    "nom": "EPN Bellevue",
    "adresse": "1 place Napoléon III",
    "code_postal": "29200",
    "commune": "Brest",
    "latitude": 48.4023,
    "longitude": -4.5086,
    "horaires": "Mo-Fr 09:00-12:00,14:00-17:30; PH off",
    "telephone": "+33298000001",
    "services": [AIDE, "Accès internet et matériel informatique"],
    "modalites_acces": ["Se présenter", "Téléphoner"],
}


def remote(name: str, commune: str, **fields: Any) -> RemoteLog:
    log = RemoteLog(name, commune)
    log.place.update(fields)
    return log


@pytest.fixture
async def network(papi: InProcessNode) -> dict[str, str]:
    return await build_network(papi)


async def build_network(papi: InProcessNode) -> dict[str, str]:
    """This node in Brest and six other places (one frozen); their origins by name."""
    response = await papi.client.put("/api/v1/place", json=OWN, headers=papi.auth)
    assert response.status_code == 200, response.text
    places = {
        # No coordinates: placed at its commune (name and postcode).
        "plougastel": remote(
            "Médiathèque de Plougastel",
            "Plougastel-Daoulas",
            code_postal="29470",
            horaires="Tu-Sa 10:00-12:00,14:00-18:00",
            services=[AIDE, "Loisirs et créations numériques"],
            publics_specifiquement_adresses=["Seniors", "Familles et/ou enfants"],
        ),
        # No coordinates, an INSEE code; hours typed in words (cannot be read).
        "landerneau": remote(
            "Cybercommune de Landerneau",
            "Landerneau",
            code_insee="29103",
            horaires="lundi au vendredi 9h-12h",
            services=[INSERTION],
        ),
        "crozon": remote(
            "France services Crozon",
            "Crozon",
            latitude=48.2466,
            longitude=-4.4894,
            services=[AIDE],
            publics_specifiquement_adresses=["Jeunes"],
            prise_en_charge_specifique=["Surdité"],
        ),
        "quimper": remote(
            "EPN de Quimper",
            "Quimper",
            latitude=47.9960,
            longitude=-4.1020,
            horaires="Mo-Fr 09:00-12:00; PH off",
            services=[AIDE, INSERTION],
        ),
        # A commune we cannot find: no distance, listed last.
        "nowhere": remote("Lieu mystère", "Nulle-Part-sur-Mer", services=[AIDE]),
        "frozen": remote(
            "Lieu suspendu", "Brest", latitude=48.39, longitude=-4.49, services=[AIDE]
        ),
    }
    for log in places.values():
        await ingest(papi, [log.place_entry()])
    with papi.node.db.activated():
        await Origin.filter(id=places["frozen"].origin).update(frozen=True)
    return {name: log.origin for name, log in places.items()} | {"own": papi.node.origin}


async def places(papi: InProcessNode, **params: str) -> dict[str, Any]:
    response = await papi.client.get("/api/v1/places", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(body: dict[str, Any]) -> list[str]:
    return [item["nom"] for item in body["items"]]


async def test_every_place_nearest_first_from_this_node(
    papi: InProcessNode, network: dict[str, str]
) -> None:
    body = await places(papi)
    assert names(body) == [
        "EPN Bellevue",
        "Médiathèque de Plougastel",
        "France services Crozon",  # 17 km as the crow flies, across the roadstead
        "Cybercommune de Landerneau",
        "EPN de Quimper",
        "Lieu mystère",
    ]  # the frozen origin's place is left out
    items = {item["nom"]: item for item in body["items"]}
    assert body["near"] == {
        "query": None,
        "source": "self",
        "label": "EPN Bellevue",
        "latitude": 48.4023,
        "longitude": -4.5086,
        "insee": None,
    }
    own = items["EPN Bellevue"]
    assert (own["distance_km"], own["position"], own["self"]) == (0.0, "place", True)
    assert own["origin"] == network["own"]
    assert own["url"] == f"/o/{network['own']}/place/place"
    assert items["Médiathèque de Plougastel"]["position"] == "commune"
    assert 8 < items["Médiathèque de Plougastel"]["distance_km"] < 12
    assert items["Cybercommune de Landerneau"]["position"] == "commune"
    assert 17 < items["Cybercommune de Landerneau"]["distance_km"] < 22
    assert 52 < items["EPN de Quimper"]["distance_km"] < 56
    mystery = items["Lieu mystère"]
    assert (mystery["distance_km"], mystery["latitude"], mystery["position"]) == (None, None, None)
    assert body["total"] == 6
    for item in body["items"]:
        for field in ("origin", "nom", "commune", "adresse", "distance_km", "open", "horaires"):
            assert field in item
        assert isinstance(item["services"], list)


async def test_service_filter_accents_and_case_ignored(
    papi: InProcessNode, network: dict[str, str]
) -> None:
    body = await places(papi, service=AIDE)
    expected = ["EPN Bellevue", "Médiathèque de Plougastel", "France services Crozon"]
    assert names(body) == [*expected, "EPN de Quimper", "Lieu mystère"]
    loose = await places(papi, service="aide aux DEMARCHES administratives")
    assert names(loose) == names(body)
    assert names(await places(papi, service=INSERTION)) == [
        "Cybercommune de Landerneau",
        "EPN de Quimper",
    ]


async def test_open_at_an_instant_in_paris_time(
    papi: InProcessNode, network: dict[str, str]
) -> None:
    body = await places(papi, service=AIDE, at=FRIDAY_10)
    state = {item["nom"]: (item["open"], item["open_state"]) for item in body["items"]}
    assert state == {
        "EPN Bellevue": (True, "open"),
        "Médiathèque de Plougastel": (True, "open"),
        "France services Crozon": (None, "absent"),
        "EPN de Quimper": (True, "open"),
        "Lieu mystère": (None, "absent"),
    }
    assert body["at"] == FRIDAY_10
    own = body["items"][0]
    assert own["next_change"] == "2026-11-27T12:00:00+01:00"
    # The same instant written in UTC.
    again = await places(papi, service=AIDE, at="2026-11-27T09:00:00Z")
    assert [i["open"] for i in again["items"]] == [i["open"] for i in body["items"]]
    # 14 July is a public holiday: "PH off" closes; Plougastel has no such rule.
    holiday = await places(papi, service=AIDE, at=BASTILLE_DAY_10)
    assert {i["nom"]: i["open"] for i in holiday["items"]} == {
        "EPN Bellevue": False,
        "Médiathèque de Plougastel": True,
        "France services Crozon": None,
        "EPN de Quimper": False,
        "Lieu mystère": None,
    }
    only = await places(papi, service=AIDE, at=BASTILLE_DAY_10, open_only="true")
    assert names(only) == ["Médiathèque de Plougastel"]
    assert only["total"] == 1
    landerneau = await places(papi, service=INSERTION, at=FRIDAY_10)
    assert landerneau["items"][0]["open"] is None
    assert landerneau["items"][0]["open_state"] == "unreadable"
    assert landerneau["items"][0]["horaires"] == "lundi au vendredi 9h-12h"


async def test_near_a_commune_or_coordinates(papi: InProcessNode, network: dict[str, str]) -> None:
    body = await places(papi, near="landerneau")
    assert names(body)[0] == "Cybercommune de Landerneau"
    assert body["items"][0]["distance_km"] == 0.0
    assert body["near"]["source"] == "commune"
    assert body["near"]["label"] == "Landerneau (29)"
    assert body["near"]["insee"] == "29103"
    assert names(await places(papi, near="QUIMPER"))[0] == "EPN de Quimper"
    assert names(await places(papi, near="Crozon 29160"))[0] == "France services Crozon"
    by_point = await places(papi, near="48.25,-4.49")
    assert names(by_point)[0] == "France services Crozon"
    assert by_point["near"]["source"] == "coordinates"
    assert by_point["items"][0]["distance_km"] == pytest.approx(0.4, abs=0.1)


async def test_public_and_support_filters(papi: InProcessNode, network: dict[str, str]) -> None:
    seniors = await places(papi, service=AIDE, public="Seniors")
    # Crozon addresses young people only; the others name no public, or seniors.
    assert "France services Crozon" not in names(seniors)
    assert "Médiathèque de Plougastel" in names(seniors)
    assert "EPN Bellevue" in names(seniors)
    deaf = await places(papi, support="surdite")
    assert names(deaf) == ["France services Crozon"]


async def test_limit_keeps_the_nearest_and_counts_all(
    papi: InProcessNode, network: dict[str, str]
) -> None:
    body = await places(papi, limit="2")
    assert names(body) == ["EPN Bellevue", "Médiathèque de Plougastel"]
    assert body["total"] == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"service": "Cours de cuisine"}, "service"),
        ({"public": "Tous"}, "public"),
        ({"support": "Oui"}, "support"),
        ({"open_only": "maybe"}, "open_only"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"at": "demain"}, "at"),
        ({"at": "2026-11-27T10:00:00"}, "at"),  # no offset
        ({"at": "2026-13-40T10:00:00Z"}, "at"),
        ({"near": "Nulle-Part-sur-Mer"}, "near"),
        ({"near": "91,0"}, "near"),
        ({"near": "48.4,-190"}, "near"),
        ({"near": "x" * 201}, "near"),
    ],
)
async def test_bad_parameters_are_422_with_the_field(
    papi: InProcessNode, network: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = await papi.client.get("/api/v1/places", params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", field)
    assert error["message"]


@pytest.mark.parametrize(
    "value",
    ["", " ", "\x00", "é" * 150, "%", "1e309", "NaN", "-0", "48.4,-4.5,1", ",", "TRUE", "null"],
)
async def test_odd_values_never_break_the_search(papi: InProcessNode, value: str) -> None:
    for name in ("service", "public", "support", "near", "at", "open_only", "limit"):
        response = await papi.client.get("/api/v1/places", params={name: value})
        assert response.status_code in (200, 422), (name, value, response.text)


async def test_no_place_profiles_is_an_empty_list(papi: InProcessNode) -> None:
    body = await places(papi, service=INSERTION)
    assert body["items"] == [] and body["total"] == 0


async def test_the_card_of_a_place(papi: InProcessNode, network: dict[str, str]) -> None:
    response = await papi.client.get(
        f"/api/v1/places/{network['own']}", params={"at": FRIDAY_10, "near": "Landerneau"}
    )
    assert response.status_code == 200, response.text
    card = response.json()
    assert card["nom"] == "EPN Bellevue"
    assert card["horaires_texte"] == [
        "Du lundi au vendredi de 9 h à 12 h et de 14 h à 17 h 30",
        "Fermé les jours fériés",
    ]
    assert card["etat_texte"] == "Ouvert, jusqu'à 12 h"
    assert card["open"] is True and card["at"] == FRIDAY_10
    assert card["adresse_lignes"] == ["1 place Napoléon III", "29200 Brest"]
    assert card["telephone"] == "+33298000001"
    assert card["modalites_acces"] == ["Se présenter", "Téléphoner"]
    assert card["itineraire"] == {
        "position": "place",
        "carte": "https://www.openstreetmap.org/?mlat=48.40230&mlon=-4.50860"
        "#map=17/48.40230/-4.50860",
        "geo": "geo:48.40230,-4.50860",
    }
    assert 17 < card["distance_km"] < 22
    unreadable = (await papi.client.get(f"/api/v1/places/{network['landerneau']}")).json()
    assert unreadable["horaires_texte"] is None
    assert unreadable["etat_texte"] == "Horaires non lisibles"
    assert unreadable["itineraire"]["position"] == "commune"
    missing = await papi.client.get("/api/v1/places/ed25519:nobody")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    bad = await papi.client.get(f"/api/v1/places/{network['own']}", params={"at": "x"})
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "at")
