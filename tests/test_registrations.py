"""Registrations to events through the JSON API (BRIEF 8), between in-process nodes: the
registrant registers on its node, the organiser's node confirms while seats remain, then
waitlists with a position; a cancellation promotes the first waiting registration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .coop_helpers import deliver, link, process, sync
from .network import network
from .registration_helpers import (
    EMAIL,
    PHONE,
    add_event,
    cancel,
    event_json,
    register,
    registration,
    registration_body,
    registration_path,
)


async def test_confirmed_while_seats_remain_then_waitlisted_and_promoted(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(a, "b", "c")
        await link(b, "a")
        await link(c, "a", "b")
        event = await add_event(a, capacity=5)
        await sync(b, c)
        first = await register(b, event, seats=2)
        assert first["state"] == "pending" and first["position"] is None
        assert first["id"].startswith(b.node.origin + "/")
        assert [p["email"] for p in first["participants"]] == [
            EMAIL, "soizic.lebihan@exemple-inscription.fr",
        ]  # fmt: skip
        assert first["participants"][0]["phone"] == PHONE
        assert first["registrant"] == b.node.origin and first["organiser"] == a.node.origin
        second = await register(c, event, seats=3, participants=[])
        third = await register(b, event, seats=1, participants=[{"name": "Anne"}])
        fourth = await register(c, event, seats=2, participants=[])
        await deliver(b)  # first and third reach a before second and fourth
        await deliver(c)
        assert await process(a) == 5  # the event itself (its creation) and 4 registrations
        states = [(await registration(a, r["id"])) for r in (first, third, second, fourth)]
        assert [(s["state"], s["position"]) for s in states] == [
            ("confirmed", None), ("confirmed", None), ("waitlisted", 1), ("waitlisted", 2),
        ]  # fmt: skip
        assert states[2]["reason"] == "full"
        assert (await event_json(a, event))["seats_left"] == 2
        await deliver(a)
        await sync(c)
        assert (await registration(c, second["id"]))["position"] == 1
        seen = await registration(c, first["id"])  # a third node for this one
        assert seen["state"] == "confirmed" and "participants" not in seen

        # The first cancels on its node: the organiser promotes the first waiting one
        # (3 seats fit in 2 + 2 freed); the next (2 seats) still waits, now first in line.
        r = await cancel(b, first["id"])
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        await deliver(b)
        await process(a)
        assert (await registration(a, second["id"]))["state"] == "confirmed"
        last = await registration(a, fourth["id"])
        assert (last["state"], last["position"]) == ("waitlisted", 1)
        assert (await event_json(a, event))["seats_left"] == 1
        cancelled = await registration(a, first["id"])
        assert cancelled["state"] == "cancelled"
        assert cancelled["reason"] == "cancelled_by_registrant"
        # The organiser cancels the third (1 seat): the last one fits now.
        r = await cancel(a, third["id"])
        assert r.json()["state"] == "cancelled"
        assert (await registration(a, fourth["id"]))["state"] == "confirmed"
        await deliver(a)
        await process(b, c)
        mine = await registration(c, fourth["id"])
        assert mine["state"] == "confirmed"
        assert [s["state"] for s in mine["history"]] == ["requested", "waitlisted", "confirmed"]
        assert (await registration(b, third["id"]))["reason"] == "cancelled_by_organiser"


async def test_every_refusal_of_the_api_is_a_clear_error_and_changes_nothing(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(b, "a")
        await link(a, "b")
        await link(c, "a", "b")
        event = await add_event(a, capacity=4)
        over = await add_event(a, "Atelier d'hier", days=-2)
        await sync(b)

        async def post(body: object, headers: dict[str, str] | None = None) -> Any:
            return await b.client.post(
                "/api/v1/registrations", json=body, headers=b.auth if headers is None else headers
            )

        assert (await post(registration_body(event), headers={})).status_code == 401
        wrong_token = {"authorization": "Bearer papi_nope"}
        assert (await post(registration_body(event), headers=wrong_token)).status_code == 401
        long_name = "x" * 201
        cases = [
            ({"event": "atelier"}, "event", "pattern"),
            ({"event": 3}, "event", "pattern"),
            ({"seats": 0}, "seats", "minimum"),
            ({"seats": 101}, "seats", "maximum"),
            ({"seats": "2"}, "seats", "type"),
            ({"seats": True}, "seats", "type"),
            ({"seats": 1}, "participants", "maxItems"),  # two participants, one seat
            ({"participants": "Anne"}, "participants", "type"),
            ({"participants": ["Anne"]}, "participants[0]", "type"),
            ({"participants": [{"email": EMAIL}]}, "participants[0].name", "required"),
            ({"participants": [{"name": long_name}]}, "participants[0].name", "maxLength"),
            ({"participants": [{"name": "Anne", "email": "anne@"}]},
             "participants[0].email", "format"),
            ({"participants": [{"name": "Anne", "phone": "<06>"}]},
             "participants[0].phone", "format"),
            ({"participants": [{"name": "Anne", "age": 7}]},
             "participants[0].age", "additionalProperties"),
            ({"message": "x" * 4001}, "message", "maxLength"),
            ({"message": 12}, "message", "type"),
            ({"colour": "red"}, "colour", "additionalProperties"),
            ({"occurrence": "2030-01-01"}, "occurrence", "format"),
            ({"occurrence": 5}, "occurrence", "type"),
            # The event is not a series of sessions: no occurrence.
            ({"occurrence": "2030-01-01T10:00:00+01:00"}, "occurrence", "notRecurring"),
        ]  # fmt: skip
        for changes, field, keyword in cases:
            r = await post({**registration_body(event), **changes})
            assert r.status_code == 422, (changes, r.text)
            error = r.json()["error"]
            assert (error["code"], error["field"], error["keyword"]) == (
                "invalid", field, keyword,
            ), changes  # fmt: skip
        nothing = registration_body(event)
        del nothing["seats"], nothing["participants"]
        r = await post(nothing)
        assert r.status_code == 422 and r.json()["error"]["field"] == "seats"
        missing = registration_body(event)
        del missing["event"]
        assert (await post(missing)).json()["error"]["field"] == "event"
        assert (await post([1, 2])).status_code == 422
        r = await b.client.post(
            "/api/v1/registrations",
            content=b"{not json",
            headers={**b.auth, "content-type": "application/json"},
        )
        assert r.status_code == 400
        unknown = f"{a.node.origin}/no-such-event"
        r = await post(registration_body(unknown))
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        # Refused at once what can never be accepted: a past event, more seats than all.
        r = await post(registration_body(over))
        assert r.status_code == 409 and r.json()["error"]["code"] == "event_over"
        r = await post(registration_body(event, seats=5))
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "over_capacity"
        assert r.json()["error"]["capacity"] == 4
        listed = await b.client.get("/api/v1/registrations", headers=b.auth)
        assert listed.json() == {"items": []}  # nothing was written

        # Seats defaults to the number of participants.
        ref = (await register(b, event, seats=None))["id"]
        assert (await registration(b, ref))["seats"] == 2
        other = f"{b.node.origin}/unknown-registration"
        assert (await b.client.get(registration_path(other))).status_code == 404
        r = await cancel(b, other)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert (await b.client.post(registration_path(ref, "cancel"))).status_code == 401
        r = await b.client.post(registration_path(ref, "explode"), headers=b.auth)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await b.client.post(
            registration_path(ref, "cancel"), json={"reason": "x"}, headers=b.auth
        )
        assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
        r = await b.client.get(f"/api/v1/registrations/not-an-origin/{ref.split('/')[1]}")
        assert r.status_code == 404
        r = await b.client.get("/api/v1/registrations", params={"role": "borrower"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "role"
        # Without a token: no participants, no message; with a wrong one: 401.
        anonymous = await registration(b, ref, auth=False)
        assert "participants" not in anonymous and "message" not in anonymous
        r = await b.client.get(registration_path(ref), headers=wrong_token)
        assert r.status_code == 401
        listed = await b.client.get("/api/v1/registrations")
        assert listed.status_code == 200 and EMAIL not in listed.text

        # A third place cannot cancel; nobody cancels twice.
        await deliver(b)
        await sync(c)
        r = await cancel(c, ref)
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_allowed"
        assert (await cancel(b, ref)).json()["state"] == "cancelled"
        r = await cancel(b, ref)
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
        assert r.json()["error"]["state"] == "cancelled"
        await deliver(b)
        await process(a)
        r = await cancel(a, ref)
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
