"""``GET /api/v1/export/lamednum.{csv,json}?scope=self|network``: open data export."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..runtime import node_of
from ..services.export import export_places
from .errors import ApiError
from .spec import Answer, Operation, Param, describe


@describe(
    Operation(
        "The places as open data, in the national standard (LaMednum 1.0.2)",
        (
            Answer(
                200,
                "The places, one a row (CSV) or an object (JSON); 'x-papi-skipped' counts"
                " those the standard cannot hold.",
                {"type": "array", "items": {"type": "object"}},
                ("text/csv", "application/json"),
                {"x-papi-skipped": "How many places were left out."},
            ),
        ),
        query=(
            Param(
                "scope",
                {"enum": ["self", "network"], "default": "self"},
                "This node's place, or every place it knows.",
            ),
        ),
        path={"fmt": Param("fmt", {"enum": ["csv", "json"]}, "The file format.")},
    )
)
async def export_lamednum(request: Request) -> Response:
    node = node_of(request)
    fmt = request.path_params["fmt"]
    scope = request.query_params.get("scope", "self")
    if fmt not in ("csv", "json") or scope not in ("self", "network"):
        raise ApiError(404, "not_found", "use lamednum.csv or lamednum.json, scope=self|network")
    result = await export_places(node.db, None if scope == "network" else node.origin)
    headers = {
        "x-papi-skipped": str(len(result.skipped)),
        "content-disposition": f'attachment; filename="lieux-mediation-numerique.{fmt}"',
    }
    if fmt == "csv":
        return Response(result.csv(), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(result.json(), media_type="application/json", headers=headers)


def routes() -> list[Route]:
    return [
        Route(
            "/api/v1/export/lamednum.{fmt:str}",
            export_lamednum,
            methods=["GET"],
            name="api.export.lamednum",
        )
    ]
