"""The resource editor's form: its fields, reading the multipart form it is sent as (text
fields, the attachments already listed, new files), and the payload it makes.

New files are stored as blobs as soon as the form is sent, preview included (they are
kept a day until a resource lists them), and the form then carries them as listed
attachments: a preview never loses an upload."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from starlette.datastructures import FormData, UploadFile
from tortoise.backends.base.client import BaseDBAsyncClient

from ..runtime import Node
from ..services.blobs import UploadRefused, held, references, upload
from ..services.blobstore import CHUNK, is_sha256
from ..services.blobtypes import media_types, type_of_name
from ..services.licences import LICENCES, licence_of
from .fields import Field, FieldError, _enum
from .i18n import N_

#: Files one save may bring (each at most blob_max_bytes).
MAX_FILES = 10
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")


def resource_fields(current_licence: str | None = None) -> tuple[Field, ...]:
    """The editor's fields; a licence outside the short list that the resource already
    has stays offered."""
    licences = [(licence.spdx, f"{licence.name} ({licence.spdx})") for licence in LICENCES]
    if current_licence and current_licence not in {spdx for spdx, _ in licences}:
        licences.append((current_licence, licence_of(current_licence).name))
    return (*_base_fields(), _licence_field(tuple(licences)))


@cache
def _base_fields() -> tuple[Field, ...]:
    return (
        Field("title", N_("Title"), required=True, maxlength=200),
        Field(
            "summary",
            N_("Summary"),
            widget="textarea",
            maxlength=500,
            help=N_("What it is for, in a few sentences (500 characters at most)."),
        ),
        Field("body", N_("Text of the resource"), widget="textarea", maxlength=200_000),
        Field("themes", N_("Themes"), widget="checkboxes", choices=_enum("resource", "themes")),
        Field(
            "audience",
            N_("For whom?"),
            widget="select",
            translate_choices=True,
            choices=(("public", N_("Participants")), ("animateurs", N_("Mediators"))),
        ),
        Field(
            "duration_minutes",
            N_("Duration in minutes"),
            widget="integer",
            help=N_("For a workshop, for example 90."),
        ),
    )


def _licence_field(choices: tuple[tuple[str, str], ...]) -> Field:
    return Field(
        "licence",
        N_("Licence"),
        widget="select",
        choices=choices,
        help=N_(
            "What others may do with it. The licences with “Pas de modification” forbid "
            "adaptations."
        ),
    )


@dataclass
class Attachments:
    """The attachments the form ends with, and what went wrong with the others."""

    items: list[dict[str, Any]] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)


def clean_name(raw: str) -> str:
    """A file name fit for an attachment: the last part of a path, without control
    characters or a leading dot, at most 200 characters."""
    name = re.split(r"[/\\]", raw)[-1]
    name = _CONTROL.sub("", name).strip().lstrip(".").strip()
    return name[:200]


async def _chunks(upload_file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload_file.read(CHUNK):
        yield chunk


async def _size_of(conn: BaseDBAsyncClient, sha256: str) -> int | None:
    """The size of a blob that may be listed: held, or listed by a resource we hold."""
    blob = await held(conn, sha256)
    if blob is not None:
        return int(blob.size)
    refs = await references(conn, sha256)
    return refs[0].size if refs else None


async def read_attachments(node: Node, form: FormData) -> Attachments:
    result = Attachments()
    removed = set(form.getlist("att_remove"))
    listed = zip(
        form.getlist("att_sha"), form.getlist("att_name"), form.getlist("att_type"), strict=False
    )
    seen: set[str] = set()
    for sha256, raw_name, raw_type in listed:
        if not isinstance(sha256, str) or not is_sha256(sha256) or sha256 in seen:
            continue
        if sha256 in removed:
            continue
        size = await _size_of(node.db.connection(), sha256)
        media_type = raw_type if isinstance(raw_type, str) else ""
        if size is None or media_type not in media_types():
            result.errors.append(FieldError(N_("An attachment is no longer available.")))
            continue
        name = clean_name(raw_name if isinstance(raw_name, str) else "") or sha256
        seen.add(sha256)
        result.items.append(
            {"name": name, "media_type": media_type, "size": size, "sha256": sha256}
        )
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    for upload_file in files[:MAX_FILES]:
        name = clean_name(upload_file.filename or "")
        file_type = type_of_name(name)
        if not name or file_type is None:
            result.errors.append(
                FieldError(
                    N_("“%(name)s”: this kind of file is not accepted."),
                    {"name": upload_file.filename},
                )
            )
            continue
        try:
            stored = await upload(
                node.db,
                node.blobs,
                _chunks(upload_file),
                file_type,
                max_bytes=node.settings.blob_max_bytes,
                quota_bytes=node.settings.blob_quota_bytes,
            )
        except UploadRefused as exc:
            result.errors.append(FieldError(_UPLOAD_ERRORS.get(exc.code, _REFUSED), {"name": name}))
            continue
        if stored.sha256 not in seen:
            seen.add(stored.sha256)
            result.items.append(
                {
                    "name": name,
                    "media_type": file_type,
                    "size": stored.size,
                    "sha256": stored.sha256,
                }
            )
    if len(files) > MAX_FILES:
        result.errors.append(
            FieldError(N_("At most %(count)s files at a time."), {"count": MAX_FILES})
        )
    return result


_REFUSED = N_("“%(name)s” was refused: its content does not match its kind.")
_UPLOAD_ERRORS = {
    "too_large": N_("“%(name)s” is too large for this node."),
    "quota_exceeded": N_("“%(name)s” was not kept: this node's storage for attachments is full."),
    "bad_request": N_("“%(name)s” is empty."),
}
