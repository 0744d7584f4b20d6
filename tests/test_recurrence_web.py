"""Recurring events through the node: the admin form's repetition editor (no script), the
event page in French, the API's ``recurrence`` and ``next_occurrences``, the search and
its date filters, the iCalendar export (one VEVENT with RRULE and EXDATE, expanded back
with dateutil), the Atom summary, the JSON-LD ``eventSchedule``, and ingest."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import extruct
import feedparser
import icalendar
from dateutil.rrule import rruleset, rrulestr

from federation.recurrence import occurrences
from federation.timeutil import utc_now
from tests.conftest import InProcessNode
from tests.forger import Forger
from tests.test_search import find, put
from tests.test_web import admin, api_items, field_error, submit  # noqa: F401 (fixture)
from tests.test_web_hostile_data import insert_object

PARIS = ZoneInfo("Europe/Paris")
WORKSHOP = {
    "title": "Atelier tablette du mardi",
    "description": "Prendre en main sa tablette, pas à pas.",
    "start": "2031-01-07T14:00+01:00",
    "end": "2031-01-07T16:00+01:00",
    "capacity": 8,
    "recurrence": {
        "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;UNTIL=20310624T215959Z",
        "exdates": ["2031-02-18T14:00+01:00", "2031-04-15T14:00+02:00"],
    },
}


def text_of(page: str) -> str:
    """The visible text of a page, tags removed and spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def tuesdays_from_now(weeks_ago: int, count: int) -> dict[str, Any]:
    """A weekly series on Tuesdays at 14:00 that started ``weeks_ago`` weeks ago."""
    today = utc_now().astimezone(PARIS).date()
    tuesday = today - timedelta(days=(today.weekday() - 1) % 7) - timedelta(weeks=weeks_ago)
    start = datetime(tuesday.year, tuesday.month, tuesday.day, 14, tzinfo=PARIS)
    return {
        "title": "Permanence du mardi",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "recurrence": {"rrule": f"FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT={count}"},
    }


# -- the admin form ----------------------------------------------------------------------


async def test_create_a_weekly_workshop_with_the_form(admin: InProcessNode) -> None:  # noqa: F811
    form = (await admin.client.get("/admin/events/new")).text
    assert 'name="recurrence_freq"' in form and "<script" not in form
    assert "Ne se répète pas" in form and "Dates sans séance" in form
    response = await submit(
        admin,
        "/admin/events/new",
        {
            "title": "Atelier tablette du mardi",
            "start": "07/01/2031 14:00",
            "end": "07/01/2031 16:00",
            "recurrence_freq": "weekly",
            "recurrence_interval": "1",
            "recurrence_days": ["TU"],
            "recurrence_monthly": "weekday",
            "recurrence_until": "2031-06-24",
            "recurrence_count": "",
            "recurrence_exdates": "18/02/2031\r\n2031-04-15",
        },
    )
    assert response.status_code == 303, response.text
    [event] = await api_items(admin, "events")
    assert event["recurrence"] == {
        "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;UNTIL=20310624T215959Z",
        "exdates": ["2031-02-18T14:00:00+01:00", "2031-04-15T14:00:00+02:00"],
    }
    assert [o["start"] for o in event["next_occurrences"]] == [
        "2031-01-07T14:00:00+01:00",
        "2031-01-14T14:00:00+01:00",
        "2031-01-21T14:00:00+01:00",
        "2031-01-28T14:00:00+01:00",
        "2031-02-04T14:00:00+01:00",
    ]
    # The form shows the series back as it was typed.
    form = (await admin.client.get(f"/admin/events/{event['id']}")).text
    assert re.search(r'value="weekly" selected', form)
    assert re.search(r'id="f-recurrence-day-TU" name="recurrence_days" value="TU" checked', form)
    assert 'value="2031-06-24"' in form and "18/02/2031\n15/04/2031" in form
    # Saved again without a change: the same series.
    response = await submit(
        admin,
        f"/admin/events/{event['id']}",
        {
            "title": event["title"],
            "start": "2031-01-07T14:00",
            "end": "2031-01-07T16:00",
            "recurrence_freq": "weekly",
            "recurrence_days": ["TU"],
            "recurrence_until": "2031-06-24",
            "recurrence_exdates": "18/02/2031\n15/04/2031",
        },
    )
    assert response.status_code == 303
    [again] = await api_items(admin, "events")
    assert again["recurrence"] == event["recurrence"] and again["seq"] > event["seq"]
    # "Does not repeat" removes the series.
    response = await submit(
        admin,
        f"/admin/events/{event['id']}",
        {"title": event["title"], "start": "2031-01-07T14:00", "recurrence_freq": ""},
    )
    assert response.status_code == 303
    [single] = await api_items(admin, "events")
    assert "recurrence" not in single and "next_occurrences" not in single


