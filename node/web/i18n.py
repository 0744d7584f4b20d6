"""The web interface's strings: one gettext catalogue per language, compiled in memory
from ``locale/<lang>/LC_MESSAGES/messages.po`` the first time it is needed.

Message ids are English; French is the interface's language. To update the catalogue
after changing a string (from the repository root)::

    .venv/bin/pybabel extract -F node/web/babel.cfg -o /tmp/messages.pot \
        --no-location --sort-output -w 100 .
    .venv/bin/pybabel update -i /tmp/messages.pot -d node/web/locale -w 100 \
        --ignore-obsolete --ignore-pot-creation-date
    # then translate the new (empty or fuzzy) entries of locale/fr/LC_MESSAGES/messages.po

``tests/test_web_i18n.py`` fails when a string of a template or a module has no French
translation.
"""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "fr"
#: Languages of the interface, with their name in that language.
LANGUAGES = {"fr": "Français", "en": "English"}
#: Cookie remembering a visitor's choice of language.
LANGUAGE_COOKIE = "papi_lang"


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; translate it where shown."""
    return message


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: the message ids themselves)."""
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po_path.is_file():
        return gettext.NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


def request_language(request: Request) -> str:
    """French unless the visitor chose another language of the interface."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE
