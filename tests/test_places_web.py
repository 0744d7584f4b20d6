"""The orientation page (/lieux), a place's printable card and the maps, in process:
the list is the content (no JavaScript needed), the map an addition."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from tests.conftest import InProcessNode, in_process_node
from tests.test_places import AIDE, OWN, build_network, remote
from tests.test_search import ingest


@pytest.fixture
async def network(papi: InProcessNode) -> dict[str, str]:
    return await build_network(papi)


def listed(page: str) -> list[str]:
    """The names of the places a result page lists, in order."""
    return [html.unescape(n) for n in re.findall(r'<h3><a href="[^"]+">([^<]+)</a></h3>', page)]


def text_of(page: str) -> str:
    main = page[page.index("<main") : page.index("</main>")]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)))


async def test_the_page_lists_places_nearest_first_without_javascript(
    papi: InProcessNode, network: dict[str, str]
) -> None:
    response = await papi.client.get(
        "/lieux",
        params={"service": AIDE, "near": "Landerneau", "day": "2026-11-27", "time": "10:00"},
    )
    assert response.status_code == 200
    page = response.text
    text = text_of(page)
    assert "Trouver le bon lieu pour une personne" in text
    assert "5 lieux" in text
    assert "Distances à vol d'oiseau depuis Landerneau (29)." in text
    assert "Ouvert ou fermé le vendredi 27 novembre 2026 à 10:00." in text
    assert listed(page) == [
        "Médiathèque de Plougastel",
        "EPN Bellevue",
        "France services Crozon",
        "EPN de Quimper",
        "Lieu mystère",
    ]
    assert "Ouvert, jusqu'à 12 h" in text
    assert "Horaires non renseignés" in text
    assert "Distance inconnue" in text
    assert "(depuis le centre de sa commune)" in text
    # Each result links to its card, carrying where the person comes from and when.
    own = network["own"]
    assert (
        f'href="/o/{own}/place/place?near=Landerneau&amp;at=2026-11-27T10%3A00%3A00%2B01%3A00"'
        in page
    )
    # The list works alone: a map container that scripts may fill, hidden until then.
    assert '<div class="map no-print" data-map' in page and " hidden></div>" in page
    assert 'data-lat="48.4023" data-lon="-4.5086"' in page
    for label, name in (("Service", "service"), ("Près de (commune ou code postal)", "near")):
        assert f'<label for="{name}">{label}</label>' in page
    for name in ("day", "time", "open_only", "public", "support"):
        assert f'<label for="{name}">' in page


async def test_open_only_at_a_time_and_filters(
    papi: InProcessNode, network: dict[str, str]
) -> None:
    response = await papi.client.get(
        "/lieux",
        params={"service": AIDE, "day": "14/07/2026", "time": "10h", "open_only": "1"},
    )
    assert response.status_code == 200
    text = text_of(response.text)
    assert "1 lieu" in text
    assert listed(response.text) == ["Médiathèque de Plougastel"]
    deaf = (await papi.client.get("/lieux", params={"support": "Surdité"})).text
    assert listed(deaf) == ["France services Crozon"]


async def test_mistakes_are_explained_next_to_their_field(
    papi: InProcessNode, network: dict[str, str]
) -> None:
    response = await papi.client.get("/lieux", params={"near": "Brestt-sur-Mer"})
    assert response.status_code == 400
    page = response.text
    assert 'role="alert"' in page and 'href="#near"' in page
    assert 'id="near" name="near" value="Brestt-sur-Mer"' in page
    assert 'aria-invalid="true" aria-describedby="near-hint near-error"' in page
    assert "Aucune commune de ce nom n'est connue" in text_of(page)
    for params, field, message in (
        ({"day": "2026-12-01"}, "time", "Indiquez aussi une heure"),
        ({"day": "31/02/2026", "time": "10:00"}, "day", "Indiquez une date"),
        ({"time": "25:00"}, "time", "Indiquez une heure"),
        ({"service": "Cuisine"}, "service", "Choisissez une valeur dans la liste."),
    ):
        response = await papi.client.get("/lieux", params=params)
        assert response.status_code == 400, params
        assert f'<p class="error-message" id="{field}-error">' in response.text, params
        assert message in text_of(response.text), params


async def test_maps_allow_only_the_node_scripts_and_the_tiles(
    papi: InProcessNode, network: dict[str, str]
) -> None:
    for path in ("/lieux", "/nodes", f"/o/{network['own']}/place/place"):
        response = await papi.client.get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "connect-src 'self';" in policy, path
        assert "img-src 'self' data: https://tile.openstreetmap.org;" in policy, path
        assert "frame-ancestors 'none'" in policy, path
        assert '<script src="/static/leaflet/leaflet.js" defer></script>' in response.text
    # Other pages keep the policy without any script.
    home = await papi.client.get("/")
    assert "script-src" not in home.headers["content-security-policy"]
    assert _executable_scripts(home.text) == []
    for path in ("/static/leaflet/leaflet.js", "/static/leaflet/leaflet.css", "/static/map.js"):
        assert (await papi.client.get(path)).status_code == 200, path


async def test_no_tiles_setting_no_map_and_no_script(tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "node", map_tiles_url="") as papi:
        await papi.client.put("/api/v1/place", json=OWN, headers=papi.auth)
        for path in ("/lieux", "/nodes", f"/o/{papi.node.origin}/place/place"):
            response = await papi.client.get(path)
            assert response.status_code == 200
            assert "script-src" not in response.headers["content-security-policy"]
            assert _executable_scripts(response.text) == [] and "data-map" not in response.text
            assert "EPN Bellevue" in response.text


async def test_the_card_of_a_place_prints_for_a_person(
    papi: InProcessNode, network: dict[str, str]
) -> None:
    own = network["own"]
    response = await papi.client.get(
        f"/o/{own}/place/place", params={"near": "Landerneau", "at": "2026-11-27T10:00:00+01:00"}
    )
    assert response.status_code == 200
    page = response.text
    text = text_of(page)
    assert '<link rel="stylesheet" href="/static/print.css" media="print">' in page
    assert "data-print hidden>Imprimer cette fiche</button>" in page
    for expected in (
        "EPN Bellevue",
        "À 19,9 km de Landerneau (29), à vol d'oiseau.",
        "Le vendredi 27 novembre 2026 à 10:00 : Ouvert, jusqu'à 12 h",
        "Du lundi au vendredi de 9 h à 12 h et de 14 h à 17 h 30",
        "Fermé les jours fériés",
        "Téléphone : 02 98 00 00 01",
        "Comment s'y rendre ?",
        "1 place Napoléon III 29200 Brest",
        "Se présenter",
        "Fiche imprimée le",
    ):
        assert expected in text, expected
    assert (
        'href="https://www.openstreetmap.org/?mlat=48.40230&amp;mlon=-4.50860#map=17/48.40230/-4.50860"'
        in page
    )
    # A place without its own position: the map shows its commune, and says so.
    landerneau = text_of((await papi.client.get(f"/o/{network['landerneau']}/place/place")).text)
    assert "la carte montre sa commune" in landerneau
    assert "Horaires non lisibles ; tels que publiés : lundi au vendredi 9h-12h" in landerneau
    # Placed at its commune, asked from that commune: no "0 km".
    same = (
        await papi.client.get(
            f"/o/{network['plougastel']}/place/place", params={"near": "Plougastel-Daoulas"}
        )
    ).text
    assert "À Plougastel-Daoulas (29)." in text_of(same) and "0 km" not in text_of(same)
    assert "En ce moment : " in text_of(same)
    # A stale link (unknown commune, bad instant) still shows the card, without extras.
    stale = await papi.client.get(f"/o/{own}/place/place", params={"near": "zzz", "at": "x"})
    assert stale.status_code == 200 and "à vol d'oiseau" not in text_of(stale.text)


async def test_the_directory_links_to_the_orientation_page(
    papi: InProcessNode, network: dict[str, str]
) -> None:
    page = (await papi.client.get("/nodes")).text
    assert '<a href="/lieux">Trouver le bon lieu pour une personne' in page
    assert 'data-source="/api/v1/places?limit=500"' in page
    home = (await papi.client.get("/")).text
    assert '<a href="/lieux">Trouver un lieu</a>' in home


async def test_a_place_without_any_position_and_no_network(tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "node", commune="") as papi:
        await papi.client.put("/api/v1/place", json={"nom": "Lieu sans adresse"}, headers=papi.auth)
        other = remote("EPN de Quimper", "Quimper", services=[AIDE])
        await ingest(papi, [other.place_entry()])
        text = text_of((await papi.client.get("/lieux")).text)
        assert "Ce lieu n'a pas de position connue" in text
        assert "2 lieux" in text and "Distance inconnue" in text


def _executable_scripts(page: str) -> list[str]:
    """The page's ``<script`` tags other than schema.org data (``application/ld+json``,
    which browsers never run)."""
    return [
        tag
        for tag in re.findall(r"<script\b[^>]*>", page)
        if 'type="application/ld+json"' not in tag
    ]
