"""Helpers of the cooperation tests: in-process networks where each node syncs, pushes
and processes its tasks when the test says so."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from node.cooperation.processor import process_due
from node.cooperation.session import place_today
from node.services.deliveries import run_due_deliveries
from node.services.peers import add_peer
from node.services.sync import sync_all
from tests.conftest import InProcessNode
from tests.network import url_of

EMAIL = "emilie.legall@exemple-test.fr"
PHONE = "+33298765432"
CONTACT = {"name": "Émilie Le Gall", "email": EMAIL, "phone": PHONE}


async def link(node: InProcessNode, *names: str) -> None:
    with node.node.db.activated():
        for name in names:
            await add_peer(url_of(name))


async def sync(*nodes: InProcessNode) -> None:
    for node in nodes:
        with node.node.db.activated():
            await sync_all(node.node)


async def deliver(*nodes: InProcessNode) -> None:
    for node in nodes:
        with node.node.db.activated():
            await run_due_deliveries(node.node)


async def process(*nodes: InProcessNode) -> int:
    done = 0
    for node in nodes:
        with node.node.db.activated():
            done += await process_due(node.node)
    return done


def day(offset: int) -> str:
    """A day ``offset`` days from today (the place's)."""
    return (place_today() + timedelta(days=offset)).isoformat()


def today() -> date:
    return place_today()


async def add_item(node: InProcessNode, title: str = "Vidéoprojecteur", quantity: int = 1) -> str:
    r = await node.client.post(
        "/api/v1/equipment", json={"title": title, "quantity": quantity}, headers=node.auth
    )
    assert r.status_code == 201, r.text
    return f"{node.node.origin}/{r.json()['id']}"


def loan_body(equipment: str, **changes: Any) -> dict[str, Any]:
    return {
        "equipment": equipment,
        "quantity": 1,
        "start": day(3),
        "end": day(5),
        "message": "Pour l'atelier tablette de samedi.",
        "contact": CONTACT,
        **changes,
    }


async def ask(node: InProcessNode, equipment: str, **changes: Any) -> dict[str, Any]:
    r = await node.client.post(
        "/api/v1/loans", json=loan_body(equipment, **changes), headers=node.auth
    )
    assert r.status_code == 201, r.text
    document: dict[str, Any] = r.json()
    return document


def loan_path(ref: str, action: str = "") -> str:
    return f"/api/v1/loans/{ref}" + (f"/{action}" if action else "")


async def loan(node: InProcessNode, ref: str, *, auth: bool = True) -> dict[str, Any]:
    r = await node.client.get(loan_path(ref), headers=node.auth if auth else {})
    assert r.status_code == 200, r.text
    document: dict[str, Any] = r.json()
    return document


async def act(
    node: InProcessNode, ref: str, action: str, body: dict[str, Any] | None = None
) -> Any:
    return await node.client.post(loan_path(ref, action), json=body, headers=node.auth)


# -- help requests ----------------------------------------------------------------------

THEME = "Bureautique"
OFFER_MESSAGE = f"Notre animatrice peut venir le mardi. Joindre Émilie au {PHONE} ou {EMAIL}."


def help_body(**changes: Any) -> dict[str, Any]:
    return {
        "theme": THEME,
        "title": "Animer un atelier tableur",
        "description": "Notre animateur est absent : qui peut animer l'atelier du jeudi ?",
        "from": day(2),
        "to": day(9),
        **changes,
    }


async def add_skill(node: InProcessNode, theme: str = THEME, title: str = "Tableur") -> str:
    r = await node.client.post(
        "/api/v1/skills", json={"title": title, "theme": theme}, headers=node.auth
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def ask_help(node: InProcessNode, **changes: Any) -> dict[str, Any]:
    r = await node.client.post(
        "/api/v1/help-requests", json=help_body(**changes), headers=node.auth
    )
    assert r.status_code == 201, r.text
    document: dict[str, Any] = r.json()
    return document


def help_path(ref: str, *rest: str) -> str:
    return "/".join([f"/api/v1/help-requests/{ref}", *rest])


async def help_request(node: InProcessNode, ref: str, *, auth: bool = True) -> dict[str, Any]:
    r = await node.client.get(help_path(ref), headers=node.auth if auth else {})
    assert r.status_code == 200, r.text
    document: dict[str, Any] = r.json()
    return document


async def offer(node: InProcessNode, ref: str, message: str = OFFER_MESSAGE) -> Any:
    return await node.client.post(
        help_path(ref, "offers"), json={"message": message}, headers=node.auth
    )


async def open_requests(node: InProcessNode, matching: bool) -> list[dict[str, Any]]:
    r = await node.client.get(
        "/api/v1/help-requests", params={"matching": "true" if matching else "false"}
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items
