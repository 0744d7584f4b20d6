"""Resources as a folder of Markdown files, the shape static sites use: ``papi resources
import DIR`` and ``papi resources export DIR``.

Each resource is ``DIR/<name>.md``: a front matter between ``---`` lines, then the body::

    ---
    title: Créer son adresse e-mail
    themes: [Courriels, Sécurité numérique]
    licence: CC-BY-SA-4.0
    attachments: [creer-adresse-email/fiche.pdf]
    ---
    # Étapes
    ... [la fiche à imprimer](creer-adresse-email/fiche.pdf) ...

Front matter keys are the payload's (``title``, ``summary``, ``themes``, ``licence``,
``audience``, ``duration_minutes``, ``based_on``), plus ``id`` (the oid; default: the file
name made safe) and ``attachments`` (files to attach besides those the body links to).
Values are plain text, "quoted" or [lists, of, values] (or ``- item`` lines below the
key), a subset of YAML that export writes and import reads. Files the body links to by a
relative path inside DIR, of an allowed type, become attachments and the links
``/blobs/<sha256>``; export writes them back as ``<id>/<name>`` files next to the page.
Importing the same folder again changes only what changed.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from federation.errors import SchemaError

from ..i18n import N_, Phrase
from ..runtime import Node
from .blobs import UploadRefused, attachments_of, held, upload
from .blobstore import CHUNK
from .blobtypes import type_of_name
from .log import publish
from .objects import get_object, list_objects

#: Payload members a front matter may set (besides ``id`` and ``attachments``).
META_KEYS = ("title", "summary", "themes", "licence", "audience", "duration_minutes", "based_on")
_LIST_KEYS = ("themes", "attachments")
#: Markdown links and images whose target has no spaces: ``[text](target "title")``.
_LINK = re.compile(r"(!?\[[^\]\n]*\]\()([^)\s]+)((?:\s+\"[^\"\n]*\")?\))")
_BLOB_LINK = re.compile(r"/blobs/([0-9a-f]{64})(?:\?[^)\s\"]*)?")


class FrontMatterError(Phrase, ValueError):
    """The front matter cannot be read; the message says where."""


#: Why an attached file was not kept (``UploadRefused.code``), for the report.
_REFUSED = {
    "too_large": N_("%(file)s: too large for this node, not attached"),
    "quota_exceeded": N_("%(file)s: this node's storage is full, not attached"),
    "bad_request": N_("%(file)s: empty file, not attached"),
    "": N_("%(file)s: its content is not what its name says, not attached"),
}


# -- front matter ------------------------------------------------------------------------


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith(('"', "[")):
        try:
            return json.loads(text)
        except ValueError:
            if text.startswith('"'):
                raise
    if text.startswith("[") and text.endswith("]"):
        return [_scalar(item) for item in text[1:-1].split(",") if item.strip()]
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if re.fullmatch(r"-?\d{1,15}", text):
        return int(text)  # as YAML reads it
    return text


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The front matter's values and the body (the whole text when there is none)."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    meta: dict[str, Any] = {}
    current: str | None = None
    for number, line in enumerate(lines[1:], 2):
        if line.strip() in ("---", "..."):
            return meta, "\n".join(lines[number:]).lstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.lstrip().startswith("- ") and current is not None:
            meta.setdefault(current, [])
            if not isinstance(meta[current], list):
                raise FrontMatterError(N_("line %(line)s: a list item under a value"), line=number)
            meta[current].append(_scalar(line.lstrip()[2:]))
            continue
        key, colon, value = line.partition(":")
        if not colon or not re.fullmatch(r"[a-z_]+", key.strip()):
            raise FrontMatterError(
                N_("line %(line)s: expected “key: value”, got “%(text)s”"),
                line=number,
                text=line.strip(),
            )
        current = key.strip()
        try:
            meta[current] = _scalar(value) if value.strip() else []
        except ValueError:
            raise FrontMatterError(
                N_("line %(line)s: cannot read the value of %(key)s"), line=number, key=current
            ) from None
    raise FrontMatterError(N_("the front matter has no closing “---” line"))


def dump_front_matter(meta: dict[str, Any]) -> str:
    lines = ["---"]
    for key, value in meta.items():
        if value in (None, "", []):
            continue
        # Plain only when YAML would read it back as the same text: no ": ", "#", quotes.
        if isinstance(value, str) and re.fullmatch(r"\w[\w .,+/-]*", value):
            lines.append(f"{key}: {value}")
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def safe_oid(text: str) -> str:
    """An oid (``[A-Za-z0-9_-]{1,64}``) made from a file name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_text).strip("-")[:64].strip("-")
    return slug or "fiche"


