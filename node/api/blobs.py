"""Attachments over HTTP: ``POST /api/v1/blobs`` (upload), ``GET /api/v1/blobs/{sha256}``
(state), ``POST /api/v1/blobs/{sha256}/fetch`` (fetch now) and
``GET /federation/v1/blobs/{sha256}`` (for peers). The page for people, ``/blobs/...``,
is in node/web/routes_resources.py; both serve through ``serve_blob``."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.timeutil import format_ts

from ..runtime import Node, node_of
from ..services.blob_fetch import fetch_now
from ..services.blobs import (
    UploadRefused,
    fetch_states,
    forget_corrupt,
    held,
    tried_list,
    upload,
)
from ..services.blobstore import is_sha256
from ..services.blobtypes import media_types
from ..store.blobs import BlobRow
from .auth import require_token
from .blob_response import blob_response
from .errors import ApiError
from .spec import Answer, Operation, Param, describe, obj

_SHA256 = {
    "sha256": Param(
        "sha256", {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "Lowercase hex of its SHA-256."
    )
}
_STATE = obj(
    ("sha256", "held"),
    sha256={"type": "string"},
    held={"type": "boolean"},
    size={"type": "integer", "minimum": 0},
    fetch=obj(("state", "attempts"), state={"type": "string"}, attempts={"type": "integer"}),
)


def _sha256(request: Request) -> str:
    sha256 = request.path_params["sha256"]
    if not is_sha256(sha256):
        raise ApiError(404, "not_found", "a blob is named by the lowercase hex of its SHA-256")
    return str(sha256)


async def verified_blob(node: Node, sha256: str) -> tuple[BlobRow, Path] | None:
    """The blob row and its verified file, or None when it is not held or its bytes on
    disk are wrong (then it is dropped and fetched again)."""
    blob = await held(node.db.connection(), sha256)
    if blob is None:
        return None
    path = await node.blobs.verified_path(sha256, blob.size)
    if path is None:
        await forget_corrupt(node.db, node.blobs, sha256)
        node.wake_blobs()
        return None
    return blob, path


@describe(
    Operation(
        "Upload an attachment (its bytes, of an allowed media type)",
        (
            Answer(
                201,
                "Held: its SHA-256 names it in a resource's attachments.",
                obj(("sha256", "size"), sha256={"type": "string"}, size={"type": "integer"}),
            ),
        ),
        body={"type": "string", "minLength": 1, "description": "The file's bytes."},
        body_media_types=media_types(),
        token=True,
        errors=(415,),
    )
)
async def upload_blob(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    try:
        result = await upload(
            node.db,
            node.blobs,
            request.stream(),
            media_type,
            max_bytes=node.settings.blob_max_bytes,
            quota_bytes=node.settings.blob_quota_bytes,
            declared=int(declared) if declared and declared.isdigit() else None,
        )
    except UploadRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return JSONResponse({"sha256": result.sha256, "size": result.size}, status_code=201)


@describe(
    Operation(
        "Whether this node holds an attachment, or is fetching it",
        (Answer(200, "Its state.", _STATE),),
        path=_SHA256,
    )
)
async def blob_state(request: Request) -> Response:
    sha256 = _sha256(request)
    conn = node_of(request).db.connection()
    blob = await held(conn, sha256)
    fetch = (await fetch_states(conn, [sha256])).get(sha256)
    if blob is None and fetch is None:
        raise ApiError(404, "not_found", f"this node neither holds nor wants blob {sha256}")
    body: dict[str, object] = {"sha256": sha256, "held": blob is not None}
    if blob is not None:
        body["size"] = blob.size
    if fetch is not None:
        body["fetch"] = {
            "state": fetch.state,
            "size": fetch.size,
            "attempts": fetch.attempts,
            "next_attempt": format_ts(fetch.next_attempt),
            "last_error": fetch.last_error,
            "tried": tried_list(fetch),
        }
    return JSONResponse(body)


@describe(
    Operation(
        "Fetch a wanted attachment now, without waiting for its next attempt",
        (
            Answer(
                202,
                "Queued.",
                obj(("sha256", "state"), sha256={"type": "string"}, state={"const": "pending"}),
            ),
        ),
        path=_SHA256,
        token=True,
    )
)
async def fetch_blob_now(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    sha256 = _sha256(request)
    if not await fetch_now(node.db, sha256):
        raise ApiError(404, "not_found", f"blob {sha256} has nothing to fetch")
    node.wake_blobs()
    return JSONResponse({"sha256": sha256, "state": "pending"}, status_code=202)


@describe(
    Operation(
        "An attachment's bytes, for peers (ranges honoured)",
        (
            Answer(200, "The bytes.", media_types=("application/octet-stream",)),
            Answer(206, "The range asked.", media_types=("application/octet-stream",)),
            Answer(304, "Unchanged (If-None-Match)."),
        ),
        path=_SHA256,
        errors=(416,),
        tag="federation",
    )
)
async def federation_blob(request: Request) -> Response:
    node = node_of(request)
    sha256 = _sha256(request)
    found = await verified_blob(node, sha256)
    if found is None:
        raise ApiError(404, "not_found", f"this node does not hold blob {sha256}")
    blob, path = found
    return blob_response(request, path, blob.size, sha256)


def routes() -> list[Route]:
    return [
        Route("/api/v1/blobs", upload_blob, methods=["POST"], name="api.blobs"),
        Route("/api/v1/blobs/{sha256:str}", blob_state, methods=["GET"], name="api.blob"),
        Route(
            "/api/v1/blobs/{sha256:str}/fetch",
            fetch_blob_now,
            methods=["POST"],
            name="api.blob.fetch",
        ),
        Route(
            "/federation/v1/blobs/{sha256:str}",
            federation_blob,
            methods=["GET"],
            name="federation.blob",
        ),
    ]
