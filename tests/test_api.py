"""The local JSON API (BRIEF section 5), in-process: node info, place, CRUD on skills,
equipment and events, bad input of every kind, and the log served on
``/federation/v1/entries``, which an independent implementation verifies after each step.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from federation.entry import build_entry
from federation.keys import NodeKey
from node.settings import DATABASE_FILE
from tests import independent_verifier as iv
from tests.conftest import InProcessNode, in_process_node

ORIGIN_RE = re.compile(r"ed25519:[A-Za-z0-9_-]{43}")
OID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
SERVER_FIELDS = {"id", "origin", "kind", "seq", "updated"}
#: Events also carry the seats not taken by confirmed registrations, computed when read.
EVENT_SERVER_FIELDS = SERVER_FIELDS | {"seats_left"}

PLACE = {
    "nom": "Médiathèque François Mitterrand",
    "adresse": "Place de la Libération",
    "code_postal": "29800",
    "commune": "Landerneau",
    "code_insee": "29103",
    "latitude": 48.4508,
    "longitude": -4.2494,
    "horaires": "Tu-Fr 10:00-12:00,14:00-18:00; Sa 10:00-17:00",
    "telephone": "+33298850000",
    "courriels": ["mediatheque@exemple.fr"],
    "site_web": ["https://mediatheque.exemple.fr"],
    "presentation_resume": "Espace public numérique : accès libre, ateliers, aide aux démarches.",
    "presentation_detail": "## Ateliers\n\nTous les mercredis, *initiation* au numérique.",
    "services": [
        "Aide aux démarches administratives",
        "Maîtrise des outils numériques du quotidien",
        "Accès internet et matériel informatique",
    ],
    "publics_specifiquement_adresses": ["Seniors", "Familles et/ou enfants"],
    "prise_en_charge_specifique": ["Déficience visuelle"],
    "frais_a_charge": ["Gratuit"],
    "modalites_acces": ["Se présenter", "Téléphoner"],
    "modalites_accompagnement": ["Accompagnement individuel", "Dans un atelier collectif"],
    "typologie": ["BIB"],
}

# collection -> (kind, a full valid body, a replacement body without some fields)
OBJECTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "skills": (
        "skill",
        {
            "title": "Créer son adresse courriel",
            "description": "Créer, lire, **répondre**, joindre une pièce jointe.",
            "theme": "Courriels",
            "level": "Débutant",
        },
        {"title": "Courriels : aller plus loin", "level": "Intermédiaire"},
    ),
    "equipment": (
        "equipment",
        {
            "title": "Vidéoprojecteur",
            "description": "Full HD, câble HDMI fourni.",
            "category": "Vidéoprojection",
            "quantity": 2,
            "condition": "Bon état",
            "loan_conditions": "Caution de 100 €, une semaine maximum.",
        },
        {"title": "Vidéoprojecteur Epson", "quantity": 1},
    ),
    "events": (
        "event",
        {
            "title": "Atelier « Sécurité numérique »",
            "description": "Mots de passe, arnaques, sauvegardes.",
            "start": "2026-05-06T14:00:00+02:00",
            "end": "2026-05-06T16:30:00+02:00",
            "location": "Salle multimédia, 1er étage",
            "capacity": 12,
            "audience": "public",
        },
        {"title": "Formation des animateurs", "start": "2026-06-01T09:00:00Z", "capacity": 0},
    ),
}
COLLECTIONS = list(OBJECTS)
EVENT = {"title": "Atelier", "start": "2026-05-06T14:00:00Z"}


# -- helpers --------------------------------------------------------------------------


async def fetch_log(papi: InProcessNode, origin: str | None = None) -> list[dict[str, Any]]:
    """The whole log of ``origin`` (default: this node), following pages."""
    entries: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"after": len(entries), "limit": 500}
        if origin:
            params["origin"] = origin
        response = await papi.client.get("/federation/v1/entries", params=params)
        assert response.status_code == 200, response.text
        page = response.json()["entries"]
        if not page:
            return entries
        entries.extend(page)


def db_rows(papi: InProcessNode) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the log and of the current objects, read from the SQLite file."""
    path = papi.data_dir / DATABASE_FILE
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return {
            "entries": conn.execute(
                "SELECT origin, seq, header, sig, payload FROM entries ORDER BY origin, seq"
            ).fetchall(),
            "objects": conn.execute(
                "SELECT origin, kind, oid, seq, payload FROM objects ORDER BY origin, kind, oid"
            ).fetchall(),
        }


