"""The relevant objects of each judged query, frozen in ``judged.json``.

    python -m bench.search_quality.judge           # write judged.json
    python -m bench.search_quality.judge --check   # exit 1 if it is out of date

Relevance follows from the queries' concepts (``queries.py``) and the corpus's
(``corpus.py``), never from the wording of titles: this is what a search has to find.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .corpus import CorpusObject, Place, build, objects
from .queries import QUERIES, Judged

JUDGED = Path(__file__).with_name("judged.json")


def relevant(query: Judged, places: list[Place]) -> list[CorpusObject]:
    """The corpus objects that answer ``query`` (empty for the ``none`` category)."""
    if query.category == "none":
        return []
    names = {place.index: place.name for place in places}
    found = []
    for item in objects(places):
        if query.concepts:
            wanted = set(query.concepts)
            if query.every and not wanted <= item.concepts:
                continue
            if not query.every and not wanted & item.concepts:
                continue
        if query.kinds and item.kind not in query.kinds:
            continue
        if query.commune and item.commune != query.commune:
            continue
        if query.place and names[item.place] != query.place:
            continue
        found.append(item)
    return found


def judged_set() -> list[dict[str, Any]]:
    places = build()
    rows = []
    for query in QUERIES:
        answers = relevant(query, places)
        if query.category != "none" and not answers:
            raise ValueError(f"nothing in the corpus answers {query.text!r}")
        rows.append(
            {
                "q": query.text,
                "category": query.category,
                "suggest": query.suggest or None,
                "relevant": [item.key for item in answers],
                "titles": [item.payload["title"] for item in answers[:10]],
            }
        )
    return rows


def render() -> str:
    return json.dumps(judged_set(), ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not JUDGED.exists() or JUDGED.read_text() != text:
            print(f"{JUDGED} is out of date", file=sys.stderr)
            return 1
        return 0
    JUDGED.write_text(text)
    rows = json.loads(text)
    print(f"{len(rows)} queries written to {JUDGED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
