"""Reading stored entries (issue 9 item 3): CPU time (``process_time``, best of 3) of the
reads behind a catch-up's sync answers, the ``entries`` route, a push of 500 entries and
a round's push-back, over 10,000 entries (100 origins x 100) in one node's database.

Run: ``.venv/bin/python -m bench.reading`` (figures in docs/performance.md, "Changes
made": the before figures ran the same loops on the functions these replaced)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.common import open_node, preload, signed_logs, sync_order


async def best_of(runs: int, work: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    """The least CPU seconds of ``runs`` runs of ``work``, and what it counted."""
    times, count = [], 0
    for _ in range(runs):
        start = time.process_time()
        count = await work()
        times.append(time.process_time() - start)
    return min(times), count


async def main() -> None:
    from node.services.entries import PUSH_PAGE_BYTES, Range, by_refs, page_json, pages
    from node.services.sync import ANSWER_PAGE, PUSH_BACK_PAGE, answer_sync

    entries = sync_order(signed_logs(100, 100))
    origins = sorted({e["header"]["origin"] for e in entries})
    refs = [(e["header"]["origin"], e["header"]["seq"]) for e in entries[:500]]
    with tempfile.TemporaryDirectory() as tmp:
        async with open_node(Path(tmp) / "node") as node:
            await preload(node, entries)

            async def catch_up() -> int:
                theirs: dict[str, int] = {}
                served = 0
                while answer := (await answer_sync(node.db, {"vector": dict(theirs)}, 1 << 20))[
                    "entries"
                ]:
                    for document in answer:
                        header = document["header"]
                        theirs[header["origin"]] = max(
                            theirs.get(header["origin"], 0), header["seq"]
                        )
                    served += len(answer)
                return served

            async def route() -> int:
                for origin in origins:
                    await page_json(node.db, origin, 0, 100)
                return len(origins)

            async def push() -> int:
                for _ in range(10):
                    assert len(
                        [e.document() for e in await by_refs(refs, node.db.connection())]
                    ) == len(refs)
                return 10

            async def push_back() -> int:
                sent = 0
                for origin in origins:
                    wanted = [Range(origin, 0)]
                    async for page in pages(
                        node.db, wanted, page_size=PUSH_BACK_PAGE, max_bytes=PUSH_PAGE_BYTES
                    ):
                        sent += len([entry.document() for entry in page])
                return sent

            seconds, count = await best_of(3, catch_up)
            print(
                f"sync answers (pages of {ANSWER_PAGE} read)  {seconds / count * 1e6:8.2f} µs/entry"
            )
            seconds, count = await best_of(15, route)
            print(f"entries route, page of 100      {seconds / count * 1e3:8.2f} ms/page")
            seconds, count = await best_of(3, push)
            print(f"entries of a push of 500 read   {seconds / count * 1e3:8.2f} ms")
            seconds, count = await best_of(3, push_back)
            print(f"push-back pages read            {seconds / count * 1e6:8.2f} µs/entry")


if __name__ == "__main__":
    asyncio.run(main())
