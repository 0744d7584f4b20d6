"""Search quality: the judged queries against a node holding the corpus.

    python -m bench.search_quality            # figures (also part of bench/run.py)
    python -m bench.search_quality --misses   # and every query that misses, with its top 10

The corpus (``corpus.py``, about 2,200 offers of 126 places) is stored through the node's
store path (entries, objects, FTS index; signatures are not computed: search never reads
them); each query goes through ``GET /api/v1/search?limit=10`` as a user's would.

Figures, over the queries that have relevant objects:

- recall@10: the share of the top 10 that a perfect answer fills with relevant objects,
  ``|top 10 ∩ relevant| / min(|relevant|, 10)``, averaged;
- MRR: ``1 / rank`` of the first relevant object in the top 10 (0 if none), averaged;

and for the others: the share of ``none`` queries answered with nothing, and the share of
queries with an expected correction whose ``suggestion`` is that correction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from .corpus import PARIS, Place, build
from .judge import JUDGED

TOP = 10


def origin_of(index: int) -> str:
    """The origin id of corpus place ``index`` (entries are stored unsigned)."""
    return "ed25519:" + f"{index:043d}"


def entries(places: Sequence[Place], now: datetime) -> list[Any]:
    """Every place's log as entries for ``store_entries``: the place, then its offers."""
    from federation.canonical import canonical_bytes, sha256_tag
    from federation.entry import Entry
    from federation.timeutil import format_ts

    ts = format_ts(now)
    result = []
    for place in places:
        logged = [("place", "place", place.payload)]
        logged += [(item.kind, item.key.split("/")[1], item.payload) for item in place.objects]
        for seq, (kind, oid, payload) in enumerate(logged, start=1):
            data = canonical_bytes(payload)
            header = {
                "v": 1,
                "origin": origin_of(place.index),
                "seq": seq,
                "prev": None,
                "ts": ts,
                "kind": kind,
                "oid": oid,
                "op": "put",
                "payload_hash": sha256_tag(data),
                "payload_len": len(data),
            }
            result.append(Entry(header, "A" * 86, payload))
    return result


async def load(places: Sequence[Place] | None = None) -> int:
    """Store the corpus in the current node's database; the number of offers."""
    from tortoise.transactions import in_transaction

    from node.services.store import store_entries

    now = datetime.now(PARIS)
    places = build(now) if places is None else places
    async with in_transaction() as conn:
        await store_entries(conn, entries(places, now))
    return sum(len(place.objects) for place in places)


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: how suggestions are compared."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.replace("-", " ").split())


@dataclass
class Outcome:
    q: str
    category: str
    relevant: int
    found: list[str]  # keys of the top 10, best first
    hits: int
    recall: float
    reciprocal_rank: float
    suggestion: str | None
    expected_suggestion: str | None
    ms: float
    titles: list[str] = field(default_factory=list)


@dataclass
class Report:
    outcomes: list[Outcome]

    def judged(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.relevant]

    @property
    def recall(self) -> float:
        judged = self.judged()
        return sum(o.recall for o in judged) / len(judged)

    @property
    def mrr(self) -> float:
        judged = self.judged()
        return sum(o.reciprocal_rank for o in judged) / len(judged)

    @property
    def none_empty(self) -> float:
        empty = [o for o in self.outcomes if o.category == "none"]
        return sum(1 for o in empty if not o.found) / len(empty) if empty else 1.0

    @property
    def suggestions(self) -> float:
        wanted = [o for o in self.outcomes if o.expected_suggestion]
        right = [o for o in wanted if fold(o.suggestion or "") == fold(o.expected_suggestion or "")]
        return len(right) / len(wanted) if wanted else 1.0

    def by_category(self) -> dict[str, tuple[int, float, float]]:
        table: dict[str, list[Outcome]] = {}
        for outcome in self.judged():
            table.setdefault(outcome.category, []).append(outcome)
        return {
            name: (
                len(rows),
                sum(o.recall for o in rows) / len(rows),
                sum(o.reciprocal_rank for o in rows) / len(rows),
            )
            for name, rows in table.items()
        }

    def latencies(self) -> list[float]:
        return [o.ms for o in self.outcomes]


