"""``papi import lamednum FILE``: seed the directory with the places of the national open
data standard "Lieux de médiation numérique" 1.0.2, as unclaimed listings
(node/services/listings.py).

The file is a CSV (``,`` or ``;`` separated, UTF-8, with the standard's column names) or
a JSON array of rows (as ``papi export --format json`` writes them). Each row is checked
against the standard's Table Schema with the validator of the export
(node/services/export.py); rows that do not fit are reported in French with their line
number and left out, the others are stored. Messages are French: the command is meant
for the coordinators of the network."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import listings
from .export import Problem, field_names, required_fields, row_problems

#: Bounds on what one import reads (France counts about 20,000 such places).
MAX_IMPORT_BYTES = 100 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
MAX_ID_LENGTH = 200

Progress = Callable[[str, int, int], None]


class ImportFileError(Exception):
    """The file cannot be imported at all (message in French)."""


@dataclass(frozen=True)
class Rejected:
    #: ``ligne 12`` (CSV) or ``élément 3`` (JSON).
    where: str
    row_id: str
    reasons: list[str]

    def french(self) -> str:
        who = f" (id « {self.row_id} »)" if self.row_id else ""
        return f"{self.where}{who} : " + " ; ".join(self.reasons)


@dataclass
class ImportReport:
    rows: list[dict[str, str]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Imported listings that a signed place already replaces.
    replaced: int = 0
    stored: bool = False


def _shown(value: str) -> str:
    return value if len(value) <= 60 else value[:59] + "…"


def problem_in_french(problem: Problem, value: str) -> str:
    name = problem.field
    return {
        "required": f"{name} : valeur obligatoire manquante",
        "number": f"{name} : « {_shown(value)} » n'est pas un nombre",
        "date": f"{name} : « {_shown(value)} » n'est pas une date au format AAAA-MM-JJ",
        "pattern": f"{name} : « {_shown(value)} » ne respecte pas le format du standard",
        "max_length": f"{name} : plus de {problem.limit} caractères",
    }[problem.code]


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFileError(f"impossible de lire {path} : {exc.strerror}") from None
    if size > MAX_IMPORT_BYTES:
        raise ImportFileError(
            f"{path} fait {size} octets, plus que la limite de {MAX_IMPORT_BYTES} octets"
        )
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"{path} n'est pas en UTF-8 (ligne {line}) : enregistrez-le en UTF-8"
        ) from None
    except OSError as exc:
        raise ImportFileError(f"impossible de lire {path} : {exc.strerror}") from None


#: The columns a file has, and its rows: (where, row), or (where, why) for a line that
#: is not a row.
Parsed = tuple[list[str], list[tuple[str, dict[str, str] | str]]]


def _csv_rows(text: str) -> Parsed:
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise ImportFileError("le fichier est vide") from None
    except csv.Error as exc:
        raise ImportFileError(f"ligne 1 : en-tête CSV illisible ({exc})") from None
    missing = [name for name in required_fields() if name not in header]
    if missing:
        raise ImportFileError(
            "colonnes obligatoires du standard absentes : "
            + ", ".join(missing)
            + " (la première ligne doit donner les noms des colonnes)"
        )
    found: list[tuple[str, dict[str, str] | str]] = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ImportFileError(f"ligne {start} : CSV illisible ({exc})") from None
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            found.append((f"ligne {start}", f"{len(cells)} valeurs pour {len(header)} colonnes"))
            continue
        found.append((f"ligne {start}", dict(zip(header, cells, strict=False))))
        if len(found) > MAX_IMPORT_ROWS:
            raise ImportFileError(f"plus de {MAX_IMPORT_ROWS} lignes : découpez le fichier")
    return header, found


def _json_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ValueError("booléen")
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "|".join(value)
    raise ValueError(type(value).__name__)


def _json_rows(text: str) -> Parsed:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ImportFileError(f"JSON illisible : {exc}") from None
    if not isinstance(document, list):
        raise ImportFileError("le JSON doit être une liste de lieux (un objet par lieu)")
    if len(document) > MAX_IMPORT_ROWS:
        raise ImportFileError(f"plus de {MAX_IMPORT_ROWS} lieux : découpez le fichier")
    keys: set[str] = set()
    found: list[tuple[str, dict[str, str] | str]] = []
    for index, item in enumerate(document, 1):
        where = f"élément {index}"
        if not isinstance(item, dict):
            found.append((where, "un lieu est un objet JSON"))
            continue
        row: dict[str, str] = {}
        bad = []
        for name, value in item.items():
            try:
                row[str(name)] = _json_value(value)
            except ValueError:
                bad.append(f"{name} : ni texte, ni nombre, ni liste de textes")
        keys.update(row)
        found.append((where, " ; ".join(bad) if bad else row))
    return sorted(keys), found


def read_rows(path: Path, progress: Progress | None = None) -> ImportReport:
    """Parse and check ``path``; the report holds the valid rows (every field of the
    standard, as text) and the rejected ones."""
    text = _read_text(path)
    is_json = path.suffix.lower() == ".json" or text.lstrip()[:1] == "["
    columns, found = _json_rows(text) if is_json else _csv_rows(text)
    report = ImportReport()
    extra = sorted(set(columns) - set(field_names()) - {""})
    if extra:
        report.warnings.append("colonnes hors du standard, ignorées : " + ", ".join(extra))
    first_line: dict[str, str] = {}
    for done, (where, item) in enumerate(found, 1):
        if progress and (done % 1000 == 0 or done == len(found)):
            progress("vérification", done, len(found))
        if isinstance(item, str):
            report.rejected.append(Rejected(where, "", [item]))
            continue
        row = {name: (item.get(name) or "").strip() for name in field_names()}
        reasons = [problem_in_french(p, row[p.field]) for p in row_problems(row)]
        row_id = row["id"]
        if len(row_id) > MAX_ID_LENGTH:
            reasons.append(f"id : plus de {MAX_ID_LENGTH} caractères")
        elif row_id in first_line:
            reasons.append(f"id : « {_shown(row_id)} » déjà utilisé ({first_line[row_id]})")
        if reasons:
            report.rejected.append(Rejected(where, _shown(row_id), reasons))
            continue
        first_line[row_id] = where
        report.rows.append(row)
    return report


async def import_file(
    path: Path,
    *,
    replace: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Check ``path`` and store its valid rows as listings (unless ``dry_run``)."""
    report = read_rows(path, progress)
    if not dry_run and (report.rows or replace):

        def stored(done: int, total: int) -> None:
            if progress and (done % 1000 == 0 or done == total):
                progress("enregistrement", done, total)

        await listings.store(report.rows, path.name, replace=replace, progress=stored)
        report.stored = True
    signed = await listings.signed_places()
    report.replaced = sum(
        1
        for row in report.rows
        if signed.replacing(
            row["id"],
            listings.pivot_key(row["pivot"]),
            listings.name_key(row["nom"], row["commune"]),
        )
    )
    return report
