"""``papi import lamednum``: the national open data as unclaimed listings
(node/services/lamednum_import.py, node/services/listings.py), their place in the
directory and in the network's export, and their replacement by signed places."""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path
from typing import Any

import extruct
import pytest

from node.models import LogEntry
from node.services.export import export_places, field_names
from node.services.lamednum_import import ImportFileError, import_file, read_rows
from node.services.listings import name_key, normalise, signed_places
from node.services.log import publish
from node.services.sync import current_vector
from tests.conftest import InProcessNode, in_process_node, run_papi
from tests.demo_network import SignedLog, ingest
from tests.test_export import COMPLETE

EXAMPLE = (
    Path(__file__).resolve().parent.parent / "schemas" / "lamednum" / "exemple-valide-1.0.2.csv"
)


def example_rows() -> list[dict[str, str]]:
    with EXAMPLE.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=field_names(), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def run_import(papi: InProcessNode, path: Path, **options: Any) -> Any:
    with papi.node.db.activated():
        return await import_file(papi.node.db, path, **options)


async def network_export(papi: InProcessNode) -> Any:
    with papi.node.db.activated():
        return await export_places(papi.node.db, None)


async def test_the_standards_example_goes_through_export_unchanged(papi: InProcessNode) -> None:
    report = await run_import(papi, EXAMPLE)
    assert (len(report.rows), report.rejected, report.warnings) == (1, [], [])
    exported = await network_export(papi)
    assert exported.listings == 1
    assert parse_csv(exported.csv()) == example_rows()
    # The node's own place lacks what the standard requires: reported, as before.
    assert [origin for origin, _, _ in exported.skipped] == [papi.node.origin]
    page = html.unescape((await papi.client.get("/nodes")).text)
    assert "Anonymal" in page and "Non revendiqué" in page
    assert "fiche importée de l'open data national" in page
    for path in ("/nodes", "/nodes/imported"):
        document = extruct.extract((await papi.client.get(path)).text, syntaxes=["json-ld"])
        items = document["json-ld"][0]["@graph"][0]["mainEntity"]["itemListElement"]
        [listing] = [i["item"] for i in items if i["item"]["name"] == "Anonymal"]
        assert listing["@type"] == "CivicStructure" and "url" not in listing
        assert listing["address"]["streetAddress"].startswith("12 BIS RUE DE LECLERCQ")


async def test_round_trip_export_import_export_keeps_every_field(tmp_path: Path) -> None:
    """A coordinator's export of signed places (CSV and JSON), imported by another node,
    exports the same rows again."""
    async with in_process_node(tmp_path / "a") as first:
        with first.node.db.activated():
            await publish(first.node, "place", "place", "put", COMPLETE)
        other = SignedLog()
        remote = {
            **COMPLETE, "nom": "Médiathèque de Crozon", "commune": "Crozon",
            "code_postal": "29160", "pivot": "21290042900010", "site_web": ["https://a.fr", "https://b.fr"],
            "presentation_detail": "Sur deux lignes,\nune virgule et des « guillemets ».",
        }  # fmt: skip
        await ingest(first, [other.entry("place", "place", remote)])
        await run_import(first, EXAMPLE)
        original = await network_export(first)
        assert len(original.rows) == 3 and original.skipped == []
        (tmp_path / "export.csv").write_text(original.csv(), encoding="utf-8")
        (tmp_path / "export.json").write_text(original.json(), encoding="utf-8")
    for name in ("export.csv", "export.json"):
        async with in_process_node(tmp_path / name.replace(".", "-")) as second:
            report = await run_import(second, tmp_path / name)
            assert len(report.rows) == 3 and report.rejected == []
            again = await network_export(second)
            assert again.rows == original.rows, name
            assert again.csv() == original.csv()


