"""schema.org JSON-LD of the public pages (node/web/jsonld.py), extracted from the HTML
with ``extruct`` as search engines do, and checked for the properties each type needs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import extruct
import pytest

from node.models import CurrentObject, Origin
from node.services.log import new_oid, publish
from node.web.jsonld import opening_hours
from tests.conftest import InProcessNode, in_process_node
from tests.demo_network import DemoNetwork, load_demo

SCHEMA = "https://schema.org/"
#: What each type must have to be useful (Google's requirements for rich results where
#: it has some, else the properties that identify the thing).
REQUIRED = {
    "CivicStructure": ("name", "address"),
    "PostalAddress": ("addressLocality", "addressCountry"),
    "Event": (
        "name", "startDate", "location", "eventStatus", "eventAttendanceMode", "organizer",
        "offers", "url",
    ),
    "Place": ("name", "address"),
    "Offer": ("availability",),
    "Product": ("name", "offers", "url"),
    "Service": ("name", "provider", "url"),
    "LearningResource": ("name", "license", "url"),
    "Organization": ("name", "url"),
    "WebSite": ("url", "name", "potentialAction"),
    "SearchResultsPage": ("mainEntity",),
    "CollectionPage": ("mainEntity",),
    "ItemList": ("itemListElement", "numberOfItems"),
    "ListItem": ("position",),
    "GeoCoordinates": ("latitude", "longitude"),
    "SearchAction": ("target", "query-input"),
    "EntryPoint": ("urlTemplate",),
    "Audience": ("audienceType",),
    "QuantitativeValue": ("value",),
    "LocationFeatureSpecification": ("name", "value"),
}  # fmt: skip


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[InProcessNode, DemoNetwork]]:
    async with in_process_node(tmp_path / "node", name="EPN Brest Bellevue") as papi:
        yield papi, await load_demo(papi)


async def graph_of(papi: InProcessNode, path: str) -> list[dict[str, Any]]:
    response = await papi.client.get(path)
    assert response.status_code == 200, path
    data = extruct.extract(response.text, base_url="http://testserver", syntaxes=["json-ld"])
    [document] = data["json-ld"]
    assert document["@context"] == "https://schema.org"
    graph: list[dict[str, Any]] = document["@graph"]
    return graph


def nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every typed node, nested ones included."""
    if isinstance(value, dict):
        if "@type" in value:
            yield value
        for member in value.values():
            yield from nodes(member)
    elif isinstance(value, list):
        for member in value:
            yield from nodes(member)


def check(graph: list[dict[str, Any]]) -> None:
    for node in nodes(graph):
        assert node["@type"] in REQUIRED, node["@type"]
        missing = [name for name in REQUIRED[node["@type"]] if not node.get(name)]
        assert not missing, (node["@type"], missing, node)
        for name, value in node.items():
            assert value not in (None, "", [], {}), (node["@type"], name)
        if node["@type"] == "Event":
            assert node["location"]["address"]["addressLocality"]
            assert node["eventAttendanceMode"] == SCHEMA + "OfflineEventAttendanceMode"
            assert node["offers"]["url"] == node["url"]


