"""Network-wide search over every current object of every accepted origin.

One service for ``GET /api/v1/search`` and the ``/search`` page. SQLite FTS5 over title,
description (and the other free-text fields), theme or category, place name and commune,
with the ``unicode61 remove_diacritics 2`` tokenizer: "numerique" finds "numérique" and
the other way round. The index is an external-content table over ``objects`` kept by
triggers (node/db.py), so it changes in the very transaction of a publish or an ingest.

Ranking and order:

- with words: bm25, the title weighing most (title 10, theme 4, place 3, commune 3,
  body 1); when only events are asked for, the soonest first, then bm25;
- without words: upcoming events first (soonest first), then the rest by title.

Filters: kind, origin, commune, theme (or equipment category), and a date range that
keeps the events overlapping it (a date range alone means "events"). Past events are
left out unless ``include_past``; objects of frozen origins (proven fork) never show.
By default the offers are searched: skills, equipment and events, and the resources
(fiches, whose ``themes`` are several: the theme filter matches any of them; ``licence``
filters them by SPDX id, an absent licence counting as the default CC-BY-SA-4.0).
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from federation.timeutil import format_ts, utc_now

from ..cooperation.registrations import add_seats_left
from ..store import search as index
from ..store.search import Conditions, SearchFilters, SearchRow, database_file
from .licences import DEFAULT_LICENCE
from .objects import OFFER_KINDS, api_timestamp, load_payload, next_occurrences, raw_text
from .search_readers import prepare_vocabulary as _prepare
from .search_readers import read_later, reader, vocabulary_for
from .search_words import (
    TitleMatch,
    Unit,
    Vocabulary,
    analyse,
    corrected,
    expression,
    fold,
    highlight_terms,
    relaxed_expression,
    words,
)

_WORD = re.compile(r"\w+", re.UNICODE)
_DATE_FR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DATE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Days typed by people are days of the Pays de Brest.
LOCAL_TZ = ZoneInfo("Europe/Paris")


def day_bound(text: str, end_of_day: bool) -> str | None:
    """``YYYY-MM-DD`` or ``DD/MM/YYYY`` as RFC 3339 at the start (or end) of that day,
    Paris time; None if it is not a date."""
    text = text.strip()
    match = _DATE_FR.match(text)
    if match:
        text = f"{match.group(3)}-{int(match.group(2)):02d}-{int(match.group(1)):02d}"
    if not _DATE_ISO.match(text):
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return None
    moment = day.replace(hour=23, minute=59, second=59) if end_of_day else day
    # In UTC: before 1911 Paris time was 00:09:21 ahead, an offset RFC 3339 cannot write.
    try:
        return format_ts(moment.replace(tzinfo=LOCAL_TZ))
    except OverflowError:  # 0001-01-01: not a day UTC can hold, so not a date here
        return None


MAX_RESULTS = 100
#: Counting stops here: past it, "more than MAX_COUNT results" is all a person needs, and
#: an exact count of a common word costs a scan of every match.
MAX_COUNT = 1000
#: Ranking considers at most this many matches, the most recently indexed first (the
#: others follow, most recent first): bm25 costs about 4 µs a match at 30,000 objects, and
#: over every match of a word found in most objects it would cost a scan of them all.
RANKED = 300
#: The best matches by bm25 that are ranked again by how well their title answers.
RERANKED = 100
#: What a search without ``kind`` looks through: the offers of the places.
DEFAULT_KINDS = OFFER_KINDS
#: The longest query text, on the API and the search page.
MAX_QUERY_LENGTH = 200
#: Kinds whose objects have a period (``start``/``end``), hence date filters.
DATED_KINDS = ("event", "booking")
#: When the words as typed find fewer objects than this, what they may have meant is
#: looked for too (a page of the web UI: expanding costs more, and is then needed).
EXPAND_BELOW = 20
#: Markers around the matched words of a snippet (control characters never found in
#: text, so the caller escapes the snippet first, then turns them into markup).
MARK_START, MARK_END = "\x02", "\x03"


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    kind: str | None = None
    origin: str | None = None
    commune: str | None = None
    theme: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    include_past: bool = False
    licence: str | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class SearchAnswer:
    """A page of results, how many objects match in all (``MAX_COUNT + 1`` meaning "more
    than ``MAX_COUNT``"), and a correction of the query when it was misspelt."""

    results: list[dict[str, Any]]
    total: int
    suggestion: str | None = None


def fts_expression(text: str) -> str:
    """The words as typed, every one required, the last one as a prefix: the plain FTS5
    query (what the benchmark's "FTS alone" asks). Words are quoted, so no FTS5 syntax
    can come from the user."""
    words = _WORD.findall(text)
    if not words:
        return ""
    quoted = [f'"{word}"' for word in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def _filters(query: SearchQuery, frozen: list[str]) -> SearchFilters:
    return SearchFilters(
        kinds=DEFAULT_KINDS,
        default_licence=DEFAULT_LICENCE,
        not_over_at=None if query.include_past else format_ts(utc_now()),
        date_from=query.date_from,
        date_to=query.date_to,
        kind=query.kind,
        origin=query.origin,
        commune=query.commune,
        theme=query.theme,
        licence=query.licence,
        left_out=frozen,
    )


def _filter_expression(query: SearchQuery) -> str:
    """The commune and theme filters as FTS5 column filters: the index holds them too, and
    filtering there lets it intersect posting lists instead of checking every match
    (exact equality is still checked on ``objects``)."""
    parts = []
    for column, value in (("commune", query.commune), ("theme", query.theme)):
        if value and _WORD.search(value):
            phrase = " ".join(_WORD.findall(value))
            parts.append(f' AND {column} : "{phrase}"')
    return "".join(parts)


def _dated_first(query: SearchQuery) -> bool:
    """Whether matches are in date order (only events are asked for)."""
    return query.kind in DATED_KINDS or (not query.kind and bool(query.date_from or query.date_to))


async def search(
    conn: BaseDBAsyncClient, query: SearchQuery, *, snippets: bool = False
) -> SearchAnswer:
    """Matching objects (best first), the total number of matches and, when the words as
    typed find nothing but a corrected spelling does, that ``suggestion``.

    With words, in stages, each run only while the previous ones found fewer than
    ``EXPAND_BELOW`` objects, its objects ranked after theirs: what was typed (each word,
    the words of its stem, the last one's completions); what it may have meant (synonyms,
    parts of compound words, completions of every word, typos); all its words but one
    (queries of three words or more). See ``search_words.py``.

    With ``snippets``, each result also has ``snippet``, an extract of its text around
    the matched words, and ``title_marked``, its title; matched words are wrapped in
    ``MARK_START``/``MARK_END``.

    ``conn`` is the node's connection (``db.Database.connection``): the search reads its
    database file on a connection of its own, on a worker thread (search_readers.py), the
    seats left of the page's events too (in the same snapshot).
    """
    database = _database(conn)
    answer, stale = await asyncio.to_thread(_search, database, query, snippets)
    if stale:
        read_later(database)
    return answer


async def prepare_vocabulary(conn: BaseDBAsyncClient) -> Vocabulary:
    """Read the vocabulary of the index of ``conn``'s database now, whatever its size (for
    a node that has been up a while, in benchmarks; tests)."""
    return await _prepare(_database(conn))


def _database(conn: BaseDBAsyncClient) -> str:
    database = database_file(conn)
    if database is None:
        raise RuntimeError("search needs the node's SQLite database file")
    return database


def _search(database: str, query: SearchQuery, snippets: bool) -> tuple[SearchAnswer, bool]:
    limit = max(0, min(query.limit, MAX_RESULTS))
    offset = max(0, query.offset)
    with reader(database) as db:
        conditions = index.conditions(_filters(query, index.frozen_origins(db)))
        if not words(query.q):
            answer = _listing(db, conditions, limit, offset, snippets)
            _add_seats_left(db, answer.results)
            return answer, False
        vocabulary, stale = vocabulary_for(db, database)
        units = analyse(query.q, vocabulary)
        filters = _filter_expression(query)
        dated_first = _dated_first(query)
        stages = [(expression(units, False), TitleMatch(units, False))]
        wide = TitleMatch(units, True)
        if expression(units, True) != stages[0][0]:
            stages.append((expression(units, True), wide))
        relaxed = relaxed_expression(units)
        if relaxed:
            stages.append((relaxed, wide))
        found: list[list[int]] = []
        ids: list[int] = []
        counted = 0
        for fts, title_match in stages:
            if found and counted >= EXPAND_BELOW:
                break
            matched, count = _matches(
                db,
                f"({fts}){filters}",
                conditions,
                ids,
                dated_first,
                title_match,
                wanted=offset + limit - len(ids),
            )
            found.append(matched)
            ids = ids + matched
            counted += count
        page = index.rows(db, ids=ids[offset : offset + limit])
        if snippets:
            _mark(db, page, highlight_terms(units, len(found) > 1))
        suggestion = None
        if not found[0] and len(found) > 1 and found[1]:
            suggestion = _suggestion(db, units)
        results = [_result(row, snippets) for row in page]
        _add_seats_left(db, results)
    return SearchAnswer(results, min(counted, MAX_COUNT + 1), suggestion), stale


def _add_seats_left(db: sqlite3.Connection, results: list[dict[str, Any]]) -> None:
    """The events of the page with their seats left (one read for the page), read in the
    search's snapshot, on its thread: not one more hop, to Tortoise's thread and back
    (under load each hop waits for a core)."""
    _at_once(add_seats_left(results, index.SnapshotReads(db)))


def _at_once(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine``, whose awaits all finish at once (reads on a ``sqlite3``
    connection through ``SnapshotReads``), to its end, here, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("a read of the search waited for something else than its connection")


def _rank(rows: list[Any], dated_first: bool, title_match: TitleMatch) -> list[int]:
    """Ids of ``rows`` (id, starts_at, bm25 score, title; best first, as
    ``store.search.ranked_matches`` orders them), the ``RERANKED`` first ranked again by
    how well their title answers the query (their order kept within); events only: as
    they are (by date)."""
    if dated_first:
        return [row[0] for row in rows]
    # Each title once: offers of many places share theirs ("Atelier numérique").
    titles = {row[3]: (0, 0) for row in rows[:RERANKED]}
    for title in titles:
        titles[title] = title_match(title)
    best = [(titles[row[3]], row) for row in rows[:RERANKED]]
    best.sort(key=lambda pair: (-pair[0][0], -pair[0][1]))  # stable: bm25 order within
    return [row[0] for _, row in best] + [row[0] for row in rows[RERANKED:]]


def _matches(
    db: sqlite3.Connection,
    expression: str,
    conditions: Conditions,
    leave_out: list[int],
    dated_first: bool,
    title_match: TitleMatch,
    wanted: int,
) -> tuple[list[int], int]:
    """The ids matching ``expression``, but ``leave_out``, best first, and how many
    there are: the ``MAX_COUNT + 1`` most recently indexed matches are counted, the
    ``RANKED`` most recent of them ranked, the others follow, most recent first. The ids
    past the ranked ones are read only when the ``wanted`` first ones go past them (a
    page beyond the 300th result): else they are counted only."""
    # bm25 of the ranked ones only: the score comes with each of the first RANKED rows.
    ranked = index.ranked_matches(
        db,
        expression=expression,
        where=conditions,
        leave_out=leave_out,
        limit=RANKED,
        dated_first=dated_first,
    )
    if len(ranked) < RANKED:
        return _rank(ranked, dated_first, title_match), len(ranked)
    below, limit = min(row[0] for row in ranked), MAX_COUNT + 1 - RANKED  # the oldest ranked
    best = _rank(ranked, dated_first, title_match)
    if wanted > RANKED:
        rest = index.newest_match_ids(
            db, expression=expression, where=conditions, leave_out=leave_out, limit=limit,
            below=below,
        )  # fmt: skip
        return best + rest, RANKED + len(rest)
    counted = index.count_matches(
        db, expression=expression, where=conditions, leave_out=leave_out, limit=limit,
        below=below,
    )  # fmt: skip
    return best, RANKED + counted


def _listing(
    db: sqlite3.Connection,
    conditions: Conditions,
    limit: int,
    offset: int,
    snippets: bool,
) -> SearchAnswer:
    """Without words: upcoming events first (soonest first), then the rest by title."""
    counted, found = index.listing(
        db, where=conditions, count_limit=MAX_COUNT + 1, limit=limit, offset=offset
    )
    return SearchAnswer([_result(row, snippets) for row in found], counted)


def _mark(db: sqlite3.Connection, found: list[SearchRow], terms: list[str]) -> None:
    """Add the marked title and a snippet of the body to each row, for the page's rows
    only (they cost a look at each row's text). Whole terms only: a prefix here would make
    FTS5 expand it over the whole index for each row (1 ms a row for a common word)."""
    for row in found:
        row["snippet"], row["title_marked"] = "", row["title"]
    if not terms or not found:
        return
    marks = index.marked(
        db, terms=terms, ids=[row["id"] for row in found], start=MARK_START, end=MARK_END
    )
    for row in found:
        if row["id"] in marks:
            title, snippet = marks[row["id"]]
            row["title_marked"], row["snippet"] = title or row["title"], snippet or ""


def _suggestion(db: sqlite3.Connection, units: list[Unit]) -> str | None:
    """The query with its misspelt words corrected, each as the index's objects write it
    ("imprimente" -> "imprimante", "numerik" -> "numérique"); None when a correction is no
    longer in any object (the vocabulary may be a little older than the index)."""
    replacements: dict[int, str] = {}
    for word, term in corrected(units):
        written = _written_as(db, term)
        if written is None:
            return None
        replacements[id(word)] = written.upper() if word.typed.isupper() else written
    if not replacements:
        return None
    return " ".join(replacements.get(id(word), word.typed) for unit in units for word in unit.words)


def _written_as(db: sqlite3.Connection, term: str) -> str | None:
    """``term`` (folded) as one object that holds it writes it, in lower case."""
    found = index.text_holding(db, term=term)
    if found is None:
        return None
    for written in words(f"{found[0]} {found[1]}"):
        if fold(written) == term:
            return written.lower()
    return term


#: Deeper values are answered as their type's name: no payload schema nests this deep.
MAX_ANSWER_DEPTH = 16


def _answerable(value: Any) -> Any:
    """``value`` if a JSON answer can carry it, else its raw text: a stored payload is not
    trusted (a member nested 950 deep would make the whole answer fail to encode)."""
    if value is None or isinstance(value, str | int | float):  # always encodable
        return value
    stack = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_ANSWER_DEPTH:
            return type(value).__name__
        if isinstance(current, dict):
            stack.extend((member, depth + 1) for member in current.values())
        elif isinstance(current, list):
            stack.extend((member, depth + 1) for member in current)
    try:
        json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return raw_text(value)
    return value


def _result(row: SearchRow, snippets: bool) -> dict[str, Any]:
    payload = load_payload(row["payload"])
    result = {
        "origin": row["origin"],
        "kind": row["kind"],
        "id": row["oid"],
        "title": row["title"],
        "description": _answerable(payload.get("description", "")),
        "theme": row["theme"].split("\n")[0] or None,  # a resource's first theme
        "place": row["place"],
        "commune": row["commune"],
        "seq": row["seq"],
        "updated": api_timestamp(row["updated"]),
    }
    for name in (
        "start",
        "end",
        "location",
        "level",
        "category",
        "quantity",
        "audience",
        "capacity",
        "summary",
        "themes",
        "licence",
        "duration_minutes",
        "based_on",
        "recurrence",
        "photos",
    ):
        if name in payload:
            result[name] = _answerable(payload[name])
    if row["kind"] == "event":
        upcoming = next_occurrences(payload)
        if upcoming is not None:
            result["next_occurrences"] = upcoming
    if snippets:
        result["snippet"] = row.get("snippet") or ""
        result["title_marked"] = row.get("title_marked") or row["title"]
    return result


async def facets(conn: BaseDBAsyncClient) -> dict[str, list[str]]:
    """The communes and themes (or categories) found among searchable objects of the
    database of ``conn`` (the node's), for the filters of the search form: read as a
    search reads, in one snapshot, on a worker thread."""
    found = await asyncio.to_thread(_facets, _database(conn))
    # A resource's themes are one per line in its ``theme`` column.
    distinct = {theme for column in found.themes for theme in column.split("\n") if theme}
    return {"communes": found.communes, "themes": sorted(distinct, key=str.casefold)}


def _facets(database: str) -> index.Facets:
    with reader(database) as db:
        return index.facets(db, kinds=DEFAULT_KINDS)
