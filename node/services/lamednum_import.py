"""``papi import lamednum FILE``: seed the directory with the places of the national open
data standard "Lieux de médiation numérique" 1.0.2, as unclaimed listings
(node/services/listings.py).

The file is a CSV (``,`` or ``;`` separated, UTF-8, with the standard's column names) or
a JSON array of rows (as ``papi export --format json`` writes them). Each row is checked
against the standard's Table Schema with the validator of the export
(node/services/export.py); rows that do not fit are reported in French with their line
number and left out, the others are stored. Messages speak the command line's language
(node/i18n.py ``locale_text``: French unless the locale asks for English)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..i18n import N_
from ..i18n import locale_text as _
from . import listings
from .export import Problem, field_names, required_fields, row_problems

if TYPE_CHECKING:
    from ..db import Database

#: Bounds on what one import reads (France counts about 20,000 such places).
MAX_IMPORT_BYTES = 100 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
MAX_ID_LENGTH = 200

Progress = Callable[[str, int, int], None]


class ImportFileError(Exception):
    """The file cannot be imported at all (message in the command line's language)."""


@dataclass(frozen=True)
class Rejected:
    #: ``line 12`` (CSV) or ``item 3`` (JSON), in the command line's language.
    where: str
    row_id: str
    reasons: list[str]

    def text(self) -> str:
        reasons = _("; ").join(self.reasons)
        if self.row_id:
            return _(
                "%(where)s (id “%(id)s”): %(reasons)s",
                where=self.where,
                id=self.row_id,
                reasons=reasons,
            )
        return _("%(where)s: %(reasons)s", where=self.where, reasons=reasons)


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


#: What is wrong with a column's value, by ``Problem.code``.
_PROBLEMS = {
    "required": N_("%(field)s: required value missing"),
    "number": N_("%(field)s: “%(value)s” is not a number"),
    "date": N_("%(field)s: “%(value)s” is not a date in the YYYY-MM-DD format"),
    "pattern": N_("%(field)s: “%(value)s” does not match the standard's format"),
    "max_length": N_("%(field)s: more than %(limit)s characters"),
}


def problem_text(problem: Problem, value: str) -> str:
    """The problem with the column's name, as the file gives it."""
    return _(_PROBLEMS[problem.code], field=problem.field, value=_shown(value), limit=problem.limit)


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFileError(
            _("cannot read %(file)s: %(error)s", file=path, error=exc.strerror)
        ) from None
    if size > MAX_IMPORT_BYTES:
        raise ImportFileError(
            _(
                "%(file)s is %(size)s bytes long, more than the limit of %(max)s bytes",
                file=path,
                size=size,
                max=MAX_IMPORT_BYTES,
            )
        )
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            _("%(file)s is not in UTF-8 (line %(line)s): save it as UTF-8", file=path, line=line)
        ) from None
    except OSError as exc:
        raise ImportFileError(
            _("cannot read %(file)s: %(error)s", file=path, error=exc.strerror)
        ) from None


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
        raise ImportFileError(_("the file is empty")) from None
    except csv.Error as exc:
        raise ImportFileError(_("line 1: unreadable CSV header (%(error)s)", error=exc)) from None
    missing = [name for name in required_fields() if name not in header]
    if missing:
        raise ImportFileError(
            _(
                "required columns of the standard missing: %(columns)s (the first line must "
                "give the columns' names)",
                columns=", ".join(missing),
            )
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
            raise ImportFileError(
                _("line %(line)s: unreadable CSV (%(error)s)", line=start, error=exc)
            ) from None
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            found.append(
                (
                    _("line %(line)s", line=start),
                    _(
                        "%(values)s values for %(columns)s columns",
                        values=len(cells),
                        columns=len(header),
                    ),
                )
            )
            continue
        found.append((_("line %(line)s", line=start), dict(zip(header, cells, strict=False))))
        if len(found) > MAX_IMPORT_ROWS:
            raise ImportFileError(_("more than %(max)s lines: split the file", max=MAX_IMPORT_ROWS))
    return header, found


def _json_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ValueError("boolean")
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "|".join(value)
    raise ValueError(type(value).__name__)


def _json_rows(text: str) -> Parsed:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ImportFileError(_("unreadable JSON: %(error)s", error=exc)) from None
    if not isinstance(document, list):
        raise ImportFileError(_("the JSON must be a list of places (one object per place)"))
    if len(document) > MAX_IMPORT_ROWS:
        raise ImportFileError(_("more than %(max)s places: split the file", max=MAX_IMPORT_ROWS))
    keys: set[str] = set()
    found: list[tuple[str, dict[str, str] | str]] = []
    for index, item in enumerate(document, 1):
        where = _("item %(index)s", index=index)
        if not isinstance(item, dict):
            found.append((where, _("a place is a JSON object")))
            continue
        row: dict[str, str] = {}
        bad = []
        for name, value in item.items():
            try:
                row[str(name)] = _json_value(value)
            except ValueError:
                bad.append(_("%(field)s: neither text, nor number, nor list of texts", field=name))
        keys.update(row)
        found.append((where, _("; ").join(bad) if bad else row))
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
        report.warnings.append(
            _("columns outside the standard, ignored: %(columns)s", columns=", ".join(extra))
        )
    first_line: dict[str, str] = {}
    for done, (where, item) in enumerate(found, 1):
        if progress and (done % 1000 == 0 or done == len(found)):
            progress(_("checking"), done, len(found))
        if isinstance(item, str):
            report.rejected.append(Rejected(where, "", [item]))
            continue
        row = {name: (item.get(name) or "").strip() for name in field_names()}
        reasons = [problem_text(p, row[p.field]) for p in row_problems(row)]
        row_id = row["id"]
        if len(row_id) > MAX_ID_LENGTH:
            reasons.append(_("id: more than %(max)s characters", max=MAX_ID_LENGTH))
        elif row_id in first_line:
            reasons.append(
                _(
                    "id: “%(id)s” already used (%(where)s)",
                    id=_shown(row_id),
                    where=first_line[row_id],
                )
            )
        if reasons:
            report.rejected.append(Rejected(where, _shown(row_id), reasons))
            continue
        first_line[row_id] = where
        report.rows.append(row)
    return report


async def import_file(
    db: Database,
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
                progress(_("storing"), done, total)

        await listings.store(db, report.rows, path.name, replace=replace, progress=stored)
        report.stored = True
    signed = await listings.signed_places(db)
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