async def test_monthly_choices_are_read_from_the_first_session(admin: InProcessNode) -> None:  # noqa: F811
    base = {"title": "Café numérique", "start": "31/01/2031 18:00", "end": "31/01/2031 19:30",
            "recurrence_freq": "monthly", "recurrence_count": "10"}  # fmt: skip
    for choice, rrule in [
        ("last", "FREQ=MONTHLY;INTERVAL=1;BYDAY=-1FR;COUNT=10"),
        ("day", "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=31;COUNT=10"),
    ]:
        response = await submit(admin, "/admin/events/new", {**base, "recurrence_monthly": choice})
        assert response.status_code == 303, response.text
        items = await api_items(admin, "events")
        assert rrule in [item["recurrence"]["rrule"] for item in items]
    second = {**base, "start": "14/01/2031 10:00", "end": "14/01/2031 12:00",
              "recurrence_monthly": "weekday", "recurrence_interval": "2"}  # fmt: skip
    assert (await submit(admin, "/admin/events/new", second)).status_code == 303
    rrules = [item["recurrence"]["rrule"] for item in await api_items(admin, "events")]
    assert "FREQ=MONTHLY;INTERVAL=2;BYDAY=2TU;COUNT=10" in rrules


async def test_the_editor_says_what_is_wrong_in_french(admin: InProcessNode) -> None:  # noqa: F811
    base = {"title": "Atelier", "start": "07/01/2031 14:00", "end": "07/01/2031 16:00",
            "recurrence_freq": "weekly", "recurrence_days": ["TU"]}  # fmt: skip
    cases = [
        ({"recurrence_until": "2031-06-24", "recurrence_count": "10"},
         "Indiquez soit la date de la dernière séance, soit un nombre de séances, pas les deux."),
        ({}, "Indiquez quand la série s'arrête : la date de la dernière séance, ou un nombre "
             "de séances."),
        ({"recurrence_count": "521"}, "Indiquez un nombre de séances de 1 à 520."),
        ({"recurrence_count": "5", "recurrence_days": ["WE", "TH"]},
         "La première séance (le début ci-dessus) doit tomber un des jours choisis."),
        ({"recurrence_count": "5", "recurrence_exdates": "19/02/2031"},
         "Il n'y a pas de séance le 19/02/2031."),
        ({"recurrence_count": "5", "recurrence_exdates": "mardi"},
         "« mardi » n'est pas une date ; écrivez par exemple 17/02/2026."),
        ({"recurrence_until": "2030-12-31"},
         "La dernière séance ne peut pas être avant la première."),
        ({"recurrence_count": "5", "recurrence_interval": "13"},
         "Répétez toutes les 1 à 12 semaines ou mois."),
        ({"recurrence_freq": "monthly", "recurrence_monthly": "last", "recurrence_count": "3"},
         "La première séance n'est pas le dernier de ce jour de la semaine dans son mois."),
        # Caught by the rules of a series once published: sessions that overlap.
        ({"recurrence_count": "3", "recurrence_days": ["TU", "WE"], "end": "08/01/2031 16:00"},
         "Une séance doit finir avant le début de la suivante."),
    ]  # fmt: skip
    for change, french in cases:
        response = await submit(admin, "/admin/events/new", {**base, **change})
        assert response.status_code == 400, change
        name = "end" if "end" in change else "recurrence"
        assert field_error(response.text, name) == f"Erreur : {french}", change
        assert 'href="#f-' + name + '"' in response.text
    assert await api_items(admin, "events") == []
    # What was typed is kept.
    response = await submit(admin, "/admin/events/new", {**base, "recurrence_exdates": "mardi"})
    assert ">mardi</textarea>" in response.text


