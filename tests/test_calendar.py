"""iCalendar exports (node/web/calendar.py, node/web/routes_interop.py), generated from
the demo data and read back with the ``icalendar`` parser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from federation.timeutil import utc_now
from node.models import CurrentObject, Origin
from node.services.log import new_oid, publish
from node.web.calendar import event_uid
from tests.conftest import InProcessNode, in_process_node
from tests.demo_network import DemoNetwork, load_demo

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[InProcessNode, DemoNetwork]]:
    async with in_process_node(tmp_path / "node", name="EPN Brest Bellevue") as papi:
        yield papi, await load_demo(papi)


async def fetch(papi: InProcessNode, path: str, **params: str) -> icalendar.Calendar:
    response = await papi.client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.content)
    assert isinstance(calendar, icalendar.Calendar)
    return calendar


def summaries(calendar: icalendar.Calendar) -> list[str]:
    return [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")]


async def test_place_calendar_is_valid_rfc5545_with_its_time_zone(demo: Any) -> None:
    papi, net = demo
    calendar = await fetch(papi, "/events.ics")
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["PRODID"])
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Paris"
    assert "EPN Brest Bellevue" in str(calendar["X-WR-CALNAME"])
    [event] = calendar.walk("VEVENT")
    [oid] = net.oids[("EPN Brest Bellevue", "event")]
    assert str(event["UID"]) == event_uid(papi.node.origin, oid)
    assert str(event["SUMMARY"]) == "Initiation au numérique pour les seniors"
    # Required by RFC 5545: DTSTAMP in UTC; DTSTART in the announced zone.
    assert event["DTSTAMP"].dt.tzinfo is not None and event["DTSTAMP"].dt.utcoffset() == timedelta(
        0
    )
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert event["DTEND"].dt - event["DTSTART"].dt == timedelta(hours=2)
    assert event["DTSTART"].dt.hour == 14  # 14:00 Paris time, as published
    assert "1 place Napoléon III, 29200 Brest" in str(event["LOCATION"])
    assert (event["GEO"].latitude, event["GEO"].longitude) == (48.4023, -4.5086)
    assert event["URL"] == f"http://testserver/o/{papi.node.origin}/event/{oid}"
    assert str(event["ORGANIZER"]) == "mailto:epn.bellevue@exemple.bzh"
    assert [str(c) for c in event["CATEGORIES"].cats] == ["Tout public"]
    [timezone] = calendar.walk("VTIMEZONE")
    assert str(timezone["TZID"]) == "Europe/Paris"


def test_the_vtimezone_agrees_with_the_tz_database() -> None:
    from node.web.calendar import paris_vtimezone

    zone = paris_vtimezone().to_tz()
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    while moment.year < 2040:
        local = moment.astimezone(PARIS).replace(tzinfo=None)
        assert local.replace(tzinfo=zone).utcoffset() == moment.astimezone(PARIS).utcoffset()
        moment += timedelta(hours=7)


async def test_uids_are_stable_and_shared_by_every_calendar(demo: Any) -> None:
    papi, net = demo
    first = await fetch(papi, "/network/events.ics")
    again = await fetch(papi, "/network/events.ics")
    uids = [str(e["UID"]) for e in first.walk("VEVENT")]
    assert uids == [str(e["UID"]) for e in again.walk("VEVENT")]
    assert len(uids) == len(set(uids)) == 5
    origin = net.origins["Point numérique de Crozon"]
    [oid] = net.oids[("Point numérique de Crozon", "event")]
    single = await fetch(papi, f"/o/{origin}/event/{oid}.ics")
    [event] = single.walk("VEVENT")
    assert str(event["UID"]) == event_uid(origin, oid) and str(event["UID"]) in uids
    assert "Salle des fêtes de Crozon" in str(event["LOCATION"])
    assert single.walk("VTIMEZONE")


async def test_network_calendar_is_sorted_and_filtered(demo: Any) -> None:
    papi, _ = demo
    calendar = await fetch(papi, "/network/events.ics")
    starts = [e["DTSTART"].dt for e in calendar.walk("VEVENT")]
    assert starts == sorted(starts)
    assert summaries(calendar)[0] == "Café numérique : se protéger des arnaques"
    crozon = await fetch(papi, "/network/events.ics", commune="crozon")
    assert summaries(crozon) == ["Café numérique : se protéger des arnaques"]
    training = await fetch(papi, "/network/events.ics", audience="animateurs")
    assert summaries(training) == ["Formation animateurs : sécurité numérique"]
    assert "animateurs" in str(training["X-WR-CALNAME"])
    themed = await fetch(papi, "/network/events.ics", theme="Sécurité numérique")
    assert summaries(themed) == ["Formation animateurs : sécurité numérique"]
    nothing = await fetch(papi, "/network/events.ics", commune="Quimper")
    assert summaries(nothing) == [] and nothing.walk("VTIMEZONE")


@pytest.mark.parametrize(
    "params",
    [
        {"audience": "enfants"},
        {"theme": "Cuisine"},
        {"commune": "x" * 101},
        {"commune": "Brest\x00"},
    ],
)
async def test_bad_filters_are_400_json(papi: InProcessNode, params: dict[str, str]) -> None:
    for path in ("/events.ics", "/network/events.ics"):
        response = await papi.client.get(path, params=params)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        assert response.json()["error"]["field"] == next(iter(params))


async def test_unknown_event_is_404(papi: InProcessNode) -> None:
    response = await papi.client.get(f"/o/{papi.node.origin}/event/nope.ics")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


async def test_frozen_origins_never_appear(demo: Any) -> None:
    papi, net = demo
    origin = net.origins["Point numérique de Crozon"]
    before = await papi.client.get("/network/events.ics")
    with papi.node.db.activated():
        await Origin.filter(id=origin).update(frozen=True)
    after = await papi.client.get("/network/events.ics")
    assert after.headers["etag"] != before.headers["etag"]
    assert "Café numérique" not in summaries(icalendar.Calendar.from_ical(after.content))
    [oid] = net.oids[("Point numérique de Crozon", "event")]
    assert (await papi.client.get(f"/o/{origin}/event/{oid}.ics")).status_code == 404


async def test_etag_answers_304_until_the_data_changes(demo: Any) -> None:
    papi, _ = demo
    first = await papi.client.get("/events.ics")
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public")
    assert first.headers["last-modified"].endswith(" GMT")
    again = await papi.client.get("/events.ics", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["vary"] == "cookie"
    star = await papi.client.get("/events.ics", headers={"if-none-match": "*"})
    assert star.status_code == 304
    other = await papi.client.get(
        "/events.ics", params={"audience": "public"}, headers={"if-none-match": etag}
    )
    assert other.status_code == 200  # another filter, another document
    with papi.node.db.activated():
        await publish(papi.node, "event", new_oid(), "put", {"title": "Nouveau", "start": soon(3)})
    changed = await papi.client.get("/events.ics", headers={"if-none-match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "Nouveau" in summaries(icalendar.Calendar.from_ical(changed.content))


def soon(days: int, hours: int = 0) -> str:
    return (utc_now() + timedelta(days=days, hours=hours)).isoformat()


async def test_window_keeps_recent_past_events_only(papi: InProcessNode) -> None:
    with papi.node.db.activated():
        for title, days in (("Il y a 40 jours", -40), ("Il y a 10 jours", -10), ("Demain", 1)):
            payload = {"title": title, "start": soon(days), "end": soon(days, 2)}
            await publish(papi.node, "event", new_oid(), "put", payload)
    calendar = await fetch(papi, "/events.ics")
    assert summaries(calendar) == ["Il y a 10 jours", "Demain"]


async def test_odd_data_never_breaks_a_calendar(papi: InProcessNode) -> None:
    with papi.node.db.activated():
        for title in ("Bon", "Illisible", "Date folle"):
            payload = {"title": f"{title}\x01\r\n;,", "start": soon(2), "description": "a\x07b"}
            await publish(papi.node, "event", new_oid(), "put", payload)
        await CurrentObject.filter(title__startswith="Illisible").update(payload="{not json")
        await CurrentObject.filter(title__startswith="Date folle").update(
            payload='{"title": "Date folle", "start": "le 3 mai"}'
        )
    calendar = await fetch(papi, "/events.ics")
    [event] = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Bon ;,"
    assert "DTEND" not in event  # no end published: none invented
    assert str(event["DESCRIPTION"]).startswith("ab")


async def test_english_visitors_get_english_labels(demo: Any) -> None:
    papi, _ = demo
    papi.client.cookies.set("papi_lang", "en")
    calendar = await fetch(papi, "/network/events.ics", audience="public")
    assert "everyone" in str(calendar["X-WR-CALNAME"])
    assert [str(c) for c in calendar.walk("VEVENT")[0]["CATEGORIES"].cats] == ["Everyone"]
