"""Thumbnails of photos (equipment items and places): a held image blob resized on this
node with Pillow, as a JPEG at most ``width`` pixels wide, cached under ``thumbs/`` in the
data directory (``<sha256>-<width>.jpg``, removed with the blob). Made on first request,
two at a time (``BlobStore.thumb_slots``), from the blob's verified bytes; an image too large
(``MAX_PIXELS``) or that cannot be read gives no thumbnail (the page shows the photo's
text alternative)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from .blobstore import BlobStore

if TYPE_CHECKING:  # Pillow is imported by the first thumbnail made (make_thumbnail)
    from PIL import Image

log = logging.getLogger(__name__)

#: The widths served: cards, and an item's or a place's page.
WIDTHS = (320, 960)
#: Images beyond this many pixels give no thumbnail (a decompression bomb guard): a
#: decoded image takes 3 or 4 bytes a pixel. A JPEG is decoded already reduced (up to 8
#: times each way: ``draft``), so the photos of recent phones (48 Mpx and more) fit.
MAX_PIXELS = 40_000_000
MAX_JPEG_PIXELS = 200_000_000
QUALITY = 82
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")


def thumbnail_path(store: BlobStore, sha256: str, width: int) -> Path:
    return store.thumbs_dir / f"{sha256}-{width}.jpg"


def _none_marker(target: Path) -> Path:
    """Written when an image gives no thumbnail, so that it is not decoded again at
    each request (removed with the blob, like the thumbnails)."""
    return target.with_suffix(".none")


def make_thumbnail(source: Path, target: Path, width: int) -> bool:
    """Write the thumbnail of ``source`` to ``target`` (atomically, mode 0600); False
    when the image cannot be read or is too large."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    # The size is checked here, from the header, before anything is decoded: Pillow's own
    # guard would only warn below twice its limit.
    Image.MAX_IMAGE_PIXELS = None
    try:
        # The photo types only: never a decoder that calls an outside program (EPS).
        with Image.open(source, formats=FORMATS) as opened:
            limit = MAX_JPEG_PIXELS if opened.format == "JPEG" else MAX_PIXELS
            pixels = opened.width * opened.height
            if pixels > limit:
                log.warning("no thumbnail of %s: %d pixels", source.name, pixels)
                return False
            opened.draft("RGB", (width * 2, width * 2))  # a faster JPEG decode
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((width, width * 3))
            _write(_flattened(image), target)
            return True
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        log.warning("no thumbnail of %s: %s", source.name, exc)
        return False


def _flattened(image: Image.Image) -> Image.Image:
    """RGB, transparent parts on white (JPEG has no transparency)."""
    if image.mode in ("RGBA", "LA", "P", "PA"):
        from PIL import Image

        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _write(image: Image.Image, target: Path) -> None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(f".{secrets.token_hex(8)}.part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            image.save(handle, "JPEG", quality=QUALITY, optimize=True, progressive=True)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


async def thumbnail(store: BlobStore, sha256: str, source: Path, width: int) -> Path | None:
    """The cached thumbnail of the blob ``sha256`` (whose verified file is ``source``),
    made now if needed; None when the image gives none."""
    target = thumbnail_path(store, sha256, width)
    if target.is_file():
        return target
    async with store.thumb_slots:
        if target.is_file():  # made meanwhile
            return target
        if _none_marker(target).exists():
            return None
        made = await asyncio.to_thread(make_thumbnail, source, target, width)
        if not made:
            with contextlib.suppress(OSError):
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                _none_marker(target).touch(mode=0o600)
    return target if made else None