def of_type(graph: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [node for node in nodes(graph) if node["@type"] == kind]


async def test_every_public_page_of_the_demo_has_valid_json_ld(demo: Any) -> None:
    papi, net = demo
    paths = ["/", "/search", "/search?q=photo", "/search?kind=event", "/nodes"]
    for name, origin in net.origins.items():
        paths.append(f"/o/{origin}/place/place")
        for kind in ("event", "skill", "equipment"):
            paths += [f"/o/{origin}/{kind}/{oid}" for oid in net.oids.get((name, kind), [])]
    for path in paths:
        check(await graph_of(papi, path))


async def test_home_page_describes_the_place_and_its_offers(demo: Any) -> None:
    papi, _ = demo
    graph = await graph_of(papi, "/")
    [place] = of_type(graph, "CivicStructure")
    assert place["name"] == "EPN Brest Bellevue"
    assert place["address"]["streetAddress"] == "1 place Napoléon III"
    assert place["address"]["postalCode"] == "29200"
    assert place["openingHours"] == ["Mo-Fr 09:00-12:00", "Mo-Fr 14:00-18:00", "Sa 09:00-12:00"]
    assert place["isAccessibleForFree"] is True
    assert place["telephone"] == "+33298000001"
    [event] = of_type(graph, "Event")
    assert event["name"] == "Initiation au numérique pour les seniors"
    assert event["offers"]["price"] == "0"  # the place says it is free
    assert event["maximumAttendeeCapacity"] == 8
    assert event["location"]["geo"]["latitude"] == 48.4023
    [product] = of_type(graph, "Product")
    assert product["offers"]["businessFunction"] == "http://purl.org/goodrelations/v1#LeaseOut"
    assert product["offers"]["inventoryLevel"]["value"] == 1
    assert len(of_type(graph, "Service")) == 2
    [website] = of_type(graph, "WebSite")
    assert website["potentialAction"]["target"]["urlTemplate"] == "http://testserver/search?q={q}"


async def test_event_elsewhere_has_its_own_location(demo: Any) -> None:
    papi, net = demo
    origin = net.origins["Point numérique de Crozon"]
    [oid] = net.oids[("Point numérique de Crozon", "event")]
    graph = await graph_of(papi, f"/o/{origin}/event/{oid}")
    [event] = of_type(graph, "Event")
    assert event["location"]["name"] == "Salle des fêtes de Crozon"
    assert event["location"]["address"]["addressLocality"] == "Crozon"
    assert event["organizer"]["name"] == "Point numérique de Crozon"
    assert event["startDate"].endswith(("+01:00", "+02:00"))


async def test_fiches_are_learning_resources(papi: InProcessNode) -> None:
    # The kind ``resource`` is not in this version's schemas: its row is written directly.
    payload = {
        "title": "Fiche : mots de passe",
        "summary": "Créer un mot de passe solide.",
        "themes": ["Sécurité numérique"],
        "licence": "CC-BY-4.0",
        "duration_minutes": 90,
        "based_on": "ed25519:abc/r0",
    }
    with papi.node.db.activated():
        await CurrentObject.create(
            origin=papi.node.origin, kind="resource", oid="r1", seq=99,
            payload=json.dumps(payload), updated="2030-01-01T00:00:00Z", title=payload["title"],
        )  # fmt: skip
    graph = await graph_of(papi, f"/o/{papi.node.origin}/resource/r1")
    check(graph)
    [resource] = of_type(graph, "LearningResource")
    assert resource["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert resource["timeRequired"] == "PT90M"
    assert resource["isBasedOn"] == "http://testserver/o/ed25519:abc/resource/r0"
    assert resource["about"] == ["Sécurité numérique"]


async def test_text_cannot_leave_the_script_element(papi: InProcessNode) -> None:
    title = "</script><script>alert(1)</script> & co"
    with papi.node.db.activated():
        oid = new_oid()
        await publish(papi.node, "skill", oid, "put", {"title": title})
    graph = await graph_of(papi, f"/o/{papi.node.origin}/skill/{oid}")
    [service] = of_type(graph, "Service")
    assert service["name"] == title


async def test_unreadable_object_data_leaves_the_page_up(papi: InProcessNode) -> None:
    with papi.node.db.activated():
        oid = new_oid()
        await publish(
            papi.node, "event", oid, "put", {"title": "Sans date", "start": "2030-01-01T10:00:00Z"}
        )
        await CurrentObject.filter(oid=oid).update(payload='{"title": "Sans date"}')
    response = await papi.client.get(f"/o/{papi.node.origin}/event/{oid}")
    assert response.status_code == 200
    graph = extruct.extract(response.text, syntaxes=["json-ld"])["json-ld"][0]["@graph"]
    assert of_type(graph, "Event") == [] and of_type(graph, "CivicStructure")


def test_opening_hours_are_translated_only_when_they_can_be() -> None:
    assert opening_hours("Mo,We 10:00-12:00; Su off") == ["Mo,We 10:00-12:00"]
    assert opening_hours("Mo-Fr 09:00-12:00; PH off") == []
    assert opening_hours("Jan-Mar Mo 10:00-12:00") == []
    assert opening_hours(None) == []


async def test_suspended_places_are_not_advertised(demo: Any) -> None:
    papi, net = demo
    origin = net.origins["Point numérique de Crozon"]
    [oid] = net.oids[("Point numérique de Crozon", "event")]
    with papi.node.db.activated():
        await Origin.filter(id=origin).update(frozen=True)
    for path in (f"/o/{origin}/place/place", f"/o/{origin}/event/{oid}"):
        response = await papi.client.get(path)
        assert response.status_code == 200
        assert extruct.extract(response.text, syntaxes=["json-ld"])["json-ld"] == [], path
    names = [node.get("name") for node in nodes(await graph_of(papi, "/nodes"))]
    assert "Point numérique de Crozon" not in names and "Médiathèque de Plougastel-Daoulas" in names
