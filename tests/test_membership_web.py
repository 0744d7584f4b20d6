"""``/admin/reseau`` in-process: the page, inviting, vouching for a request, blocking,
with their errors (French, next to the field) and nothing published on a bad input."""

from __future__ import annotations

from pathlib import Path

from node.datadir import init_data_dir
from tests.conftest import InProcessNode, in_process_node
from tests.test_web import csrf_of, log_in, make_user


async def test_network_page_invite_block_and_errors(tmp_path: Path) -> None:
    key, _ = init_data_dir(tmp_path / "a", {"name": "a"})
    async with in_process_node(
        tmp_path / "a", url="http://papi.exemple.fr", founders=key.origin
    ) as admin:
        await make_user(admin)
        await log_in(admin)
        page = await admin.client.get("/admin/reseau")
        assert page.status_code == 200
        assert "Inviter un lieu" in page.text and "Fondateur" in page.text
        assert "Lieux suspendus (fourche prouvée)" in page.text
        r = await admin.client.post(
            "/admin/reseau/invitation", data={"csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 200 and "PAPI1-" in r.text
        bad = await admin.client.post(
            "/admin/reseau/blocage",
            data={"csrf_token": csrf_of(page.text), "value": "nimporte", "reason": ""},
        )
        assert bad.status_code == 400
        assert "Indiquez l'identifiant d'un lieu" in bad.text
        assert "Dites pourquoi" in bad.text
        r = await admin.client.post(
            "/admin/reseau/blocage",
            data={"csrf_token": csrf_of(page.text), "value": "https://spam.example",
                  "reason": "pourriel"},
        )  # fmt: skip
        assert r.status_code == 303
        page = await admin.client.get("/admin/reseau")
        assert "https://spam.example" in page.text and "pourriel" in page.text
        form = {"csrf_token": csrf_of(page.text), "url": "https://spam.example"}
        r = await admin.client.post("/admin/peers", data=form)
        assert r.status_code == 400  # a blocked endpoint is never added as a peer
        joined = await admin.client.post(
            "/admin/reseau/rejoindre", data={"csrf_token": csrf_of(page.text), "code": "PAPI1-xx"}
        )
        assert joined.status_code == 400 and "mal recopié" in joined.text
        # A refused vouch is said in the visitor's language, through the catalogue.
        itself = await admin.client.post(
            "/admin/reseau/garantie", data={"csrf_token": csrf_of(page.text), "origin": key.origin}
        )
        assert itself.status_code == 400
        assert "un lieu ne peut pas se porter garant de lui-même" in itself.text
        forged = await admin.client.post(
            "/admin/reseau/garantie", data={"csrf_token": "nope", "origin": key.origin}
        )
        assert forged.status_code == 403


async def test_the_page_needs_a_login(papi: InProcessNode) -> None:
    r = await papi.client.get("/admin/reseau")
    assert r.status_code == 303 and "/admin/login" in r.headers["location"]


async def test_a_report_reaches_the_coordination_sealed(tmp_path: Path) -> None:
    from node.services.sync import sync_all
    from tests.network import network
    from tests.test_federation_inprocess import link

    founder, _ = init_data_dir(tmp_path / "a", {"name": "a"})
    async with network(tmp_path, ["a", "b", "c"], founders=founder.origin) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        for node in (b, c):
            await a.client.post("/api/v1/vouches", json={"subject": node.node.origin},
                                headers=a.auth)  # fmt: skip
            await link(node, "a")
        r = await a.client.post("/api/v1/skills", json={"title": "Arnaque"}, headers=a.auth)
        target = f"{a.node.origin}/skill/{r.json()['id']}"
        with b.node.db.activated():
            await sync_all(b.node)
        await make_user(b)
        await log_in(b)
        page = await b.client.get(f"/o/{a.node.origin}/skill/{r.json()['id']}")
        assert "/admin/signaler?objet=" in page.text
        form = await b.client.get("/admin/signaler", params={"objet": target})
        assert "jamais au vôtre" in form.text
        bad = await b.client.post(
            "/admin/signaler", data={"csrf_token": csrf_of(form.text), "objet": target}
        )
        assert bad.status_code == 400 and "Choisissez une raison" in bad.text
        sent = await b.client.post(
            "/admin/signaler",
            data={"csrf_token": csrf_of(form.text), "objet": target, "reason": "spam",
                  "message": "Publicité déguisée"},
        )  # fmt: skip
        assert sent.status_code == 303
        for node in (b, c):
            with node.node.db.activated():
                await sync_all(node.node)
        # The founder reads it; c relays it without reading it.
        await make_user(a)
        await log_in(a)
        view = await a.client.get("/admin/reseau")
        assert "Publicité déguisée" in view.text and target in view.text
        await make_user(c)
        await log_in(c)
        assert "Publicité déguisée" not in (await c.client.get("/admin/reseau")).text
        held = await c.client.get("/federation/v1/entries", params={"origin": b.node.origin})
        entries = held.json()["entries"]
        assert any(e["header"]["kind"] == "report" for e in entries)
        assert "Publicité" not in str(entries)