async def snapshot(papi: InProcessNode) -> dict[str, Any]:
    state: dict[str, Any] = {"log": await fetch_log(papi), "db": db_rows(papi)}
    for collection in COLLECTIONS:
        state[collection] = (await papi.client.get(f"/api/v1/{collection}")).json()
    state["place"] = (await papi.client.get("/api/v1/place")).json()
    return state


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert set(document) == {"error"}, document
    error: dict[str, Any] = document["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


async def create(papi: InProcessNode, collection: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await papi.client.post(f"/api/v1/{collection}", json=body, headers=papi.auth)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[InProcessNode]:
    """A node whose request bodies are limited to 1,000 bytes."""
    async with in_process_node(tmp_path / "small", max_body_bytes=1000) as node:
        yield node


# -- /api/v1/node ---------------------------------------------------------------------


async def test_node_info(papi: InProcessNode) -> None:
    response = await papi.client.get("/api/v1/node")
    assert response.status_code == 200
    info = response.json()
    assert ORIGIN_RE.fullmatch(info["id"])
    assert info["id"] == papi.node.origin
    assert info["name"] == "EPN test"
    assert info["commune"] == "Brest"
    assert "url" in info and info["url"] is None
    assert info["protocol"] == 1
    assert info["seq"] == 1  # the place profile published at first start
    log = await fetch_log(papi)
    assert [e["header"]["origin"] for e in log] == [info["id"]]


async def test_node_info_follows_the_place_and_the_log(papi: InProcessNode) -> None:
    await papi.client.put("/api/v1/place", json={"nom": "EPN Bellevue"}, headers=papi.auth)
    await create(papi, "skills", {"title": "Tableur"})
    info = (await papi.client.get("/api/v1/node")).json()
    assert info["name"] == "EPN Bellevue"
    assert info["seq"] == 3


# -- /api/v1/place --------------------------------------------------------------------


async def test_initial_place(papi: InProcessNode) -> None:
    place = (await papi.client.get("/api/v1/place")).json()
    assert place["nom"] == "EPN test"
    assert place["commune"] == "Brest"
    assert place["id"] == "place"
    assert place["kind"] == "place"
    assert place["origin"] == papi.node.origin
    assert place["seq"] == 1
    assert TS_RE.fullmatch(place["updated"])


async def test_put_place_with_lamednum_fields(papi: InProcessNode) -> None:
    response = await papi.client.put("/api/v1/place", json=PLACE, headers=papi.auth)
    assert response.status_code == 200, response.text
    place = response.json()
    assert {k: v for k, v in place.items() if k not in SERVER_FIELDS} == PLACE
    assert (place["id"], place["kind"], place["seq"]) == ("place", "place", 2)
    assert (await papi.client.get("/api/v1/place")).json() == place

    log = await fetch_log(papi)
    assert len(log) == 2
    assert log[-1]["header"]["kind"] == "place"
    assert log[-1]["header"]["oid"] == "place"
    assert log[-1]["payload"] == PLACE  # the JSON sent is the payload, as is
    assert place["updated"] == log[-1]["header"]["ts"]
    iv.verify_log(log)


async def test_put_place_replaces_the_whole_profile(papi: InProcessNode) -> None:
    await papi.client.put("/api/v1/place", json=PLACE, headers=papi.auth)
    response = await papi.client.put(
        "/api/v1/place", json={"nom": "EPN", "commune": "Brest"}, headers=papi.auth
    )
    assert response.status_code == 200
    place = response.json()
    assert set(place) == {"nom", "commune"} | SERVER_FIELDS
    iv.verify_log(await fetch_log(papi))


async def test_server_fields_are_dropped_on_input(papi: InProcessNode) -> None:
    body = {
        **PLACE,
        "id": "place",
        "origin": NodeKey.generate().origin,
        "kind": "skill",
        "seq": 999,
        "updated": "2000-01-01T00:00:00Z",
    }
    response = await papi.client.put("/api/v1/place", json=body, headers=papi.auth)
    assert response.status_code == 200, response.text
    place = response.json()
    assert place["origin"] == papi.node.origin
    assert place["kind"] == "place"
    assert place["seq"] == 2
    log = await fetch_log(papi)
    assert log[-1]["payload"] == PLACE

    # The output of a GET can be sent back as is.
    skill = await create(papi, "skills", {"title": "Tableur"})
    response = await papi.client.put(
        f"/api/v1/skills/{skill['id']}", json={**skill, "level": "Avancé"}, headers=papi.auth
    )
    assert response.status_code == 200, response.text
    log = await fetch_log(papi)
    assert log[-1]["payload"] == {"title": "Tableur", "level": "Avancé"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code_postal": "2920"}, "code_postal"),
        ({"code_postal": 29200}, "code_postal"),
        ({"code_insee": "ABCDE"}, "code_insee"),
        ({"services": ["Cours de cuisine"]}, "services.0"),
        ({"frais_a_charge": ["Gratos"]}, "frais_a_charge.0"),
        ({"modalites_acces": "Se présenter"}, "modalites_acces"),
        ({"publics_specifiquement_adresses": ["Seniors"] * 2}, "publics_specifiquement_adresses"),
        ({"presentation_resume": "x" * 281}, "presentation_resume"),
        ({"latitude": 91}, "latitude"),
        ({"longitude": "-4.2"}, "longitude"),
        ({"telephone": "02 98 00 00 00"}, "telephone"),
        ({"courriels": ["pas-une-adresse"]}, "courriels.0"),
        ({"nom": ""}, "nom"),
        ({"site_internet": "https://x.fr"}, "site_internet"),
    ],
)  # fmt: skip
async def test_put_place_invalid(papi: InProcessNode, change: dict[str, Any], field: str) -> None:
    before = await snapshot(papi)
    response = await papi.client.put("/api/v1/place", json={**PLACE, **change}, headers=papi.auth)
    error = assert_error(response, 422, "invalid")
    assert error["field"] == field
    assert await snapshot(papi) == before


async def test_put_place_without_nom(papi: InProcessNode) -> None:
    body = {k: v for k, v in PLACE.items() if k != "nom"}
    error = assert_error(
        await papi.client.put("/api/v1/place", json=body, headers=papi.auth), 422, "invalid"
    )
    assert error["field"] == "nom"


async def test_put_place_needs_a_token(papi: InProcessNode) -> None:
    before = await snapshot(papi)
    assert_error(await papi.client.put("/api/v1/place", json=PLACE), 401, "unauthorized")
    assert await snapshot(papi) == before


# -- CRUD -----------------------------------------------------------------------------


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_crud(papi: InProcessNode, collection: str) -> None:
    kind, body, replacement = OBJECTS[collection]
    log0 = await fetch_log(papi)

    # Create: 201, the body as sent plus the server fields, and one new entry.
    response = await papi.client.post(f"/api/v1/{collection}", json=body, headers=papi.auth)
    assert response.status_code == 201, response.text
    created = response.json()
    oid = created["id"]
    assert OID_RE.fullmatch(oid)
    assert {k: v for k, v in created.items() if k not in EVENT_SERVER_FIELDS} == body
    assert created["origin"] == papi.node.origin
    assert created["kind"] == kind
    assert created["seq"] == len(log0) + 1
    log1 = await fetch_log(papi)
    assert log1[: len(log0)] == log0
    assert len(log1) == len(log0) + 1
    header = log1[-1]["header"]
    assert (header["seq"], header["kind"], header["oid"], header["op"]) == (
        created["seq"], kind, oid, "put",
    )  # fmt: skip
    assert log1[-1]["payload"] == body
    assert created["updated"] == header["ts"]
    iv.verify_log(log1)

    # Read one, and the collection.
    response = await papi.client.get(f"/api/v1/{collection}/{oid}")
    assert response.status_code == 200
    assert response.json() == created
    listing = (await papi.client.get(f"/api/v1/{collection}")).json()
    assert listing["items"] == [created]

    # Replace: the new body entirely (no merge), one new entry.
    response = await papi.client.put(
        f"/api/v1/{collection}/{oid}", json=replacement, headers=papi.auth
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert {k: v for k, v in updated.items() if k not in EVENT_SERVER_FIELDS} == replacement
    assert (updated["id"], updated["seq"]) == (oid, created["seq"] + 1)
    assert (await papi.client.get(f"/api/v1/{collection}/{oid}")).json() == updated
    log2 = await fetch_log(papi)
    assert log2[: len(log1)] == log1
    assert len(log2) == len(log1) + 1
    assert log2[-1]["header"]["oid"] == oid
    assert log2[-1]["header"]["op"] == "put"
    assert log2[-1]["payload"] == replacement
    iv.verify_log(log2)

    # Delete: 204, then 404 everywhere, one tombstone, older payloads purged.
    response = await papi.client.delete(f"/api/v1/{collection}/{oid}", headers=papi.auth)
    assert response.status_code == 204
    assert response.content == b""
    assert_error(await papi.client.get(f"/api/v1/{collection}/{oid}"), 404, "not_found")
    assert_error(
        await papi.client.put(f"/api/v1/{collection}/{oid}", json=body, headers=papi.auth),
        404,
        "not_found",
    )
    assert_error(
        await papi.client.delete(f"/api/v1/{collection}/{oid}", headers=papi.auth),
        404,
        "not_found",
    )
    assert (await papi.client.get(f"/api/v1/{collection}")).json()["items"] == []
    log3 = await fetch_log(papi)
    assert len(log3) == len(log2) + 1
    tombstone = log3[-1]
    assert tombstone["header"]["op"] == "delete"
    assert tombstone["header"]["oid"] == oid
    assert tombstone["payload"] is None
    assert tombstone["header"]["payload_hash"] is None
    assert tombstone["header"]["payload_len"] == 0
    for entry in log3[:-1]:
        if entry["header"]["oid"] == oid:
            assert entry["payload"] is None, "the payloads of a deleted object are purged"
    # Headers and signatures are kept: the chain still verifies.
    assert [e["header"] for e in log3[:-1]] == [e["header"] for e in log2]
    assert [e["sig"] for e in log3[:-1]] == [e["sig"] for e in log2]
    iv.verify_log(log3)

    # The database itself holds no trace of the payloads either.
    rows = db_rows(papi)
    texts = [row[4] for row in rows["entries"] if row[4]] + [row[4] for row in rows["objects"]]
    assert not any(body["title"] in text for text in texts)
    assert not any(replacement["title"] in text for text in texts)


async def test_delete_keeps_other_objects(papi: InProcessNode) -> None:
    a = await create(papi, "equipment", {"title": "Tablette"})
    b = await create(papi, "equipment", {"title": "Appareil photo"})
    await papi.client.put(
        f"/api/v1/equipment/{a['id']}", json={"title": "Tablette Android"}, headers=papi.auth
    )
    response = await papi.client.delete(f"/api/v1/equipment/{a['id']}", headers=papi.auth)
    assert response.status_code == 204
    log = await fetch_log(papi)
    iv.verify_log(log)
    by_oid = {e["header"]["seq"]: e for e in log}
    assert by_oid[b["seq"]]["payload"] == {"title": "Appareil photo"}
    assert (await papi.client.get(f"/api/v1/equipment/{b['id']}")).status_code == 200


async def test_every_change_is_exactly_one_entry(papi: InProcessNode) -> None:
    expected = 1
    oids: list[tuple[str, str]] = []
    for collection, (_, body, _) in OBJECTS.items():
        for _ in range(2):
            oids.append((collection, (await create(papi, collection, body))["id"]))
            expected += 1
    for collection, oid in oids[::2]:
        replacement = OBJECTS[collection][2]
        response = await papi.client.put(
            f"/api/v1/{collection}/{oid}", json=replacement, headers=papi.auth
        )
        assert response.status_code == 200
        expected += 1
    for collection, oid in oids[1::2]:
        response = await papi.client.delete(f"/api/v1/{collection}/{oid}", headers=papi.auth)
        assert response.status_code == 204
        expected += 1
    log = await fetch_log(papi)
    assert [e["header"]["seq"] for e in log] == list(range(1, expected + 1))
    iv.verify_log(log)
    info = (await papi.client.get("/api/v1/node")).json()
    assert info["seq"] == expected


async def test_concurrent_creates_keep_one_unbroken_chain(papi: InProcessNode) -> None:
    results = await asyncio.gather(
        *(
            papi.client.post("/api/v1/skills", json={"title": f"Atelier {i}"}, headers=papi.auth)
            for i in range(25)
        )
    )
    assert all(r.status_code == 201 for r in results)
    assert sorted(r.json()["seq"] for r in results) == list(range(2, 27))
    assert len({r.json()["id"] for r in results}) == 25
    iv.verify_log(await fetch_log(papi))


async def test_collection_lists_only_this_nodes_objects(papi: InProcessNode) -> None:
    own = await create(papi, "skills", {"title": "Bureautique"})
    # Another origin's entries reach this node through the federation API.
    other = NodeKey.generate()
    place = build_entry(
        other, seq=1, prev=None, kind="place", oid="place", op="put",
        payload={"nom": "Cybercommune de Plougastel", "commune": "Plougastel-Daoulas"},
    )  # fmt: skip
    skill = build_entry(
        other, seq=2, prev=place.header_hash, kind="skill", oid="foreign", op="put",
        payload={"title": "Réseaux sociaux"},
    )  # fmt: skip
    response = await papi.client.post(
        "/federation/v1/push", json={"entries": [place.to_json(), skill.to_json()]}
    )
    assert response.status_code == 200, response.text
    assert len(await fetch_log(papi, other.origin)) == 2

    assert (await papi.client.get("/api/v1/skills")).json()["items"] == [own]
    assert_error(await papi.client.get("/api/v1/skills/foreign"), 404, "not_found")
    assert_error(
        await papi.client.delete("/api/v1/skills/foreign", headers=papi.auth), 404, "not_found"
    )
    assert [e["header"]["origin"] for e in await fetch_log(papi)] == [papi.node.origin] * 2


async def test_collection_paging(papi: InProcessNode) -> None:
    titles = [f"Compétence {c}" for c in "ABCDE"]
    for title in reversed(titles):
        await create(papi, "skills", {"title": title})
    listed = (await papi.client.get("/api/v1/skills")).json()["items"]
    assert [item["title"] for item in listed] == titles  # ordered by title
    page = (await papi.client.get("/api/v1/skills", params={"limit": 2, "offset": 2})).json()
    assert [item["title"] for item in page["items"]] == titles[2:4]
    for params in ({"limit": 0}, {"limit": 501}, {"limit": "x"}, {"offset": -1}):
        response = await papi.client.get("/api/v1/skills", params=params)
        assert assert_error(response, 422, "invalid")["field"] == next(iter(params))


async def test_events_are_listed_by_start(papi: InProcessNode) -> None:
    for day in (20, 5, 12):
        await create(
            papi, "events", {"title": f"Atelier du {day}", "start": f"2026-05-{day:02d}T10:00:00Z"}
        )
    listed = (await papi.client.get("/api/v1/events")).json()["items"]
    assert [item["title"] for item in listed] == ["Atelier du 5", "Atelier du 12", "Atelier du 20"]


# -- boundaries that are accepted -----------------------------------------------------


@pytest.mark.parametrize(
    ("collection", "body"),
    [
        ("skills", {"title": "t" * 200}),
        ("skills", {"title": "é" * 200}),
        ("skills", {"title": "x", "description": "d" * 20_000}),
        ("skills", {"title": "x", "description": "🖥" * 20_000}),
        ("equipment", {"title": "x", "quantity": 1}),
        ("events", {"title": "x", "start": "2026-05-06T14:00:00Z"}),
        ("events", {"title": "x", "start": "2026-05-06T14:00:00+02:00", "capacity": 0}),
        ("events", {"title": "x", "start": "2026-05-06T14:00+02:00", "end": "2026-05-06T12:01Z"}),
        ("events", {"title": "x", "start": "2026-05-06T14:00:00Z", "audience": "animateurs"}),
    ],
)
async def test_accepted_boundaries(
    papi: InProcessNode, collection: str, body: dict[str, Any]
) -> None:
    created = await create(papi, collection, body)
    assert {k: v for k, v in created.items() if k not in EVENT_SERVER_FIELDS} == body
    log = await fetch_log(papi)
    assert log[-1]["payload"] == body
    iv.verify_log(log)


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("collection", "body", "field"),
    [
        ("skills", {"title": 5}, "title"),
        ("skills", {"title": None}, "title"),
        ("skills", {"title": ["a"]}, "title"),
        ("skills", {}, "title"),
        ("skills", {"description": "sans titre"}, "title"),
        ("skills", {"title": ""}, "title"),
        ("skills", {"title": "t" * 201}, "title"),
        ("skills", {"title": "x", "description": "d" * 20_001}, "description"),
        ("skills", {"title": "x", "description": 3}, "description"),
        ("skills", {"title": "x", "color": "bleu"}, "color"),
        ("skills", {"title": "x", "theme": "Cuisine"}, "theme"),
        ("skills", {"title": "x", "level": "Expert"}, "level"),
        ("equipment", {"title": "x", "quantity": 0}, "quantity"),
        ("equipment", {"title": "x", "quantity": -3}, "quantity"),
        ("equipment", {"title": "x", "quantity": "2"}, "quantity"),
        ("equipment", {"title": "x", "quantity": True}, "quantity"),
        ("equipment", {"title": "x", "quantity": 1.5}, "quantity"),
        ("equipment", {"title": "x", "theme": "Courriels"}, "theme"),
        ("events", {"title": "x"}, "start"),
        ("events", {"title": "x", "start": "2026-05-06T14:00:00"}, "start"),
        ("events", {"title": "x", "start": "2026-05-06"}, "start"),
        ("events", {"title": "x", "start": "demain"}, "start"),
        ("events", {"title": "x", "start": "2026-02-30T14:00:00Z"}, "start"),
        ("events", {**EVENT, "end": "2026-05-06T13:00:00Z"}, "end"),
        ("events", {**EVENT, "end": "2026-05-06T14:00:00Z"}, "end"),
        ("events", {**EVENT, "end": "2026-05-06T14:00:00+02:00"}, "end"),
        # 10:00-02:00 is 12:00Z: an end at 11:00Z is before it, though "11" > "10".
        ("events", {**EVENT, "start": "2026-05-06T10:00-02:00", "end": "2026-05-06T11:00Z"}, "end"),
        ("events", {**EVENT, "end": "2026-05-06"}, "end"),
        ("events", {**EVENT, "capacity": -1}, "capacity"),
        ("events", {**EVENT, "capacity": "12"}, "capacity"),
        ("events", {**EVENT, "capacity": 2.5}, "capacity"),
        ("events", {**EVENT, "audience": "enfants"}, "audience"),
        ("events", {**EVENT, "location": "l" * 301}, "location"),
    ],
)  # fmt: skip
async def test_invalid_bodies_are_422_naming_the_field(
    papi: InProcessNode, collection: str, body: dict[str, Any], field: str
) -> None:
    before = await snapshot(papi)
    response = await papi.client.post(f"/api/v1/{collection}", json=body, headers=papi.auth)
    error = assert_error(response, 422, "invalid")
    assert error["field"] == field, error
    assert field in error["message"]
    assert await snapshot(papi) == before


@pytest.mark.parametrize(
    ("path", "body", "member"),
    [
        ("/api/v1/skills", {"title": "t" * 201}, {"keyword": "maxLength", "limit": 200}),
        ("/api/v1/skills", {"title": 5}, {"keyword": "type", "limit": "string"}),
        ("/api/v1/skills", {}, {"keyword": "required"}),
        ("/api/v1/equipment", {"title": "x", "quantity": 0}, {"keyword": "minimum", "limit": 1}),
        ("/api/v1/events", {**EVENT, "end": "2026-05-06T13:00:00Z"},
         {"keyword": "after", "limit": "start"}),
        ("/federation/v1/sync", {"max_bytes": 4096},
         {"keyword": "anyOf", "limit": ["digest", "vector", "buckets"]}),
    ],
)  # fmt: skip
async def test_422_says_the_keyword_and_its_limit(
    papi: InProcessNode, path: str, body: dict[str, Any], member: dict[str, Any]
) -> None:
    """Additive members of a 422 (docs/api.md section 3): what rule, and its bound."""
    response = await papi.client.post(path, json=body, headers=papi.auth)
    error = assert_error(response, 422, "invalid")
    assert {name: error.get(name) for name in ("keyword", "limit")} == {"limit": None, **member}


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_invalid_update_changes_nothing(papi: InProcessNode, collection: str) -> None:
    _, body, _ = OBJECTS[collection]
    created = await create(papi, collection, body)
    before = await snapshot(papi)
    url = f"/api/v1/{collection}/{created['id']}"
    for bad in ({**body, "title": ""}, {**body, "extra": 1}, {"description": "no title"}):
        error = assert_error(await papi.client.put(url, json=bad, headers=papi.auth), 422)
        assert error["field"] in ("title", "extra")
    error = assert_error(
        await papi.client.put(url, json={**body, "id": "another"}, headers=papi.auth), 422
    )
    assert error["field"] == "id"
    assert_error(await papi.client.put(url, content=b"{", headers=papi.auth), 400)
    assert_error(await papi.client.put(url, json=body), 401)
    assert await snapshot(papi) == before
    assert (await papi.client.get(url)).json() == created


async def test_a_place_body_naming_another_id_is_refused(papi: InProcessNode) -> None:
    """As for the collections (docs/api.md section 5): the place's id is ``place``, so a
    body naming another one is a mistake, not a server field to drop."""
    before = await snapshot(papi)
    body = {"nom": "EPN Bellevue", "id": "another"}
    error = assert_error(await papi.client.put("/api/v1/place", json=body, headers=papi.auth), 422)
    assert error["field"] == "id"
    assert await snapshot(papi) == before
    body["id"] = "place"  # what GET gives back can be sent again
    assert (await papi.client.put("/api/v1/place", json=body, headers=papi.auth)).status_code == 200


BAD_JSON = [
    b"{",
    b'{"title": "x",}',
    b"{'title': 'x'}",
    b'{"title": "x"} trailing',
    b"",
    b"   ",
    b"\xff\xfe\x00",
    b'{"title": "x", "quantity": NaN}',
    b'{"title": "x", "quantity": Infinity}',
    b'{"title": "x", "quantity": 1e999}',
    b'{"title": "\\ud800"}',
    b'{"title": "x", "description": "\\udfff"}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 40_000 + b"1" + b"}" * 40_000,
]


@pytest.mark.parametrize("raw", BAD_JSON, ids=range(len(BAD_JSON)))
@pytest.mark.parametrize("target", ["post", "put", "place"])
async def test_malformed_json_is_400(papi: InProcessNode, raw: bytes, target: str) -> None:
    oid = (await create(papi, "equipment", {"title": "Tablette"}))["id"]
    before = await snapshot(papi)
    headers = {**papi.auth, "content-type": "application/json"}
    if target == "post":
        response = await papi.client.post("/api/v1/equipment", content=raw, headers=headers)
    elif target == "put":
        response = await papi.client.put(f"/api/v1/equipment/{oid}", content=raw, headers=headers)
    else:
        response = await papi.client.put("/api/v1/place", content=raw, headers=headers)
    assert_error(response, 400, "malformed_json")
    assert await snapshot(papi) == before


@pytest.mark.parametrize("raw", BAD_JSON, ids=range(len(BAD_JSON)))
@pytest.mark.parametrize("path", ["/federation/v1/push", "/federation/v1/sync"])
async def test_federation_bodies_that_are_not_json_are_400(
    papi: InProcessNode, raw: bytes, path: str
) -> None:
    """docs/protocol.md section 5: what has no canonical bytes is not JSON, for a peer too."""
    before = await snapshot(papi)
    response = await papi.client.post(
        path, content=raw, headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "malformed_json")
    assert await snapshot(papi) == before


@pytest.mark.parametrize("document", [[], ["title"], "title", 42, None, True])
async def test_json_that_is_not_an_object_is_422(papi: InProcessNode, document: Any) -> None:
    before = await snapshot(papi)
    response = await papi.client.post(
        "/api/v1/skills", content=json.dumps(document).encode(), headers=papi.auth
    )
    assert_error(response, 422, "invalid")
    assert await snapshot(papi) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer "},
        {"authorization": "Bearer papi_not-a-real-token"},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Token papi_x"},
    ],
    ids=["none", "empty", "bearer-only", "bearer-space", "wrong", "basic", "other-scheme"],
)
async def test_missing_or_wrong_token_is_401(papi: InProcessNode, headers: dict[str, str]) -> None:
    oid = (await create(papi, "events", OBJECTS["events"][1]))["id"]
    before = await snapshot(papi)
    body = {"title": "x", "start": "2026-05-06T14:00:00Z"}
    client = papi.client
    for response in [
        await client.post("/api/v1/events", json=body, headers=headers),
        await client.put(f"/api/v1/events/{oid}", json=body, headers=headers),
        await client.delete(f"/api/v1/events/{oid}", headers=headers),
        await client.put("/api/v1/place", json=PLACE, headers=headers),
    ]:
        assert_error(response, 401, "unauthorized")
    assert await snapshot(papi) == before


