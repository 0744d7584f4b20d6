#!/usr/bin/env python3
"""Regenerate ``node/data/typologies-structures.csv`` from the PyPI package
``data-inclusion-schema`` (its ``v0`` typology of structures, the vocabulary the LaMednum
1.0.2 standard names for ``typologie``). Source and licence: ``node/data/SOURCE.md``.
Usage, from the repository root::

    python3 scripts/build_typologies.py                    # pip download the VERSION below
    python3 scripts/build_typologies.py --wheel FILE.whl   # from a wheel already downloaded

The module is read as text (``ast``), never imported: only the standard library is used,
and the output (sorted by code) is the same bytes for the same version.
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VERSION = "0.27.0"
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "node" / "data" / "typologies-structures.csv"
MODULE = "data_inclusion/schema/v0/typologies_de_structures.py"


def typologies(source: str) -> list[tuple[str, str]]:
    """(code, label) of each member of ``TypologieStructure``, as written in the module."""
    rows = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == "TypologieStructure":
            for item in node.body:
                if isinstance(item, ast.Assign) and isinstance(item.value, ast.Tuple):
                    code, label = (ast.literal_eval(part) for part in item.value.elts[:2])
                    rows.append((str(code), " ".join(str(label).split())))
    # "Autre" is not a code the place schema accepts (capital letters and underscores).
    return sorted((code, label) for code, label in rows if code.isupper() or "_" in code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="data-inclusion-schema wheel to read")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel
        if wheel is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", tmp,
                 f"data-inclusion-schema=={VERSION}"],
                check=True,
            )  # fmt: skip
            wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            source = archive.read(MODULE).decode("utf-8")
    rows = typologies(source)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "libelle"])
    writer.writerows(rows)
    OUTPUT.write_text(out.getvalue(), encoding="utf-8")
    print(f"{len(rows)} typologies written to {OUTPUT}")


if __name__ == "__main__":
    main()
