"""Licences of resources: the short list the editor offers (SPDX identifiers with their
French names), and whether a licence lets others adapt a resource.

A resource may carry any SPDX identifier (the schema only checks its shape); those of
this list are shown by name with a link to their text, the others as their identifier.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The licence of a resource that names none (BRIEF section 9).
DEFAULT_LICENCE = "CC-BY-SA-4.0"


@dataclass(frozen=True)
class Licence:
    spdx: str
    name: str
    url: str

    @property
    def allows_adaptation(self) -> bool:
        return allows_adaptation(self.spdx)


_CC = "https://creativecommons.org/licenses/{}/4.0/deed.fr"

LICENCES: tuple[Licence, ...] = (
    Licence(
        "CC-BY-SA-4.0",
        "Creative Commons Attribution - Partage dans les mêmes conditions 4.0 International",
        _CC.format("by-sa"),
    ),
    Licence("CC-BY-4.0", "Creative Commons Attribution 4.0 International", _CC.format("by")),
    Licence(
        "CC-BY-NC-4.0",
        "Creative Commons Attribution - Pas d'utilisation commerciale 4.0 International",
        _CC.format("by-nc"),
    ),
    Licence(
        "CC-BY-NC-SA-4.0",
        "Creative Commons Attribution - Pas d'utilisation commerciale - Partage dans les mêmes"
        " conditions 4.0 International",
        _CC.format("by-nc-sa"),
    ),
    Licence(
        "CC-BY-ND-4.0",
        "Creative Commons Attribution - Pas de modification 4.0 International",
        _CC.format("by-nd"),
    ),
    Licence(
        "CC-BY-NC-ND-4.0",
        "Creative Commons Attribution - Pas d'utilisation commerciale - Pas de modification"
        " 4.0 International",
        _CC.format("by-nc-nd"),
    ),
    Licence(
        "CC0-1.0",
        "Creative Commons Zéro 1.0 Universel (domaine public)",
        "https://creativecommons.org/publicdomain/zero/1.0/deed.fr",
    ),
    Licence(
        "etalab-2.0",
        "Licence Ouverte / Open Licence 2.0 (Etalab)",
        "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    ),
)
_BY_ID = {licence.spdx.casefold(): licence for licence in LICENCES}


def licence_of(spdx: str | None) -> Licence:
    """The licence named by ``spdx`` (absent: the default); one outside the list keeps
    its identifier as its name and has no link."""
    spdx = spdx or DEFAULT_LICENCE
    return _BY_ID.get(spdx.casefold()) or Licence(spdx, spdx, "")


def allows_adaptation(spdx: str | None) -> bool:
    """False for "no derivatives" licences (an ``ND`` part: CC-BY-ND-4.0, CC-BY-NC-ND-4.0)."""
    parts = (spdx or DEFAULT_LICENCE).upper().split("-")
    return "ND" not in parts