async def test_token_is_checked_before_the_body(papi: InProcessNode) -> None:
    response = await papi.client.post("/api/v1/skills", content=b"{")
    assert_error(response, 401, "unauthorized")


async def test_a_token_of_another_node_is_refused(papi: InProcessNode, tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "other") as other:
        response = await papi.client.post("/api/v1/skills", json={"title": "x"}, headers=other.auth)
        assert_error(response, 401, "unauthorized")


async def test_reads_need_no_token(papi: InProcessNode) -> None:
    created = await create(papi, "skills", {"title": "Navigation"})
    for url in (
        "/api/v1/node",
        "/api/v1/place",
        "/api/v1/skills",
        f"/api/v1/skills/{created['id']}",
    ):
        assert (await papi.client.get(url)).status_code == 200


async def test_body_over_the_default_limit_is_413(papi: InProcessNode) -> None:
    assert papi.node.settings.max_body_bytes == 256 * 1024
    before = await snapshot(papi)
    body = json.dumps({"title": "x", "description": "d" * (256 * 1024)}).encode()
    response = await papi.client.post("/api/v1/skills", content=body, headers=papi.auth)
    assert_error(response, 413, "too_large")
    response = await papi.client.put("/api/v1/place", content=body, headers=papi.auth)
    assert_error(response, 413, "too_large")
    assert await snapshot(papi) == before


