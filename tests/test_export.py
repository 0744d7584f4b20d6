from __future__ import annotations

import csv
import io
from pathlib import Path

from node.i18n import locale_language, translations
from node.services.export import place_problems, row_errors, table_schema
from tests.conftest import InProcessNode, run_papi

STANDARD = Path(__file__).resolve().parent.parent / "schemas" / "lamednum"

COMPLETE = {
    "nom": "EPN Brest Bellevue",
    "adresse": "1 place Napoléon III",
    "code_postal": "29200",
    "commune": "Brest",
    "code_insee": "29019",
    "pivot": "21290019700017",
    "latitude": 48.4023,
    "longitude": -4.5086,
    "telephone": "+33298000001",
    "courriels": ["epn@exemple.bzh"],
    "horaires": "Mo-Fr 09:00-12:00,14:00-18:00",
    "services": ["Aide aux démarches administratives", "Accès internet et matériel informatique"],
    "frais_a_charge": ["Gratuit"],
    "modalites_acces": ["Se présenter", "Téléphoner"],
}


def test_validator_accepts_the_standards_own_example_and_catches_errors() -> None:
    with (STANDARD / "exemple-valide-1.0.2.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(row_errors(row) == [] for row in rows)
    broken = dict(rows[0], code_postal="2920", services="Cours de cuisine", date_maj="")
    errors = row_errors(broken)
    assert any(e.startswith("code_postal") for e in errors)
    assert any(e.startswith("services") for e in errors)
    assert "date_maj: required" in errors
    for day in ("20240402", "2024-W14-2", "2024-02-30"):
        assert row_errors(dict(rows[0], date_maj=day)) == ["date_maj: not a YYYY-MM-DD date"]


async def test_export_place_and_skip_incomplete(papi: InProcessNode) -> None:
    r = await papi.client.get("/api/v1/export/lamednum.csv")
    assert r.status_code == 200
    assert r.headers["x-papi-skipped"] == "1"  # the initial place lacks adresse etc.
    await papi.client.put("/api/v1/place", json=COMPLETE, headers=papi.auth)
    r = await papi.client.get("/api/v1/export/lamednum.csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [f["name"] for f in table_schema()["fields"]]
    assert (
        rows[0]["services"]
        == "Aide aux démarches administratives|Accès internet et matériel informatique"
    )
    assert rows[0]["id"] == papi.node.origin and row_errors(rows[0]) == []
    r = await papi.client.get("/api/v1/export/lamednum.json", params={"scope": "network"})
    assert r.json()[0]["nom"] == "EPN Brest Bellevue"


def test_cli_export_names_what_is_missing_in_french(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    run_papi("init", "--data-dir", data, "--name", "Lieu", "--commune", "Brest")
    result = run_papi("export", "--data-dir", data, "--network", "-o", str(tmp_path / "l.csv"))
    assert (tmp_path / "l.csv").read_text(encoding="utf-8").startswith("id,pivot,nom")
    assert "0 lieu écrit dans" in result.stderr
    assert "Lieu (" in result.stderr and "n'est pas dans l'export open data" in result.stderr
    assert "Numéro SIRET ou RNA : à renseigner" in result.stderr
    assert "Adresse : à renseigner" in result.stderr
    assert "Code postal : à renseigner" in result.stderr
    assert "Complétez le profil du lieu dans /admin/place." in result.stderr
    assert "pivot" not in result.stderr and "required" not in result.stderr
    english = run_papi("export", "--data-dir", data, env={"LANGUAGE": "", "LANG": "en_GB.UTF-8"})
    assert english.stdout.startswith("id,pivot,nom")
    assert "is left out of the open data" in english.stderr
    assert "SIRET or RNA number: to be filled in" in english.stderr


def test_place_problems_say_what_the_form_calls_each_field() -> None:
    gettext = translations("fr").gettext
    missing = place_problems("o", {"nom": "EPN", "commune": "Brest"})
    assert [p.text(gettext) for p in missing] == [
        "Numéro SIRET ou RNA : à renseigner",
        "Code postal : à renseigner",
        "Adresse : à renseigner",
    ]
    assert place_problems("o", COMPLETE) == []
    wrong = place_problems("o", dict(COMPLETE, pivot="12"))
    assert [p.text(gettext) for p in wrong] == ["Numéro SIRET ou RNA : pas au format du standard"]


def test_locale_language_is_french_unless_the_locale_asks_for_english() -> None:
    assert locale_language({}) == "fr"
    assert locale_language({"LANG": "C.UTF-8"}) == "fr"
    assert locale_language({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert locale_language({"LANG": "en_GB.UTF-8"}) == "en"
    assert locale_language({"LC_ALL": "en_US.UTF-8", "LANG": "fr_FR.UTF-8"}) == "en"
    assert locale_language({"LANGUAGE": "en:fr", "LANG": "fr_FR.UTF-8"}) == "en"
    assert locale_language({"LANGUAGE": "de", "LANG": "en_US.UTF-8"}) == "en"
    assert locale_language({"LC_MESSAGES": "de_DE.UTF-8"}) == "fr"
