"""The asker is the only authority on its help request (BRIEF 8): the nodes list the open
requests nearest first; a third place's log cannot close or reopen another's request;
offers' messages are sealed to the two places and purged after the retention; the
places are told by mail of a new offer and of their offer's acceptance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from federation.sealing import seal
from federation.timeutil import utc_now
from node.cooperation.purge import purge_due
from node.models import LogEntry, OutboxMail

from .conftest import InProcessNode
from .coop_helpers import (
    EMAIL,
    OFFER_MESSAGE,
    PHONE,
    THEME,
    add_skill,
    ask_help,
    day,
    deliver,
    help_body,
    help_path,
    help_request,
    link,
    offer,
    open_requests,
    process,
    sync,
)
from .forger import Forger
from .mailserver import MailServer
from .network import network
from .test_loans_mail import mails_to, send
from .test_mail import mail_settings


def asker(name: str, **place: Any) -> Forger:
    forger = Forger()
    forger.write("place", "place", {"nom": name, **place})
    return forger


async def push(node: InProcessNode, *forgers: Forger) -> None:
    for forger in forgers:
        r = await node.client.post("/federation/v1/push", json={"entries": forger.log})
        assert r.status_code == 200 and r.json()["rejected"] == [], r.text


async def test_open_requests_are_listed_nearest_first_then_soonest(tmp_path: Path) -> None:
    per_node = {"brest": {"commune": "Brest"}, "landerneau": {"commune": "Landerneau"}}
    async with network(tmp_path, list(per_node), per_node=per_node) as (_, nodes):
        brest, landerneau = nodes["brest"], nodes["landerneau"]
        for node in (brest, landerneau):
            await add_skill(node, THEME)
        plougastel = asker("Médiathèque de Plougastel", commune="Plougastel-Daoulas")
        crozon = asker("Point numérique de Crozon", commune="Crozon")
        lander = asker("Cybercommune de Landerneau", commune="Landerneau")
        lesneven = asker("EPN de Lesneven", commune="Lesneven")
        nowhere = asker("Lieu sans adresse")
        # Its own coordinates (by Gouesnou, 7 km from Brest) count before its commune's.
        located = asker("Tiers-lieu mobile", commune="Morlaix", latitude=48.4525, longitude=-4.4653)
        requests = {
            "plougastel": (plougastel, help_body(title="Plougastel")),
            "crozon": (crozon, help_body(title="Crozon")),
            "landerneau-later": (lander, help_body(title="Landerneau 2", **{"from": day(4)})),
            "landerneau-sooner": (lander, help_body(title="Landerneau 1", **{"from": day(1)})),
            "lesneven": (lesneven, help_body(title="Lesneven")),
            "nowhere": (nowhere, help_body(title="Sans lieu")),
            "located": (located, help_body(title="Coordonnées")),
            "health": (plougastel, help_body(title="Santé", theme="Santé")),
        }
        for oid, (forger, body) in requests.items():
            forger.write("help_request", oid, {**body, "state": "open"})
        forgers = (plougastel, crozon, lander, lesneven, nowhere, located)
        for node in (brest, landerneau):
            await push(node, *forgers)

        def titles(items: list[dict[str, Any]]) -> list[str]:
            return [item["title"] for item in items]

        seen = await open_requests(brest, matching=True)
        assert titles(seen) == [
            "Coordonnées", "Plougastel", "Crozon", "Landerneau 1", "Landerneau 2", "Lesneven",
            "Sans lieu",
        ]  # fmt: skip
        distances = [item["distance_km"] for item in seen]
        assert distances[:6] == sorted(distances[:6]) and distances[-1] is None
        assert 6 < distances[0] < 8 and 8 < distances[1] < 10  # km, as the crow flies
        first = seen[1]
        assert first["asker_name"] == "Médiathèque de Plougastel"
        assert first["commune"] == "Plougastel-Daoulas" and first["matching"] is True
        assert "Santé" in titles(await open_requests(brest, matching=False))
        assert "Santé" not in titles(seen)

        from_landerneau = titles(await open_requests(landerneau, matching=True))
        assert from_landerneau[:4] == ["Landerneau 1", "Landerneau 2", "Plougastel", "Lesneven"]
        assert from_landerneau[-1] == "Sans lieu"

        r = await brest.client.get(
            "/api/v1/help-requests", params={"matching": "false", "limit": 2, "offset": 1}
        )
        # Same place, same first day: by title.
        assert titles(r.json()["items"]) == ["Plougastel", "Santé"]
        assert r.json()["total"] == 8
        r = await brest.client.get("/api/v1/help-requests", params={"theme": "Santé"})
        assert titles(r.json()["items"]) == ["Santé"]


async def test_a_node_without_skills_of_the_theme_lists_nothing_matching(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        ref = (await ask_help(a))["id"]
        await sync(b)
        assert await open_requests(b, matching=True) == []
        skill = await add_skill(b, THEME)
        assert [item["id"] for item in await open_requests(b, matching=True)] == [ref]
        # A deleted skill no longer counts.
        r = await b.client.delete(f"/api/v1/skills/{skill}", headers=b.auth)
        assert r.status_code == 204
        assert await open_requests(b, matching=True) == []


def no_mail_server(address: str) -> dict[str, Any]:
    """Mail on (so that notifications are queued) without sending them."""
    return {"smtp_host": "127.0.0.1", "smtp_port": 9, "notify_email": address}


async def queued(node: InProcessNode) -> list[OutboxMail]:
    with node.node.db.activated():
        return await OutboxMail.all().order_by("id")


async def test_a_third_place_cannot_close_another_places_request(tmp_path: Path) -> None:
    per_node = {name: no_mail_server(f"accueil@lieu-{name}.fr") for name in ("a", "b", "c")}
    async with network(tmp_path, ["a", "b", "c"], per_node=per_node) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        for node, others in ((a, ("b", "c")), (b, ("a", "c")), (c, ("a", "b"))):
            await link(node, *others)
        ref = (await ask_help(a))["id"]
        oid = ref.split("/")[1]
        await sync(b, c)
        offer_ref = (await offer(b, ref)).json()["id"]
        await deliver(b)
        await process(a)
        assert [m.kind for m in await queued(a)] == ["help_offer"]

        # c writes, in its own log, a "closed" help request with a's oid naming b's offer.
        forged = {**help_body(), "state": "closed", "accepted_offer": offer_ref}
        with c.node.db.activated():
            from node.services.log import publish

            await publish(c.node, "help_request", oid, "put", forged)
        await deliver(c)
        await sync(a, b)
        assert await process(b) == 1  # addressed to b (it names b's offer)...
        assert await queued(b) == []  # ...but it is not the asker's closing: no mail
        for node in (a, b, c):
            seen = await help_request(node, ref)
            assert seen["state"] == "open" and seen["accepted_offer"] is None
            assert [o["state"] for o in seen["offers"]] == ["open"]
            assert [item["id"] for item in await open_requests(node, matching=False)] == [ref]
            own = await help_request(node, f"{c.node.origin}/{oid}")
            assert own["state"] == "closed" and own["offers"] == []  # its own, offerless
        # A forger signing for a's origin is refused by every node.
        impostor = Forger()
        entry = impostor.write("help_request", oid, forged)
        entry["header"]["origin"] = a.node.origin
        r = await b.client.post("/federation/v1/push", json={"entries": [entry]})
        assert r.json()["accepted"] == [] and len(r.json()["rejected"]) == 1

        # The asker's own acceptance: closed for everyone, and b is told once.
        r = await a.client.post(help_path(ref, "offers", offer_ref, "accept"), headers=a.auth)
        assert r.status_code == 200
        await deliver(a)
        await sync(b, c)
        assert await process(b) == 1
        await process(b)
        assert [m.kind for m in await queued(b)] == ["help_offer_accepted"]
        for node in (a, b, c):
            assert (await help_request(node, ref))["state"] == "closed"


async def test_offer_messages_are_sealed_to_the_two_places(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        for node, others in ((a, ("b", "c")), (b, ("a", "c")), (c, ("a", "b"))):
            await link(node, *others)
        ref = (await ask_help(a))["id"]
        await sync(b, c)
        by_b = (await offer(b, ref)).json()["id"]
        by_c = (await offer(c, ref, f"Contact : Émilie Le Gall, {PHONE}")).json()["id"]
        await deliver(b, c)
        await process(a)
        await a.client.post(help_path(ref, "offers", by_b, "accept"), headers=a.auth)
        await deliver(a)
        await sync(a, b, c)
        for node in (a, b, c):
            with node.node.db.activated():
                entries = await LogEntry.all()
                assert {e.kind for e in entries} >= {"help_request", "help_offer"}
                for entry in entries:
                    text = (entry.header or "") + (entry.payload or "")
                    assert EMAIL not in text and PHONE not in text, (node.node.origin, entry.kind)
                    assert "Le Gall" not in text
        messages = {
            (name, o["id"]): o.get("message")
            for name, node in (("a", a), ("b", b), ("c", c))
            for o in (await help_request(node, ref))["offers"]
        }
        assert messages == {
            ("a", by_b): OFFER_MESSAGE,
            ("a", by_c): f"Contact : Émilie Le Gall, {PHONE}",
            ("b", by_b): OFFER_MESSAGE,
            ("b", by_c): None,
            ("c", by_b): None,
            ("c", by_c): f"Contact : Émilie Le Gall, {PHONE}",
        }
        for node in (a, b, c):
            for item in (await help_request(node, ref, auth=False))["offers"]:
                assert "message" not in item


async def test_an_offer_sealed_to_other_keys_shows_no_message(tmp_path: Path) -> None:
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        ref = (await ask_help(a))["id"]
        offerer = asker("Lieu étrange")
        sealed = seal({"message": f"Écrire à {EMAIL}"}, [offerer.origin])
        offerer.write("help_offer", "o1", {"request": ref, "state": "open", "sealed": sealed})
        await push(a, offerer)
        await process(a)
        [seen] = (await help_request(a, ref))["offers"]
        assert seen["id"] == f"{offerer.origin}/o1" and "message" not in seen


async def test_offers_are_purged_after_their_retention_and_the_request_stays(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b"], coop_retention_days=0) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        await link(b, "a")
        ref = (await ask_help(a, **{"from": day(1), "to": day(3)}))["id"]
        await sync(b)
        offer_ref = (await offer(b, ref)).json()["id"]
        await deliver(b)
        await process(a)
        await a.client.post(help_path(ref, "offers", offer_ref, "accept"), headers=a.auth)
        await deliver(a)
        with b.node.db.activated():
            assert await purge_due(b.node, now=utc_now() + timedelta(days=2)) == 0  # not yet
            assert await purge_due(b.node, now=utc_now() + timedelta(days=5)) == 1
        await deliver(b)
        oid = offer_ref.split("/")[1]
        for node in (a, b):
            seen = await help_request(node, ref)
            assert seen["state"] == "closed" and seen["accepted_offer"] == offer_ref
            assert seen["offers"] == []
            with node.node.db.activated():
                versions = await LogEntry.filter(origin=b.node.origin, kind="help_offer", oid=oid)
                assert [v.payload for v in versions] == [None, None]  # erased everywhere
                requests = await LogEntry.filter(kind="help_request")
                assert requests and all(r.payload is not None for r in requests)
        r = await b.client.get("/api/v1/help-requests", params={"role": "offerer"})
        assert r.json()["items"] == []


@pytest.fixture
def server() -> Iterator[MailServer]:
    mail_server = MailServer().start()
    yield mail_server
    mail_server.stop()


async def test_the_asker_is_told_of_each_offer_and_the_offerer_of_its_acceptance(
    tmp_path: Path, server: MailServer
) -> None:
    per_node = {
        name: {
            key: value
            for key, value in mail_settings(server, notify_email=address).items()
            if key != "url"  # each node's own (the network's)
        }
        for name, address in (
            ("a", "aide@lieu-a.fr"), ("b", "accueil@lieu-b.fr"), ("c", "contact@lieu-c.fr"),
        )
    }  # fmt: skip
    async with network(tmp_path, ["a", "b", "c"], per_node=per_node) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        for node, others in ((a, ("b", "c")), (b, ("a", "c")), (c, ("a", "b"))):
            await link(node, *others)
        r = await a.client.put(
            "/api/v1/place",
            json={"nom": "EPN de Bellevue", "commune": "Brest", "telephone": "+33298000001",
                  "courriels": ["epn@bellevue.example"]},
            headers=a.auth,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        ref = (await ask_help(a, title="Atelier tableur du jeudi"))["id"]
        await sync(b, c)
        by_b = (await offer(b, ref)).json()["id"]
        await offer(c, ref, "Nous pouvons aussi.")
        await deliver(b, c)
        assert await process(a) == 2
        assert await process(a) == 0
        assert await send(a) == 2
        offers = mails_to(server, "aide@lieu-a.fr")
        assert [subject for subject, _ in offers] == [
            "Proposition d'aide : Atelier tableur du jeudi"
        ] * 2
        body = offers[0][1] + offers[1][1]
        assert OFFER_MESSAGE in body and "Nous pouvons aussi." in body
        assert f"http://a.test/admin/help-requests/{ref}" in body

        await a.client.post(help_path(ref, "offers", by_b, "accept"), headers=a.auth)
        await deliver(a)
        await sync(b, c)
        await process(b, c)
        assert await send(b) == 1 and await send(c) == 0  # only the accepted offerer
        [(subject, body)] = mails_to(server, "accueil@lieu-b.fr")
        assert subject == "Votre proposition d'aide est acceptée : Atelier tableur du jeudi"
        assert "EPN de Bellevue a accepté votre proposition d'aide" in body
        assert "epn@bellevue.example" in body and "+33298000001" in body
        assert f"http://b.test/admin/help-requests/{ref}" in body
        assert mails_to(server, "contact@lieu-c.fr") == []
        # Processed again (a repaired entry, a retry): nobody is told twice.
        await process(a, b, c)
        assert await send(a) == 0 and await send(b) == 0
