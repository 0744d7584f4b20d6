"""Paging everywhere: whole-number query parameters validated once (422 naming the
field, never a 500 from SQLite's 64-bit integers), and the network directory served a
page at a time through indexes, even with 20,000 origins."""

from __future__ import annotations

from typing import Any

import pytest

from node.api.params import MAX_OFFSET, parse_int
from node.store.directory import COUNTS_SQL, OTHER_ORIGINS_SQL, SHOWN_ORIGINS_SQL
from tests.conftest import InProcessNode
from tests.test_web import admin  # noqa: F401  (fixture)

BEYOND_SQLITE = [
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "9" * 50,
    "9" * 5000,
]
NOT_WHOLE_NUMBERS = ["x", "1.5", "1e3", "1_0", "٣", "0x10", "+", "--1", "NaN", "∞"]
PAGED_ENDPOINTS = ["/api/v1/search", "/api/v1/skills", "/api/v1/events", "/api/v1/nodes"]


@pytest.mark.parametrize("path", PAGED_ENDPOINTS)
async def test_bad_limit_or_offset_is_422_naming_it(papi: InProcessNode, path: str) -> None:
    for name in ("limit", "offset"):
        for value in (*BEYOND_SQLITE, *NOT_WHOLE_NUMBERS, "-1", str(MAX_OFFSET + 1)):
            response = await papi.client.get(path, params={name: value})
            assert response.status_code == 422, (name, value, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid" and error["field"] == name
            assert name in error["message"]


@pytest.mark.parametrize("path", PAGED_ENDPOINTS)
async def test_limit_zero_and_over_the_maximum_are_422(papi: InProcessNode, path: str) -> None:
    for value in ("0", "501", "100000"):
        response = await papi.client.get(path, params={"limit": value})
        assert response.status_code == 422, (value, response.text)


@pytest.mark.parametrize("path", PAGED_ENDPOINTS)
async def test_largest_offset_is_an_empty_page(papi: InProcessNode, path: str) -> None:
    response = await papi.client.get(path, params={"offset": str(MAX_OFFSET), "limit": " 5 "})
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("items") and not body.get("results") and not body.get("origins")


@pytest.mark.parametrize("path", ["/search", "/nodes", "/admin/peers"])
async def test_web_pages_take_any_page_number(
    admin: InProcessNode,  # noqa: F811
    path: str,
) -> None:
    for page in (*BEYOND_SQLITE, *NOT_WHOLE_NUMBERS, "-1", "0"):
        response = await admin.client.get(path, params={"page": page, "q": "x"})
        assert response.status_code == 200, (page, response.text)


def test_parse_int_takes_ascii_digits_within_bounds_only() -> None:
    assert parse_int("42", 0, 100) == 42
    assert parse_int(" +7 ", 0, 100) == 7
    assert parse_int("-3", -5, 0) == -3
    for text in (None, "", "101", "-1", *BEYOND_SQLITE, *NOT_WHOLE_NUMBERS):
        assert parse_int(text, 0, 100) is None


# -- the directory at 20,000 origins ------------------------------------------------------

ORIGINS = 20_000


async def add_origins(papi: InProcessNode, count: int) -> None:
    """``count`` origins, each with one skill, written straight into the tables."""
    conn = papi.node.db.connection()
    with papi.node.db.activated():
        await conn.execute_many(
            "INSERT INTO origins (id, head_seq, frozen, name, commune, first_seen)"
            " VALUES (?, 2, 0, ?, 'Brest', '2026-01-01 00:00:00+00:00')",
            [[f"ed25519:o{index:06d}", f"Lieu {index:06d}"] for index in range(count)],
        )
        await conn.execute_many(
            "INSERT INTO objects (origin, kind, oid, seq, payload, updated, title, body, theme,"
            " place, commune) VALUES (?, 'skill', 's', 2, '{\"title\": \"Atelier\"}',"
            " '2026-01-01T00:00:00Z', 'Atelier', '', '', '', '')",
            [[f"ed25519:o{index:06d}"] for index in range(count)],
        )


async def query_plan(papi: InProcessNode, sql: str, values: list[Any]) -> str:
    with papi.node.db.activated():
        rows = await papi.node.db.connection().execute_query_dict(
            "EXPLAIN QUERY PLAN " + sql, values
        )
    return " | ".join(str(row["detail"]) for row in rows)


async def test_directory_of_20000_origins_is_paged(papi: InProcessNode) -> None:
    await add_origins(papi, ORIGINS)
    total = ORIGINS + 1  # and this node
    first = (await papi.client.get("/api/v1/nodes")).json()
    assert (first["total"], first["limit"], first["offset"], first["next"]) == (total, 100, 0, 100)
    assert len(first["origins"]) == 100
    assert first["origins"][0]["id"] == papi.node.origin and first["origins"][0]["self"]
    assert [o["name"] for o in first["origins"][1:3]] == ["Lieu 000000", "Lieu 000001"]
    assert first["origins"][1]["objects"] == 1
    second = (await papi.client.get("/api/v1/nodes", params={"offset": 100})).json()
    assert second["origins"][0]["name"] == "Lieu 000099"
    last = (
        await papi.client.get("/api/v1/nodes", params={"offset": total - 7, "limit": 500})
    ).json()
    assert len(last["origins"]) == 7 and last["next"] is None
    assert last["origins"][-1]["name"] == "Lieu 019999"

    page = await papi.client.get("/nodes")
    assert page.status_code == 200
    assert page.text.count('<article class="card">') == 100
    assert "20001 lieux connus." in page.text
    assert 'href="/nodes?page=2" rel="next"' in page.text
    page = await papi.client.get("/nodes", params={"page": 201})
    assert page.text.count('<article class="card">') == 1
    assert (
        "Lieu 019999" in page.text and 'rel="prev"' in page.text and 'rel="next"' not in page.text
    )


async def test_directory_queries_walk_indexes(papi: InProcessNode) -> None:
    await add_origins(papi, 500)
    for sql in (OTHER_ORIGINS_SQL, SHOWN_ORIGINS_SQL):
        plan = await query_plan(papi, sql, [papi.node.origin, 100, 19_000])
        assert "origins_by_name" in plan and "TEMP B-TREE" not in plan, plan
    ids = [f"ed25519:o{index:06d}" for index in range(100)]
    marks = ", ".join("?" for _ in ids)
    plan = await query_plan(papi, COUNTS_SQL.format(marks=marks), ids)
    assert "SEARCH objects USING" in plan, plan
    assert "SCAN objects" not in plan, plan
