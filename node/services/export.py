"""Export places to the national open data standard "Lieux de médiation numérique" 1.0.2
(LaMednum), as CSV or JSON, each row validated against the standard's Table Schema.

A place that lacks a field the standard requires (``adresse``, ``code_postal``, ``pivot``)
is left out and reported, rather than exported as an invalid row; ``Problem.text`` says
what to fix in the words of the place profile form."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from federation.schema import schemas_dir

from ..i18n import N_
from ..store import objects
from . import listings
from .objects import load_payload, raw_text

if TYPE_CHECKING:
    from ..db import Database

#: Payload fields holding lists, joined with ``|`` as the standard wants.
_MULTI = (
    "courriels", "site_web", "typologie", "services", "publics_specifiquement_adresses",
    "prise_en_charge_specifique", "frais_a_charge", "modalites_acces",
    "modalites_accompagnement", "itinerance", "dispositif_programmes_nationaux",
    "formations_labels",
)  # fmt: skip


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@cache
def table_schema() -> dict[str, Any]:
    path = schemas_dir() / "lamednum" / "table-schema-1.0.2.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def field_names() -> list[str]:
    return [f["name"] for f in table_schema()["fields"]]


#: The standard's fields as the place profile form names them (msgids), for messages to
#: people; the others are named as in the standard.
FIELD_LABELS = {
    "id": N_("identifier"),
    "pivot": N_("SIRET or RNA number"),
    "nom": N_("Name of the place"),
    "commune": N_("Commune"),
    "code_postal": N_("Postcode"),
    "code_insee": N_("INSEE code of the commune"),
    "adresse": N_("Address"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "telephone": N_("Telephone"),
    "horaires": N_("Opening hours"),
    "date_maj": N_("date of the last update"),
}
#: What is wrong, by ``Problem.code`` (``%(limit)s``: the rule's limit).
_PROBLEM_TEXTS = {
    "required": N_("%(field)s: to be filled in"),
    "number": N_("%(field)s: not a number"),
    "date": N_("%(field)s: not a date (YYYY-MM-DD)"),
    "pattern": N_("%(field)s: not in the format of the standard"),
    "max_length": N_("%(field)s: longer than %(limit)s characters"),
}


@dataclass(frozen=True)
class Problem:
    """Why one value of a row does not fit the standard's Table Schema."""

    field: str
    #: ``required``, ``number``, ``date``, ``pattern`` or ``max_length``.
    code: str
    limit: int = 0

    def text(self, gettext: Callable[[str], str]) -> str:
        """The problem in a person's words (``gettext`` of their language): the field
        as the place profile form names it, and what to do."""
        label = FIELD_LABELS.get(self.field)
        name = gettext(label) if label else self.field
        return gettext(_PROBLEM_TEXTS[self.code]) % {"field": name, "limit": self.limit}

    def english(self) -> str:
        return (
            f"{self.field}: "
            + {
                "required": "required",
                "number": "not a number",
                "date": "not a YYYY-MM-DD date",
                "pattern": "does not match the standard's pattern",
                "max_length": f"longer than {self.limit}",
            }[self.code]
        )


def row_problems(row: dict[str, str]) -> list[Problem]:
    """What makes ``row`` invalid against the standard's Table Schema (empty if valid)."""
    problems = []
    for spec in table_schema()["fields"]:
        name, value = spec["name"], row.get(spec["name"], "")
        constraints = spec.get("constraints", {})
        if not value:
            if constraints.get("required"):
                problems.append(Problem(name, "required"))
            continue
        if spec.get("type") == "number":
            try:
                float(value)
            except ValueError:
                problems.append(Problem(name, "number"))
        if spec.get("type") == "date":
            # Python also reads "20240402" or "2024-W14-2"; the standard's format is one.
            try:
                date.fromisoformat(value if _DATE.match(value) else "")
            except ValueError:
                problems.append(Problem(name, "date"))
        pattern = constraints.get("pattern")
        # Table Schema patterns match the whole value.
        if pattern and not re.fullmatch(pattern, value):
            problems.append(Problem(name, "pattern"))
        if "maxLength" in constraints and len(value) > constraints["maxLength"]:
            problems.append(Problem(name, "max_length", constraints["maxLength"]))
    return problems


def row_errors(row: dict[str, str]) -> list[str]:
    """``row_problems`` in words (English)."""
    return [problem.english() for problem in row_problems(row)]


def place_row(origin: str, payload: dict[str, Any], updated: str) -> dict[str, str]:
    row = {name: "" for name in field_names()}
    for name in row:
        value = payload.get(name)
        if value is None:
            continue
        items = value if name in _MULTI and isinstance(value, list) else [value]
        row[name] = "|".join(raw_text(item) for item in items)
    row["id"] = origin
    row["date_maj"] = str(updated)[:10]
    row["source"] = row["source"] or "papi-node"
    return row


def required_fields() -> list[str]:
    """The fields the standard requires, in its order."""
    return [
        spec["name"]
        for spec in table_schema()["fields"]
        if spec.get("constraints", {}).get("required")
    ]


def place_problems(
    origin: str, payload: dict[str, Any], updated: str = "2000-01-01"
) -> list[Problem]:
    """Why this place profile cannot be exported to the national open data (empty: it
    can): the dashboard tells the animators before an export leaves the place out."""
    return row_problems(place_row(origin, payload, updated))


@dataclass
class Export:
    rows: list[dict[str, str]] = field(default_factory=list)
    #: Places left out: (origin, place name, what is missing or invalid).
    skipped: list[tuple[str, str, list[Problem]]] = field(default_factory=list)
    #: How many rows are unclaimed listings (imported open data, not signed places).
    listings: int = 0

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=field_names(), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()

    def json(self) -> str:
        return json.dumps(self.rows, ensure_ascii=False, indent=1)


async def export_places(db: Database, origin: str | None = None) -> Export:
    """One place, or (``origin=None``) the whole network: every signed place this node
    holds, plus the unclaimed listings (services/listings.py) that no exported signed
    place replaces. A listing whose signed place cannot be exported (incomplete profile)
    is exported in its stead, so that joining the network never removes a place from the
    open data. Rows are sorted by commune, then name."""
    result = Export()
    rows: list[dict[str, str]] = []
    left_out: set[str] = set()
    for place in await objects.of_every_origin(db.connection(), kind="place", origin=origin):
        row = place_row(place.origin, load_payload(place.payload), place.updated)
        problems = row_problems(row)
        if problems:
            result.skipped.append((place.origin, place.title, problems))
            left_out.add(place.origin)
        else:
            rows.append(row)
    if origin is None:
        kept = [
            match.listing_id
            for match in await listings.matches(db)
            if match.replaced_by is None or match.replaced_by in left_out
        ]
        listed = await listings.rows_of(db, kept)
        result.listings = len(listed)
        rows += listed
    result.rows = sorted(rows, key=lambda row: (row["commune"], row["nom"], row["id"]))
    result.skipped.sort(key=lambda skipped: (skipped[1], skipped[0]))
    return result
