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

from ..models import Blob
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
from .auth import require_token
from .blob_response import blob_response
from .errors import ApiError


def _sha256(request: Request) -> str:
    sha256 = request.path_params["sha256"]
    if not is_sha256(sha256):
        raise ApiError(404, "not_found", "a blob is named by the lowercase hex of its SHA-256")
    return str(sha256)


async def verified_blob(node: Node, sha256: str) -> tuple[Blob, Path] | None:
    """The blob row and its verified file, or None when it is not held or its bytes on
    disk are wrong (then it is dropped and fetched again)."""
    blob = await held(sha256)
    if blob is None:
        return None
    path = await node.blobs.verified_path(sha256, blob.size)
    if path is None:
        await forget_corrupt(node.blobs, sha256)
        node.wake_blobs()
        return None
    return blob, path


async def upload_blob(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    try:
        result = await upload(
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


async def blob_state(request: Request) -> Response:
    sha256 = _sha256(request)
    blob = await held(sha256)
    fetch = (await fetch_states([sha256])).get(sha256)
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


async def fetch_blob_now(request: Request) -> Response:
    node = node_of(request)
    await require_token(request)
    sha256 = _sha256(request)
    if not await fetch_now(sha256):
        raise ApiError(404, "not_found", f"blob {sha256} has nothing to fetch")
    node.wake_blobs()
    return JSONResponse({"sha256": sha256, "state": "pending"}, status_code=202)


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
