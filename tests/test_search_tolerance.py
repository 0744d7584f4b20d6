"""Search finds what was meant (issue 12): parts of compound words, inflections, typos,
synonyms, "did you mean", marked matches; and the vocabulary behind it follows the index,
deletions included."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from node.db import write_transaction
from node.services import search_readers
from node.services.log import new_oid, publish
from node.services.search import SearchAnswer, SearchQuery, prepare_vocabulary, search
from node.services.search_words import Vocabulary, analyse, expression, fold, parse_synonyms
from node.store.search import database_file
from tests.conftest import InProcessNode


async def put(papi: InProcessNode, kind: str, payload: dict[str, Any]) -> str:
    oid = new_oid()
    with papi.node.db.activated():
        await publish(papi.node, kind, oid, "put", payload)
    return oid


async def ask(papi: InProcessNode, q: str, **query: Any) -> SearchAnswer:
    return await search(papi.node.db.connection(), SearchQuery(q=q, **query), snippets=True)


async def titles(papi: InProcessNode, q: str, **query: Any) -> list[str]:
    return [result["title"] for result in (await ask(papi, q, **query)).results]


async def offers(papi: InProcessNode, *items: tuple[str, str]) -> None:
    for kind, title in items:
        payload: dict[str, Any] = {"title": title}
        if kind == "event":
            payload["start"] = "2099-05-01T10:00:00+02:00"
        await put(papi, kind, payload)


# -- what was meant ---------------------------------------------------------------------


async def test_part_of_a_compound_word_finds_it(papi: InProcessNode) -> None:
    await offers(papi, ("equipment", "Vidéoprojecteur Epson"), ("equipment", "Photocopieuse"))
    assert await titles(papi, "projecteur") == ["Vidéoprojecteur Epson"]
    assert await titles(papi, "copieuse") == ["Photocopieuse"]
    # Short words are not looked for inside others: "photo" is not in "Photocopieuse"'s
    # middle, it begins it (a completion of the last word).
    assert await titles(papi, "eps") == ["Vidéoprojecteur Epson"]


async def test_singular_plural_and_inflections(papi: InProcessNode) -> None:
    await offers(
        papi,
        ("equipment", "Ordinateur portable Lenovo"),
        ("equipment", "Imprimante laser"),
        ("skill", "Les réseaux sociaux"),
    )
    assert await titles(papi, "ordinateurs portables") == ["Ordinateur portable Lenovo"]
    assert await titles(papi, "imprimer") == ["Imprimante laser"]
    assert await titles(papi, "réseau social") == ["Les réseaux sociaux"]
    # A stem too short to say much is not used: "café" is not "CAF".
    await offers(papi, ("skill", "Mon compte CAF"))
    assert await titles(papi, "café") == []


async def test_typos_one_edit_or_two_on_long_words(papi: InProcessNode) -> None:
    await offers(
        papi,
        ("equipment", "Imprimante 3D Prusa"),
        ("skill", "Programmation Scratch"),
        ("equipment", "Casque Pico 4"),
    )
    answer = await ask(papi, "imprimente 3d")
    assert [r["title"] for r in answer.results] == ["Imprimante 3D Prusa"]
    assert answer.suggestion == "imprimante 3d"
    answer = await ask(papi, "progamation")  # two edits on a word of 11 letters
    assert [r["title"] for r in answer.results] == ["Programmation Scratch"]
    assert answer.suggestion == "programmation"
    # Two edits on short words would reach anything: "piano" is not "pico".
    answer = await ask(papi, "cours de piano")
    assert answer.results == [] and answer.suggestion is None


async def test_what_was_typed_comes_first(papi: InProcessNode) -> None:
    await offers(papi, ("equipment", "Vidéoprojecteur portable"), ("equipment", "Projecteur"))
    assert await titles(papi, "projecteur") == ["Projecteur", "Vidéoprojecteur portable"]


async def test_synonyms_of_the_data_file(papi: InProcessNode) -> None:
    await offers(
        papi,
        ("equipment", "Appareil photo numérique Canon"),
        ("skill", "Envoyer des courriels"),
        ("equipment", "Téléphone portable Fairphone"),
        ("equipment", "Tableau blanc interactif"),
    )
    assert await titles(papi, "APN") == ["Appareil photo numérique Canon"]
    assert await titles(papi, "mail") == ["Envoyer des courriels"]
    assert await titles(papi, "e-mail") == ["Envoyer des courriels"]
    assert await titles(papi, "smartphones") == ["Téléphone portable Fairphone"]
    assert await titles(papi, "TBI") == ["Tableau blanc interactif"]
    # A word of the list is no typo: "appli" is "application", not "Apple".
    await offers(papi, ("skill", "Application bancaire"), ("equipment", "Apple iPad"))
    answer = await ask(papi, "appli bancaire")
    assert [r["title"] for r in answer.results] == ["Application bancaire"]
    assert answer.suggestion is None


def test_synonym_file_format() -> None:
    table = parse_synonyms(
        [
            "# a comment, with, commas",
            "",
            "  Vidéoproj , vidéo-projecteur,PROJECTEUR VIDÉO  ",
            "seul",  # a group of one says nothing
        ]
    )
    assert table.groups == ((("videoproj",), ("video", "projecteur"), ("projecteur", "video")),)
    units = analyse("vidéo projecteur", Vocabulary({}), table)
    assert len(units) == 1 and [w.folded for w in units[0].words] == ["video", "projecteur"]
    assert '"videoproj"' in expression(units, expanded=True)
    assert '"videoproj"' not in expression(units, expanded=False)  # synonyms: when expanding


def test_user_syntax_stays_inert_in_expressions() -> None:
    vocabulary = Vocabulary({"atelier": 3, "ateliers": 1})
    for text in ['"', "NEAR(a b)", "atelier OR", "title:x", "a*b", "'); DROP"]:
        fts = expression(analyse(text, vocabulary), expanded=True)
        assert re.fullmatch(r'[()"\w* ]*', fts), fts
        assert all(part.isalnum() for part in re.findall(r'"([^"]*)"', fts))


async def test_stop_words_and_all_words_but_one(papi: InProcessNode) -> None:
    await offers(papi, ("event", "Atelier seniors"), ("skill", "Utiliser un ordinateur"))
    assert await titles(papi, "atelier pour les seniors") == ["Atelier seniors"]
    # "apprendre" is nowhere: with three words or more, all but one will do.
    assert await titles(papi, "apprendre à utiliser un ordinateur") == ["Utiliser un ordinateur"]
    assert await titles(papi, "de la") == []  # only stop words: they must match


async def test_queries_about_nothing_find_nothing(papi: InProcessNode) -> None:
    await offers(
        papi,
        ("equipment", "Ordinateur portable Acer Aspire 5"),
        ("skill", "Garder le contact avec ses enfants"),
    )
    for q in ("piscine", "aspirateur", "location de vélo", "xyzzy"):
        answer = await ask(papi, q)
        assert answer.results == [] and answer.total == 0 and answer.suggestion is None, q


# -- did you mean, marks ----------------------------------------------------------------


async def test_suggestion_in_the_api_and_on_the_page(papi: InProcessNode) -> None:
    await offers(papi, ("equipment", "Vidéoprojecteur Epson"), ("equipment", "Tablette"))
    body = (await papi.client.get("/api/v1/search", params={"q": "videoprojecteru"})).json()
    assert body["suggestion"] == "vidéoprojecteur"
    assert [r["title"] for r in body["results"]] == ["Vidéoprojecteur Epson"]
    body = (await papi.client.get("/api/v1/search", params={"q": "tablette"})).json()
    assert body["suggestion"] is None
    page = (
        await papi.client.get("/search", params={"q": "videoprojecteru", "kind": "equipment"})
    ).text
    assert "Vouliez-vous dire :" in page
    assert '<a href="/search?q=vid%C3%A9oprojecteur&amp;kind=equipment">vidéoprojecteur</a>' in page
    assert "<mark>Vidéoprojecteur</mark> Epson" in page


async def test_marks_are_escaped_and_cover_what_matched(papi: InProcessNode) -> None:
    await put(
        papi,
        "equipment",
        {
            "title": "<script>alert('x')</script> Vidéoprojecteur",
            "description": "Prêt <b>gratuit</b> des vidéoprojecteurs & écrans.",
        },
    )
    page = (await papi.client.get("/search", params={"q": "projecteurs"})).text
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; <mark>Vidéoprojecteur</mark>" in page
    assert "&lt;b&gt;gratuit&lt;/b&gt; des <mark>vidéoprojecteurs</mark> &amp; écrans" in page
    answer = await ask(papi, "script")
    assert answer.results[0]["title_marked"].startswith("<\x02script\x03>")


# -- the vocabulary follows the index ---------------------------------------------------


async def vocabulary(papi: InProcessNode) -> Vocabulary:
    return await prepare_vocabulary(papi.node.db.connection())


async def test_new_words_are_known_at_once(papi: InProcessNode) -> None:
    await offers(papi, ("equipment", "Tablette"))
    assert await titles(papi, "brodeuze numerique") == []
    await offers(papi, ("equipment", "Brodeuse numérique Brother"))
    assert await titles(papi, "brodeuze numerique") == ["Brodeuse numérique Brother"]


async def test_deleted_words_are_forgotten_everywhere(papi: InProcessNode) -> None:
    secret = "Zorglubophone"
    r = await papi.client.post("/api/v1/equipment", json={"title": secret}, headers=papi.auth)
    assert (await ask(papi, "zorglubofone")).suggestion == "zorglubophone"
    assert "zorglubophone" in await vocabulary(papi)
    await papi.client.delete(f"/api/v1/equipment/{r.json()['id']}", headers=papi.auth)
    answer = await ask(papi, "zorglubofone")
    assert answer.results == [] and answer.suggestion is None
    assert "zorglubophone" not in await vocabulary(papi)
    for path in papi.data_dir.iterdir():
        if path.name.startswith("papi.sqlite3"):
            assert b"zorglubophone" not in path.read_bytes().lower(), path.name


async def test_a_large_index_reads_its_vocabulary_in_the_background(
    papi: InProcessNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_readers, "INLINE_VOCABULARY_OBJECTS", 0)
    monkeypatch.setattr(search_readers, "VOCABULARY_PAUSE_S", 0.0)
    await offers(papi, ("equipment", "Tablette"))
    await vocabulary(papi)
    await offers(papi, ("equipment", "Découpeuse vinyle"))
    # The vocabulary in hand is older than the index: this search does not wait for it.
    assert await titles(papi, "decoupeuze") == []
    for _ in range(500):  # condition-based: until the background read has landed
        if await titles(papi, "decoupeuze"):
            break
        await asyncio.sleep(0.01)
    assert await titles(papi, "decoupeuze") == ["Découpeuse vinyle"]


async def test_a_search_neither_waits_for_nor_sees_a_write_in_progress(
    papi: InProcessNode,
) -> None:
    await offers(papi, ("skill", "Atelier tablette"))
    with papi.node.db.activated():
        async with write_transaction() as conn:
            await conn.execute_query(
                "UPDATE objects SET title = 'Atelier smartphone' WHERE title = 'Atelier tablette'"
            )
            answer = await asyncio.wait_for(search(conn, SearchQuery(q="tablette")), timeout=30)
            assert [r["title"] for r in answer.results] == ["Atelier tablette"]
    assert await titles(papi, "smartphone") == ["Atelier smartphone"]


async def test_readers_close_with_the_database(tmp_path: Path) -> None:
    from tests.conftest import in_process_node

    async with in_process_node(tmp_path / "node") as papi:
        await offers(papi, ("skill", "Atelier"))
        assert await titles(papi, "atelier") == ["Atelier"]
        database = str(tmp_path / "node" / "papi.sqlite3")
        assert any(
            Path(path).resolve() == Path(database).resolve() for path in search_readers._idle
        )
    assert not any(
        Path(path).resolve() == Path(database).resolve() for path in search_readers._idle
    )


async def test_readers_map_the_database_file(papi: InProcessNode) -> None:
    """Searches read the file through a memory map (a fifth less CPU at 30,000 objects
    than copying each page outside the cache in with a system call), on read-only
    connections."""
    await offers(papi, ("skill", "Atelier"))
    assert await titles(papi, "atelier") == ["Atelier"]
    database = database_file(papi.node.db.connection())
    assert database is not None
    with search_readers.reader(database) as db:
        [(mapped,)] = db.execute("PRAGMA mmap_size").fetchall()
        assert mapped == search_readers.MMAP_BYTES
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute("DELETE FROM objects")


def test_folding_matches_the_index() -> None:
    assert (
        fold("Vidéoprojecteur ÉCRAN Plouzané naïve Ç") == "videoprojecteur ecran plouzane naive c"
    )
