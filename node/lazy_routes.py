"""Routes whose module is imported by the first request that reaches them.

An idle node serves no page and few API requests: importing every route module (and
through them jinja2, the forms, the status checks) at start cost it 4 MiB of memory
(docs/performance.md 10.3). ``LazyRoutes("node.web.routes_admin")``
stands in the route list where ``routes_admin.routes()`` stood; the module is imported,
and its ``routes()`` called, the first time the router asks the group to match a request
or to build a path (``url_path_for``). The routes are then the module's own, unchanged:
same paths, names, methods and order. ``tests/test_routes.py`` imports every module
(``build_routes``), so a module that cannot be imported fails there, not at a request.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

#: The scope key that carries, from ``matches`` to ``handle``, the route that matched.
_MATCHED = "papi.lazy_route"


class LazyRoutes(BaseRoute):
    """The routes of ``module``'s ``routes()``, imported on first use."""

    def __init__(self, module: str) -> None:
        self.module = module
        self._routes: list[BaseRoute] | None = None

    @property
    def routes(self) -> list[BaseRoute]:
        if self._routes is None:
            build: Callable[[], list[BaseRoute]] = importlib.import_module(self.module).routes
            self._routes = list(build())
        return self._routes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # As the router would with the group's routes in its own list: the first full
        # match, otherwise the first partial one (a known path, another method).
        partial: Scope | None = None
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child, _MATCHED: route}
            if match is Match.PARTIAL and partial is None:
                partial = {**child, _MATCHED: route}
        if partial is not None:
            return Match.PARTIAL, partial
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope[_MATCHED]
        await route.handle(scope, receive, send)

    def __repr__(self) -> str:
        return f"LazyRoutes({self.module!r})"


def expand(routes: Iterable[BaseRoute]) -> list[BaseRoute]:
    """``routes`` with each lazy group replaced by its routes (importing its module): what
    walks every route (the OpenAPI document, the tests) sees the routes themselves."""
    found: list[BaseRoute] = []
    for route in routes:
        found.extend(route.routes if isinstance(route, LazyRoutes) else [route])
    return found
