"""The one reader of stored entries and its page generator (node/services/entries.py)."""

from __future__ import annotations

import json

from node.services.entries import PUSH_PAGE_BYTES, Range, by_refs, page_json, pages
from node.services.log import publish
from tests.conftest import InProcessNode


async def _publish(papi: InProcessNode, count: int, body: str = "") -> None:
    with papi.node.db.activated():
        for number in range(count):
            await publish(papi.node, "skill", f"skill-{number}", "put",
                          {"title": f"Atelier {number}", "description": body})  # fmt: skip


async def _seqs(papi: InProcessNode, wanted: list[Range], **bounds: int) -> list[list[int]]:
    return [[entry.seq for entry in page] async for page in pages(papi.node.db, wanted, **bounds)]


async def test_pages_are_bounded_in_entries_and_stop_at_the_range_end(
    papi: InProcessNode,
) -> None:
    await _publish(papi, 6)  # after the place profile (seq 1): seqs 2 to 7
    origin = papi.node.origin
    assert await _seqs(papi, [Range(origin, 0)], page_size=3) == [[1, 2, 3], [4, 5, 6], [7]]
    assert await _seqs(papi, [Range(origin, 2, 3)], page_size=2) == [[3, 4], [5]]
    assert await _seqs(papi, [Range(origin, 7)], page_size=2) == []
    assert await _seqs(papi, [Range("ed25519:unknown", 0)], page_size=2) == []


async def test_a_page_is_bounded_in_bytes_with_one_entry_at_least(papi: InProcessNode) -> None:
    await _publish(papi, 3, body="x" * 19_000)  # about 19.2 kB each
    origin = papi.node.origin
    seqs = await _seqs(papi, [Range(origin, 1)], page_size=200, max_bytes=50_000)
    assert seqs == [[2, 3], [4]]
    assert await _seqs(papi, [Range(origin, 1)], page_size=200, max_bytes=PUSH_PAGE_BYTES) == [
        [2, 3, 4]
    ]
    assert await _seqs(papi, [Range(origin, 1)], page_size=200, max_bytes=10) == [[2], [3], [4]]


async def test_refs_are_read_in_one_answer_leaving_out_what_is_not_stored(
    papi: InProcessNode,
) -> None:
    await _publish(papi, 3)
    origin = papi.node.origin
    found = await by_refs(
        [(origin, 4), (origin, 2), (origin, 99), (origin, 2)], papi.node.db.connection()
    )
    body = json.loads(await page_json(papi.node.db, origin, 1, 2))
    assert [entry.seq for entry in found] == [2, 4]
    # The document decoded and the one written from the stored text are the same.
    assert body == {"entries": [entry.document() for entry in found[:1]] + [body["entries"][1]]}
    assert body["entries"][1]["header"]["seq"] == 3
