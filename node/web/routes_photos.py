"""``GET /photos/{sha256}/{width}``: the thumbnail of a photo (an image blob this node
holds), resized here (services/thumbnails.py), for cards (320) and pages (960). A photo
not arrived yet, or not an image, is 404: pages then show its text alternative."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..api.blobs import verified_blob
from ..runtime import Node
from ..services.blobs import references
from ..services.blobstore import is_sha256
from ..services.thumbnails import WIDTHS, thumbnail

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


async def photo(request: Request) -> Response:
    node: Node = request.app.state.node
    sha256, width = request.path_params["sha256"], request.path_params["width"]
    if not is_sha256(sha256) or width not in WIDTHS:
        return Response(status_code=404)
    found = await verified_blob(node, sha256)
    if found is None:
        return Response(status_code=404)
    # A fetched blob has no type of its own: the objects that list it say it.
    types = {found[0].media_type} | {
        ref.media_type for ref in await references(node.db.connection(), sha256)
    }
    if not types & IMAGE_TYPES:
        return Response(status_code=404)
    path = await thumbnail(node.blobs, sha256, found[1], width)
    if path is None:
        return Response(status_code=404)
    return FileResponse(
        path,
        media_type="image/jpeg",
        headers={
            # Named by the hash of the image it shows: it never changes.
            "cache-control": "public, max-age=31536000, immutable",
            "x-content-type-options": "nosniff",
        },
    )


def routes() -> list[Route]:
    return [Route("/photos/{sha256:str}/{width:int}", photo, methods=["GET"], name="photo")]
