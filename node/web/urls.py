"""Links to this node's pages, built from the routes' names (``url_path_for``), never
written by hand: paths for the pages themselves, absolute URLs for documents read
elsewhere (calendars, feeds, JSON-LD, the embeddable widget)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from starlette.datastructures import URLPath
from starlette.requests import Request

from ..runtime import node_of


class Routes(Protocol):
    """What builds paths from route names: the Starlette application."""

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath: ...


def path_for(request: Request, name: str, /, **params: str) -> str:
    """The path of the route ``name``: what pages, forms and redirects of the site use
    (a path, not an absolute URL, as behind a reverse proxy the host may differ)."""
    routes: Routes = request.app
    return str(routes.url_path_for(name, **params))


def base_url(request: Request) -> str:
    """This node's public URL when it has one (behind a reverse proxy the request's own
    address is the proxy's), else the address the request was sent to; no final ``/``."""
    node = node_of(request)
    configured = node.settings.url.strip().rstrip("/")
    return configured or str(request.base_url).rstrip("/")


@dataclass(frozen=True)
class PublicUrls:
    """Absolute URLs of this node's pages: ``base`` (``base_url``) + a route's path."""

    base: str
    routes: Routes

    def absolute(self, name: str, /, **params: str) -> str:
        return self.base + str(self.routes.url_path_for(name, **params))

    def object(self, origin: str, kind: str, oid: str) -> str:
        return self.absolute("object", origin=origin, kind=kind, oid=oid)

    def place(self, origin: str) -> str:
        return self.object(origin, "place", "place")


def public_urls(request: Request) -> PublicUrls:
    return PublicUrls(base_url(request), request.app)
