"""The typology of structures the LaMednum 1.0.2 standard names for ``typologie``
(data.inclusion's vocabulary), shipped as ``node/data/typologies-structures.csv`` (code,
French label; see ``node/data/SOURCE.md``), so that the place form offers labelled
choices instead of codes to know by heart."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "typologies-structures.csv"
#: The types most digital mediation places have, offered first.
COMMON = (
    "MUNI", "BIB", "EPN", "EPI", "ENM", "ASSO", "CS", "CSC", "MJC", "MQ", "EVS",
    "TIERS_LIEUX", "FABLAB", "CCAS", "CIAS", "RFS", "PIMMS", "LA_POSTE", "EPCI",
    "RESSOURCERIE",
)  # fmt: skip


@cache
def typologies() -> dict[str, str]:
    """Code -> French label, in the file's order (by code)."""
    with DATA_FILE.open(encoding="utf-8", newline="") as handle:
        return {row["code"]: row["libelle"] for row in csv.DictReader(handle)}


def label(code: str) -> str:
    """``Bibliothèque / Médiathèque (BIB)``; an unknown code as it is."""
    name = typologies().get(code)
    if name is None:
        return code
    return name if f"({code})" in name else f"{name} ({code})"