# -- pages -------------------------------------------------------------------------------


async def test_the_event_page_says_the_series_in_french(papi: InProcessNode) -> None:
    oid = await put(papi, "event", WORKSHOP)
    page = await papi.client.get(f"/o/{papi.node.origin}/event/{oid}")
    text = text_of(page.text)
    assert "Tous les mardis de 14 h à 16 h, du 7 janvier 2031 au 24 juin 2031 (23 séances)" in text
    assert "Prochaines séances mardi 7 janvier 2031 de 14:00 à 16:00" in text
    assert "Pas de séance le 18 février 2031 15 avril 2031" in text
    assert "Passé" not in text
    home = text_of((await papi.client.get("/")).text)
    assert "Tous les mardis de 14 h à 16 h, du 7 janvier 2031 au 24 juin 2031" in home
    assert "prochaine séance : mardi 7 janvier 2031 de 14:00 à 16:00" in home


async def test_a_running_series_shows_its_next_session_not_its_first(papi: InProcessNode) -> None:
    oid = await put(papi, "event", tuesdays_from_now(weeks_ago=3, count=10))
    page = text_of((await papi.client.get(f"/o/{papi.node.origin}/event/{oid}")).text)
    assert "Passé" not in page and "Cet événement est terminé" not in page
    sessions = page.split("Prochaines séances", 1)[1]
    first = utc_now().astimezone(PARIS) - timedelta(weeks=3)
    assert first.strftime("%Y") in sessions and "Ajouter à mon agenda" in page
    widget = text_of((await papi.client.get("/widget")).text)
    assert "Permanence du mardi" in widget and "prochaine séance" in widget
    over = await put(papi, "event", {**tuesdays_from_now(weeks_ago=12, count=3), "title": "Fini"})
    page = text_of((await papi.client.get(f"/o/{papi.node.origin}/event/{over}")).text)
    assert "Cet événement est terminé" in page and "Prochaines séances" not in page
    assert "Fini" not in text_of((await papi.client.get("/")).text)


# -- API and search ----------------------------------------------------------------------


async def test_api_carries_recurrence_and_next_occurrences(papi: InProcessNode) -> None:
    response = await papi.client.post("/api/v1/events", json=WORKSHOP, headers=papi.auth)
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["recurrence"] == WORKSHOP["recurrence"]
    # Each session has its own seats (8, nobody registered yet).
    assert event["next_occurrences"][:2] == [
        {"start": "2031-01-07T14:00:00+01:00", "end": "2031-01-07T16:00:00+01:00", "seats_left": 8},
        {"start": "2031-01-14T14:00:00+01:00", "end": "2031-01-14T16:00:00+01:00", "seats_left": 8},
    ]
    assert len(event["next_occurrences"]) == 5
    # The answer of a GET goes back with PUT: next_occurrences is a server field.
    event["title"] = "Atelier tablette (nouvelle salle)"
    response = await papi.client.put(f"/api/v1/events/{event['id']}", json=event, headers=papi.auth)
    assert response.status_code == 200, response.text
    stored = (await papi.client.get(f"/api/v1/events/{event['id']}")).json()
    assert stored["title"] == "Atelier tablette (nouvelle salle)"
    entries = (await papi.client.get(
        "/federation/v1/entries", params={"origin": papi.node.origin, "after": 0}
    )).json()["entries"]  # fmt: skip
    assert "next_occurrences" not in json.dumps(entries)
    # A series that breaks a rule: 422 naming the member, nothing stored.
    bad = {**WORKSHOP, "recurrence": {"rrule": WORKSHOP["recurrence"]["rrule"],
                                      "exdates": ["2031-02-19T14:00+01:00"]}}  # fmt: skip
    response = await papi.client.post("/api/v1/events", json=bad, headers=papi.auth)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["field"], error["keyword"]) == ("recurrence.exdates.0", "occurrence")
    unsupported = {**WORKSHOP, "recurrence": {"rrule": "FREQ=DAILY;INTERVAL=1;COUNT=3"}}
    response = await papi.client.post("/api/v1/events", json=unsupported, headers=papi.auth)
    assert response.status_code == 422 and response.json()["error"]["field"] == "recurrence.rrule"
    assert len((await papi.client.get("/api/v1/events")).json()["items"]) == 1


