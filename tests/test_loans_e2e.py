"""Equipment loans between real ``papi serve`` processes (BRIEF 8): asked on the
borrower's node, decided on the lender's, seen as bookings everywhere; with the lender
offline when asked, with a pull-only borrower, and with two borrowers racing for the last
unit. No entry of any node holds the test contact in clear."""

from __future__ import annotations

import sqlite3
import threading
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import NodeFactory, NodeProcess, wait_until

pytestmark = pytest.mark.e2e

EMAIL = "camille.kerouac@test-contact.fr"
PHONE = "+33299887766"


def day(offset: int) -> str:
    return (date.today() + timedelta(days=offset)).isoformat()


def origin_of(node: NodeProcess) -> str:
    return str(httpx.get(node.url + "/api/v1/node", timeout=10).json()["id"])


def add_item(node: NodeProcess, quantity: int) -> str:
    r = httpx.post(
        node.url + "/api/v1/equipment",
        json={"title": "Vidéoprojecteur", "quantity": quantity},
        headers=node.auth,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return f"{origin_of(node)}/{r.json()['id']}"


def knows(node: NodeProcess, item: str) -> bool:
    r = httpx.get(node.url + "/api/v1/bookings", params={"equipment": item}, timeout=10)
    return r.status_code == 200


def bookings(node: NodeProcess, item: str) -> list[dict[str, Any]]:
    r = httpx.get(node.url + "/api/v1/bookings", params={"equipment": item}, timeout=10)
    items: list[dict[str, Any]] = r.json()["items"] if r.status_code == 200 else []
    return items


def request_loan(node: NodeProcess, item: str, **changes: Any) -> httpx.Response:
    body = {
        "equipment": item,
        "quantity": 1,
        "start": day(2),
        "end": day(4),
        "message": "Atelier numérique du mercredi",
        "contact": {"name": "Camille Kerouac", "email": EMAIL, "phone": PHONE},
        **changes,
    }
    return httpx.post(node.url + "/api/v1/loans", json=body, headers=node.auth, timeout=10)


def ask(node: NodeProcess, item: str, **changes: Any) -> str:
    r = request_loan(node, item, **changes)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "requested"
    return str(r.json()["id"])


def loan(node: NodeProcess, ref: str) -> dict[str, Any] | None:
    r = httpx.get(node.url + f"/api/v1/loans/{ref}", headers=node.auth, timeout=10)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    document: dict[str, Any] = r.json()
    return document


def state(node: NodeProcess, ref: str) -> str | None:
    found = loan(node, ref)
    return None if found is None else str(found["state"])


def act(node: NodeProcess, ref: str, action: str) -> httpx.Response:
    return httpx.post(node.url + f"/api/v1/loans/{ref}/{action}", headers=node.auth, timeout=10)


def assert_no_contact_in_clear(*nodes: NodeProcess) -> None:
    """Every entry every node stores (read from its database) and serves (its entries
    pages): nowhere the test e-mail address or phone number."""
    for node in nodes:
        path = node.data_dir / "papi.sqlite3"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT header, coalesce(payload, '') FROM entries").fetchall()
        assert rows
        for header, payload in rows:
            assert EMAIL not in header + payload and PHONE not in header + payload
        origins = [
            o["id"] for o in httpx.get(node.url + "/api/v1/nodes", timeout=10).json()["origins"]
        ]
        for origin in origins:
            served = httpx.get(
                node.url + "/federation/v1/entries",
                params={"origin": origin, "limit": 500},
                timeout=10,
            ).text
            assert EMAIL not in served and PHONE not in served


def test_a_loan_asked_on_b_approved_on_a_is_a_booking_on_c(node_factory: NodeFactory) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plouzané", commune="Plouzané")
    c = node_factory("Cybercommune de Landerneau", commune="Landerneau")
    b.papi("peer", "add", a.url)
    a.papi("peer", "add", b.url)
    c.papi("peer", "add", a.url)
    item = add_item(a, quantity=2)
    wait_until(lambda: knows(b, item))
    ref = ask(b, item, quantity=2)

    seen = wait_until(lambda: loan(a, ref))
    assert seen["state"] == "requested" and seen["contact"]["email"] == EMAIL
    listed = httpx.get(a.url + "/api/v1/loans", params={"role": "lender"}, headers=a.auth).json()
    assert [x["id"] for x in listed["items"]] == [ref]
    r = act(a, ref, "approve")
    assert r.status_code == 200 and r.json()["state"] == "approved"
    expected = [{"start": day(2), "end": day(4), "quantity": 2}]
    wait_until(lambda: bookings(c, item) == expected)
    wait_until(lambda: state(b, ref) == "approved")
    assert state(c, ref) == "approved"
    third = loan(c, ref)
    assert third is not None and "contact" not in third
    mine = httpx.get(b.url + "/api/v1/loans", params={"role": "borrower"}, headers=b.auth).json()
    assert [x["state"] for x in mine["items"]] == ["approved"]
    assert_no_contact_in_clear(a, b, c)


def test_the_request_reaches_a_lender_that_was_offline(node_factory: NodeFactory) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plouzané", commune="Plouzané")
    b.papi("peer", "add", a.url)
    a.papi("peer", "add", b.url)
    item = add_item(a, quantity=1)
    wait_until(lambda: knows(b, item))
    a.stop()
    ref = ask(b, item)  # the lender is down: the request waits on b
    a.start()
    wait_until(lambda: state(a, ref) == "requested", timeout=60)
    assert act(a, ref, "approve").json()["state"] == "approved"
    wait_until(lambda: state(b, ref) == "approved", timeout=60)
    assert_no_contact_in_clear(a, b)


def test_a_pull_only_borrower_gets_its_answer_by_pulling(node_factory: NodeFactory) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plouzané", commune="Plouzané", pull_only=True)
    b.papi("peer", "add", a.url)  # b is behind NAT: a cannot reach it
    item = add_item(a, quantity=1)
    wait_until(lambda: knows(b, item))
    ref = ask(b, item)
    wait_until(lambda: state(a, ref) == "requested")
    assert act(a, ref, "approve").json()["state"] == "approved"
    wait_until(lambda: state(b, ref) == "approved")
    wait_until(lambda: bookings(b, item) == [{"start": day(2), "end": day(4), "quantity": 1}])
    assert_no_contact_in_clear(a, b)


def test_two_borrowers_racing_for_the_last_unit_exactly_one_is_approved(
    node_factory: NodeFactory,
) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plouzané", commune="Plouzané")
    c = node_factory("Cybercommune de Landerneau", commune="Landerneau")
    for borrower in (b, c):
        borrower.papi("peer", "add", a.url)
        a.papi("peer", "add", borrower.url)
    item = add_item(a, quantity=1)
    oid = item.split("/")[1]
    r = httpx.put(
        a.url + f"/api/v1/equipment/{oid}/loan-rules", json={"auto_approve": True}, headers=a.auth
    )
    assert r.json()["auto_approve"] is True
    wait_until(lambda: knows(b, item) and knows(c, item))
    refs: dict[str, str] = {}
    #: A borrower's node that already holds the winner's approval refuses the request
    #: itself (409 ``unavailable``): with the broadcast tree, the approval can reach it
    #: before its own request is made. Either way, the item is lent once.
    refused_at_home: dict[str, dict[str, Any]] = {}
    start = threading.Barrier(2)

    def race(name: str, node: NodeProcess) -> None:
        start.wait()
        r = request_loan(node, item)
        if r.status_code == 409:
            refused_at_home[name] = r.json()["error"]
        else:
            assert r.status_code == 201, r.text
            refs[name] = str(r.json()["id"])

    threads = [threading.Thread(target=race, args=(n, x)) for n, x in (("b", b), ("c", c))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(refs) + len(refused_at_home) == 2
    assert all(error["code"] == "unavailable" for error in refused_at_home.values())
    decided = wait_until(
        lambda: (
            {name: state(a, ref) for name, ref in refs.items()}
            if all(state(a, ref) in ("approved", "declined") for ref in refs.values())
            else None
        ),
        timeout=60,
    )
    decided.update(dict.fromkeys(refused_at_home, "refused at home"))
    assert sorted(decided.values()) in (
        ["approved", "declined"],
        ["approved", "refused at home"],
    ), decided
    if "declined" in decided.values():
        loser = refs["b"] if decided["b"] == "declined" else refs["c"]
        refused = loan(a, loser)
        assert refused is not None and refused["reason"] == "unavailable"
    assert len(bookings(a, item)) == 1
    for name, node in (("b", b), ("c", c)):
        if name in refs:
            wait_until(lambda node=node, name=name: state(node, refs[name]) == decided[name])
    assert_no_contact_in_clear(a, b, c)
