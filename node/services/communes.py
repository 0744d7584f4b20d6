"""The French communes shipped with the node (``node/data/communes-fr.csv.gz``, see
``node/data/SOURCE.md``): look one up by name (accents, case, hyphens and apostrophes
ignored), by INSEE code or by postcode, complete a name being typed, and turn what
someone typed ("Saint-Renan", "st renan 29290", "Brest (29)") into a commune with a
point.

The table is read once, on first use (about 37,000 rows).
"""

from __future__ import annotations

import bisect
import gzip
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .geo import Point, distance_km

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "communes-fr.csv.gz"
#: Kinds of rows: current communes and municipal arrondissements come before the former
#: (delegated, associated) communes when a name or code matches several.
CURRENT_KINDS = ("COM", "ARM")
#: Abbreviations people type, expanded before comparing.
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
#: Articles the official name starts with, which people often leave out.
_ARTICLES = ("l", "le", "la", "les", "aux", "las", "los")
COLUMNS = (
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
_WORD = re.compile(r"[a-z0-9]+")
_POSTCODE = re.compile(r"(?<!\d)(\d{5})(?!\d)")
_DEPARTEMENT = re.compile(r"(?:^|[\s(,])(\d{2}|2[abAB]|97\d)\)?\s*$")


def fold(text: str) -> str:
    """A name reduced for comparison: no accents, no case, words separated by one space,
    ``st``/``ste`` expanded (``Saint-Pol-de-Léon`` and ``st pol de leon`` fold alike)."""
    text = text.casefold().replace("œ", "oe").replace("æ", "ae")
    # Decomposed, accents are separate marks that the ASCII encoding drops.
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = _WORD.findall(text)
    if _ABBREVIATIONS.keys() & words:
        words = [_ABBREVIATIONS.get(word, word) for word in words]
    return " ".join(words)


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str
    nom: str
    type: str
    parent: str
    departement: str
    codes_postaux: tuple[str, ...]
    population: int
    point: Point | None
    #: ``mairie`` (the town hall) or ``centre`` (centroid of the commune); "" without point.
    position: str

    @property
    def current(self) -> bool:
        return self.type in CURRENT_KINDS

    @property
    def label(self) -> str:
        """``Brest (29)``: the name with its département, to tell homonyms apart."""
        return f"{self.nom} ({self.departement})" if self.departement else self.nom

    def as_json(self) -> dict[str, object]:
        return {
            "insee": self.insee,
            "nom": self.nom,
            "type": self.type,
            "parent": self.parent or None,
            "departement": self.departement,
            "codes_postaux": list(self.codes_postaux),
            "latitude": self.point[0] if self.point else None,
            "longitude": self.point[1] if self.point else None,
            "position": self.position or None,
        }


def _rank_key(kind: str, population: int, insee: str) -> tuple[bool, int, str]:
    # Current communes first, then the most populous: the one people most likely mean.
    return (kind not in CURRENT_KINDS, -population, insee)


def _rank(commune: Commune) -> tuple[bool, int, str]:
    return _rank_key(commune.type, commune.population, commune.insee)


class CommuneTable:
    """Lookups over the communes' rows, best candidates first.

    Compact on purpose (a node may run on a small board): rows stay as their CSV lines,
    in INSEE order, and become ``Commune`` objects only when returned; names are found
    by bisection in a sorted list of folded names.
    """

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._departements: dict[str, list[Commune]] = {}
        self._insee: list[str] = []
        named: list[tuple[str, tuple[bool, int, str], int]] = []
        postcodes: dict[str, list[tuple[tuple[bool, int, str], int]]] = defaultdict(list)
        for index, line in enumerate(lines):
            insee, nom, kind, _, _, codes, population, *_ = line.split(",")
            rank = _rank_key(kind, int(population or 0), insee)
            self._insee.append(insee)
            for key in _name_keys(nom):
                named.append((key, rank, index))
            for code in codes.split():
                postcodes[code].append((rank, index))
        if self._insee != sorted(self._insee):
            raise ValueError("the communes file must be sorted by INSEE code")
        named.sort()
        self._keys = [key for key, _, _ in named]
        self._key_rows = [index for _, _, index in named]
        self._postcode = {
            code: tuple(index for _, index in sorted(rows)) for code, rows in postcodes.items()
        }

    def __len__(self) -> int:
        return len(self._lines)

    def _row(self, index: int) -> Commune:
        return parse_row(self._lines[index])

    def by_insee(self, code: str) -> Commune | None:
        """The commune with this INSEE code (a current one rather than a former one,
        which may share its parent's code)."""
        code = code.strip().upper()
        index = bisect.bisect_left(self._insee, code)
        rows = []
        while index < len(self._insee) and self._insee[index] == code:
            rows.append(self._row(index))
            index += 1
        return min(rows, key=_rank) if rows else None

    def by_postcode(self, code: str) -> list[Commune]:
        """The communes served by this postcode, most populous first."""
        return [self._row(index) for index in self._postcode.get(code.strip(), ())]

    def by_name(self, name: str, departement: str | None = None) -> list[Commune]:
        """Communes whose name folds to the same text as ``name`` (with or without its
        article), current ones first, then by population."""
        key = fold(name)
        found = [self._row(index) for index in self._matching(key, exact=True)] if key else []
        if departement:
            found = [c for c in found if c.departement == departement.upper()]
        return found

    def complete(self, prefix: str, limit: int = 10) -> list[Commune]:
        """Communes whose name starts with ``prefix`` (folded), best first: for pickers."""
        key = fold(prefix)
        if not key:
            return []
        rows = {self._row(index) for index in self._matching(key, exact=False)}
        return sorted(rows, key=_rank)[:limit]

    def in_departement(self, departement: str) -> list[Commune]:
        """The current communes of a département, by name: the choices a place form
        offers without a script."""
        if departement not in self._departements:
            self._departements[departement] = sorted(
                (c for c in map(parse_row, self._lines) if c.departement == departement),
                key=lambda c: (fold(c.nom), c.insee),
            )
        return [c for c in self._departements[departement] if c.current]

    def homonyms(self, text: str) -> list[Commune]:
        """The current communes that share the name typed, when it gives no postcode and
        no département to choose between them (empty when there is nothing to choose)."""
        if _POSTCODE.search(text) or _DEPARTEMENT.search(text.strip()):
            return []
        found = [c for c in self.by_name(text) if c.current]
        return found if len(found) > 1 else []

    def _matching(self, key: str, exact: bool) -> list[int]:
        position = bisect.bisect_left(self._keys, key)
        rows: dict[int, None] = {}  # ordered and without duplicates
        while position < len(self._keys):
            found = self._keys[position]
            if found != key and (exact or not found.startswith(key)):
                break
            rows[self._key_rows[position]] = None
            position += 1
        return list(rows)

    def resolve(self, text: str, near: Point | None = None) -> Commune | None:
        """What someone typed, as one commune: a name, optionally with a postcode or a
        département (``Saint-Renan 29290``, ``Plouguerneau (29)``), a postcode alone or an
        INSEE code. Among homonyms, the one nearest to ``near`` when given, else the
        current and most populous one."""
        text = text.strip()
        postcode = departement = None
        match = _POSTCODE.search(text)
        if match:
            postcode = match.group(1)
            text = (text[: match.start()] + " " + text[match.end() :]).strip()
        match = _DEPARTEMENT.search(text)
        if match and fold(text[: match.start()]):
            departement = match.group(1).upper()
            text = text[: match.start()].strip()
        name = fold(text)
        if name:
            candidates = self.by_name(name, departement)
            if postcode and candidates:
                named = {c.insee for c in candidates}
                # "Paris 75015": the arrondissement; a postcode that fits none: the name.
                candidates = (
                    [c for c in candidates if self._has_postcode(c, postcode)]
                    or [c for c in self.by_postcode(postcode) if c.parent in named]
                    or candidates
                )
        elif postcode:
            candidates = self.by_postcode(postcode)
            if not candidates and (commune := self.by_insee(postcode)):
                candidates = [commune]
        else:
            return None
        if not candidates:
            return None
        if near is not None:
            located = [c for c in candidates if c.point is not None]
            if located:
                return min(located, key=lambda c: (distance_km(near, c.point or near), _rank(c)))
        return candidates[0]

    def _has_postcode(self, commune: Commune, postcode: str) -> bool:
        if postcode in commune.codes_postaux:
            return True
        parent = self.by_insee(commune.parent) if commune.parent else None
        return parent is not None and postcode in parent.codes_postaux


def _name_keys(name: str) -> list[str]:
    key = fold(name)
    first, _, rest = key.partition(" ")
    return [key, rest] if first in _ARTICLES and rest else [key]


def parse_row(line: str) -> Commune:
    """One line of ``communes-fr.csv.gz`` (its builder guarantees no field holds a comma
    or a quote, so a split is the CSV parse)."""
    insee, nom, kind, parent, departement, codes, population, lat, lon, position = line.split(",")
    return Commune(
        insee=insee,
        nom=nom,
        type=kind,
        parent=parent,
        departement=departement,
        codes_postaux=tuple(codes.split()),
        population=int(population or 0),
        point=(float(lat), float(lon)) if lat and lon else None,
        position=position,
    )


def read_lines(raw: bytes) -> list[str]:
    """The data lines of the CSV (uncompressed bytes), header checked and dropped."""
    header, *lines = raw.decode("utf-8").splitlines()
    if header.split(",") != list(COLUMNS):
        raise ValueError(f"unexpected columns in the communes file: {header}")
    return lines


@cache
def communes() -> CommuneTable:
    """The shipped table, read on first use (call it in a thread from async code)."""
    return CommuneTable(read_lines(gzip.decompress(DATA_FILE.read_bytes())))
