"""Odd stored data never makes a page or an API answer 500.

Rows are written straight into ``objects`` (bypassing ingest and its schemas): data
stored by an older version, or a signed entry dated at the edge of the calendar, must
still render — the raw text is shown where a value cannot be understood.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from federation.timeutil import format_ts, parse_ts
from node.services.objects import api_timestamp
from node.services.peers import add_peer, record_failure, record_success
from node.web.formatting import format_day, format_moment, format_period, freshness, is_past
from tests.conftest import InProcessNode
from tests.test_search import RemoteLog, ingest
from tests.test_web import admin, csrf_of, field_error  # noqa: F401  (admin: fixture)

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")
#: Timestamps at the edges of what Python's datetime can hold, and beyond.
ODD_MOMENTS = [
    "9999-12-31T23:59:59+23:59",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00-23:59",
    "0001-01-01T00:00:00Z",
    "2026-05-06T14:00:00",  # no offset
    "2026-13-45T99:99:99Z",
    "garbage",
    "",
]

#: Payloads of wrong shapes or types, as JSON text (some not JSON at all).
ODD_PAYLOADS: list[tuple[str, str]] = [
    (
        "event",
        json.dumps({"title": "Fin des temps", "start": ODD_MOMENTS[0], "end": ODD_MOMENTS[1]}),
    ),
    (
        "event",
        json.dumps({"title": "Début des temps", "start": ODD_MOMENTS[3], "end": ODD_MOMENTS[4]}),
    ),
    ("event", json.dumps({"title": "Sans fuseau", "start": ODD_MOMENTS[6], "end": "garbage"})),
    ("event", json.dumps({"title": 42, "start": 12345, "end": ["x"], "capacity": "beaucoup"})),
    ("event", json.dumps({"start": None, "audience": 7, "location": {"a": 1}})),
    ("skill", json.dumps({"title": ["liste"], "theme": 3, "level": None, "description": 5})),
    ("skill", json.dumps({"description": {"nested": True}})),
    ("equipment", json.dumps({"title": "Écran", "quantity": "beaucoup", "category": [1]})),
    ("equipment", json.dumps({"title": "Câble", "quantity": True, "loan_conditions": 1.5})),
    ("equipment", json.dumps({"title": "Tablette", "quantity": 10**30})),
    ("skill", "not json at all"),
    ("skill", "[1, 2, 3]"),
    ("skill", "null"),
    ("skill", '{"title": NaN}'),
    ("skill", '"a string"'),
    ("skill", "[" * 100_000),
]

ODD_PLACES = [
    json.dumps(
        {
            "nom": 42,
            "commune": ["Brest"],
            "services": "Aide aux démarches",
            "courriels": "a@b.fr",
            "site_web": 5,
            "telephone": 33298000000,
            "horaires": 7,
            "presentation_resume": {"x": 1},
            "presentation_detail": ["y"],
            "publics_specifiquement_adresses": [1, None, "Jeunes"],
            "adresse": None,
            "latitude": "nord",
            "endpoints": "http://x",
        }
    ),
    json.dumps({"nom": "Lieu", "services": [[1], {"a": 2}], "horaires": "Mo-Fr 25:00-26:00"}),
    "not json",
]


async def insert_object(
    papi: InProcessNode,
    origin: str,
    kind: str,
    oid: str,
    payload: str,
    *,
    updated: str = "2026-01-01T00:00:00Z",
    starts_at: str | None = None,
    ends_at: str | None = None,
    title: Any = "Titre",
) -> None:
    """One row in ``objects``, as a buggy or older version might have left it."""
    with papi.node.db.activated():
        await papi.node.db.connection().execute_query(
            "INSERT OR REPLACE INTO objects (origin, kind, oid, seq, payload, updated, title,"
            " body, theme, place, commune, starts_at, ends_at)"
            " VALUES (?, ?, ?, 99, ?, ?, ?, '', '', '', '', ?, ?)",
            [origin, kind, oid, payload, updated, title, starts_at, ends_at],
        )


async def fill_with_odd_rows(papi: InProcessNode, origins: list[str]) -> list[str]:
    """Odd objects for each origin; returns their page paths."""
    paths = []
    for origin in origins:
        for index, (kind, payload) in enumerate(ODD_PAYLOADS):
            moment = ODD_MOMENTS[index % len(ODD_MOMENTS)]
            oid = f"odd{index}"
            await insert_object(
                papi, origin, kind, oid, payload, updated=moment, starts_at=moment, ends_at=moment
            )
            paths.append(f"/o/{origin}/{kind}/{oid}")
        paths.append(f"/o/{origin}/place/place")
    return paths


PUBLIC_QUERIES = [
    {},
    {"kind": "event"},
    {"kind": "event", "past": "1"},
    {"past": "1"},
    {"q": "temps"},
    {"q": "temps", "kind": "event", "past": "1"},
    {"kind": "skill"},
    {"kind": "equipment", "past": "1"},
    {"from": "2026-01-01"},
    {"to": "9999-12-31", "past": "1"},
    {"from": "0001-01-01", "past": "1"},
]


@pytest.mark.parametrize("place", range(len(ODD_PLACES)))
async def test_no_page_or_api_answers_500_on_odd_stored_data(
    admin: InProcessNode,  # noqa: F811
    place: int,
) -> None:
    remote = RemoteLog("Lieu lointain", "Ouessant")
    await ingest(admin, [remote.place_entry()])
    own = admin.node.origin
    paths = await fill_with_odd_rows(admin, [own, remote.origin])
    for origin in (own, remote.origin):
        await insert_object(admin, origin, "place", "place", ODD_PLACES[place], updated="garbage")
    paths += ["/", "/nodes", "/admin", "/admin/peers", "/admin/place"]
    paths += [f"/admin/{c}/odd{i}" for c, i in (("events", 0), ("events", 1), ("events", 2))]
    paths += [f"/admin/events/odd{i}/delete" for i in range(5)]
    paths += [f"/admin/skills/odd{i}" for i in range(5, 16)]
    paths += [f"/admin/equipment/odd{i}" for i in (7, 8, 9)]
    paths += ["/api/v1/node", "/api/v1/nodes", "/api/v1/place"]
    paths += ["/api/v1/skills", "/api/v1/events", "/api/v1/equipment", "/api/v1/events/odd0"]
    paths += [f"/api/v1/skills/odd{i}" for i in range(5, 16)]
    paths += ["/api/v1/export/lamednum.csv?scope=network", "/api/v1/export/lamednum.json"]
    failures = []
    for path in paths:
        response = await admin.client.get(path)
        if response.status_code >= 500:
            failures.append((path, response.status_code))
    for params in PUBLIC_QUERIES:
        for path in ("/search", "/api/v1/search"):
            response = await admin.client.get(path, params=params)
            if response.status_code >= 500:
                failures.append((path, params, response.status_code))
    assert failures == []


async def test_odd_event_page_shows_the_raw_dates(papi: InProcessNode) -> None:
    await insert_object(
        papi,
        papi.node.origin,
        "event",
        "end",
        json.dumps({"title": "Fin", "start": ODD_MOMENTS[1], "end": "garbage"}),
        updated=ODD_MOMENTS[3],
    )
    response = await papi.client.get(f"/o/{papi.node.origin}/event/end")
    assert response.status_code == 200
    # Neither Paris time (year 10000) nor UTC (year 0) can hold these: shown as stored.
    for text in (ODD_MOMENTS[1], "garbage", ODD_MOMENTS[3]):
        assert text in response.text


@pytest.mark.parametrize("value", [*ODD_MOMENTS, None, 12, 1.5, ["x"], {"a": 1}, True])
def test_formatting_is_total(value: Any) -> None:
    for language in ("fr", "en"):
        assert isinstance(format_moment(value, language), str)
        assert isinstance(format_day(value, language), str)
        assert isinstance(format_period(value, value, language), str)
        assert isinstance(format_period("2026-05-06T14:00:00Z", value, language), str)
        assert isinstance(freshness(value, language), str)
    assert isinstance(is_past(value, value), bool)


@pytest.mark.parametrize(
    "params",
    [
        {"from": "9999-12-31T23:59:59-23:59"},
        {"to": "9999-12-31T23:59:59-23:59"},
        {"from": "0001-01-01T00:00:00+23:59"},
        {"to": "0001-01-01T00:00:00+00:01"},
        {"from": "9999-12-31T23:59:59+99:99"},
        {"from": "2026-02-30"},
        {"from": "10000-01-01"},
        {"from": "T"},
    ],
)
async def test_search_dates_out_of_range_are_400(
    papi: InProcessNode, params: dict[str, str]
) -> None:
    response = await papi.client.get("/api/v1/search", params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert error["field"] == next(iter(params))
    page = await papi.client.get("/search", params=params)
    assert page.status_code == 400


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("9999-12-31T23:59:59-23:59", None, "start"),
        # Both out of the schema's years (1900-2199): the first in the body is named.
        ("9999-12-31T23:00:00+23:59", "9999-12-31T23:59:59-23:59", "start"),
        ("2026-05-06T14:00:00Z", "9999-12-31T23:59:59-23:59", "end"),
        ("0001-01-01T00:00:00+23:59", "0001-01-02T00:00:00+23:59", "start"),
        ("0001-01-01T00:00:00+00:01", None, "start"),
    ],
)
async def test_event_dates_beyond_utc_are_refused(
    admin: InProcessNode,  # noqa: F811
    start: str,
    end: str | None,
    field: str,
) -> None:
    body = {"title": "Fin des temps", "start": start, **({"end": end} if end else {})}
    response = await admin.client.post("/api/v1/events", json=body, headers=admin.auth)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    # When both dates are out of range, the error may name either of them.
    assert error["code"] == "invalid"
    assert error["field"] == field or (end is not None and error["field"] in ("start", "end"))
    page = await admin.client.get("/admin/events/new")
    form = {"title": "Fin des temps", "start": start, "end": end or ""}
    response = await admin.client.post(
        "/admin/events/new", data={**form, "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 400
    assert field_error(response.text, error["field"])
    assert (await admin.client.get("/api/v1/events")).json()["items"] == []


async def test_every_api_timestamp_is_utc_with_z(papi: InProcessNode) -> None:
    """One format everywhere: peers' times were ``+00:00``, a remote ``updated`` kept the
    author's offset."""
    remote = RemoteLog("Lieu lointain", "Ouessant")
    await ingest(papi, [remote.place_entry()])
    await insert_object(
        papi,
        remote.origin,
        "skill",
        "s",
        '{"title": "Atelier"}',
        updated="2026-05-06T14:00:00+02:00",
        title="Atelier",
    )
    with papi.node.db.activated():
        peer = await add_peer("http://192.0.2.1:8000")
        await record_success(peer, 3, conn=papi.node.db.connection())
        await record_failure(peer, "timeout", conn=papi.node.db.connection())
    nodes = (await papi.client.get("/api/v1/nodes")).json()
    stamps = [nodes["peers"][0][name] for name in ("last_attempt", "last_success", "next_attempt")]
    stamps += [origin["last_received"] for origin in nodes["origins"]]
    results = (await papi.client.get("/api/v1/search", params={"q": "atelier"})).json()["results"]
    assert [r["updated"] for r in results] == ["2026-05-06T12:00:00Z"]
    stamps += [r["updated"] for r in results]
    stamps.append((await papi.client.get("/api/v1/place")).json()["updated"])
    assert all(TIMESTAMP.fullmatch(stamp) for stamp in stamps), stamps


