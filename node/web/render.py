"""Rendering pages: one Jinja2 environment per language (autoescape on everywhere, the
i18n extension bound to that language's catalogue) and the response headers of a page."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..runtime import node_of
from ..services.export import Problem
from ..services.opening_hours import readable
from ..store import origins
from . import formatting, hours, jsonld, recurrence_form, series, text
from .csrf import FIELD as CSRF_FIELD
from .csrf import csrf_token
from .fields import HORAIRES_EXAMPLE
from .i18n import LANGUAGES, N_, request_language, translations
from .urls import base_url, path_for, public_urls

TEMPLATES_DIR = Path(__file__).parent / "templates"

#: Kinds of objects, singular and plural, as shown to people.
KIND_LABELS = {
    "place": (N_("Place"), N_("Places")),
    "skill": (N_("Skill"), N_("Skills")),
    "equipment": (N_("Equipment"), N_("Equipment")),
    "event": (N_("Event"), N_("Events")),
    "booking": (N_("Booking"), N_("Bookings")),
    "vouch": (N_("Membership"), N_("Memberships")),
    "resource": (N_("Resource"), N_("Resources")),
}
#: Pages are self-contained: no script, no third-party resource, no framing.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def problem_text(problem: Problem, language: str) -> str:
    """Why the place cannot be exported to the national open data, in words."""
    return problem.text(translations(language).gettext)


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def shown_photos(item: Any) -> list[dict[str, str]]:
    """The photos of an item or place fit to show: an address and a text alternative
    (stored data is not trusted: anything else is left out)."""
    photos = item.get("photos") if isinstance(item, dict) else None
    if not isinstance(photos, list):
        return []
    return [
        {"sha256": photo["sha256"], "alt": photo["alt"]}
        for photo in photos
        if isinstance(photo, dict)
        and isinstance(photo.get("sha256"), str)
        and _SHA256.match(photo["sha256"])
        and isinstance(photo.get("alt"), str)
    ]


def kind_label(kind: str, plural: bool = False) -> str:
    labels = KIND_LABELS.get(kind)
    return kind if labels is None else labels[1 if plural else 0]


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    cast(Any, env).install_gettext_translations(translations(language), newstyle=True)
    env.filters.update(
        markdown=text.render_markdown,
        snippet=text.render_snippet,
        excerpt=text.plain_excerpt,
        moment=partial(formatting.format_moment, language=language),
        period=partial(formatting.format_period, language=language),
        day=partial(formatting.format_day, language=language),
        fresh=partial(formatting.freshness, language=language),
    )
    env.globals.update(
        language=language,
        languages=LANGUAGES,
        kind_label=kind_label,
        opening_hours=partial(hours.describe_hours, language=language),
        hours_readable=readable,
        hours_status=hours.status_now,
        status_phrase=partial(hours.status_phrase, language=language),
        is_past=formatting.is_past,
        event_is_past=series.event_is_past,
        event_when=partial(series.event_when, language=language),
        series_view=partial(series.series_view, language=language),
        recurrence_choices=recurrence_form.CHOICES,
        problem_text=partial(problem_text, language=language),
        photos_of=shown_photos,
        csrf_field=CSRF_FIELD,
        horaires_example=HORAIRES_EXAMPLE,
    )
    return env


async def site_name(request: Request) -> str:
    """The name of this node's place, shown in every page's header."""
    node = node_of(request)
    origin = await origins.origin(node.db.connection(), origin_id=node.origin)
    return (origin.name if origin else None) or node.settings.name or "papi-node"


async def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    language = request_language(request)
    page = environment(language).get_template(template)
    token: Callable[[], str] = partial(csrf_token, request)
    values = {
        "request_path": request.url.path,
        "request_query": request.url.query,
        "site_name": await site_name(request),
        "csrf_token": token,
        "flashes": [],
        "user": None,
        "public_base": base_url(request),
        # Paths of named routes, as pages link within the site (see urls.path_for).
        "url_for": partial(path_for, request),
        **(context or {}),
    }
    # schema.org data of the public pages (None for the others); see jsonld.py.
    values["jsonld"] = jsonld.for_page(template, values, public_urls(request))
    html = page.render(values)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
