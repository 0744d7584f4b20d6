"""Large batches are checked on several threads (node/services/ingest.py PARSE_THREADS):
the report must be exactly the one of checking them one by one."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from node.services import ingest
from tests.bulk import origin_log
from tests.conftest import InProcessNode


def _batch() -> list[Any]:
    entries: list[Any] = origin_log(0, 120) + origin_log(1, 30)
    forged = copy.deepcopy(entries[70])
    forged["payload"]["title"] = "Forgé"
    entries[70] = forged  # payload hash mismatch: rejected; 71 and after wait behind the gap
    entries.insert(10, {"header": "not an entry"})
    entries.insert(0, entries.pop(140))  # out of order within the batch
    return entries


@pytest.mark.parametrize("threads", [0, 2, 4])
async def test_threads_give_the_same_report(
    papi: InProcessNode, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "PARSE_THREADS", threads)
    batch = _batch()
    with papi.node.db.activated():
        report = await papi.node.ingestor.ingest(copy.deepcopy(batch))
    monkeypatch.setattr(ingest, "PARSE_THREADS", 0)
    async with _fresh(papi) as other:
        with other.node.db.activated():
            expected = await other.node.ingestor.ingest(copy.deepcopy(batch))
    assert report.to_json() == expected.to_json()
    assert [r.code for r in report.rejected][:2] == ["malformed", "payload_mismatch"]
    assert len(report.accepted) == 70 + 30


def _fresh(papi: InProcessNode) -> Any:
    from tests.conftest import in_process_node

    return in_process_node(papi.data_dir.parent / "other")
