"""``/entraide``: the open help requests of the network, for everyone (they are public
and carry no personal data), nearest to this place first, optionally of one theme.
Offering help is an animator's action, in /admin (a logged-in session)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..cooperation import help_requests
from ..cooperation.session import place_today
from ..runtime import node_of
from .render import render


async def help_board(request: Request) -> Response:
    node = node_of(request)
    wanted = request.query_params.get("theme") or ""
    theme = wanted if wanted in help_requests.themes() else None
    found = await help_requests.network_requests(node, place_today(), matching=False, theme=theme)
    return await render(
        request,
        "help_board.html",
        {"requests": found, "themes": help_requests.themes(), "theme": theme or ""},
    )


def routes() -> list[Route]:
    return [Route("/entraide", help_board, methods=["GET"], name="help_board")]
