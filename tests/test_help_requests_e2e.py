"""Help requests between real ``papi serve`` processes (the issue's test): a request on
A is listed by the node whose skills match its theme and not by the other; an offer is
accepted and the request is closed everywhere; no e-mail address or phone number of the
offers is in clear in any entry of any node."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import NodeFactory, NodeProcess, wait_until

from .coop_helpers import EMAIL, OFFER_MESSAGE, PHONE, THEME, help_body

pytestmark = pytest.mark.e2e


def origin_of(node: NodeProcess) -> str:
    return str(httpx.get(node.url + "/api/v1/node", timeout=10).json()["id"])


def listed(node: NodeProcess, matching: bool) -> list[str]:
    r = httpx.get(
        node.url + "/api/v1/help-requests",
        params={"matching": "true" if matching else "false"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def request_on(node: NodeProcess, ref: str, *, auth: bool = True) -> dict[str, Any] | None:
    r = httpx.get(
        f"{node.url}/api/v1/help-requests/{ref}", headers=node.auth if auth else {}, timeout=10
    )
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    document: dict[str, Any] = r.json()
    return document


def entries_text(node: NodeProcess, origins: list[str]) -> str:
    """Every entry of every origin ``node`` holds, as the federation serves them."""
    parts = []
    for origin in origins:
        after = 0
        while True:
            page = httpx.get(
                node.url + "/federation/v1/entries",
                params={"origin": origin, "after": after, "limit": 500},
                timeout=10,
            ).json()["entries"]
            parts += [str(entry) for entry in page]
            if len(page) < 500:
                break
            after += len(page)
    return "\n".join(parts)


def test_a_help_request_is_matched_offered_and_accepted_across_real_nodes(
    node_factory: NodeFactory,
) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plougastel", commune="Plougastel-Daoulas")
    c = node_factory("Cybercommune de Landerneau", commune="Landerneau")
    nodes = (a, b, c)
    # A star: b and c know a, a knows both (what b writes reaches c through a).
    for node, other in ((b, a), (c, a), (a, b), (a, c)):
        node.papi("peer", "add", other.url)
    origins = [origin_of(node) for node in nodes]
    r = httpx.post(
        b.url + "/api/v1/skills", json={"title": "Tableur", "theme": THEME}, headers=b.auth
    )
    assert r.status_code == 201, r.text
    r = httpx.post(
        c.url + "/api/v1/skills", json={"title": "Ameli", "theme": "Santé"}, headers=c.auth
    )
    assert r.status_code == 201, r.text

    r = httpx.post(a.url + "/api/v1/help-requests", json=help_body(), headers=a.auth)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "open"
    ref = r.json()["id"]

    wait_until(lambda: listed(b, matching=True) == [ref])
    wait_until(lambda: listed(c, matching=False) == [ref])
    assert listed(c, matching=True) == []
    assert listed(b, matching=False) == [ref]
    item = httpx.get(b.url + "/api/v1/help-requests", params={"matching": "true"}).json()
    [shown] = item["items"]
    assert shown["asker_name"] == "EPN Brest Bellevue" and shown["commune"] == "Brest"
    assert 8 < shown["distance_km"] < 10  # Plougastel-Daoulas to Brest

    r = httpx.post(
        f"{b.url}/api/v1/help-requests/{ref}/offers",
        json={"message": OFFER_MESSAGE},
        headers=b.auth,
    )
    assert r.status_code == 201, r.text
    offer_ref = r.json()["id"]
    assert offer_ref.startswith(origins[1] + "/")

    def offered() -> dict[str, Any] | None:
        seen = request_on(a, ref)
        return seen if seen and seen["offers"] else None

    seen = wait_until(offered)
    assert [(o["id"], o["message"]) for o in seen["offers"]] == [(offer_ref, OFFER_MESSAGE)]
    r = httpx.post(f"{a.url}/api/v1/help-requests/{ref}/offers/{offer_ref}/accept", headers=a.auth)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "closed" and r.json()["accepted_offer"] == offer_ref

    def closed_everywhere() -> bool:
        for node in nodes:
            seen = request_on(node, ref)
            if seen is None or seen["state"] != "closed":
                return False
        return True

    wait_until(closed_everywhere)
    for node in nodes:
        assert listed(node, matching=False) == []
        assert request_on(node, ref)["accepted_offer"] == offer_ref  # type: ignore[index]
    # Once closed, no more offers, from anyone.
    for node in (b, c):
        r = httpx.post(
            f"{node.url}/api/v1/help-requests/{ref}/offers",
            json={"message": "Encore disponible ?"},
            headers=node.auth,
        )
        assert r.status_code == 409, r.text
    # The message: on the two nodes concerned with a token, nowhere else.
    on_c = request_on(c, ref)
    assert on_c is not None and "message" not in on_c["offers"][0]
    on_b = request_on(b, ref)
    assert on_b is not None and on_b["offers"][0]["message"] == OFFER_MESSAGE
    assert "message" not in request_on(b, ref, auth=False)["offers"][0]  # type: ignore[index]

    wait_until(
        lambda: all(f"'{offer_ref.split('/')[1]}'" in entries_text(n, origins) for n in nodes)
    )
    for node in nodes:
        text = entries_text(node, origins)
        assert "help_offer" in text and "help_request" in text
        assert EMAIL not in text and PHONE not in text
