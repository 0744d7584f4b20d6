"""The organiser is the only authority on its events (BRIEF 8): it decides in the order
it stores the registrations (the waiting list is its log), promotes in that order when
seats are freed, declines what can never be accepted; forged steps change nothing;
participants are sealed, then purged."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from federation.cooperation import decision_oid
from federation.errors import SchemaError
from federation.sealing import seal
from federation.timeutil import utc_now
from node.cooperation import reads
from node.cooperation import registrations as registrations_module
from node.cooperation.purge import purge_due
from node.models import LogEntry
from node.services.log import publish

from .conftest import InProcessNode
from .coop_helpers import deliver, link, process, sync
from .forger import Forger
from .network import network
from .registration_helpers import (
    EMAIL,
    PHONE,
    add_event,
    cancel,
    event_json,
    register,
    registration,
    update_event,
)


async def states(node: InProcessNode, refs: list[str]) -> list[tuple[str, int | None]]:
    found = []
    for ref in refs:
        seen = await registration(node, ref)
        found.append((seen["state"], seen["position"]))
    return found


async def payloads(origin: str, kind: str, oid: str) -> list[str | None]:
    """The stored payloads of every entry of an object, in seq order."""
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "SELECT payload FROM entries WHERE origin = ? AND kind = ? AND oid = ? ORDER BY seq",
            [origin, kind, oid],
        )
    return [row["payload"] for row in rows]


async def own_entries(node: InProcessNode) -> int:
    with node.node.db.activated():
        return await LogEntry.filter(origin=node.node.origin).count()


async def test_a_later_smaller_registration_never_overtakes_and_a_larger_capacity_promotes(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await link(a, "b")
        event = await add_event(a, capacity=3)
        await sync(b)
        refs = [
            (await register(b, event, seats=seats, participants=[]))["id"] for seats in (2, 2, 1, 3)
        ]
        await deliver(b)
        await process(a)
        # 1 seat is left, but the 1-seat registration waits behind the 2-seat one.
        assert await states(a, refs) == [
            ("confirmed", None), ("waitlisted", 1), ("waitlisted", 2), ("waitlisted", 3),
        ]  # fmt: skip
        assert (await event_json(a, event))["seats_left"] == 1
        # Processing again writes nothing (each decision reflects its registration).
        before = await own_entries(a)
        await process(a)
        assert await own_entries(a) == before

        # One more seat: the first waiting one (2) fits, the next (1) does not (0 left).
        await update_event(a, event, capacity=4)
        await process(a)
        assert await states(a, refs) == [
            ("confirmed", None), ("confirmed", None), ("waitlisted", 1), ("waitlisted", 2),
        ]  # fmt: skip
        # Unlimited: everybody in, in order.
        await update_event(a, event, capacity=None)
        await process(a)
        assert [s for s, _ in await states(a, refs)] == ["confirmed"] * 4
        assert (await event_json(a, event))["seats_left"] is None
        await deliver(a)
        await process(b)
        last = await registration(b, refs[3])
        assert [s["state"] for s in last["history"]] == ["requested", "waitlisted", "confirmed"]


async def test_a_capacity_lowered_under_the_first_waiting_one_declines_it(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        event = await add_event(a, capacity=5)
        refs = [
            (await register(a, event, seats=seats, participants=[]))["id"] for seats in (3, 5, 1)
        ]
        await process(a)
        assert await states(a, refs) == [
            ("confirmed", None), ("waitlisted", 1), ("waitlisted", 2),
        ]  # fmt: skip
        await update_event(a, event, capacity=4)
        await process(a)
        # 5 seats can never fit in 4: declined on the way; the 1 seat fits the 1 left.
        found = [await registration(a, ref) for ref in refs]
        assert [(r["state"], r["reason"]) for r in found] == [
            ("confirmed", None), ("declined", "over_capacity"), ("confirmed", None),
        ]  # fmt: skip


async def test_a_deleted_event_declines_every_registration(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await link(a, "b")
        event = await add_event(a, capacity=2)
        await sync(b)
        refs = [(await register(b, event, seats=seats, participants=[]))["id"] for seats in (2, 1)]
        await deliver(b)
        await process(a)
        late = (await register(b, event, seats=1, participants=[]))["id"]
        r = await a.client.delete(f"/api/v1/events/{event.split('/')[1]}", headers=a.auth)
        assert r.status_code == 204
        await deliver(b)  # the late one arrives after the deletion
        await process(a)
        for ref in [*refs, late]:
            seen = await registration(a, ref)
            assert (seen["state"], seen["reason"]) == ("declined", "event_cancelled"), ref
            assert seen["seats_left"] is None and seen["actions"] == []
        await deliver(a)
        await process(b)
        assert (await registration(b, refs[0]))["state"] == "declined"
        # The registrant's node no longer knows the event: a new registration is a 404.
        r = await b.client.post(
            "/api/v1/registrations",
            json={"event": event, "seats": 1},
            headers=b.auth,
        )
        assert r.status_code == 404


async def test_trainings_take_member_places_only(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await link(a, "b")
        training = await add_event(a, "Formation : démarches", audience="animateurs")
        await sync(b)
        member = (await register(b, training, seats=1, participants=[]))["id"]
        # An origin without a place profile: not a member.
        stranger = Forger()
        payload = {
            "event": training, "seats": 1, "state": "requested",
            "sealed": seal({"participants": [], "message": ""}, [a.node.origin, stranger.origin]),
        }  # fmt: skip
        r = await a.client.post(
            "/federation/v1/push", json={"entries": [stranger.write("registration", "r1", payload)]}
        )
        assert len(r.json()["accepted"]) == 1
        await deliver(b)
        await process(a)
        assert (await registration(a, member))["state"] == "confirmed"
        refused = await registration(a, f"{stranger.origin}/r1")
        assert (refused["state"], refused["reason"]) == ("declined", "not_member")
        # A registration stored before its origin was frozen (a proven fork): no member.
        later = (await register(b, training, seats=1, participants=[]))["id"]
        await deliver(b)
        with a.node.db.activated():
            async with in_transaction() as conn:
                await conn.execute_query(
                    "UPDATE origins SET frozen = 1 WHERE id = ?", [b.node.origin]
                )
        await process(a)
        seen = await registration(a, later)
        assert (seen["state"], seen["reason"]) == ("declined", "not_member")


async def test_what_can_never_be_accepted_is_declined_by_the_organiser(tmp_path: Path) -> None:
    """Registrations written by another implementation (or a node that did not know):
    a past event, a session of an event without sessions, more seats than all."""
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        event = await add_event(a, capacity=3)
        over = await add_event(a, "Atelier d'hier", days=-1)
        other = Forger()

        def payload(target: str, **changes: Any) -> dict[str, Any]:
            return {
                "event": target, "seats": 1, "state": "requested",
                "sealed": seal({"participants": [], "message": ""}, [a.node.origin]),
                **changes,
            }  # fmt: skip

        documents = [
            other.write("place", "place"),
            other.write("registration", "past", payload(over)),
            other.write("registration", "session",
                        payload(event, occurrence="2030-01-07T14:00:00+01:00")),
            other.write("registration", "many", payload(event, seats=4)),
            other.write("registration", "fine", payload(event, seats=3)),
        ]  # fmt: skip
        r = await a.client.post("/federation/v1/push", json={"entries": documents})
        assert len(r.json()["accepted"]) == 5
        await process(a)
        found = {
            oid: await registration(a, f"{other.origin}/{oid}")
            for oid in ("past", "session", "many", "fine")
        }
        assert {oid: (r["state"], r["reason"]) for oid, r in found.items()} == {
            "past": ("declined", "event_over"),
            "session": ("declined", "no_such_occurrence"),
            "many": ("declined", "over_capacity"),
            "fine": ("confirmed", None),
        }
        assert (await event_json(a, event))["seats_left"] == 0


async def test_only_the_sessions_the_rule_generates_take_registrations(tmp_path: Path) -> None:
    """A weekly series takes registrations per session, and only for the starts its rule
    generates (docs/protocol.md 3.10): a Wednesday of a Tuesday series, or 14:00 winter
    time after the change to summer time, is no session (both were seated before)."""
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        series = {"rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=10"}
        event = await add_event(
            a, capacity=1, start="2030-03-05T14:00:00+01:00", end="2030-03-05T16:00:00+01:00",
            recurrence=series,
        )  # fmt: skip
        other = Forger()

        def payload(occurrence: str) -> dict[str, Any]:
            return {
                "event": event, "seats": 1, "state": "requested", "occurrence": occurrence,
                "sealed": seal({"participants": [], "message": ""}, [a.node.origin]),
            }  # fmt: skip

        sessions = {
            "wednesday": "2030-03-06T14:00:00+01:00",
            "winter": "2030-04-02T14:00:00+01:00",
            "summer": "2030-04-02T14:00:00+02:00",
            "same": "2030-04-02T12:00:00Z",
            "first": "2030-03-05T14:00:00+01:00",
        }
        documents = [other.write("place", "place")] + [
            other.write("registration", oid, payload(start)) for oid, start in sessions.items()
        ]
        r = await a.client.post("/federation/v1/push", json={"entries": documents})
        assert len(r.json()["accepted"]) == 6
        await process(a)
        found = {oid: await registration(a, f"{other.origin}/{oid}") for oid in sessions}
        assert {oid: (r["state"], r["reason"]) for oid, r in found.items()} == {
            "wednesday": ("declined", "no_such_occurrence"),
            "winter": ("declined", "no_such_occurrence"),
            "summer": ("confirmed", None),
            "same": ("waitlisted", "full"),  # the same session, its one seat taken
            "first": ("confirmed", None),  # another session: seats of its own
        }
        assert found["summer"]["start"] == "2030-04-02T14:00:00+02:00"
        assert found["summer"]["end"] == "2030-04-02T16:00:00+02:00"
        # The registrant's own node refuses at once what is no session.
        wrong = {"event": event, "seats": 1, "occurrence": sessions["wednesday"]}
        r = await a.client.post("/api/v1/registrations", json=wrong, headers=a.auth)
        assert r.status_code == 422
        assert (r.json()["error"]["field"], r.json()["error"]["keyword"]) == (
            "occurrence", "occurrence",
        )  # fmt: skip


async def test_the_waiting_list_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registrations_module, "MAX_WAITING", 2)
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        event = await add_event(a, capacity=1)
        refs = [(await register(a, event, seats=1, participants=[]))["id"] for _ in range(4)]
        await process(a)
        found = [await registration(a, ref) for ref in refs]
        assert [(r["state"], r["position"], r["reason"]) for r in found] == [
            ("confirmed", None, None), ("waitlisted", 1, "full"), ("waitlisted", 2, "full"),
            ("declined", None, "full"),
        ]  # fmt: skip


async def test_a_place_registers_for_its_own_event_and_cancels_at_once(tmp_path: Path) -> None:
    async with network(tmp_path, ["a"]) as (_, nodes):
        a = nodes["a"]
        event = await add_event(a, capacity=2)
        first = await register(a, event, seats=2, participants=[])
        assert first["state"] == "pending"
        assert first["registrant"] == first["organiser"] == a.node.origin
        second = (await register(a, event, seats=1, participants=[]))["id"]
        await process(a)
        assert await states(a, [first["id"], second]) == [
            ("confirmed", None), ("waitlisted", 1),
        ]  # fmt: skip
        listed = await a.client.get("/api/v1/registrations", headers=a.auth)
        assert len(listed.json()["items"]) == 2  # each once, though both roles are a's
        # Both sides are this node: the cancellation and the promotion in one step.
        r = await cancel(a, first["id"])
        assert r.json()["state"] == "cancelled"
        assert await states(a, [second]) == [("confirmed", None)]
        assert (await registration(a, first["id"]))["reason"] == "cancelled_by_registrant"
        await process(a)
        assert await states(a, [second]) == [("confirmed", None)]


async def test_forged_steps_are_refused_or_ignored_and_change_nothing(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        event = await add_event(a, capacity=1)
        await sync(b)
        taken = (await register(a, event, seats=1, participants=[]))["id"]
        await process(a)
        ref = (await register(b, event, seats=1, participants=[]))["id"]
        await deliver(b)
        await process(a)
        assert await states(a, [ref]) == [("waitlisted", 1)]

        # A third place confirms b's registration for a's event: refused (not_owner).
        third = Forger()
        decision = {"registration": ref, "event": event, "seats": 1, "state": "confirmed"}
        documents = [
            third.write("place", "place"),
            third.write("registration_decision", decision_oid(ref), decision),
        ]
        for node in (a, b):
            r = await node.client.post("/federation/v1/push", json={"entries": documents})
            [rejected] = r.json()["rejected"]
            assert rejected["code"] == "not_owner"
        # A place confirming it about its own event of the same name: not an answer.
        other = Forger()
        own_event = {**decision, "event": f"{other.origin}/{event.split('/')[1]}"}
        documents = [
            other.write("place", "place"),
            other.write("registration_decision", decision_oid(ref), own_event),
        ]
        r = await b.client.post("/federation/v1/push", json={"entries": documents})
        assert len(r.json()["accepted"]) == 2
        # The registrant's own key confirming its own registration: refused before signing.
        with b.node.db.activated(), pytest.raises(SchemaError) as refused:
            await publish(b.node, "registration_decision", decision_oid(ref), "put", decision)
        assert refused.value.keyword == "owner"
        await process(a, b)
        await sync(b)
        for node in (a, b):
            seen = await registration(node, ref)
            assert (seen["state"], seen["position"]) == ("waitlisted", 1)
            assert [s["state"] for s in seen["history"]] == ["requested", "waitlisted"]
        assert (await event_json(a, event))["seats_left"] == 0
        assert await states(a, [taken]) == [("confirmed", None)]


async def test_no_participant_in_clear_in_any_entry_of_any_node(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(b, "a")
        await link(a, "b")
        await link(c, "a", "b")
        event = await add_event(a, capacity=3)
        await sync(b)
        refs = [(await register(b, event, message=f"Joindre {PHONE}"))["id"]]
        refs.append((await register(b, event, seats=3))["id"])
        await deliver(b)
        await process(a)
        await cancel(b, refs[1])
        await deliver(a, b)
        await sync(c)
        for node in (a, b, c):
            with node.node.db.activated():
                entries = await LogEntry.all()
                assert any(e.kind == "registration" for e in entries)
                for entry in entries:
                    text = (entry.header or "") + (entry.payload or "")
                    assert EMAIL not in text and PHONE not in text, (node.node.origin, entry.kind)
                    assert "Kerjean" not in text and "Le Bihan" not in text
        # Readable with a token on the two nodes concerned only.
        for node in (a, b):
            seen = await registration(node, refs[0])
            assert seen["participants"][0]["email"] == EMAIL
            assert seen["message"] == f"Joindre {PHONE}"
        assert "participants" not in await registration(c, refs[0])


async def test_registrations_are_purged_after_their_retention_and_the_decision_stays(
    tmp_path: Path,
) -> None:
    async with network(tmp_path, ["a", "b"], coop_retention_days=0) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        await link(a, "b")
        event = await add_event(a, capacity=5, days=1)
        await sync(b)
        ref = (await register(b, event))["id"]
        await deliver(b)
        await process(a)
        await deliver(a)
        with b.node.db.activated():
            assert await purge_due(b.node) == 0  # the event is to come
            assert await purge_due(b.node, now=utc_now() + timedelta(days=3)) == 1
        await deliver(b)
        oid = ref.split("/")[1]
        for node in (a, b):
            assert (await node.client.get(f"/api/v1/registrations/{ref}")).status_code == 404
            with node.node.db.activated():
                versions = await payloads(b.node.origin, "registration", oid)
                assert versions == [None, None]  # the request erased, and its tombstone
                decisions = await payloads(
                    a.node.origin, "registration_decision", decision_oid(ref)
                )
                assert decisions and all(d is not None for d in decisions)
        # The seat stays counted by the organiser's decision alone.
        assert (await event_json(a, event))["seats_left"] == 3


async def test_seats_left_on_every_node_in_search_and_collections(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c"]) as (_, nodes):
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        await link(b, "a")
        await link(a, "b")
        await link(c, "a", "b")
        event = await add_event(a, "Atelier photo numérique", capacity=12)
        free = await add_event(a, "Café numérique", capacity=None)
        await sync(b)
        await register(b, event, seats=3, participants=[])
        await register(b, free, seats=3, participants=[])
        await deliver(b)
        await process(a)
        assert (await event_json(a, event))["seats_left"] == 9
        listed = (await a.client.get("/api/v1/events")).json()["items"]
        assert {item["title"]: item["seats_left"] for item in listed} == {
            "Atelier photo numérique": 9, "Café numérique": None,
        }  # fmt: skip
        await sync(c)
        for node in (a, b, c):
            r = await node.client.get("/api/v1/search", params={"kind": "event"})
            found = {x["title"]: x.get("seats_left", "absent") for x in r.json()["results"]}
            assert found == {"Atelier photo numérique": 9, "Café numérique": None}, node
        r = await c.client.get("/api/v1/search", params={"q": "photo"})
        assert r.json()["results"][0]["seats_left"] == 9
        # A client sending the event back with its server fields changes nothing.
        oid = event.split("/")[1]
        body = await event_json(a, event)
        r = await a.client.put(f"/api/v1/events/{oid}", json=body, headers=a.auth)
        assert r.status_code == 200 and r.json()["seats_left"] == 9
        assert "seats_left" not in (await a.client.get("/api/v1/skills")).text


async def test_a_request_rewritten_for_another_event_after_its_answer_changes_nothing(
    tmp_path: Path,
) -> None:
    """A registrant (another implementation, or a hostile one) writes a new version of
    its confirmed registration naming another event: the organiser does not answer it
    again, and the seats of the first event stay taken."""
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a, b = nodes["a"], nodes["b"]
        await link(b, "a")
        first = await add_event(a, "Atelier du lundi", capacity=2)
        second = await add_event(a, "Atelier du jeudi", capacity=2)
        await sync(b)
        ref = (await register(b, first, seats=2, participants=[]))["id"]
        await deliver(b)
        await process(a)
        assert (await event_json(a, first))["seats_left"] == 0
        with b.node.db.activated():
            async with b.node.db.transaction() as conn:
                stored = await reads.current(conn, b.node.origin, "registration", ref.split("/")[1])
            assert stored is not None
            await publish(
                b.node, "registration", stored.oid, "put", {**stored.payload, "event": second}
            )
        await deliver(b)
        before = await own_entries(a)
        await process(a)
        assert await own_entries(a) == before  # nothing decided again
        assert (await event_json(a, first))["seats_left"] == 0
        assert (await event_json(a, second))["seats_left"] == 2
