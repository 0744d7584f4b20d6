from __future__ import annotations

import httpx

from tests.conftest import NodeFactory


def test_serve_create_and_fetch(node_factory: NodeFactory) -> None:
    a = node_factory("EPN Bellevue")
    r = httpx.post(a.url + "/api/v1/skills", json={"title": "Courriels"}, headers=a.auth)
    assert r.status_code == 201, r.text
    entries = httpx.get(a.url + "/federation/v1/entries").json()["entries"]
    assert [e["header"]["seq"] for e in entries] == [1, 2]
