"""The media types attachments may have, and the checks that bytes are what their type
says. The allow-list is the resource schema's (``attachments[].media_type``), so the API,
the editor and the protocol accept exactly the same types."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from federation import schema

#: File name extensions of each type (the first is the one given to exported files).
EXTENSIONS: Mapping[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "application/vnd.oasis.opendocument.presentation": (".odp",),
    "application/vnd.oasis.opendocument.graphics": (".odg",),
    "text/plain": (".txt",),
    "text/markdown": (".md",),
    "application/zip": (".zip",),
}
#: Most members a zip may list (its central directory is read to check them).
MAX_ZIP_MEMBERS = 2000
_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


@cache
def media_types() -> tuple[str, ...]:
    document: Any = schema.document("urn:papi:payload/resource")
    items = document["properties"]["attachments"]["items"]["properties"]
    return tuple(items["media_type"]["enum"])


def type_of_name(name: str) -> str | None:
    """The allowed media type of a file name's extension (None: not allowed)."""
    suffix = Path(name).suffix.lower()
    for media_type, suffixes in EXTENSIONS.items():
        if suffix in suffixes:
            return media_type
    return None


def content_error(media_type: str, head: bytes, path: Path) -> str | None:
    """Why the bytes (first ``head`` bytes, whole file at ``path``) are not a
    ``media_type``; None when they are."""
    if media_type not in media_types():
        return f"{media_type} is not an allowed media type"
    magic = _MAGIC.get(media_type)
    if magic is not None:
        return None if head.startswith(magic) else f"the bytes are not {media_type}"
    if media_type == "image/webp":
        ok = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
        return None if ok else "the bytes are not image/webp"
    if media_type.startswith("application/vnd.oasis.opendocument."):
        # ODF: a zip whose first member, stored uncompressed, is "mimetype" with the type.
        ok = head[:4] == b"PK\x03\x04" and head[30:38] == b"mimetype"
        ok = ok and head[38 : 38 + len(media_type)] == media_type.encode()
        return None if ok else f"the bytes are not an OpenDocument file ({media_type})"
    if media_type.startswith("text/"):
        if b"\x00" in head:
            return "a text file has no NUL byte"
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 3:  # not merely a character cut at the end
                return "a text file must be UTF-8"
        return None
    if media_type == "application/zip":
        return _zip_error(path)
    return None


def _zip_error(path: Path) -> str | None:
    """A zip is accepted when each of its files has an allowed type (by extension)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                return f"a zip may hold at most {MAX_ZIP_MEMBERS} files"
            for member in members:
                if not member.is_dir() and type_of_name(member.filename) in (
                    None,
                    "application/zip",
                ):
                    return f"the zip holds {member.filename!r}, whose type is not allowed"
    except (zipfile.BadZipFile, OSError, ValueError):
        return "the bytes are not a zip file"
    return None
