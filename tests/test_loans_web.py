"""Loans in the web interface: the request form on another place's item page (for a
logged-in animator), the inbox and outbox with their buttons, a loan's page, and the
lending page of an item with its calendar and its rule."""

from __future__ import annotations

import html
import re
from pathlib import Path

from .coop_helpers import EMAIL, PHONE, add_item, day, deliver, link, loan, process, sync
from .network import network
from .test_web import csrf_of, log_in, make_user


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def test_an_animator_asks_on_the_item_page_and_the_lender_answers_in_its_inbox(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        await link(b, "a")
        item = await add_item(a, "Tablette Android", quantity=3)
        origin, oid = item.split("/")
        await sync(b)
        page_path = f"/o/{origin}/equipment/{oid}"

        anonymous = await b.client.get(page_path)
        assert anonymous.status_code == 200
        assert 'name="contact_email"' not in anonymous.text
        assert "Disponibilité" in anonymous.text and "Se connecter" in text_of(anonymous.text)

        await make_user(b)
        assert (await log_in(b)).status_code == 303
        page = await b.client.get(page_path)
        assert 'name="contact_email"' in page.text
        assert page.headers["cache-control"] == "no-store"
        form = {
            "csrf_token": csrf_of(page.text),
            "equipment": item,
            "quantity": "2",
            "start": day(2),
            "end": day(1),  # before the first day
            "contact_name": "Émilie Le Gall",
            "contact_email": EMAIL,
            "contact_phone": PHONE,
            "message": "Pour l'atelier du samedi.",
        }
        refused = await b.client.post("/admin/loans/new", data=form)
        assert refused.status_code == 400
        assert "Le dernier jour ne peut pas précéder le premier." in text_of(refused.text)
        past = await b.client.post(
            "/admin/loans/new", data={**form, "start": day(-2), "end": day(-1)}
        )
        assert past.status_code == 400
        assert "Le premier jour ne peut pas être dans le passé." in text_of(past.text)

        sent = await b.client.post("/admin/loans/new", data={**form, "end": day(4)})
        assert sent.status_code == 303
        detail = sent.headers["location"]
        assert detail.startswith(f"/admin/loans/{b.node.origin}/")
        ref = detail.removeprefix("/admin/loans/")
        mine = await b.client.get(detail)
        assert "Demandé" in mine.text and EMAIL in mine.text
        outbox = await b.client.get("/admin/outbox")
        assert "Tablette Android" in outbox.text and "Annuler le prêt" in outbox.text

        await deliver(b)
        await process(a)
        await make_user(a)
        assert (await log_in(a)).status_code == 303
        inbox = await a.client.get("/admin/inbox")
        assert inbox.status_code == 200
        text = text_of(inbox.text)
        assert "Tablette Android" in text and "Approuver" in text and "Refuser" in text
        assert EMAIL not in inbox.text  # the contact is on the loan's page only
        approved = await a.client.post(
            f"/admin/loans/{ref}/approve",
            data={"csrf_token": csrf_of(inbox.text), "next": "/admin/inbox"},
        )
        assert approved.status_code == 303 and approved.headers["location"] == "/admin/inbox"
        assert (await loan(a, ref))["state"] == "approved"
        page = await a.client.get(f"/admin/loans/{ref}")
        shown = text_of(page.text)
        assert EMAIL in shown and PHONE in shown and "Pour l'atelier du samedi." in shown

        lending = await a.client.get(f"/admin/equipment/{oid}/lending")
        assert lending.status_code == 200
        assert "2 unités réservées / 3" in text_of(lending.text)
        saved = await a.client.post(
            f"/admin/equipment/{oid}/lending",
            data={"csrf_token": csrf_of(lending.text), "auto_approve": "1"},
        )
        assert saved.status_code == 303
        rules = await a.client.get(f"/api/v1/equipment/{oid}/loan-rules", headers=a.auth)
        assert rules.json()["auto_approve"] is True

        # A button without the session's CSRF token changes nothing.
        forged = await a.client.post(f"/admin/loans/{ref}/checkout", data={"csrf_token": "x"})
        assert forged.status_code == 403
        assert (await loan(a, ref))["state"] == "approved"


async def test_the_loan_pages_need_a_session_and_a_place_may_borrow_its_own_item(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        item = await add_item(a, "Casque de réalité virtuelle", quantity=2)
        oid = item.split("/")[1]
        r = await a.client.post(
            "/api/v1/loans",
            json={
                "equipment": item, "quantity": 1, "start": day(1), "end": day(1),
                "contact": {"name": "Yann", "phone": PHONE},
            },
            headers=a.auth,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        ref = r.json()["id"]
        assert await process(a) == 1  # its own request is a task of its own node
        for path in (
            "/admin/inbox",
            "/admin/outbox",
            f"/admin/loans/{ref}",
            f"/admin/equipment/{oid}/lending",
            f"/admin/loans/new?equipment={item}",
        ):
            r = await a.client.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
        r = await a.client.post(f"/admin/loans/{ref}/approve", data={})
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
        assert (await loan(a, ref))["state"] == "requested"

        await make_user(a)
        assert (await log_in(a)).status_code == 303
        page = await a.client.get(f"/admin/loans/{ref}")
        assert "Un prêt d'un matériel de ce lieu à lui-même." in text_of(page.text)
        for box in ("/admin/inbox", "/admin/outbox"):
            assert "Casque de réalité virtuelle" in (await a.client.get(box)).text
        assert (await a.client.get(f"/admin/loans/{a.node.origin}/unknown")).status_code == 404
        assert (await a.client.get("/admin/equipment/nothing/lending")).status_code == 404
        # Its own item's page shows the calendar, but no form to borrow from itself.
        own = await a.client.get(f"/o/{a.node.origin}/equipment/{oid}")
        assert "Disponibilité" in own.text and 'name="contact_email"' not in own.text
        r = await a.client.post(
            f"/admin/loans/{ref}/cancel", data={"csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 303
        assert (await loan(a, ref))["state"] == "cancelled"
