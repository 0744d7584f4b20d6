"""The photos of an equipment item or of the place in their admin forms: the photos kept
(each with its text alternative, which can be changed, or removed) and one new photo per
save (a file and its description, required). New files go through the same upload as
the API's (bounded, content checked, within the quota). The form's inputs:
``photo_sha``/``photo_alt`` (one pair per kept photo), ``photo_remove``, ``photo_file``
and ``photo_file_alt``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData, UploadFile

from ..runtime import Node
from ..services.blobs import UploadRefused, held, photos_of, upload
from ..services.blobstore import is_sha256
from ..services.blobtypes import type_of_name
from .fields import FieldError
from .i18n import N_

#: At most this many photos per item (the schema's ``maxItems``).
MAX_PHOTOS = 8
MAX_ALT = 300
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
CHUNK = 256 * 1024


@dataclass
class Photos:
    #: The ``photos`` to publish (kept, then the new one).
    items: list[dict[str, Any]] = field(default_factory=list)
    #: Errors by input (``photo_alt_<n>``, ``photo_file``, ``photo_file_alt``).
    errors: dict[str, FieldError] = field(default_factory=dict)
    #: What the new photo's description field shows again.
    new_alt: str = ""


def _alt(text: object) -> str:
    return " ".join(str(text or "").split())


async def _chunks(upload_file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload_file.read(CHUNK):
        yield chunk


async def read_photos(node: Node, form: FormData, current: dict[str, Any]) -> Photos:
    result = Photos()
    stored = {str(p.get("sha256")): p for p in photos_of(current)}
    removed = set(form.getlist("photo_remove"))
    for sha256, alt in zip(form.getlist("photo_sha"), form.getlist("photo_alt"), strict=False):
        shown = {item["sha256"] for item in result.items}
        if sha256 in removed or sha256 in shown or len(result.items) >= MAX_PHOTOS:
            continue
        photo = stored.get(str(sha256)) or await _uploaded(node, str(sha256))
        if photo is None:
            continue  # neither the item's photo nor an image uploaded here
        text = _alt(alt)
        error = _alt_error(text)
        if error is not None:
            result.errors[f"photo_alt_{len(result.items) + 1}"] = error
        result.items.append({**photo, "alt": text})
    upload_file = form.get("photo_file")
    result.new_alt = _alt(form.get("photo_file_alt"))
    if isinstance(upload_file, UploadFile) and upload_file.filename:
        await _add(node, upload_file, result)
    elif result.new_alt:
        result.errors["photo_file"] = FieldError(N_("Choose the photo's file."))
    return result


async def _uploaded(node: Node, sha256: str) -> dict[str, Any] | None:
    """A photo sent with an earlier try of this form (which was sent back with an error):
    an image this node received as an upload, checked to be of its type."""
    blob = await held(node.db.connection(), sha256) if is_sha256(sha256) else None
    if blob is None or blob.media_type not in IMAGE_TYPES:
        return None
    return {"sha256": blob.sha256, "media_type": blob.media_type, "size": blob.size}


def _alt_error(text: str) -> FieldError | None:
    if not text:
        return FieldError(N_("Describe the photo in a few words (for those who cannot see it)."))
    if len(text) > MAX_ALT:
        return FieldError(N_("At most %(count)s characters."), {"count": MAX_ALT})
    return None


async def _add(node: Node, upload_file: UploadFile, result: Photos) -> None:
    media_type = type_of_name(upload_file.filename or "")
    if media_type not in IMAGE_TYPES:
        result.errors["photo_file"] = FieldError(
            N_("A photo must be a JPEG, PNG, GIF or WebP image.")
        )
        return
    error = _alt_error(result.new_alt)
    if error is not None:
        result.errors["photo_file_alt"] = error
        return
    if len(result.items) >= MAX_PHOTOS:
        result.errors["photo_file"] = FieldError(
            N_("At most %(count)s photos: remove one first."), {"count": MAX_PHOTOS}
        )
        return
    try:
        stored = await upload(
            node.db,
            node.blobs,
            _chunks(upload_file),
            media_type,
            max_bytes=node.settings.blob_max_bytes,
            quota_bytes=node.settings.blob_quota_bytes,
        )
    except UploadRefused as exc:
        result.errors["photo_file"] = FieldError(_REFUSED.get(exc.code, _NOT_AN_IMAGE))
        return
    if any(item["sha256"] == stored.sha256 for item in result.items):
        result.errors["photo_file"] = FieldError(N_("This photo is already there."))
        return
    result.items.append(
        {
            "sha256": stored.sha256,
            "media_type": media_type,
            "size": stored.size,
            "alt": result.new_alt,
        }
    )
    result.new_alt = ""


_NOT_AN_IMAGE = N_("This file is not the image its name says.")
_REFUSED = {
    "too_large": N_("This photo is too large for this node."),
    "quota_exceeded": N_("This photo was not kept: this node's storage is full."),
    "bad_request": N_("This file is empty."),
}