async def test_body_limit_is_configurable_and_exact(small: InProcessNode) -> None:
    def body_of(size: int) -> bytes:
        prefix, suffix = b'{"title": "x", "description": "', b'"}'
        return prefix + b"d" * (size - len(prefix) - len(suffix)) + suffix

    before = await snapshot(small)
    response = await small.client.post("/api/v1/skills", content=body_of(1001), headers=small.auth)
    assert_error(response, 413, "too_large")
    assert await snapshot(small) == before
    response = await small.client.post("/api/v1/skills", content=body_of(1000), headers=small.auth)
    assert response.status_code == 201, response.text


async def test_streamed_body_without_length_over_the_limit_is_413(small: InProcessNode) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "x", "description": "'
        for _ in range(10):
            yield b"d" * 200
        yield b'"}'

    before = await snapshot(small)
    response = await small.client.post("/api/v1/skills", content=chunks(), headers=small.auth)
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "too_large")
    assert await snapshot(small) == before


async def test_lying_content_length_is_413(small: InProcessNode) -> None:
    before = await snapshot(small)
    response = await small.client.post(
        "/api/v1/skills",
        content=b'{"title": "x"}',
        headers={**small.auth, "content-length": "5000"},
    )
    assert_error(response, 413, "too_large")
    assert await snapshot(small) == before