# -- import ------------------------------------------------------------------------------


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: (file, message) of the files not imported, and warnings about the others.
    errors: list[tuple[str, Phrase]] = field(default_factory=list)
    warnings: list[tuple[str, Phrase]] = field(default_factory=list)


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


class _Importer:
    def __init__(self, node: Node, root: Path, report: ImportReport) -> None:
        self.node = node
        self.root = root.resolve()
        self.report = report

    async def attach(self, page: Path, target: str, attachments: list[dict[str, Any]]) -> str:
        """Upload the file a relative link names; returns its sha256 ('' if not a file
        of DIR of an allowed type: the link is then left as it is)."""
        path = (page.parent / unquote(target.split("#")[0].split("?")[0])).resolve()
        if not path.is_file() or not path.is_relative_to(self.root):
            return ""
        media_type = type_of_name(path.name)
        if media_type is None:
            self.report.warnings.append(
                (page.name, Phrase(N_("%(file)s: type not allowed, not attached"), file=target))
            )
            return ""
        try:
            stored = await upload(
                self.node.db,
                self.node.blobs,
                _file_chunks(path),
                media_type,
                max_bytes=self.node.settings.blob_max_bytes,
                quota_bytes=self.node.settings.blob_quota_bytes,
            )
        except UploadRefused as exc:
            self.report.warnings.append(
                (page.name, Phrase(_REFUSED.get(exc.code, _REFUSED[""]), file=target))
            )
            return ""
        if all(a["sha256"] != stored.sha256 for a in attachments):
            attachments.append(
                {
                    "name": path.name[:200],
                    "media_type": media_type,
                    "size": stored.size,
                    "sha256": stored.sha256,
                }
            )
        return stored.sha256

    async def payload(self, page: Path) -> tuple[str, dict[str, Any]]:
        meta, body = split_front_matter(page.read_text(encoding="utf-8"))
        unknown = sorted(set(meta) - {*META_KEYS, "id", "attachments"})
        if unknown:
            raise FrontMatterError(N_("unknown key(s): %(keys)s"), keys=", ".join(unknown))
        attachments: list[dict[str, Any]] = []
        # The listed files first: an exported folder is imported back in the same order.
        for listed in meta.get("attachments") or []:
            if not await self.attach(page, str(listed), attachments):
                self.report.warnings.append(
                    (page.name, Phrase(N_("%(file)s: no such file in the folder"), file=listed))
                )
        parts: list[str] = []
        last = 0
        for match in _LINK.finditer(body):
            target = match.group(2)
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^[/#]", target):
                continue  # absolute: left as it is
            sha256 = await self.attach(page, target, attachments)
            if sha256:
                parts += [body[last : match.start(2)], f"/blobs/{sha256}"]
                last = match.end(2)
        parts.append(body[last:])
        payload: dict[str, Any] = {k: meta[k] for k in META_KEYS if meta.get(k) not in (None, "")}
        for key in ("title", "summary", "licence", "audience", "based_on"):
            if key in payload and isinstance(payload[key], int | float):
                payload[key] = str(payload[key])  # "title: 2024" is a text here
        if isinstance(payload.get("themes"), str):
            payload["themes"] = [payload["themes"]]
        payload.setdefault("title", _first_heading(body) or page.stem)
        text = "".join(parts).strip()
        if text:
            payload["body"] = text + "\n"
        if attachments:
            payload["attachments"] = attachments
        return safe_oid(str(meta.get("id") or page.stem)), payload


def _unreadable(exc: Exception) -> Phrase:
    if isinstance(exc, Phrase):
        return exc
    if isinstance(exc, UnicodeDecodeError):
        return Phrase(N_("not UTF-8 text"))
    return Phrase(N_("cannot be read: %(error)s"), error=getattr(exc, "strerror", None) or exc)


def _first_heading(body: str) -> str:
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.M)
    return match.group(1)[:200] if match else ""


