"""The application factory: explicit routes, middleware and one lifespan."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from tortoise.exceptions import BaseORMException

from federation.keys import NodeKey

from . import web
from .api.errors import ApiError, api_error_handler, error_response, http_error_handler
from .datadir import load_key
from .lazy_routes import LazyRoutes, expand
from .ratelimit import RateLimitMiddleware
from .runtime import Node, node_of
from .services.bootstrap import ensure_place
from .services.changes import renew_epoch_if_restored
from .services.features import broadcasting
from .services.health import is_disk_full
from .services.identity import finish_rotation
from .services.tree import tree_of
from .settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    """Anything unforeseen: logged with its traceback, answered in the usual JSON shape."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "unexpected error; see the node's log")


async def client_disconnect_handler(request: Request, exc: Exception) -> Response:
    """The client went away while sending its body: nobody reads an answer, nothing to log
    but a line at debug level."""
    log.debug("client disconnected during %s %s", request.method, request.url.path)
    return error_response(400, "client_disconnected", "the client disconnected")


async def database_error_handler(request: Request, exc: Exception) -> Response:
    """A full disk is reported (``/readyz``, ``/api/v1/nodes``) and answered 507, without a
    traceback; any other database error is unexpected."""
    if not is_disk_full(exc):
        return await unexpected_error_handler(request, exc)
    node = node_of(request)
    node.storage.record_full(f"{request.method} {request.url.path}")
    log.error("disk full during %s %s", request.method, request.url.path)
    response = error_response(507, "disk_full", "the node's disk is full; retry later")
    response.headers["retry-after"] = "60"
    return response


class DatabaseContextMiddleware:
    """Run each request with this node's database as the current Tortoise context."""

    def __init__(self, app: ASGIApp, node: Node) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.node.db.activated():
            await self.app(scope, receive, send)


#: The modules of the JSON API's routes, in the order they are tried.
API_MODULES = (
    "health",
    "metrics",
    "network",
    "membership",
    "export",
    "places",
    "federation_routes",
    "federation11_routes",
    "blobs",
    "objects",
    "loans",
    "registrations",
    "help_requests",
    "openapi",
)


def app_routes() -> list[BaseRoute]:
    """The application's routes: the JSON API, then the web pages (HTML, French). Each
    module is imported by the first request that reaches its routes (node/lazy_routes.py).
    No route depends on this order: path convertors (node/convertors.py) keep the paths
    apart."""
    return [
        *(LazyRoutes(f"{__package__}.api.{name}") for name in API_MODULES),
        *web.routes(),
    ]


def build_routes() -> list[BaseRoute]:
    """Every route itself, each module imported (the tests walk them)."""
    return expand(app_routes())


def create_app(
    settings: Settings,
    *,
    key: NodeKey | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    node = Node(settings, key or load_key(settings.data_dir), transport=transport)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from .jobs import Workers

        await node.db.open()
        workers = Workers(node)
        with node.db.activated():
            await finish_rotation(node)
            await ensure_place(node)
            # The founders or the blocklist may have changed since the last start.
            await node.membership.settle_now()
            await renew_epoch_if_restored(node)
            if broadcasting(node):
                await tree_of(node)  # protocol 1.1: publish_in queues frames with it
            if settings.scheduler:
                await workers.start()
        try:
            yield
        finally:
            if settings.scheduler:
                await workers.stop()
            await node.db.close()

    app = Starlette(
        routes=app_routes(),
        # The database context stays outermost; the web sessions come inside it.
        middleware=[
            Middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute),
            Middleware(DatabaseContextMiddleware, node=node),
            *web.middleware(settings),
        ],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            ClientDisconnect: client_disconnect_handler,
            sqlite3.Error: database_error_handler,
            BaseORMException: database_error_handler,
            Exception: unexpected_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.node = node
    return app