async def test_unknown_objects_and_collections_are_404(papi: InProcessNode) -> None:
    before = await snapshot(papi)
    client, auth = papi.client, papi.auth
    for response in [
        await client.get("/api/v1/skills/nope"),
        await client.get("/api/v1/equipment/nope"),
        await client.put("/api/v1/events/nope", json=EVENT, headers=auth),
        await client.delete("/api/v1/events/nope", headers=auth),
        await client.get("/api/v1/recipes"),
        await client.post("/api/v1/recipes", json={"title": "x"}, headers=auth),
        await client.get("/api/v1/recipes/nope"),
        await client.put("/api/v1/recipes/nope", json={"title": "x"}, headers=auth),
        await client.delete("/api/v1/recipes/nope", headers=auth),
        await client.get("/api/v2/node"),
        await client.get("/nope"),
    ]:  # fmt: skip
        assert_error(response, 404, "not_found")
    assert await snapshot(papi) == before


async def test_an_object_is_addressed_by_its_kind(papi: InProcessNode) -> None:
    skill = await create(papi, "skills", {"title": "x"})
    assert_error(await papi.client.get(f"/api/v1/equipment/{skill['id']}"), 404, "not_found")


async def test_wrong_method(papi: InProcessNode) -> None:
    before = await snapshot(papi)
    response = await papi.client.delete("/api/v1/place", headers=papi.auth)
    assert_error(response, 405, "method_not_allowed")
    response = await papi.client.delete("/api/v1/skills", headers=papi.auth)
    assert_error(response, 405, "method_not_allowed")
    # "place" and "node" are paths of their own, not collections one could POST to.
    for response in [
        await papi.client.post("/api/v1/place", json=PLACE, headers=papi.auth),
        await papi.client.post("/api/v1/node", json={}, headers=papi.auth),
    ]:
        assert_error(response, 405, "method_not_allowed")
    assert await snapshot(papi) == before


# -- /federation/v1/entries -----------------------------------------------------------


async def test_entries_paging(papi: InProcessNode) -> None:
    for i in range(5):
        await create(papi, "skills", {"title": f"Compétence {i}"})
    client = papi.client
    full = (await client.get("/federation/v1/entries")).json()["entries"]
    assert [e["header"]["seq"] for e in full] == [1, 2, 3, 4, 5, 6]
    iv.verify_log(full)

    def seqs(response: httpx.Response) -> list[int]:
        assert response.status_code == 200, response.text
        return [e["header"]["seq"] for e in response.json()["entries"]]

    assert seqs(await client.get("/federation/v1/entries", params={"limit": 2})) == [1, 2]
    page = await client.get("/federation/v1/entries", params={"after": 2, "limit": 2})
    assert seqs(page) == [3, 4]
    assert seqs(await client.get("/federation/v1/entries", params={"after": 4})) == [5, 6]
    assert seqs(await client.get("/federation/v1/entries", params={"after": 6})) == []
    assert seqs(await client.get("/federation/v1/entries", params={"after": 1000})) == []
    assert seqs(await client.get("/federation/v1/entries", params={"after": 0})) == list(
        range(1, 7)
    )
    own = await client.get("/federation/v1/entries", params={"origin": papi.node.origin})
    assert own.json()["entries"] == full

    pages: list[dict[str, Any]] = []
    while True:
        response = await client.get(
            "/federation/v1/entries", params={"after": len(pages), "limit": 4}
        )
        if not response.json()["entries"]:
            break
        pages.extend(response.json()["entries"])
    assert pages == full