async def test_deeply_nested_and_huge_values_are_shown_or_left_out(papi: InProcessNode) -> None:
    deep = '{"title": "Profond", "description": ' + "[" * 950 + "]" * 950 + "}"
    huge = '{"title": "Énorme", "quantity": ' + "9" * 5000 + "}"
    for oid, payload in (("deep", deep), ("huge", huge)):
        await insert_object(papi, papi.node.origin, "equipment", oid, payload)
        for path in (f"/o/{papi.node.origin}/equipment/{oid}", f"/api/v1/equipment/{oid}"):
            assert (await papi.client.get(path)).status_code == 200, path
    assert (await papi.client.get("/search")).status_code == 200
    assert (await papi.client.get("/api/v1/search")).status_code == 200
    assert (await papi.client.get("/api/v1/equipment")).status_code == 200


def _shown_the_long_way(text: str) -> str:
    """``api_timestamp`` without its shortcut for texts already shaped as it shows them."""
    try:
        normal = format_ts(parse_ts(text))
        parse_ts(normal)
    except (ValueError, OverflowError):
        return text
    return normal


def test_api_timestamp_shortcut_gives_what_parsing_gives() -> None:
    """Texts shaped as the API shows timestamps are returned as they are without parsing
    them: the same answer as parsing, for real dates and for texts that are not dates
    (30 February, hour 24, years before 1000, a zero fraction that parsing drops)."""
    rng = random.Random(15)
    texts = [
        "2026-05-06T12:00:00Z",
        "2026-05-06T12:00:00.000000Z",
        "2026-05-06T12:00:00.000001Z",
        "2026-02-30T12:00:00Z",
        "0999-05-06T12:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "2026-05-06T24:00:00Z",
        "2026-05-06T23:59:60Z",
        "2026-05-06t12:00:00Z",
        "2026-05-06T12:00:00z",
        "2026-05-06T12:00:00.123Z",
        "2026-05-06T12:00:00+00:00",
        "2026-05-06T14:00:00+02:00",
    ]
    for _ in range(3000):
        fraction = rng.choice(["", ".000000", f".{rng.randrange(10**6):06d}", ".5"])
        texts.append(
            f"{rng.choice([rng.randrange(10000), 2026, 999, 1000]):04d}-{rng.randrange(14):02d}"
            f"-{rng.randrange(33):02d}T{rng.randrange(26):02d}:{rng.randrange(61):02d}"
            f":{rng.randrange(62):02d}{fraction}{rng.choice(['Z', 'Z', 'z', '+01:00'])}"
        )
    for text in texts:
        assert api_timestamp(text) == _shown_the_long_way(text), text