def judged_rows(subset: int = 1) -> list[dict[str, Any]]:
    """The frozen judged set (every ``subset``-th query when ``subset`` > 1)."""
    rows: list[dict[str, Any]] = json.loads(JUDGED.read_text())
    return rows[::subset]


async def evaluate(client: httpx.AsyncClient, rows: list[dict[str, Any]]) -> Report:
    """Ask every judged query through the API and score the answers."""
    outcomes = []
    for row in rows:
        start = time.perf_counter()
        answer = await client.get("/api/v1/search", params={"q": row["q"], "limit": str(TOP)})
        elapsed = (time.perf_counter() - start) * 1000
        answer.raise_for_status()
        body = answer.json()
        found = [
            f"{int(result['origin'].split(':')[1])}/{result['id']}" for result in body["results"]
        ]
        relevant = set(row["relevant"])
        ranks = [rank for rank, key in enumerate(found, start=1) if key in relevant]
        hits = len(ranks)
        outcomes.append(
            Outcome(
                q=row["q"],
                category=row["category"],
                relevant=len(relevant),
                found=found,
                hits=hits,
                recall=hits / min(len(relevant), TOP) if relevant else 0.0,
                reciprocal_rank=1 / ranks[0] if ranks else 0.0,
                suggestion=body.get("suggestion"),
                expected_suggestion=row.get("suggest"),
                ms=elapsed,
                titles=[result["title"] for result in body["results"]],
            )
        )
    return Report(outcomes)


def print_report(report: Report, misses: bool = False) -> None:
    print(f"    {'category':10} {'queries':>7} {'recall@10':>9} {'MRR':>6}")
    for name, (count, recall, mrr) in sorted(report.by_category().items()):
        print(f"    {name:10} {count:7d} {recall:9.3f} {mrr:6.3f}")
    nones = [o for o in report.outcomes if o.category == "none"]
    print(f"    none       {len(nones):7d}  answered with nothing: {report.none_empty:.3f}")
    if not misses:
        return
    for outcome in report.outcomes:
        wrong_suggestion = outcome.expected_suggestion and fold(outcome.suggestion or "") != fold(
            outcome.expected_suggestion
        )
        bad = (outcome.relevant and outcome.recall < 1) or (
            outcome.category == "none" and outcome.found
        )
        if bad or wrong_suggestion:
            print(
                f"  - {outcome.q!r} ({outcome.category}) recall {outcome.recall:.2f}"
                f" rr {outcome.reciprocal_rank:.2f} of {outcome.relevant};"
                f" suggestion {outcome.suggestion!r} (expected {outcome.expected_suggestion!r})"
            )
            for key, title in zip(outcome.found, outcome.titles, strict=True):
                print(f"        {key:10} {title}")


async def measure(base: Path, misses: bool) -> Report:
    from bench.common import asgi_node

    async with asgi_node(base) as (app, client):
        with app.state.node.db.activated():
            count = await load()
        print(f"  {count} offers of the corpus stored; {len(judged_rows())} judged queries")
        report = await evaluate(client, judged_rows())
        print_report(report, misses)
        return report


def main(argv: list[str] | None = None) -> None:
    from bench.common import percentile, record, section, workdir

    parser = argparse.ArgumentParser(description="search quality on the judged set")
    parser.add_argument("--misses", action="store_true", help="print every query that misses")
    args = parser.parse_args(argv or [])
    section("search quality (judged set)")
    with workdir("search-quality") as base:
        report = asyncio.run(measure(base, args.misses))
    judged = report.judged()
    record("search_recall_at_10", report.recall, "ratio", higher_is_better=True,
           note=f"{len(judged)} judged queries")  # fmt: skip
    record("search_mrr", report.mrr, "ratio", higher_is_better=True)
    record("search_none_empty_ratio", report.none_empty, "ratio", higher_is_better=True,
           note="queries about nothing offered, answered with nothing")  # fmt: skip
    record("search_suggestion_ratio", report.suggestions, "ratio", higher_is_better=True,
           note="expected 'did you mean' corrections given")  # fmt: skip
    record("search_quality_p95_ms", percentile(report.latencies(), 95), "ms",
           note="judged queries, ~2,200 objects, api")  # fmt: skip
