"""Help requests in the web interface: the request form, the network's requests with
the offer form (matching ones first), the asker's page with the offers' messages and the
"Accepter" buttons, the inbox and outbox rows."""

from __future__ import annotations

from pathlib import Path

import httpx

from .coop_helpers import (
    EMAIL,
    PHONE,
    THEME,
    add_skill,
    ask_help,
    day,
    deliver,
    help_path,
    help_request,
    link,
    process,
    sync,
)
from .network import network
from .test_loans_web import text_of
from .test_web import csrf_of, log_in, make_user


async def test_ask_offer_and_accept_through_the_admin_pages(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        for node, others in ((a, ("b", "c")), (b, ("a",)), (c, ("a",))):
            await link(node, *others)
        await add_skill(b, THEME)
        for node in (a, b, c):
            await make_user(node)
            assert (await log_in(node)).status_code == 303

        form_page = await a.client.get("/admin/help-requests/new")
        assert form_page.status_code == 200
        assert form_page.headers["cache-control"] == "no-store"
        form = {
            "csrf_token": csrf_of(form_page.text),
            "theme": THEME,
            "title": "Animer l'atelier tableur",
            "description": f"Appelez-nous au {PHONE}",
            "from": day(2),
            "to": day(6),
        }
        refused = await a.client.post("/admin/help-requests/new", data=form)
        assert refused.status_code == 400
        assert "Pas d'adresse électronique ni de numéro de téléphone ici" in text_of(refused.text)
        refused = await a.client.post(
            "/admin/help-requests/new", data={**form, "description": "", "to": day(1)}
        )
        assert refused.status_code == 400
        assert "Le dernier jour ne peut pas précéder le premier." in text_of(refused.text)
        sent = await a.client.post(
            "/admin/help-requests/new", data={**form, "description": "Jeudi matin, 10 personnes."}
        )
        assert sent.status_code == 303
        page_path = sent.headers["location"]
        assert page_path.startswith(f"/admin/help-requests/{a.node.origin}/")
        ref = page_path.removeprefix("/admin/help-requests/")
        outbox = text_of((await a.client.get("/admin/outbox")).text)
        assert "Animer l'atelier tableur" in outbox and "Annuler la demande" in outbox

        await sync(b, c)
        overview = await b.client.get("/admin/help-requests")
        text = text_of(overview.text)
        matching, others = text.split("Autres demandes ouvertes")
        assert "Animer l'atelier tableur" in matching and "Proposer mon aide" in matching
        assert "Animer l'atelier tableur" not in others
        overview_c = text_of((await c.client.get("/admin/help-requests")).text)
        assert "Animer l'atelier tableur" in overview_c.split("Autres demandes ouvertes")[1]
        inbox = text_of((await b.client.get("/admin/inbox")).text)
        assert "Animer l'atelier tableur" in inbox
        assert "Animer l'atelier tableur" not in text_of((await c.client.get("/admin/inbox")).text)

        empty = await b.client.post(
            f"/admin/help-requests/{ref}/offers",
            data={"csrf_token": csrf_of(overview.text), "message": "  "},
        )
        assert empty.status_code == 400
        offered = await b.client.post(
            f"/admin/help-requests/{ref}/offers",
            data={
                "csrf_token": csrf_of(overview.text),
                "message": f"Je peux venir. {EMAIL}",
                "next": "/admin/help-requests",
            },
        )
        assert offered.status_code == 303 and offered.headers["location"] == "/admin/help-requests"
        mine = text_of((await b.client.get("/admin/help-requests")).text)
        assert "Retirer ma proposition" in mine
        await deliver(b)
        await process(a)
        page = await a.client.get(page_path)
        assert EMAIL in text_of(page.text) and "Accepter" in text_of(page.text)
        offer_ref = (await help_request(a, ref))["offers"][0]["id"]
        accepted = await a.client.post(
            f"/admin/help-requests/{ref}/offers/{offer_ref}/accept",
            data={"csrf_token": csrf_of(page.text)},
        )
        assert accepted.status_code == 303
        assert (await help_request(a, ref))["state"] == "closed"
        await deliver(a)
        shown = text_of((await b.client.get(f"/admin/help-requests/{ref}")).text)
        assert "Fermée : une proposition a été acceptée" in shown
        assert "Proposition acceptée" in shown

        # Without the session's CSRF token nothing happens; logged out: the login page.
        forged = await a.client.post(f"/admin/help-requests/{ref}/cancel", data={"csrf_token": "x"})
        assert forged.status_code == 403
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=a.app), base_url="http://testserver"
        ) as anonymous:
            r = await anonymous.get(page_path)
            assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")


async def test_the_public_page_lists_open_requests_without_personal_data(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await link(a, "b")
        ref = (
            await ask_help(a, title="Réparer une imprimante", theme="Prendre en main du matériel")
        )["id"]
        await ask_help(a, title="Atelier Ameli", theme="Santé")
        await sync(b)
        r = await b.client.post(
            help_path(ref, "offers"), json={"message": f"Oui ! {EMAIL}"}, headers=b.auth
        )
        assert r.status_code == 201
        await deliver(b)
        page = await a.client.get("/entraide")
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Réparer une imprimante" in text and "Atelier Ameli" in text
        assert "2 demandes ouvertes." in text and "1 proposition" in text
        assert EMAIL not in page.text
        one_theme = text_of((await a.client.get("/entraide", params={"theme": "Santé"})).text)
        assert "Atelier Ameli" in one_theme and "Réparer une imprimante" not in one_theme
        assert "/entraide" in (await a.client.get("/nodes")).text