async def test_entries_default_and_maximum_page(papi: InProcessNode) -> None:
    results = await asyncio.gather(
        *(
            papi.client.post("/api/v1/skills", json={"title": f"S{i}"}, headers=papi.auth)
            for i in range(120)
        )
    )
    assert all(r.status_code == 201 for r in results)
    default = (await papi.client.get("/federation/v1/entries")).json()["entries"]
    assert len(default) == 100
    everything = await papi.client.get("/federation/v1/entries", params={"limit": 500})
    assert len(everything.json()["entries"]) == 121
    iv.verify_log(everything.json()["entries"])


@pytest.mark.parametrize(
    "params",
    [
        {"after": "x"},
        {"after": "-1"},
        {"after": "1.5"},
        {"after": "1e3"},
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "501"},
        {"limit": "ten"},
    ],
)
async def test_entries_bad_parameters_are_400(papi: InProcessNode, params: dict[str, str]) -> None:
    response = await papi.client.get("/federation/v1/entries", params=params)
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    "origin",
    [NodeKey.generate().origin, "ed25519:unknown", "not-an-origin"],
    # Named, not drawn from the random key: pytest-xdist's workers must collect the same ids.
    ids=["unknown-key", "short-key", "not-an-origin"],
)
async def test_entries_of_an_unknown_origin_is_an_empty_list(
    papi: InProcessNode, origin: str
) -> None:
    response = await papi.client.get("/federation/v1/entries", params={"origin": origin})
    assert response.status_code == 200
    assert response.json() == {"entries": []}


