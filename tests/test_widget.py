"""The embeddable widget (``/widget``), the only page other sites may frame, the snippet
page for animators (``/admin/share``), and the calendar and feed links of the pages."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from federation.timeutil import utc_now
from node.models import CurrentObject
from node.services.log import new_oid, publish
from tests.conftest import InProcessNode, in_process_node
from tests.demo_network import DemoNetwork, load_demo
from tests.test_web import log_in, make_user


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[InProcessNode, DemoNetwork]]:
    async with in_process_node(tmp_path / "node", name="EPN Brest Bellevue") as papi:
        yield papi, await load_demo(papi)


def links(page: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'href="([^"]+)"', page)]


async def test_widget_lists_next_events_and_equipment_and_may_be_framed(demo: Any) -> None:
    papi, net = demo
    response = await papi.client.get("/widget")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors *" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert "x-frame-options" not in response.headers
    page = response.text
    assert "<script" not in page and "<iframe" not in page
    assert "Initiation au numérique pour les seniors" in page
    assert "Vidéoprojecteur Epson" in page
    [event] = net.oids[("EPN Brest Bellevue", "event")]
    origin = papi.node.origin
    assert f"http://testserver/o/{origin}/event/{event}" in links(page)
    assert f"http://testserver/o/{origin}/event/{event}.ics" in links(page)
    # Other places' offers are not this place's widget.
    assert "Atelier retouche photo" not in page
    # Links leave the frame: a page of the node cannot be shown inside it.
    assert all('target="_blank"' in a for a in re.findall(r"<a [^>]*>", page) if ".ics" not in a)
    css = await papi.client.get("/static/widget.css")
    assert css.status_code == 200 and "papi-widget" in css.text


async def test_widget_counts_are_bounded_and_checked(papi: InProcessNode) -> None:
    with papi.node.db.activated():
        for day in range(1, 9):
            start = (utc_now() + timedelta(days=day)).isoformat()
            await publish(
                papi.node, "event", new_oid(), "put", {"title": f"Jour {day}", "start": start}
            )
        past = (utc_now() - timedelta(days=1)).isoformat()
        await publish(papi.node, "event", new_oid(), "put", {"title": "Hier", "start": past})
    page = (await papi.client.get("/widget")).text
    assert [f"Jour {d}" in page for d in range(1, 9)] == [True] * 5 + [False] * 3
    assert "Hier" not in page
    page = (await papi.client.get("/widget", params={"events": "2", "equipment": "0"})).text
    assert "Jour 2" in page and "Jour 3" not in page and "w-equipment" not in page
    page = (await papi.client.get("/widget", params={"events": "0"})).text
    assert "w-events" not in page and "w-equipment" in page
    for params in ({"events": "21"}, {"equipment": "-1"}, {"events": "deux"}):
        response = await papi.client.get("/widget", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["field"] == next(iter(params))


async def test_other_pages_still_refuse_to_be_framed(demo: Any) -> None:
    papi, _ = demo
    for path in ("/", "/nodes", "/search", f"/o/{papi.node.origin}/place/place", "/admin/login"):
        response = await papi.client.get(path)
        assert response.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path


async def test_share_page_gives_the_snippet_and_the_addresses(papi: InProcessNode) -> None:
    response = await papi.client.get("/admin/share")
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/login")
    await make_user(papi)
    await log_in(papi)
    page = (await papi.client.get("/admin/share")).text
    match = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S)
    assert match
    snippet = html.unescape(match[1])
    assert snippet.startswith('<iframe src="http://testserver/widget" title="EPN test"')
    assert "webcal://testserver/events.ics" in page
    assert "http://testserver/network/feed.atom" in page
    assert "&lt;html&gt;" in page  # the SPIP markers are shown as text, not markup


async def test_pages_link_their_calendar_and_feed(demo: Any) -> None:
    papi, net = demo
    home = (await papi.client.get("/")).text
    assert '<link rel="alternate" type="application/atom+xml" href="/feed.atom"' in home
    assert "webcal://testserver/events.ics" in links(home) and "/feed.atom" in links(home)
    nodes = (await papi.client.get("/nodes")).text
    assert "webcal://testserver/network/events.ics" in links(nodes)
    assert "/network/feed.atom" in links(nodes)
    origin = net.origins["Point numérique de Crozon"]
    [oid] = net.oids[("Point numérique de Crozon", "event")]
    page = (await papi.client.get(f"/o/{origin}/event/{oid}")).text
    assert f"/o/{origin}/event/{oid}.ics" in links(page)
    calendar = await papi.client.get(f"/o/{origin}/event/{oid}.ics")
    assert calendar.status_code == 200


async def test_odd_data_never_breaks_the_widget(papi: InProcessNode) -> None:
    with papi.node.db.activated():
        start = (utc_now() + timedelta(days=2)).isoformat()
        await publish(papi.node, "event", "e1", "put", {"title": "Sans titre", "start": start})
        await publish(papi.node, "equipment", "q1", "put", {"title": "Illisible"})
        await CurrentObject.filter(oid="e1").update(payload=f'{{"start": "{start}"}}')
        await CurrentObject.filter(oid="q1").update(payload="{not json")
    response = await papi.client.get("/widget")
    assert response.status_code == 200
    assert f"/o/{papi.node.origin}/event/e1" in response.text and "Illisible" not in response.text
