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

from ..settings import Settings
from .sessions import session_middleware

STATIC_DIR = Path(__file__).parent / "static"


def routes() -> list[BaseRoute]:
    # The pages are imported here, not with the package: a module that only needs a
    # helper of the package (``formatting``, ``i18n``: the mail composer does) must not
    # import every page, and through them the workflows that compose mails.
    from . import (
        routes_admin,
        routes_admin_coop,
        routes_admin_help,
        routes_admin_loans,
        routes_admin_mail,
        routes_admin_registrations,
        routes_admin_resources,
        routes_help,
        routes_interop,
        routes_listings,
        routes_login,
        routes_places,
        routes_public,
        routes_resources,
        routes_widget,
    )

    return [
        # Resources first: their paths are more specific than the generic ones.
        *routes_resources.routes(),
        *routes_interop.routes(),
        *routes_widget.routes(),
        *routes_listings.routes(),
        *routes_public.routes(),
        *routes_places.routes(),
        *routes_help.routes(),
        *routes_login.routes(),
        *routes_admin_resources.routes(),
        *routes_admin_mail.routes(),
        *routes_admin_coop.routes(),
        *routes_admin_loans.routes(),
        *routes_admin_registrations.routes(),
        *routes_admin_help.routes(),
        *routes_admin.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def middleware(settings: Settings) -> list[Middleware]:
    return [session_middleware(settings)]
