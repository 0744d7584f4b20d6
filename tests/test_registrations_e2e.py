"""Registrations between real ``papi serve`` processes (BRIEF 8, issue 10): 30 concurrent
registrations from 3 nodes for 10 seats; the organiser's node confirms exactly 10 in the
order it received them and puts the 20 others on its waiting list, positions 1 to 20 in
that order; a cancellation promotes the first waiting one at once and the others move
up. Seats left are the same on every node; no entry of any node holds a participant's
e-mail address or phone number in clear."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import NodeFactory, NodeProcess, wait_until

pytestmark = pytest.mark.e2e

DOMAIN = "participants-e2e.test"
PHONE_PREFIX = "+3329800"


def origin_of(node: NodeProcess) -> str:
    return str(httpx.get(node.url + "/api/v1/node", timeout=10).json()["id"])


def knows_event(node: NodeProcess, oid: str) -> bool:
    r = httpx.get(node.url + "/api/v1/search", params={"kind": "event"}, timeout=10)
    return any(result["id"] == oid for result in r.json()["results"])


def organised(node: NodeProcess) -> list[dict[str, Any]]:
    r = httpx.get(
        node.url + "/api/v1/registrations",
        params={"role": "organiser", "limit": 100},
        headers=node.auth,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def one(node: NodeProcess, ref: str) -> dict[str, Any] | None:
    r = httpx.get(node.url + f"/api/v1/registrations/{ref}", headers=node.auth, timeout=10)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    document: dict[str, Any] = r.json()
    return document


def register(node: NodeProcess, event: str, index: int) -> str:
    body = {
        "event": event,
        "seats": 1,
        "participants": [
            {
                "name": f"Participant {index}",
                "email": f"personne{index}@{DOMAIN}",
                "phone": f"{PHONE_PREFIX}{index:04d}",
            }
        ],
        "message": f"Inscription {index}",
    }
    r = httpx.post(node.url + "/api/v1/registrations", json=body, headers=node.auth, timeout=30)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "pending"
    return str(r.json()["id"])


def arrival_order(node: NodeProcess) -> list[str]:
    """The registrations in the order the organiser's node stored them (its queue of
    steps to decide), read from its database."""
    path = node.data_dir / "papi.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT origin, oid FROM coop_tasks WHERE kind = 'registration' ORDER BY id"
        ).fetchall()
    return [f"{origin}/{oid}" for origin, oid in rows]


def decision_order(node: NodeProcess, origin: str) -> list[tuple[str, str]]:
    """The organiser's decisions as its log holds them: (registration, state), in seq
    order (served to anyone by the federation API)."""
    r = httpx.get(
        node.url + "/federation/v1/entries",
        params={"origin": origin, "limit": 500},
        timeout=10,
    )
    return [
        (entry["payload"]["registration"], entry["payload"]["state"])
        for entry in r.json()["entries"]
        if entry["header"]["kind"] == "registration_decision"
    ]


def assert_no_participant_in_clear(*nodes: NodeProcess) -> None:
    for node in nodes:
        path = node.data_dir / "papi.sqlite3"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT header, coalesce(payload, '') FROM entries").fetchall()
            stored = db.execute("SELECT payload FROM objects").fetchall()
        assert rows
        for header, payload in rows:
            assert DOMAIN not in header + payload and PHONE_PREFIX not in header + payload
        for (payload,) in stored:
            assert DOMAIN not in payload and PHONE_PREFIX not in payload
        for origin in [o["id"] for o in httpx.get(node.url + "/api/v1/nodes").json()["origins"]]:
            served = httpx.get(
                node.url + "/federation/v1/entries",
                params={"origin": origin, "limit": 500},
                timeout=10,
            ).text
            assert DOMAIN not in served and PHONE_PREFIX not in served


def test_thirty_concurrent_registrations_from_three_nodes_for_ten_seats(
    node_factory: NodeFactory,
) -> None:
    organiser = node_factory("EPN Brest Bellevue")
    places = [
        node_factory("Médiathèque de Plouzané", commune="Plouzané"),
        node_factory("Cybercommune de Landerneau", commune="Landerneau"),
        node_factory("PAPI de Crozon", commune="Crozon"),
    ]
    for place in places:
        place.papi("peer", "add", organiser.url)
        organiser.papi("peer", "add", place.url)
    start = datetime.now(UTC) + timedelta(days=10)
    r = httpx.post(
        organiser.url + "/api/v1/events",
        json={
            "title": "Atelier : créer son adresse e-mail",
            "start": start.isoformat(timespec="seconds"),
            "end": (start + timedelta(hours=2)).isoformat(timespec="seconds"),
            "capacity": 10,
        },
        headers=organiser.auth,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    event = f"{origin_of(organiser)}/{oid}"
    for place in places:
        wait_until(lambda place=place: knows_event(place, oid), timeout=60)

    with ThreadPoolExecutor(max_workers=30) as pool:
        futures = [pool.submit(register, places[index % 3], event, index) for index in range(30)]
        refs = [future.result() for future in futures]
    assert len(set(refs)) == 30

    def all_decided() -> list[dict[str, Any]] | None:
        found = organised(organiser)
        if len(found) == 30 and all(x["state"] != "pending" for x in found):
            return found
        return None

    decided = {x["id"]: x for x in wait_until(all_decided, timeout=120)}
    arrived = arrival_order(organiser)
    assert sorted(arrived) == sorted(refs)
    # Exactly the first 10 to arrive are confirmed; the 20 others wait in arrival order.
    assert [decided[ref]["state"] for ref in arrived] == ["confirmed"] * 10 + ["waitlisted"] * 20
    assert [decided[ref]["position"] for ref in arrived[10:]] == list(range(1, 21))
    assert all(decided[ref]["position"] is None for ref in arrived[:10])
    # The organiser's log is the queue: its decisions are in that same order.
    organiser_origin = origin_of(organiser)
    assert decision_order(organiser, organiser_origin) == [
        (ref, decided[ref]["state"]) for ref in arrived
    ]
    assert httpx.get(organiser.url + f"/api/v1/events/{oid}").json()["seats_left"] == 0

    # A confirmed participant cancels on its own node: the first waiting one is
    # confirmed at once, everybody else moves up one place.
    leaving = arrived[3]
    owner = next(p for p in places if leaving.startswith(origin_of(p) + "/"))
    r = httpx.post(
        owner.url + f"/api/v1/registrations/{leaving}/cancel", headers=owner.auth, timeout=10
    )
    assert r.status_code == 200 and r.json()["state"] == "cancelled"

    def promoted() -> dict[str, dict[str, Any]] | None:
        found = {x["id"]: x for x in organised(organiser)}
        return found if found[arrived[10]]["state"] == "confirmed" else None

    after = wait_until(promoted, timeout=60)
    assert after[leaving]["state"] == "cancelled"
    assert sum(1 for x in after.values() if x["state"] == "confirmed") == 10
    assert [after[ref]["position"] for ref in arrived[11:]] == list(range(1, 20))
    assert httpx.get(organiser.url + f"/api/v1/events/{oid}").json()["seats_left"] == 0

    # Every node comes to the same view: the promoted registration, the seats left.
    first_waiting = arrived[10]
    for place in places:
        wait_until(
            lambda place=place: (one(place, first_waiting) or {}).get("state") == "confirmed",
            timeout=60,
        )
        last = one(place, arrived[29])
        assert last is not None and last["state"] == "waitlisted" and last["position"] == 19
        wait_until(
            lambda place=place: (
                [
                    x.get("seats_left")
                    for x in httpx.get(
                        place.url + "/api/v1/search", params={"kind": "event"}, timeout=10
                    ).json()["results"]
                ]
                == [0]
            ),
            timeout=60,
        )
    # The participants are readable on the two nodes concerned, with a token.
    mine = one(owner, leaving)
    assert mine is not None and mine["participants"][0]["email"].endswith("@" + DOMAIN)
    theirs = one(organiser, leaving)
    assert theirs is not None and theirs["participants"] == mine["participants"]
    stranger = next(p for p in places if p is not owner)
    seen = one(stranger, leaving)
    assert seen is not None and "participants" not in seen
    assert_no_participant_in_clear(organiser, *places)
