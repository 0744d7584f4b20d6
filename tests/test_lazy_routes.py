"""``LazyRoutes`` matches, builds paths and serves exactly as its module's routes would in
the router's own list."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, NoMatchFound, Route

from node.lazy_routes import LazyRoutes, expand

MODULE = "tests._lazy_routes_pages"


async def page(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"page {request.path_params.get('name', '')}")


async def form(request: Request) -> PlainTextResponse:
    return PlainTextResponse("posted")


def _routes() -> list[BaseRoute]:
    return [
        Route("/pages/{name:str}", page, methods=["GET"], name="page"),
        Route("/form", form, methods=["POST"], name="form"),
    ]


@pytest.fixture
def pages_module() -> Iterator[types.ModuleType]:
    module = types.ModuleType(MODULE)
    module.routes = _routes  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    yield module
    del sys.modules[MODULE]


async def other(request: Request) -> PlainTextResponse:
    return PlainTextResponse("other")


async def test_a_lazy_group_serves_like_its_routes(pages_module: types.ModuleType) -> None:
    group = LazyRoutes(MODULE)
    app = Starlette(routes=[group, Route("/form", other, methods=["GET"], name="other")])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/pages/abc")).text == "page abc"
        assert (await client.post("/form")).text == "posted"
        # A path of the group with another method: the later route that takes it serves,
        # as it would if the group's routes were in the list themselves.
        assert (await client.get("/form")).text == "other"
        assert (await client.put("/pages/abc")).status_code == 405
        assert (await client.get("/nowhere")).status_code == 404
    assert app.url_path_for("page", name="x") == "/pages/x"
    assert app.url_path_for("other") == "/form"
    with pytest.raises(NoMatchFound):
        group.url_path_for("page")  # a parameter is missing
    assert [getattr(r, "name", None) for r in expand(app.routes)] == ["page", "form", "other"]


def test_the_module_is_imported_by_the_first_use_only() -> None:
    group = LazyRoutes(MODULE)  # the module does not even exist yet: nothing was imported
    module = types.ModuleType(MODULE)
    calls: list[int] = []

    def routes() -> list[BaseRoute]:
        calls.append(1)
        return _routes()

    module.routes = routes  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    try:
        assert group.url_path_for("form") == "/form"
        assert group.url_path_for("page", name="y") == "/pages/y"
    finally:
        del sys.modules[MODULE]
    assert calls == [1]
