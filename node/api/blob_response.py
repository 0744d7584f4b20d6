"""Sending a verified blob over HTTP: one byte range at most (``206``/``416``), the
attachment's type from the allow-list, a safe ``Content-Disposition``, no sniffing, and
a sandbox so that a served file can never act as a page of this site."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..services.blobstore import CHUNK
from ..services.blobtypes import EXTENSIONS, media_types
from .errors import error_response

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
#: Characters that RFC 8187 lets through unescaped in ``filename*``.
_ATTR_CHARS = "!#$&+-.^_`|~"
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 ._()\-]")


def byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """The one range asked for, as ``(start, end)`` with ``end`` excluded; None to send
    everything (no header, several ranges or a malformed one, which a server may
    ignore); ``"unsatisfiable"`` when it starts past the end."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        return "unsatisfiable" if count == 0 else (max(0, size - count), size)
    start = int(first)
    end = size if not last else min(size, int(last) + 1)
    if start >= size:
        return "unsatisfiable"
    if end <= start:
        return None
    return (start, end)


def download_name(name: str, media_type: str) -> str:
    """The attachment's name, with the extension of its type added when it has another
    one (a "fiche.exe" served as a PDF is saved as "fiche.exe.pdf")."""
    suffixes = EXTENSIONS.get(media_type, ())
    if suffixes and Path(name).suffix.lower() not in suffixes:
        return name + suffixes[0]
    return name


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 one (RFC 6266)."""
    fallback = _UNSAFE_ASCII.sub("_", name) or "fichier"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"


class BlobResponse(Response):
    """A blob file (or one range of it), read in chunks on a worker thread."""

    def __init__(
        self,
        path: Path,
        size: int,
        *,
        status_code: int,
        headers: dict[str, str],
        start: int = 0,
        end: int | None = None,
    ) -> None:
        self.path = path
        self.start = start
        self.end = size if end is None else end
        super().__init__(None, status_code=status_code, headers=headers)
        self.headers["content-length"] = str(self.end - self.start)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._send(scope, send)
        except OSError:  # the client went away (a viewer that read what it needed)
            return

    async def _send(self, scope: Scope, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if scope.get("method", "GET").upper() == "HEAD" or self.start == self.end:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        async with await anyio.open_file(self.path, "rb") as handle:
            await handle.seek(self.start)
            position = self.start
            while position < self.end:
                chunk = await handle.read(min(CHUNK, self.end - position))
                if not chunk:  # the file shrank: stop, the length sent is now wrong
                    raise RuntimeError(f"{self.path} is shorter than expected")
                position += len(chunk)
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": position < self.end}
                )


def blob_response(
    request: Request,
    path: Path,
    size: int,
    sha256: str,
    *,
    media_type: str | None = None,
    name: str | None = None,
) -> Response:
    """The response for ``GET``/``HEAD`` of a verified blob, honouring ``Range``,
    ``If-Range`` and ``If-None-Match``."""
    served_type = media_type if media_type in media_types() else "application/octet-stream"
    etag = f'"{sha256}"'
    headers = {
        "content-type": served_type,
        "accept-ranges": "bytes",
        "etag": etag,
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox; default-src 'none'",
        "referrer-policy": "no-referrer",
        "content-disposition": content_disposition(download_name(name or sha256, served_type)),
    }
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={k: headers[k] for k in ("etag", "cache-control")})
    if_range = request.headers.get("if-range")
    wanted = byte_range(request.headers.get("range"), size)
    if if_range is not None and if_range.strip() != etag:
        wanted = None
    if wanted == "unsatisfiable":
        response = error_response(416, "range_not_satisfiable", f"the blob is {size} bytes long")
        response.headers["content-range"] = f"bytes */{size}"
        return response
    if isinstance(wanted, tuple):
        start, end = wanted
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
        return BlobResponse(path, size, status_code=206, headers=headers, start=start, end=end)
    return BlobResponse(path, size, status_code=200, headers=headers)