async def test_served_entries_are_byte_for_byte_what_was_signed(papi: InProcessNode) -> None:
    await papi.client.put("/api/v1/place", json=PLACE, headers=papi.auth)
    await create(papi, "events", OBJECTS["events"][1])
    log = await fetch_log(papi)
    rows = db_rows(papi)["entries"]
    for entry, (_, seq, header_text, sig, payload_text) in zip(log, rows, strict=True):
        assert entry["header"]["seq"] == seq
        assert iv.jcs(entry["header"]).decode() == header_text
        assert entry["sig"] == sig
        assert iv.jcs(entry["payload"]).decode() == payload_text
    iv.verify_log(log)


# -- docs/api.md does not drift -------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_api_route_is_documented() -> None:
    from node.api import export, federation_routes, network, objects

    documented = {
        (method, _normalise(path))
        for method, path in re.findall(r"^### `([A-Z]+) (/\S+)`", DOCS.read_text(), re.M)
    }
    routes = [*network.routes(), *export.routes(), *federation_routes.routes(), *objects.routes()]
    missing = [
        f"{method} {route.path}"
        for route in routes
        for method in sorted(route.methods or ())
        if method != "HEAD" and (method, _normalise(route.path)) not in documented
    ]
    assert not missing, f"routes missing from docs/api.md: {missing}"


def test_every_error_code_is_documented() -> None:
    root = Path(__file__).resolve().parent.parent / "node"
    sources = [*sorted((root / "api").glob("*.py")), root / "ratelimit.py"]
    codes: set[tuple[str, str]] = set()
    for source in sources:
        text = source.read_text()
        codes |= set(re.findall(r"ApiError\(\s*(\d{3}),\s*\"([a-z_]+)\"", text))
        codes |= set(re.findall(r"error_response\(\s*(\d{3}),\s*\"([a-z_]+)\"", text))
        if source.name == "ratelimit.py":
            codes.add(("429", "rate_limited"))
    from node.api.errors import _HTTP_CODES

    codes |= {(str(status), code) for status, code in _HTTP_CODES.items()}
    assert ("422", "invalid") in codes and ("413", "too_large") in codes
    text = DOCS.read_text()
    missing = sorted(
        f"{status} {code}" for status, code in codes if f"| {status} | `{code}` |" not in text
    )
    assert not missing, f"error codes missing from docs/api.md's table: {missing}"
