"""The web interface's language: the visitor's choice (a cookie), else French. The
catalogue itself is ``node.i18n`` (shared with the mails and the command line)."""

from __future__ import annotations

from starlette.requests import Request

from ..i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALE_DIR, N_, translations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "LOCALE_DIR",
    "N_",
    "request_language",
    "translations",
]

#: Cookie remembering a visitor's choice of language.
LANGUAGE_COOKIE = "papi_lang"


def request_language(request: Request) -> str:
    """French unless the visitor chose another language of the interface."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE
