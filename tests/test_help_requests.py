"""Help requests through the JSON API (BRIEF 8), between in-process nodes: a place asks,
the nodes whose skills match list it, another place offers, the asker accepts one offer
and the request is closed for every node."""

from __future__ import annotations

from pathlib import Path

from .coop_helpers import (
    OFFER_MESSAGE,
    THEME,
    add_skill,
    ask_help,
    deliver,
    help_path,
    help_request,
    link,
    offer,
    open_requests,
    process,
    sync,
)
from .network import network


async def test_a_request_is_listed_where_skills_match_offered_and_accepted(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        for node, others in ((a, ("b", "c")), (b, ("a", "c")), (c, ("a", "b"))):
            await link(node, *others)
        await add_skill(b, THEME)
        await add_skill(c, "Santé", "Ameli")
        asked = await ask_help(a)
        ref = asked["id"]
        assert ref.startswith(a.node.origin + "/")
        assert asked["state"] == "open" and asked["offers"] == []
        assert asked["actions"] == ["cancel"]
        await sync(b, c)
        assert [item["id"] for item in await open_requests(b, matching=True)] == [ref]
        assert await open_requests(c, matching=True) == []
        for node in (b, c):
            assert [item["id"] for item in await open_requests(node, matching=False)] == [ref]

        r = await offer(b, ref)
        assert r.status_code == 201, r.text
        offered = r.json()
        assert offered["state"] == "open" and offered["message"] == OFFER_MESSAGE
        offer_ref = offered["id"]
        await deliver(b)
        assert await process(a) == 1
        seen = await help_request(a, ref)
        assert [o["id"] for o in seen["offers"]] == [offer_ref]
        assert seen["offers"][0]["message"] == OFFER_MESSAGE
        assert seen["actions"] == ["accept", "cancel"]
        without_token = await help_request(a, ref, auth=False)
        assert "message" not in without_token["offers"][0]

        r = await a.client.post(help_path(ref, "offers", offer_ref, "accept"), headers=a.auth)
        assert r.status_code == 200, r.text
        closed = r.json()
        assert closed["state"] == "closed" and closed["accepted_offer"] == offer_ref
        assert closed["offers"][0]["state"] == "accepted"
        await deliver(a)
        await sync(c)
        for node in (a, b, c):
            seen = await help_request(node, ref)
            assert seen["state"] == "closed" and seen["accepted_offer"] == offer_ref
            assert await open_requests(node, matching=False) == []
        assert "message" not in (await help_request(c, ref))["offers"][0]
        r = await offer(c, ref)
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
