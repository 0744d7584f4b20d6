"""Routes are named and URLs are built from the names (``url_path_for``); path
convertors, not the order of the routes, keep paths apart (node/convertors.py)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import BaseRoute, Match, Mount, Route, Router

from federation import schema
from node.app import build_routes
from node.convertors import (
    OWN_EDITOR,
    AdminCollectionConvertor,
    AdminOidConvertor,
    ChoiceConvertor,
    CollectionConvertor,
    ObjectKindConvertor,
    OidConvertor,
    OriginConvertor,
)
from node.services.objects import COLLECTIONS
from tests.conftest import InProcessNode

#: A value for each convertor of the routes' paths.
SAMPLES: dict[str, Any] = {"str": "x1", "oid": "abc_1-2", "path": "style.css", "int": 7}
ORIGIN = "ed25519:" + "Ab_-" * 10 + "xyz"


def _params(route: BaseRoute) -> list[dict[str, Any]]:
    """Every combination of sample path parameters (each collection for ``collection``)."""
    assert isinstance(route, Route | Mount)
    combos: list[dict[str, Any]] = [{}]
    for name, convertor in route.param_convertors.items():
        if isinstance(convertor, ObjectKindConvertor):
            values = ["event", "place"]
        elif isinstance(convertor, AdminCollectionConvertor):
            values = sorted(set(COLLECTIONS) - OWN_EDITOR)
        elif isinstance(convertor, CollectionConvertor):
            values = list(COLLECTIONS)
        elif isinstance(convertor, OriginConvertor):
            values = [ORIGIN]
        elif isinstance(convertor, ChoiceConvertor):
            values = list(convertor.choices)
        else:
            kind = {
                "StringConvertor": "str",
                "PathConvertor": "path",
                "IntegerConvertor": "int",
            }.get(type(convertor).__name__, "oid")
            values = [SAMPLES[kind]]
            if isinstance(convertor, OidConvertor):
                values.append("newton")  # an id that begins like the word "new"
        combos = [{**combo, name: value} for combo in combos for value in values]
    return combos


def _methods(route: BaseRoute) -> list[str]:
    return sorted((route.methods or set()) - {"HEAD"}) if isinstance(route, Route) else ["GET"]


def _resolve(routes: list[BaseRoute], path: str, method: str) -> tuple[BaseRoute, dict[str, Any]]:
    """The route that serves ``method path`` (the first full match, as the router does)."""
    for route in routes:
        match, child = route.matches({"type": "http", "path": path, "method": method})
        if match is Match.FULL:
            return route, child
    raise AssertionError(f"nothing serves {method} {path}")


def _cases() -> list[tuple[BaseRoute, dict[str, Any], str]]:
    return [
        (route, params, method)
        for route in build_routes()
        for params in _params(route)
        for method in _methods(route)
    ]


def test_every_route_is_named_once_per_path() -> None:
    """One name per path (methods share it), one path per name."""
    names: dict[str, str] = {}
    paths: dict[str, str] = {}
    for route in build_routes():
        assert isinstance(route, Route | Mount) and route.name, route
        assert names.setdefault(route.name, route.path) == route.path, route.name
        assert paths.setdefault(route.path, route.name) == route.name, route.path


@pytest.mark.parametrize("reverse", [False, True], ids=["in order", "reversed"])
def test_url_path_for_round_trips_whatever_the_order(reverse: bool) -> None:
    """For every route, method and parameters: the path built from the route's name is
    served by that route, with the same parameters back, and the routes in reverse order
    serve it alike (no route shadows another)."""
    router = Router(routes=build_routes())
    routes = list(reversed(router.routes)) if reverse else router.routes
    cases = _cases()
    assert len(cases) > 40
    for route, params, method in cases:
        assert isinstance(route, Route | Mount)
        path = router.url_path_for(route.name, **params)
        served, child = _resolve(routes, path, method)
        assert isinstance(served, Route | Mount)
        assert (served.path, served.name) == (route.path, route.name), (method, path)
        # A mount hands the rest of the path (``path``) to its application.
        expected = {k: v for k, v in params.items() if isinstance(served, Route) or k != "path"}
        assert child["path_params"] == expected, (method, path)


def test_the_oid_convertor_is_the_header_schema_pattern() -> None:
    pattern = schema.document("urn:papi:header")["properties"]["oid"]["pattern"]
    assert pattern == f"^{OidConvertor.regex}$"


def test_the_collection_convertor_is_the_collection_table() -> None:
    router = Router(routes=build_routes())
    assert {router.url_path_for("api.collection", collection=c) for c in COLLECTIONS} == {
        f"/api/v1/{c}" for c in COLLECTIONS
    }
    with pytest.raises(ValueError):
        router.url_path_for("api.collection", collection="node")
    with pytest.raises(ValueError):
        router.url_path_for("object", origin="o", kind="event", oid="e.ics")
    with pytest.raises(ValueError):
        router.url_path_for("admin.edit", collection="skills", oid="new")
    assert router.url_path_for("object", origin="o", kind="skill", oid="new") == "/o/o/skill/new"
    assert AdminOidConvertor.regex.endswith(OidConvertor.regex)


async def test_fixed_paths_are_not_collections(papi: InProcessNode) -> None:
    """``/api/v1/node`` is its own path, not a collection (without any route order)."""
    before = await papi.client.get("/api/v1/skills")
    for method, path in [
        ("POST", "/api/v1/node"),
        ("POST", "/api/v1/nodes"),
        ("POST", "/api/v1/search"),
        ("POST", "/api/v1/place"),
        ("DELETE", "/api/v1/skills"),
    ]:
        response = await papi.client.request(method, path, json={}, headers=papi.auth)
        assert response.status_code == 405, (method, path)
        assert response.json()["error"]["code"] == "method_not_allowed"
    for path in ("/api/v1/recipes", "/api/v1/recipes/x", "/admin/recipes/new"):
        response = await papi.client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert (await papi.client.get("/api/v1/skills")).json() == before.json()