async def import_folder(node: Node, root: Path) -> ImportReport:
    """Publish (or update) a resource for each ``*.md`` file at the top of ``root``."""
    report = ImportReport()
    importer = _Importer(node, root, report)
    for page in sorted(root.glob("*.md")):
        try:
            oid, payload = await importer.payload(page)
        except (FrontMatterError, UnicodeDecodeError, OSError) as exc:
            report.errors.append((page.name, _unreadable(exc)))
            continue
        current = await get_object(node.db.connection(), node.origin, "resource", oid)
        if current is not None and json.loads(current.payload) == payload:
            report.unchanged.append(page.name)
            continue
        try:
            await publish(node, "resource", oid, "put", payload)
        except SchemaError as exc:
            report.errors.append(
                (page.name, Phrase(N_("does not fit the schema: %(error)s"), error=exc.message))
            )
            continue
        (report.created if current is None else report.updated).append(page.name)
    return report


# -- export ------------------------------------------------------------------------------


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)
    warnings: list[tuple[str, Phrase]] = field(default_factory=list)


def _unique_names(attachments: list[dict[str, Any]]) -> dict[str, str]:
    """sha256 -> a file name for each attachment, distinct within the resource."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for attachment in attachments:
        name = str(attachment["name"])
        stem, dot, suffix = name.rpartition(".")
        candidate, n = name, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{stem}-{n}.{suffix}" if dot else f"{name}-{n}"
        taken.add(candidate.casefold())
        names[str(attachment["sha256"])] = candidate
    return names


async def export_folder(node: Node, root: Path) -> ExportReport:
    """Write this node's resources to ``root`` in the shape ``import_folder`` reads."""
    report = ExportReport()
    root.mkdir(parents=True, exist_ok=True)
    offset = 0
    while rows := await list_objects(node.db.connection(), node.origin, "resource", 500, offset):
        offset += len(rows)
        for row in rows:
            payload: dict[str, Any] = json.loads(row.payload)
            await _export_one(node, root, row.oid, payload, report)
    return report


async def _export_one(
    node: Node, root: Path, oid: str, payload: dict[str, Any], report: ExportReport
) -> None:
    attachments = attachments_of(payload)
    names = _unique_names(attachments)
    folder = root / oid
    relative: dict[str, str] = {}
    for attachment in attachments:
        sha256 = str(attachment["sha256"])
        blob = await held(node.db.connection(), sha256)
        path = await node.blobs.verified_path(sha256, blob.size) if blob else None
        if path is None:
            report.warnings.append(
                (f"{oid}.md", Phrase(N_("%(file)s: not on this node yet"), file=attachment["name"]))
            )
            continue
        folder.mkdir(exist_ok=True)
        shutil.copyfile(path, folder / names[sha256])
        relative[sha256] = f"{oid}/{names[sha256]}"

    def link(match: re.Match[str]) -> str:
        target = relative.get(match.group(1))
        return target.replace(" ", "%20") if target else match.group(0)

    body = _BLOB_LINK.sub(link, str(payload.get("body") or ""))
    meta: dict[str, Any] = {"id": oid, **{k: payload.get(k) for k in META_KEYS}}
    meta["attachments"] = [relative[s] for s in names if s in relative]
    (root / f"{oid}.md").write_text(dump_front_matter(meta) + "\n" + body, encoding="utf-8")
    report.written.append(f"{oid}.md")
