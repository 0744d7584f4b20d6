"""Helpers of the registration tests (in-process networks, see coop_helpers.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from federation.timeutil import utc_now
from tests.conftest import InProcessNode

EMAIL = "yann.kerjean@exemple-inscription.fr"
PHONE = "+33298112233"
PARIS = ZoneInfo("Europe/Paris")
PARTICIPANTS = [
    {"name": "Yann Kerjean", "email": EMAIL, "phone": PHONE},
    {"name": "Soizic Le Bihan", "email": "soizic.lebihan@exemple-inscription.fr"},
]


def moment(days: float) -> str:
    """An instant ``days`` from now, RFC 3339 in Paris time (whole seconds)."""
    at = utc_now() + timedelta(days=days)
    return at.replace(microsecond=0).astimezone(PARIS).isoformat()


async def add_event(
    node: InProcessNode,
    title: str = "Atelier tablette",
    *,
    capacity: int | None = 10,
    days: float = 7,
    **changes: Any,
) -> str:
    body: dict[str, Any] = {"title": title, "start": moment(days), "end": moment(days + 0.1)}
    if capacity is not None:
        body["capacity"] = capacity
    body.update(changes)
    r = await node.client.post("/api/v1/events", json=body, headers=node.auth)
    assert r.status_code == 201, r.text
    return f"{node.node.origin}/{r.json()['id']}"


async def update_event(node: InProcessNode, ref: str, **changes: Any) -> dict[str, Any]:
    oid = ref.split("/")[1]
    r = await node.client.get(f"/api/v1/events/{oid}")
    body = {**r.json(), **changes}
    body = {k: v for k, v in body.items() if v is not None}
    r = await node.client.put(f"/api/v1/events/{oid}", json=body, headers=node.auth)
    assert r.status_code == 200, r.text
    document: dict[str, Any] = r.json()
    return document


def registration_body(event: str, **changes: Any) -> dict[str, Any]:
    return {
        "event": event,
        "seats": 2,
        "participants": PARTICIPANTS,
        "message": "Deux animateurs de notre lieu.",
        **changes,
    }


async def register(node: InProcessNode, event: str, **changes: Any) -> dict[str, Any]:
    r = await node.client.post(
        "/api/v1/registrations", json=registration_body(event, **changes), headers=node.auth
    )
    assert r.status_code == 201, r.text
    document: dict[str, Any] = r.json()
    return document


def registration_path(ref: str, action: str = "") -> str:
    return f"/api/v1/registrations/{ref}" + (f"/{action}" if action else "")


async def registration(node: InProcessNode, ref: str, *, auth: bool = True) -> dict[str, Any]:
    r = await node.client.get(registration_path(ref), headers=node.auth if auth else {})
    assert r.status_code == 200, r.text
    document: dict[str, Any] = r.json()
    return document


async def cancel(node: InProcessNode, ref: str) -> Any:
    return await node.client.post(registration_path(ref, "cancel"), headers=node.auth)


async def event_json(node: InProcessNode, ref: str) -> dict[str, Any]:
    """The event as ``GET /api/v1/events/{oid}`` shows it on its organiser's node."""
    r = await node.client.get(f"/api/v1/events/{ref.split('/')[1]}")
    assert r.status_code == 200, r.text
    document: dict[str, Any] = r.json()
    return document
