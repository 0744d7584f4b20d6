"""Equipment loans through the JSON API (BRIEF 8), between in-process nodes: the borrower
asks on its node, the lender's node decides, every node sees the bookings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    loan_path,
    process,
    sync,
)
from .network import network


async def test_a_loan_from_request_to_return_seen_by_a_third_node(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(a, "b")
        await link(b, "a")
        await link(c, "a", "b")
        item = await add_item(a, quantity=2)
        await sync(b)
        asked = await ask(b, item, quantity=2)
        ref = asked["id"]
        assert ref.startswith(b.node.origin + "/")
        assert asked["state"] == "requested"
        assert asked["contact"]["email"] == EMAIL and asked["contact"]["phone"] == PHONE
        assert asked["borrower"] == b.node.origin and asked["lender"] == a.node.origin
        assert asked["actions"] == ["cancel"]

        await deliver(b)  # pushed to a
        assert await process(a) == 1
        seen = await loan(a, ref)
        assert seen["state"] == "requested"
        assert seen["contact"]["name"] == "Émilie Le Gall"
        assert seen["actions"] == ["approve", "decline", "cancel"]
        without_token = await loan(a, ref, auth=False)
        assert "contact" not in without_token and "message" not in without_token

        r = await act(a, ref, "approve")
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "approved"
        await sync(c)
        r = await c.client.get("/api/v1/bookings", params={"equipment": item})
        assert r.json() == {"items": [{"start": day(3), "end": day(5), "quantity": 2}]}
        third = await loan(c, ref)
        assert third["state"] == "approved"
        assert "contact" not in third  # c cannot open what is sealed to a and b

        assert (await act(a, ref, "checkout")).json()["state"] == "checked_out"
        r = await act(a, ref, "return", {"message": "Rendu complet, câble HDMI compris."})
        assert r.json()["state"] == "returned"
        await deliver(a)
        mine = await loan(b, ref)
        assert mine["state"] == "returned"
        assert mine["note"] == "Rendu complet, câble HDMI compris."
        assert [step["state"] for step in mine["history"]] == [
            "requested", "approved", "checked_out", "returned",
        ]  # fmt: skip
        assert [step["by"] for step in mine["history"]] == [b.node.origin] + [a.node.origin] * 3
        await sync(c)
        r = await c.client.get("/api/v1/bookings", params={"equipment": item})
        assert r.json() == {"items": []}  # returned: the units are free again


async def test_every_refusal_of_the_api_is_a_clear_error_and_changes_nothing(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(b, "a")
        await link(a, "b")
        await link(c, "a", "b")
        item = await add_item(a, quantity=2)
        await sync(b)

        async def post(body: object, headers: dict[str, str] | None = None) -> Any:
            return await b.client.post(
                "/api/v1/loans", json=body, headers=b.auth if headers is None else headers
            )

        assert (await post(loan_body(item), headers={})).status_code == 401
        wrong_token = {"authorization": "Bearer papi_nope"}
        assert (await post(loan_body(item), headers=wrong_token)).status_code == 401
        cases = [
            ({"start": "2030-13-01"}, "start", "format"),
            ({"start": "05/12/2030"}, "start", "format"),
            ({"start": day(5), "end": day(4)}, "end", "notBefore"),
            ({"end": day(3 + 400)}, "end", "maxDays"),
            ({"quantity": 0}, "quantity", "minimum"),
            ({"quantity": "2"}, "quantity", "type"),
            ({"quantity": 3}, "quantity", "maximum"),  # the item has 2 units
            ({"equipment": "projo"}, "equipment", "pattern"),
            ({"colour": "red"}, "colour", "additionalProperties"),
            ({"contact": {"name": "", "email": EMAIL}}, "contact.name", "required"),
            ({"contact": {"name": "Anne"}}, "contact.email", "required"),
            ({"contact": {"name": "Anne", "email": "anne@"}}, "contact.email", "format"),
            ({"contact": {"name": "Anne", "phone": "06 <12>"}}, "contact.phone", "format"),
            ({"contact": {"name": "Anne", "email": EMAIL, "age": 3}}, "contact.age",
             "additionalProperties"),
            ({"message": "x" * 4001}, "message", "maxLength"),
        ]  # fmt: skip
        for changes, field, keyword in cases:
            r = await post({**loan_body(item), **changes})
            assert r.status_code == 422, (changes, r.text)
            error = r.json()["error"]
            assert (error["code"], error["field"], error["keyword"]) == (
                "invalid", field, keyword,
            ), changes  # fmt: skip
        missing = loan_body(item)
        del missing["end"]
        assert (await post(missing)).json()["error"]["field"] == "end"
        assert (await post([1, 2])).status_code == 422
        r = await b.client.post(
            "/api/v1/loans",
            content=b"{not json",
            headers={**b.auth, "content-type": "application/json"},
        )
        assert r.status_code == 400
        unknown = f"{a.node.origin}/nothing-here"
        r = await post(loan_body(unknown))
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        listed = await b.client.get("/api/v1/loans", headers=b.auth)
        assert listed.json() == {"items": []}  # nothing was written

        ref = (await ask(b, item))["id"]
        other = f"{b.node.origin}/unknown-loan"
        assert (await b.client.get(loan_path(other))).status_code == 404
        r = await act(b, other, "cancel")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert (await b.client.post(loan_path(ref, "cancel"))).status_code == 401
        assert (await b.client.post(loan_path(ref, "explode"), headers=b.auth)).status_code == 404
        r = await b.client.get(f"/api/v1/loans/not-an-origin/{ref.split('/')[1]}")
        assert r.status_code == 404
        r = await b.client.get("/api/v1/loans", params={"role": "owner"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "role"

        # The borrower cannot approve its own request; a third place cannot decide.
        r = await act(b, ref, "approve")
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_allowed"
        await deliver(b)
        await sync(c)
        r = await act(c, ref, "approve")
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_allowed"
        r = await act(c, ref, "cancel")
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_allowed"
        # Not in this state: checked out before approval, returned before checkout.
        await process(a)
        for action in ("checkout", "return"):
            r = await act(a, ref, action)
            assert r.status_code == 409, action
            assert r.json()["error"]["code"] == "invalid_state"
            assert r.json()["error"]["state"] == "requested"
        r = await act(a, ref, "approve", {"colour": "red"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "colour"
        r = await act(a, ref, "approve", {"message": 3})
        assert r.status_code == 422
        assert (await loan(a, ref))["state"] == "requested"
        assert (await act(a, ref, "approve")).status_code == 200
        assert (await act(a, ref, "checkout")).status_code == 200
        r = await act(a, ref, "cancel")  # too late: the units are out
        assert r.status_code == 409 and r.json()["error"]["state"] == "checked_out"
        await deliver(a)
        r = await act(b, ref, "cancel")
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"

        # Bookings: a ref is required; an item nobody knows is not found.
        assert (await c.client.get("/api/v1/bookings")).status_code == 400
        r = await c.client.get("/api/v1/bookings", params={"equipment": "x/y"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "equipment"
        r = await c.client.get("/api/v1/bookings", params={"equipment": unknown})
        assert r.status_code == 404
        # Lending rules: the lender's own items only, with a token.
        oid = item.split("/")[1]
        rules = f"/api/v1/equipment/{oid}/loan-rules"
        assert (await a.client.get(rules)).status_code == 401
        assert (await b.client.get(rules, headers=b.auth)).status_code == 404
        r = await a.client.put(rules, json={"auto_approve": "yes"}, headers=a.auth)
        assert r.status_code == 422 and r.json()["error"]["field"] == "auto_approve"
        r = await a.client.put(rules, json={"auto": True}, headers=a.auth)
        assert r.status_code == 422
        r = await a.client.get(rules, headers=a.auth)
        assert r.json() == {"equipment": item, "auto_approve": False}


async def test_cooperation_steps_are_not_offers(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        item = await add_item(a, "Vidéoprojecteur")
        await sync(b)
        ref = (await ask(b, item))["id"]
        for kind in ("loan", "loan_decision", "registration", "help_offer"):
            r = await b.client.get("/api/v1/search", params={"kind": kind})
            assert r.status_code == 400 and r.json()["error"]["field"] == "kind"
        r = await b.client.get("/api/v1/search", params={"q": "vidéoprojecteur"})
        assert [x["kind"] for x in r.json()["results"]] == ["equipment"]
        origin, oid = ref.split("/")
        assert (await b.client.get(f"/o/{origin}/loan/{oid}")).status_code == 404
        page = await b.client.get("/search", params={"q": "vidéoprojecteur"})
        assert ref not in page.text
        for path in ("/feed.atom", "/network/feed.atom"):
            feed = await b.client.get(path)
            assert feed.status_code == 200 and oid not in feed.text


async def test_a_loan_recorded_afterwards_is_accepted_by_the_api(tmp_path: Path) -> None:
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        item = await add_item(a, quantity=1)
        await a.client.put(
            f"/api/v1/equipment/{item.split('/')[1]}/loan-rules",
            json={"auto_approve": True},
            headers=a.auth,
        )
        ref = (await ask(a, item, start=day(-10), end=day(-8)))["id"]
        await process(a)
        assert (await loan(a, ref))["state"] == "approved"
        assert (await act(a, ref, "checkout")).json()["state"] == "overdue"
        assert (await act(a, ref, "return")).json()["state"] == "returned"
