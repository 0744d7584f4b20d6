"""The lender is the only authority on its items (BRIEF 8): it decides in the order it
stores the requests, so an item is never promised beyond its quantity; forged steps
change nothing; cancellations free the units; personal data is sealed, then purged."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from federation.cooperation import booking_oid, decision_oid
from federation.errors import SchemaError
from federation.sealing import seal
from federation.timeutil import utc_now
from node.cooperation.purge import purge_due
from node.models import LogEntry
from node.services.log import publish

from .conftest import InProcessNode
from .coop_helpers import (
    EMAIL,
    PHONE,
    act,
    add_item,
    ask,
    day,
    deliver,
    link,
    loan,
    loan_body,
    process,
    sync,
)
from .forger import Forger
from .network import network


async def set_auto(node: InProcessNode, item: str, value: bool = True) -> None:
    oid = item.split("/")[1]
    r = await node.client.put(
        f"/api/v1/equipment/{oid}/loan-rules", json={"auto_approve": value}, headers=node.auth
    )
    assert r.status_code == 200 and r.json()["auto_approve"] is value


async def bookings(node: InProcessNode, item: str) -> list[dict[str, Any]]:
    r = await node.client.get("/api/v1/bookings", params={"equipment": item})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_two_borrowers_race_for_the_last_unit_exactly_one_is_approved(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        for node in (b, c):
            await link(node, "a")
        item = await add_item(a, quantity=3)
        await add_item(a, "Another item")  # its bookings are not this item's
        await sync(b, c)
        await set_auto(a, item)
        # Both saw 3 free units; each asks for 2, on overlapping days.
        first = (await ask(b, item, quantity=2, start=day(3), end=day(6)))["id"]
        second = (await ask(c, item, quantity=2, start=day(5), end=day(8)))["id"]
        await deliver(c)  # c's request reaches a first
        await deliver(b)
        assert await process(a) == 2
        assert (await loan(a, second))["state"] == "approved"
        refused = await loan(a, first)
        assert refused["state"] == "declined" and refused["reason"] == "unavailable"
        assert await bookings(a, item) == [{"start": day(5), "end": day(8), "quantity": 2}]
        await sync(b)
        assert (await loan(b, first))["state"] == "declined"
        # A request that does not overlap fits the same unit.
        later = (await ask(b, item, quantity=3, start=day(9), end=day(9)))["id"]
        await deliver(b)
        await process(a)
        assert (await loan(a, later))["state"] == "approved"


async def test_an_approval_that_no_longer_fits_declines_and_says_why(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        for node in (b, c):
            await link(node, "a")
        item = await add_item(a, quantity=1)
        await sync(b, c)
        first = (await ask(b, item))["id"]
        second = (await ask(c, item, start=day(4), end=day(4)))["id"]
        await deliver(b, c)
        await process(a)
        assert (await act(a, first, "approve")).json()["state"] == "approved"
        r = await act(a, second, "approve")
        assert r.status_code == 409
        error = r.json()["error"]
        assert error["code"] == "unavailable" and error["state"] == "declined"
        assert error["conflicts"] == [{"start": day(3), "end": day(5), "quantity": 1}]
        assert (await loan(a, second))["state"] == "declined"
        # The borrower's node refuses at once what the bookings it knows cannot fit.
        await sync(c)
        r = await c.client.post(
            "/api/v1/loans", json=loan_body(item, start=day(5), end=day(7)), headers=c.auth
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "unavailable"
        assert r.json()["error"]["conflicts"] == [{"start": day(3), "end": day(5), "quantity": 1}]


async def test_cancellation_by_either_side_frees_the_units(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await link(a, "b")
        item = await add_item(a, quantity=1)
        await sync(b)
        await set_auto(a, item)
        by_borrower = (await ask(b, item))["id"]
        await deliver(b)
        await process(a)
        assert len(await bookings(a, item)) == 1
        await deliver(a)
        assert (await loan(b, by_borrower))["state"] == "approved"
        r = await act(b, by_borrower, "cancel")
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        await deliver(b)
        await process(a)
        cancelled = await loan(a, by_borrower)
        assert cancelled["state"] == "cancelled" and cancelled["reason"] == "cancelled_by_borrower"
        assert [s["state"] for s in cancelled["history"]] == [
            "requested", "approved", "cancelled", "cancelled",
        ]  # fmt: skip
        assert await bookings(a, item) == []
        await deliver(a)
        # Processing again changes nothing (the decision already reflects the request).
        with a.node.db.activated():
            before = await LogEntry.filter(origin=a.node.origin).count()
        await process(a)
        with a.node.db.activated():
            assert await LogEntry.filter(origin=a.node.origin).count() == before

        by_lender = (await ask(b, item))["id"]
        await deliver(b)
        await process(a)
        r = await act(a, by_lender, "cancel", {"message": "Le matériel est en panne."})
        assert r.json()["state"] == "cancelled" and r.json()["reason"] == "cancelled_by_lender"
        assert await bookings(a, item) == []
        await deliver(a)
        mine = await loan(b, by_lender)
        assert mine["state"] == "cancelled" and mine["note"] == "Le matériel est en panne."


async def test_forged_steps_are_refused_or_ignored_and_change_nothing(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        item = await add_item(a, quantity=1)
        await sync(b)
        ref = (await ask(b, item))["id"]
        await deliver(b)
        await process(a)

        # A third place decides for a's item: refused by every node (not_owner).
        third = Forger()
        decision = {
            "loan": ref, "equipment": item, "quantity": 1, "start": day(3), "end": day(5),
            "state": "approved",
        }  # fmt: skip
        documents = [
            third.write("place", "place"),
            third.write("loan_decision", decision_oid(ref), decision),
        ]
        for node in (a, b):
            r = await node.client.post("/federation/v1/push", json={"entries": documents})
            [rejected] = r.json()["rejected"]
            assert rejected["code"] == "not_owner"
        # A place deciding about its own item named like a's: not an answer to this request.
        other = Forger()
        own_item = {**decision, "equipment": f"{other.origin}/{item.split('/')[1]}"}
        documents = [
            other.write("place", "place"),
            other.write("loan_decision", decision_oid(ref), own_item),
        ]
        r = await b.client.post("/federation/v1/push", json={"entries": documents})
        assert len(r.json()["accepted"]) == 2
        # The borrower's own key approving its own request: not_owner as well.
        with b.node.db.activated(), pytest.raises(SchemaError) as refused:
            await publish(b.node, "loan_decision", decision_oid(ref), "put", decision)
        assert refused.value.keyword == "owner"  # refused before signing
        for node in (a, b):
            seen = await loan(node, ref)
            assert seen["state"] == "requested"
            assert [s["state"] for s in seen["history"]] == ["requested"]
        assert await bookings(b, item) == []
        # A forged booking of the item by another origin does not count either.
        booking = {
            "title": "Faux", "equipment": item.split("/")[1], "start": "2030-01-01T00:00:00Z",
            "end": "2030-01-02T00:00:00Z",
        }  # fmt: skip
        forged_booking = other.write("booking", booking_oid(ref), booking)
        r = await b.client.post("/federation/v1/push", json={"entries": [forged_booking]})
        assert len(r.json()["accepted"]) == 1
        assert await bookings(b, item) == []


async def test_requests_are_purged_after_their_retention_and_the_decision_stays(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b"], coop_retention_days=0) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await link(a, "b")
        item = await add_item(a, quantity=1)
        await sync(b)
        await set_auto(a, item)
        ref = (await ask(b, item, start=day(1), end=day(2)))["id"]
        await deliver(b)
        await process(a)
        await deliver(a)
        assert (await act(a, ref, "checkout")).status_code == 200
        await deliver(a)
        with b.node.db.activated():
            # Out and not returned: kept whatever its end.
            assert await purge_due(b.node, now=utc_now() + timedelta(days=30)) == 0
        assert (await act(a, ref, "return")).status_code == 200
        await deliver(a)
        with b.node.db.activated():
            assert await purge_due(b.node, now=utc_now() + timedelta(days=2)) == 0  # not yet
            assert await purge_due(b.node, now=utc_now() + timedelta(days=4)) == 1
        await deliver(b)
        for node in (a, b):
            assert (await node.client.get(f"/api/v1/loans/{ref}")).status_code == 404
            with node.node.db.activated():
                oid = ref.split("/")[1]
                versions = await LogEntry.filter(origin=b.node.origin, kind="loan", oid=oid)
                assert [v.payload for v in versions] == [None, None]  # erased everywhere
                text = " ".join(
                    e.payload or "" for e in await LogEntry.all() if e.payload is not None
                )
                assert EMAIL not in text and PHONE not in text
                decisions = await LogEntry.filter(
                    origin=a.node.origin, kind="loan_decision", oid=decision_oid(ref)
                )
                assert decisions and all(d.payload is not None for d in decisions)


async def test_no_contact_in_clear_in_any_entry_of_any_node(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(b, "a")
        await link(a, "b")
        await link(c, "a", "b")
        item = await add_item(a, quantity=2)
        await sync(b)
        ref = (await ask(b, item))["id"]
        await deliver(b)
        await process(a)
        await act(a, ref, "approve", {"message": f"Appelez le {PHONE}"})
        await act(a, ref, "checkout")
        await act(a, ref, "return", {"message": f"Écrire à {EMAIL}"})
        await deliver(a)
        await sync(c)
        for node in (a, b, c):
            with node.node.db.activated():
                for entry in await LogEntry.all():
                    text = (entry.header or "") + (entry.payload or "")
                    assert EMAIL not in text and PHONE not in text, (node.node.origin, entry.kind)
                    assert "Le Gall" not in text
        # The note of the lender is readable by the borrower only (and the lender).
        assert (await loan(b, ref))["note"] == f"Écrire à {EMAIL}"
        assert "note" not in await loan(c, ref)


async def test_a_step_sealed_to_other_keys_is_not_shown(tmp_path: Path) -> None:
    """A borrower that seals its contact to a key other than the lender's: the lender's
    node shows no contact (nothing opens), and does not fail."""
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        item = await add_item(a, quantity=1)
        borrower = Forger()
        payload = {
            "equipment": item, "quantity": 1, "start": day(3), "end": day(4),
            "state": "requested",
            "sealed": seal({"contact": {"name": "X", "email": EMAIL, "phone": ""}},
                           [borrower.origin]),
        }  # fmt: skip
        documents = [borrower.write("place", "place"), borrower.write("loan", "l1", payload)]
        r = await a.client.post("/federation/v1/push", json={"entries": documents})
        assert len(r.json()["accepted"]) == 2
        await process(a)
        seen = await loan(a, f"{borrower.origin}/l1")
        assert seen["state"] == "requested" and "contact" not in seen


async def test_an_item_withdrawn_declines_or_cancels_its_open_requests(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        item = await add_item(a, quantity=2)
        await sync(b)
        approved = (await ask(b, item))["id"]
        waiting = (await ask(b, item, start=day(7), end=day(8)))["id"]
        await deliver(b)
        await process(a)
        assert (await act(a, approved, "approve")).status_code == 200
        r = await a.client.delete(f"/api/v1/equipment/{item.split('/')[1]}", headers=a.auth)
        assert r.status_code == 204
        assert await process(a) == 1
        first, second = await loan(a, approved), await loan(a, waiting)
        assert (first["state"], first["reason"]) == ("cancelled", "item_withdrawn")
        assert (second["state"], second["reason"]) == ("declined", "item_withdrawn")
        r = await a.client.get("/api/v1/bookings", params={"equipment": item})
        assert r.status_code == 404  # neither the item nor a booking of it is left