async def test_rejected_rows_are_reported_in_french_with_their_line(
    papi: InProcessNode, tmp_path: Path
) -> None:
    good = example_rows()[0]
    rows = [
        dict(good, id="a", code_postal="2920"),
        dict(good, id="b", presentation_detail="deux\nlignes"),
        dict(good, id="c", date_maj="02/04/2024", services="Cours de cuisine"),
        dict(good, id="b"),
        dict(good, id="d", pivot=""),
    ]
    path = write_csv(tmp_path / "lieux.csv", rows, delimiter=";")
    report = await run_import(papi, path)
    assert [row["id"] for row in report.rows] == ["b"]
    messages = [rejected.text() for rejected in report.rejected]
    assert messages[0] == (
        "ligne 2 (id « a ») : code_postal : « 2920 » ne respecte pas le format du standard"
    )
    # Row "b" spans lines 3 and 4: the next row starts on line 5.
    assert messages[1].startswith("ligne 5 (id « c ») : date_maj : « 02/04/2024 » n'est pas")
    assert "services : « Cours de cuisine » ne respecte pas" in messages[1]
    assert messages[2] == "ligne 6 (id « b ») : id : « b » déjà utilisé (ligne 3)"
    assert messages[3] == "ligne 7 (id « d ») : pivot : valeur obligatoire manquante"


