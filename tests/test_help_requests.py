"""Help requests through the JSON API (BRIEF 8), between in-process nodes: a place asks,
the nodes whose skills match list it, another place offers, the asker accepts one offer
and the request is closed for every node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .coop_helpers import (
    EMAIL,
    OFFER_MESSAGE,
    PHONE,
    THEME,
    add_skill,
    ask_help,
    day,
    deliver,
    help_body,
    help_path,
    help_request,
    link,
    offer,
    open_requests,
    process,
    sync,
)
from .forger import Forger
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


async def test_every_refusal_of_the_api_is_a_clear_error_and_changes_nothing(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        for node, others in ((a, ("b", "c")), (b, ("a", "c")), (c, ("a", "b"))):
            await link(node, *others)

        async def post(body: object, headers: dict[str, str] | None = None) -> Any:
            return await a.client.post(
                "/api/v1/help-requests", json=body, headers=a.auth if headers is None else headers
            )

        assert (await post(help_body(), headers={})).status_code == 401
        wrong_token = {"authorization": "Bearer papi_nope"}
        assert (await post(help_body(), headers=wrong_token)).status_code == 401
        cases = [
            ({"theme": "Jardinage"}, "theme", "enum"),
            ({"theme": None}, "theme", "enum"),
            ({"title": ""}, "title", "required"),
            ({"title": "   "}, "title", "required"),
            ({"title": 3}, "title", "type"),
            ({"title": "x" * 201}, "title", "maxLength"),
            ({"description": "x" * 20_001}, "description", "maxLength"),
            ({"description": f"Écrire à {EMAIL}"}, "description", "personalData"),
            ({"description": "Appeler le 02 98 76 54 32"}, "description", "personalData"),
            ({"title": f"Rappeler {PHONE}"}, "title", "personalData"),
            ({"from": "2030-02-30"}, "from", "format"),
            ({"from": "05/12/2030"}, "from", "format"),
            ({"to": 20301205}, "to", "format"),
            ({"from": day(5), "to": day(4)}, "to", "notBefore"),
            ({"from": day(-1)}, "from", "minimum"),
            ({"to": day(2 + 366)}, "to", "maxDays"),
            ({"contact": {"email": EMAIL}}, "contact", "additionalProperties"),
        ]  # fmt: skip
        for changes, field, keyword in cases:
            r = await post({**help_body(), **changes})
            assert r.status_code == 422, (changes, r.text)
            error = r.json()["error"]
            assert (error["code"], error["field"], error["keyword"]) == (
                "invalid", field, keyword,
            ), changes  # fmt: skip
        for name in ("theme", "title", "from", "to"):
            missing = help_body()
            del missing[name]
            r = await post(missing)
            assert r.status_code == 422 and r.json()["error"]["field"] == name, name
        assert (await post([1, 2])).status_code == 422
        r = await a.client.post(
            "/api/v1/help-requests",
            content=b"{not json",
            headers={**a.auth, "content-type": "application/json"},
        )
        assert r.status_code == 400
        # Nothing was written; a request spanning exactly the longest span is fine.
        r = await a.client.get("/api/v1/help-requests", params={"role": "asker"})
        assert r.json() == {"items": [], "total": 0}
        assert (await post({**help_body(), "to": day(2 + 365)})).status_code == 201

        # Listing parameters.
        for params in ({"matching": "maybe"}, {"role": "lender"}, {"theme": "Jardinage"}):
            r = await a.client.get("/api/v1/help-requests", params=params)
            assert r.status_code == 400, params
            assert r.json()["error"]["field"] == next(iter(params)), params
        r = await a.client.get("/api/v1/help-requests", params={"limit": "0"})
        assert r.status_code == 422

        ref = (await ask_help(a))["id"]
        unknown = f"{a.node.origin}/unknown-request"
        assert (await a.client.get(help_path(unknown))).status_code == 404
        assert (await a.client.get(f"/api/v1/help-requests/not-an-origin/{ref}")).status_code == 404
        assert (await a.client.get(help_path(ref), headers=wrong_token)).status_code == 401

        # Offers: the asker does not offer to itself; an unknown request is not found.
        r = await offer(a, ref)
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_allowed"
        await sync(b, c)
        r = await offer(b, unknown)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await b.client.post(help_path(ref, "offers"), json={"message": "Oui"})
        assert r.status_code == 401
        for body, field, keyword in (
            ({}, "message", "required"),
            ({"message": "  "}, "message", "required"),
            ({"message": 3}, "message", "type"),
            ({"message": "x" * 4001}, "message", "maxLength"),
            ({"message": "Oui", "phone": PHONE}, "phone", "additionalProperties"),
        ):
            r = await b.client.post(help_path(ref, "offers"), json=body, headers=b.auth)
            assert r.status_code == 422, body
            assert (r.json()["error"]["field"], r.json()["error"]["keyword"]) == (field, keyword)
        r = await b.client.post(help_path(ref, "offers"), json=[1], headers=b.auth)
        assert r.status_code == 422
        assert (await help_request(b, ref))["offers"] == []  # nothing was written
        first = (await offer(b, ref)).json()["id"]
        r = await offer(b, ref)
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_offered"
        assert r.json()["error"]["offer"] == first
        second = (await offer(c, ref)).json()["id"]
        await deliver(b, c)
        await process(a)

        # Accepting: the asker's node only, an offer it knows, that answers this request.
        accept = help_path(ref, "offers", first, "accept")
        assert (await a.client.post(accept)).status_code == 401
        r = await b.client.post(accept, headers=b.auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_allowed"
        r = await a.client.post(help_path(ref, "offers", f"{b.node.origin}/nope", "accept"),
                                headers=a.auth)  # fmt: skip
        assert r.status_code == 404
        r = await a.client.post(help_path(unknown, "offers", first, "accept"), headers=a.auth)
        assert r.status_code == 404
        other = (await ask_help(a, title="Réparer une imprimante"))["id"]
        await sync(b)
        r = await a.client.post(help_path(other, "offers", first, "accept"), headers=a.auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_allowed"
        r = await a.client.post(accept, json={"note": "x"}, headers=a.auth)
        assert r.status_code == 422 and r.json()["error"]["field"] == "note"

        # Withdrawing: the offerer's node only; a withdrawn offer cannot be accepted.
        withdraw = help_path(ref, "offers", second, "withdraw")
        r = await a.client.post(withdraw, headers=a.auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_allowed"
        r = await c.client.post(withdraw, headers=c.auth)
        assert r.status_code == 200 and r.json()["state"] == "withdrawn"
        r = await c.client.post(withdraw, headers=c.auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
        await deliver(c)
        r = await a.client.post(help_path(ref, "offers", second, "accept"), headers=a.auth)
        assert r.status_code == 409 and r.json()["error"]["offer_state"] == "withdrawn"
        assert (await help_request(a, ref))["state"] == "open"

        # Cancelling: the asker's node only.
        r = await b.client.post(help_path(ref, "cancel"), headers=b.auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_allowed"
        assert (await a.client.post(accept, headers=a.auth)).status_code == 200
        r = await a.client.post(help_path(ref, "cancel"), headers=a.auth)
        assert r.status_code == 409 and r.json()["error"]["state"] == "closed"
        r = await a.client.post(help_path(ref, "offers", first, "accept"), headers=a.auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
        await deliver(a)
        r = await b.client.post(help_path(ref, "offers", first, "withdraw"), headers=b.auth)
        assert r.status_code == 409 and r.json()["error"]["state"] == "accepted"
        r = await offer(c, ref)  # c withdrew: offering again is refused now the request closed
        assert r.status_code == 409 and r.json()["error"]["state"] == "closed"

        cancelled = await a.client.post(help_path(other, "cancel"), headers=a.auth)
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        assert (await a.client.post(help_path(other, "cancel"), headers=a.auth)).status_code == 409
        await deliver(a)
        r = await offer(b, other)
        assert r.status_code == 409 and r.json()["error"]["state"] == "cancelled"


async def test_an_offer_to_a_request_whose_last_day_is_past_is_refused(tmp_path: Path) -> None:
    async with network(tmp_path, ["b"]) as (_, nodes):
        b = nodes["b"]
        asker = Forger()
        past = {**help_body(**{"from": day(-5), "to": day(-1)}), "state": "open"}
        documents = [
            asker.write("place", "place", {"nom": "EPN d'hier", "commune": "Brest"}),
            asker.write("help_request", "h1", past),
        ]
        r = await b.client.post("/federation/v1/push", json={"entries": documents})
        assert len(r.json()["accepted"]) == 2
        ref = f"{asker.origin}/h1"
        seen = await help_request(b, ref)
        assert seen["state"] == "open" and seen["actions"] == []
        assert await open_requests(b, matching=False) == []  # over: not listed any more
        r = await offer(b, ref)
        assert r.status_code == 409
        assert (
            r.json()["error"]["code"] == "invalid_state" and r.json()["error"]["reason"] == "past"
        )


async def test_withdrawing_then_offering_again(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(a, "b")
        await link(b, "a")
        ref = (await ask_help(a))["id"]
        await sync(b)
        first = (await offer(b, ref, "Premier message")).json()["id"]
        assert (await b.client.post(help_path(ref, "offers", first, "withdraw"),
                                    headers=b.auth)).status_code == 200  # fmt: skip
        r = await offer(b, ref, "Finalement, oui")
        assert r.status_code == 201
        second = r.json()["id"]
        await deliver(b)
        await process(a)
        seen = await help_request(a, ref)
        assert [(o["id"], o["state"], o["message"]) for o in seen["offers"]] == [
            (first, "withdrawn", "Premier message"),
            (second, "open", "Finalement, oui"),
        ]
        assert [s["state"] for s in seen["history"]] == ["open", "offered", "withdrawn", "offered"]
