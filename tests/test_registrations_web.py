"""Registrations in the web interface: seats left on event pages of every node, the
"S'inscrire" form on an event page for a logged-in animator (the registration is made on
the animator's own node), the inbox and outbox, a registration's page and its button."""

from __future__ import annotations

from pathlib import Path

from .coop_helpers import deliver, link, process, sync
from .network import network
from .registration_helpers import EMAIL, add_event, register, registration
from .test_loans_web import text_of
from .test_web import csrf_of, log_in, make_user


async def test_an_animator_registers_on_the_event_page_and_follows_the_waiting_list(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        await link(b, "a")
        event = await add_event(a, "Atelier retouche photo", capacity=3)
        origin, oid = event.split("/")
        await sync(b)
        page_path = f"/o/{origin}/event/{oid}"

        anonymous = await b.client.get(page_path)
        assert anonymous.status_code == 200
        assert "Places restantes : 3 sur 3" in text_of(anonymous.text)
        assert 'name="participants"' not in anonymous.text
        assert "Se connecter" in text_of(anonymous.text)

        await make_user(b)
        assert (await log_in(b)).status_code == 303
        page = await b.client.get(page_path)
        assert 'name="participants"' in page.text and "S'inscrire" in page.text
        assert page.headers["cache-control"] == "no-store"
        form = {
            "csrf_token": csrf_of(page.text),
            "event": event,
            "seats": "1",
            "participants": f"Yann Kerjean, {EMAIL}\nSoizic Le Bihan <soizic@exemple.fr>",
            "message": "Deux animateurs.",
        }
        refused = await b.client.post("/admin/registrations/new", data=form)
        assert refused.status_code == 400
        assert "Plus de participants que de places (au plus 1)." in text_of(refused.text)
        bad_line = {**form, "seats": "2", "participants": "Yann Kerjean, yann@"}
        refused = await b.client.post("/admin/registrations/new", data=bad_line)
        assert refused.status_code == 400
        assert "Ligne 1 : saisissez une adresse électronique valide." in text_of(refused.text)
        too_many = {**form, "seats": "4"}
        refused = await b.client.post("/admin/registrations/new", data=too_many)
        assert refused.status_code == 409
        assert "3 place(s) en tout" in text_of(refused.text)

        sent = await b.client.post("/admin/registrations/new", data={**form, "seats": "2"})
        assert sent.status_code == 303
        detail = sent.headers["location"]
        assert detail.startswith(f"/admin/registrations/{b.node.origin}/")
        ref = detail.removeprefix("/admin/registrations/")
        mine = await b.client.get(detail)
        shown = text_of(mine.text)
        assert "En attente" in shown and EMAIL in shown and "soizic@exemple.fr" in shown
        await deliver(b)
        await process(a)
        # The organiser registers 2 more seats of its own: 1 left, so they wait.
        waiting = (await register(a, event, seats=2, participants=[]))["id"]
        await process(a)
        await deliver(a)
        await process(b)
        assert (await registration(b, ref))["state"] == "confirmed"
        outbox = await b.client.get("/admin/outbox")
        text = text_of(outbox.text)
        assert "Atelier retouche photo" in text and "Confirmée" in text
        assert "Annuler l'inscription" in text

        await make_user(a)
        assert (await log_in(a)).status_code == 303
        inbox = await a.client.get("/admin/inbox")
        text = text_of(inbox.text)
        assert "Inscriptions aux événements" in text
        assert "position 1 dans la liste d'attente" in text
        assert EMAIL not in inbox.text  # the participants are on the registration's page
        event_page = await a.client.get(page_path)
        assert "Places restantes : 1 sur 3" in text_of(event_page.text)

        # The registrant cancels with its button: the organiser promotes the waiting one.
        cancelled = await b.client.post(
            f"/admin/registrations/{ref}/cancel",
            data={"csrf_token": csrf_of(outbox.text), "next": "/admin/outbox"},
        )
        assert cancelled.status_code == 303 and cancelled.headers["location"] == "/admin/outbox"
        await deliver(b)
        await process(a)
        promoted = await a.client.get(f"/admin/registrations/{waiting}")
        text = text_of(promoted.text)
        assert "Confirmée" in text and "Liste d'attente" in text  # in its history
        full = await a.client.get(page_path)
        assert "Places restantes : 1 sur 3" in text_of(full.text)
        # A button without the session's CSRF token changes nothing.
        forged = await a.client.post(
            f"/admin/registrations/{waiting}/cancel", data={"csrf_token": "x"}
        )
        assert forged.status_code == 403
        assert (await registration(a, waiting))["state"] == "confirmed"
        # A page for a registration this node does not hold.
        missing = await a.client.get(f"/admin/registrations/{b.node.origin}/nothing")
        assert missing.status_code == 404


async def test_a_full_event_says_so_on_every_node(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        event = await add_event(a, "Initiation tablette", capacity=2)
        await register(a, event, seats=2, participants=[])
        await process(a)
        await sync(b)
        origin, oid = event.split("/")
        for node in (a, b):
            page = await node.client.get(f"/o/{origin}/event/{oid}")
            assert "Complet — liste d'attente" in text_of(page.text)
        results = await b.client.get("/search", params={"q": "tablette"})
        assert "Complet — liste d'attente" in text_of(results.text)
        await register(a, await add_event(a, "Tablette pour débuter", capacity=8), seats=3)
        await process(a)
        await sync(b)
        results = await b.client.get("/search", params={"q": "tablette"})
        assert "Places restantes : 5 sur 8" in text_of(results.text)