def test_unusable_files_are_refused_as_a_whole(tmp_path: Path) -> None:
    cases = {
        "manque.csv": ("id,nom,commune\nx,Lieu,Brest\n", "colonnes obligatoires du standard"),
        "vide.csv": ("", "le fichier est vide"),
        "latin1.csv": (b"id,nom\n" + "é".encode("latin-1"), "n'est pas en UTF-8"),
        "objet.json": ('{"id": "x"}', "doit être une liste"),
        "casse.json": ("[{", "JSON illisible"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        with pytest.raises(ImportFileError, match=message):
            read_rows(path)


def test_json_rows_accept_numbers_and_lists(tmp_path: Path) -> None:
    row: dict[str, Any] = dict(example_rows()[0])
    row.update(latitude=43.52609, courriels=["a@b.fr", "c@d.fr"], complement_adresse=None)
    path = tmp_path / "lieux.json"
    path.write_text(json.dumps([row, {"id": "x", "nom": True}, 3]), encoding="utf-8")
    report = read_rows(path)
    [imported] = report.rows
    assert imported["latitude"] == "43.52609" and imported["courriels"] == "a@b.fr|c@d.fr"
    assert [r.where for r in report.rejected] == ["élément 2", "élément 3"]


async def test_listings_are_never_signed_nor_synced(papi: InProcessNode) -> None:
    with papi.node.db.activated():
        entries, vector = await LogEntry.all().count(), await current_vector(papi.node.db)
    await run_import(papi, EXAMPLE)
    with papi.node.db.activated():
        assert await LogEntry.all().count() == entries
        assert await current_vector(papi.node.db) == vector
    search = await papi.client.get("/api/v1/search", params={"q": "Anonymal", "kind": "place"})
    assert search.json()["results"] == []


def test_names_are_compared_without_accents_case_or_punctuation() -> None:
    assert normalise("Médiathèque  L'Œil-de-Brest ") == "mediatheque l oeil de brest"
    assert name_key("EPN  Bellevue !", "BREST") == name_key("epn bellevue", "Brest")
    assert name_key("EPN Bellevue", "Brest") != name_key("EPN Bellevue", "Guipavas")
    assert name_key("Lieu", "") == ""


@pytest.mark.parametrize(
    ("signed", "replaced", "pivot_later"),
    [
        ({"nom": "Autre nom", "commune": "Ailleurs", "pivot": "43493312300029"}, True, ""),
        ({"nom": "ANONYMAL", "commune": "reims"}, True, "43493312300029"),
        ({"nom": "Anonymal", "commune": "Reims", "pivot": "99999999999999"}, False, ""),
        ({"nom": "Anonymal", "commune": "Épernay"}, False, "88888888888888"),
    ],
)
async def test_a_signed_place_replaces_its_listing(
    papi: InProcessNode, signed: dict[str, str], replaced: bool, pivot_later: str
) -> None:
    await run_import(papi, EXAMPLE)
    log = SignedLog()
    await ingest(papi, [log.entry("place", "place", signed)])
    page = (await papi.client.get("/nodes")).text
    assert ("Non revendiqué" in page) is not replaced
    exported = await network_export(papi)
    # The signed place is incomplete (no address): its listing is exported in its stead.
    assert [row["nom"] for row in exported.rows] == ["Anonymal"]
    assert {origin for origin, _, _ in exported.skipped} == {papi.node.origin, log.origin}
    # Once the place's profile is complete, it is the signed row that is exported.
    complete = {**COMPLETE, **signed, **({"pivot": pivot_later} if pivot_later else {})}
    await ingest(papi, [log.entry("place", "place", complete)])
    exported = await network_export(papi)
    ids = sorted(row["id"] for row in exported.rows)
    assert ids == ([log.origin] if replaced else sorted([log.origin, "structure-1"]))


async def test_a_listing_exported_by_a_node_is_replaced_by_that_node(
    papi: InProcessNode, tmp_path: Path
) -> None:
    log = SignedLog()
    row = dict(example_rows()[0], id=log.origin, nom="Nom d'avant", pivot="11111111111111")
    await run_import(papi, write_csv(tmp_path / "l.csv", [row]))
    await ingest(papi, [log.entry("place", "place", {"nom": "Nouveau nom", "commune": "Reims"})])
    with papi.node.db.activated():
        signed = await signed_places(papi.node.db)
    assert signed.replacing(log.origin, "", "") == log.origin
    assert "Nom d'avant" not in html.unescape((await papi.client.get("/nodes")).text)


async def test_reimport_updates_and_replace_drops_the_others(
    papi: InProcessNode, tmp_path: Path
) -> None:
    good = example_rows()[0]
    await run_import(papi, write_csv(tmp_path / "1.csv", [good, dict(good, id="deux", nom="Deux")]))
    await run_import(papi, write_csv(tmp_path / "2.csv", [dict(good, nom="Anonymal 2")]))
    names = sorted(row["nom"] for row in (await network_export(papi)).rows)
    assert names == ["Anonymal 2", "Deux"]
    await run_import(papi, write_csv(tmp_path / "3.csv", [good]), replace=True)
    assert [row["nom"] for row in (await network_export(papi)).rows] == ["Anonymal"]
    report = await run_import(
        papi, write_csv(tmp_path / "4.csv", [dict(good, id="x")]), dry_run=True
    )
    assert len(report.rows) == 1 and not report.stored
    assert len((await network_export(papi)).rows) == 1


async def test_large_files_show_progress_and_page_in_the_directory(
    papi: InProcessNode, tmp_path: Path
) -> None:
    good = example_rows()[0]
    rows = [dict(good, id=f"s{i:04}", nom=f"Lieu {i:04}", pivot=f"{i:014}") for i in range(2100)]
    seen: list[tuple[str, int, int]] = []
    report = await run_import(
        papi, write_csv(tmp_path / "big.csv", rows), progress=lambda *a: seen.append(a)
    )
    assert len(report.rows) == 2100
    assert ("vérification", 1000, 2100) in seen and seen[-1] == ("enregistrement", 2100, 2100)
    directory = (await papi.client.get("/nodes")).text
    assert directory.count('class="card listing"') == 20
    assert "Voir les 2100 fiches importées" in directory
    page = await papi.client.get("/nodes/imported", params={"page": "42"})
    assert page.status_code == 200 and page.text.count('class="card listing"') == 50
    assert "Lieu 2099" in page.text and "(page 42 sur 42)" in page.text
    assert (await papi.client.get("/nodes/imported", params={"page": "43"})).status_code == 404


def test_cli_import_reports_and_fails_only_when_nothing_is_usable(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    run_papi("init", "--data-dir", data, "--name", "Coordination", "--commune", "Brest")
    result = run_papi("import", "lamednum", "--data-dir", data, str(EXAMPLE))
    assert "1 fiche(s) importées, 0 ligne(s) refusée(s)" in result.stdout
    bad = write_csv(tmp_path / "bad.csv", [dict(example_rows()[0], code_postal="")])
    result = run_papi("import", "lamednum", "--data-dir", data, str(bad), check=False)
    assert result.returncode == 1
    assert (
        "refusée : ligne 2 (id « structure-1 ») : code_postal : valeur obligatoire" in result.stderr
    )
    result = run_papi("export", "--data-dir", data, "--network")
    assert parse_csv(result.stdout) == example_rows()
