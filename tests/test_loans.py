"""Equipment loans through the JSON API (BRIEF 8), between in-process nodes: the borrower
asks on its node, the lender's node decides, every node sees the bookings."""

from __future__ import annotations

from pathlib import Path

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
