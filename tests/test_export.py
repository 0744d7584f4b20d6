from __future__ import annotations

import csv
import io
from pathlib import Path

from node.services.export import row_errors, table_schema
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


def test_cli_export(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    run_papi("init", "--data-dir", data, "--name", "Lieu", "--commune", "Brest")
    result = run_papi("export", "--data-dir", data, "--network")
    assert result.stdout.startswith("id,pivot,nom")
    assert "left out" in result.stderr and "adresse: required" in result.stderr