async def test_a_series_is_found_while_it_runs(papi: InProcessNode) -> None:
    running = await put(papi, "event", tuesdays_from_now(weeks_ago=3, count=10))
    await put(papi, "event", {**tuesdays_from_now(weeks_ago=12, count=3), "title": "Fini"})
    results, _ = await find(papi, kind="event")
    assert [r["id"] for r in results] == [running]
    [result] = results
    upcoming = result["next_occurrences"]
    assert len(upcoming) == 5 and result["recurrence"]["rrule"].endswith("COUNT=10")
    assert datetime.fromisoformat(upcoming[0]["end"]) > utc_now()
    # A date filter on a day between the first and the last session keeps the series.
    in_a_month = (utc_now() + timedelta(days=30)).astimezone(PARIS).date().isoformat()
    response = await papi.client.get("/api/v1/search", params={"from": in_a_month})
    assert [r["id"] for r in response.json()["results"]] == [running]
    after = (utc_now() + timedelta(weeks=10)).astimezone(PARIS).date().isoformat()
    response = await papi.client.get("/api/v1/search", params={"from": after})
    assert response.json()["results"] == []


async def test_ingest_applies_the_rules_of_a_series(papi: InProcessNode) -> None:
    remote = Forger()
    # A Wednesday start for a rule of Tuesdays: a hostile or buggy author signs it anyway.
    broken = {**WORKSHOP, "start": "2031-01-08T14:00+01:00", "end": "2031-01-08T16:00+01:00"}
    entries = [
        remote.write("place", "place", {"nom": "Cybercommune de Crozon", "commune": "Crozon"}),
        remote.write("event", "cafe", WORKSHOP),
        remote.write("event", "mercredi", broken),
    ]
    with papi.node.db.activated():
        report = await papi.node.ingestor.ingest(entries)
    [rejected] = report.rejected
    assert rejected.code == "schema" and "not a session of the rule" in rejected.reason
    results, _ = await find(papi, kind="event", origin=remote.origin)
    assert [r["id"] for r in results] == ["cafe"]


# -- outside formats ---------------------------------------------------------------------


