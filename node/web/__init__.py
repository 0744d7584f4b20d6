"""The web interface: French server-rendered pages for visitors (``/``, ``/search``,
``/lieux``, ``/nodes``, ``/o/...``) and for the place's animators (``/admin``).

``routes()`` and ``middleware(settings)`` are what the app factory adds; nothing runs at
import time.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from ..lazy_routes import LazyRoutes
from ..settings import Settings
from .sessions import session_middleware

STATIC_DIR = Path(__file__).parent / "static"


#: The page modules, in the order their routes are tried. Resources first: their paths
#: are more specific than the generic ones.
PAGES = (
    "routes_resources",
    "routes_interop",
    "routes_widget",
    "routes_api_reference",
    "routes_listings",
    "routes_public",
    "routes_places",
    "routes_photos",
    "routes_help",
    "routes_login",
    "routes_admin_resources",
    "routes_admin_mail",
    "routes_admin_accounts",
    "routes_admin_network",
    "routes_admin_coop",
    "routes_admin_loans",
    "routes_admin_registrations",
    "routes_admin_help",
    "routes_admin_status",
    "routes_admin",
)


def routes() -> list[BaseRoute]:
    # Each page module is imported by the first request that reaches its routes, not with
    # the package (node/lazy_routes.py): an idle node serves no page, and a module that
    # only needs a helper of the package (``formatting``, ``i18n``: the mail composer
    # does) must not import every page, and through them the workflows that compose mails.
    return [
        *(LazyRoutes(f"{__name__}.{page}") for page in PAGES),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def middleware(settings: Settings) -> list[Middleware]:
    return [session_middleware(settings)]