async def test_the_calendar_exports_one_vevent_with_rrule_and_exdate(papi: InProcessNode) -> None:
    oid = await put(papi, "event", WORKSHOP)
    response = await papi.client.get(f"/o/{papi.node.origin}/event/{oid}.ics")
    assert response.status_code == 200
    assert b"RRULE:" in response.content and b"EXDATE;TZID=Europe/Paris:" in response.content
    calendar = icalendar.Calendar.from_ical(response.content)
    [vevent] = calendar.walk("VEVENT")
    assert vevent["DTSTART"].params["TZID"] == "Europe/Paris"
    rule = vevent["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["BYDAY"] == ["TU"]
    assert rule["UNTIL"] == [datetime(2031, 6, 24, 21, 59, 59, tzinfo=UTC)]
    # Expanded by dateutil from what icalendar read: the sessions of federation/recurrence.
    expanded = rruleset()
    expanded.rrule(rrulestr(rule.to_ical().decode(), dtstart=vevent["DTSTART"].dt))
    for exdate in vevent["EXDATE"].dts:
        expanded.exdate(exdate.dt)
    duration = vevent["DTEND"].dt - vevent["DTSTART"].dt
    sessions = [(s.astimezone(UTC), (s + duration).astimezone(UTC)) for s in expanded]
    assert sessions == [(o.start, o.end) for o in occurrences(WORKSHOP)]
    assert len(sessions) == 23
    network = icalendar.Calendar.from_ical((await papi.client.get("/events.ics")).content)
    assert len(network.walk("VEVENT")) == 1  # one VEVENT for the whole series


async def test_atom_and_json_ld_describe_the_series(papi: InProcessNode) -> None:
    oid = await put(papi, "event", WORKSHOP)
    feed = feedparser.parse((await papi.client.get("/feed.atom")).content)
    [entry] = [e for e in feed.entries if e.title == WORKSHOP["title"]]
    assert "Tous les mardis de 14 h à 16 h, du 7 janvier 2031 au 24 juin 2031" in entry.summary
    page = await papi.client.get(f"/o/{papi.node.origin}/event/{oid}")
    graph = extruct.extract(page.text, syntaxes=["json-ld"])["json-ld"][0]["@graph"]
    [event] = [node for node in graph if node["@type"] == "Event"]
    assert event["startDate"] == WORKSHOP["start"]
    assert event["eventSchedule"] == {
        "@type": "Schedule",
        "repeatFrequency": "P1W",
        "byDay": ["https://schema.org/Tuesday"],
        "startDate": "2031-01-07",
        "endDate": "2031-06-24",
        "startTime": "14:00:00",
        "endTime": "16:00:00",
        "scheduleTimezone": "Europe/Paris",
        "repeatCount": 23,
        "exceptDate": ["2031-02-18T14:00:00+01:00", "2031-04-15T14:00:00+02:00"],
    }
    last_friday = {
        **WORKSHOP,
        "start": "2031-01-31T18:00+01:00",
        "end": "2031-01-31T19:00+01:00",
        "recurrence": {"rrule": "FREQ=MONTHLY;INTERVAL=1;BYDAY=-1FR;COUNT=6"},
    }
    oid = await put(papi, "event", last_friday)
    page = await papi.client.get(f"/o/{papi.node.origin}/event/{oid}")
    graph = extruct.extract(page.text, syntaxes=["json-ld"])["json-ld"][0]["@graph"]
    [event] = [node for node in graph if node["@type"] == "Event"]
    schedule = event["eventSchedule"]
    # schema.org cannot say "the last Friday": no byDay rather than "every Friday".
    assert schedule["repeatFrequency"] == "P1M" and "byDay" not in schedule
    assert (schedule["endDate"], schedule["repeatCount"]) == ("2031-06-27", 6)
    text = text_of(page.text)
    assert "Le dernier vendredi de chaque mois de 18 h à 19 h, du 31 janvier 2031" in text


ODD_SERIES = [
    {"recurrence": "tous les mardis"},
    {"recurrence": {"rrule": 5}},
    {"recurrence": {"rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=3", "exdates": "x"}},
    {"recurrence": {"rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=3", "exdates": [{}, None]}},
    {"recurrence": {"rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=WE;COUNT=3"}},  # not its start's day
    {"recurrence": {"rrule": "FREQ=DAILY"}, "start": "garbage"},
    {
        "recurrence": {"rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;COUNT=3"},
        "start": "9999-12-31T23:59:59-23:59",
    },
]


async def test_odd_stored_series_never_make_a_500(papi: InProcessNode) -> None:
    """Rows written straight into ``objects`` (an older or buggy version): the event is
    shown as a single one, its series left aside, and nothing answers 500."""
    origin = papi.node.origin
    paths = ["/", "/widget", "/events.ics", "/feed.atom", "/api/v1/events"]
    paths += ["/api/v1/search?kind=event&past=1", "/search?kind=event&past=1"]
    for index, odd in enumerate(ODD_SERIES):
        payload = {"title": f"Série bizarre {index}", "start": "2031-01-07T14:00+01:00", **odd}
        await insert_object(papi, origin, "event", f"odd{index}", json.dumps(payload),
                            starts_at="2031-01-07T13:00:00Z")  # fmt: skip
        paths += [f"/o/{origin}/event/odd{index}", f"/o/{origin}/event/odd{index}.ics"]
        paths += [f"/api/v1/events/odd{index}"]
    answers = {path: await papi.client.get(path) for path in paths}
    assert {path: r.status_code for path, r in answers.items() if r.status_code >= 500} == {}
    page = text_of(answers[f"/o/{origin}/event/odd4"].text)
    assert "mardi 7 janvier 2031 à 14:00" in page and "Prochaines séances" not in page
    assert "next_occurrences" not in answers["/api/v1/events/odd4"].json()
