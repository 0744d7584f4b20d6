"""The node's strings in people's languages: one gettext catalogue per language,
``web/locale/<lang>/LC_MESSAGES/messages.po``, read compiled (``messages.mo``, shipped
beside it) the first time it is needed. The web interface, the notification mails and
the command line all speak through it (the web picks the visitor's language, the
command line the locale's).

Message ids are English; French is the node's language. To update the catalogue after
changing a string (from the repository root)::

    .venv/bin/pybabel extract -F node/web/babel.cfg -o /tmp/messages.pot \
        --no-location --sort-output -w 100 .
    .venv/bin/pybabel update -i /tmp/messages.pot -d node/web/locale -w 100 \
        --ignore-obsolete --ignore-pot-creation-date
    # then translate the new (empty or fuzzy) entries of locale/fr/LC_MESSAGES/messages.po
    .venv/bin/python -m node.i18n    # compiles messages.po into messages.mo

``tests/test_web_i18n.py`` fails when a string has no French translation, or when a
``messages.mo`` was not compiled from the ``messages.po`` beside it (the node would still
speak right: it compiles the ``.po`` itself then, at a cost).
"""

from __future__ import annotations

import gettext
import hashlib
import os
import struct
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

LOCALE_DIR = Path(__file__).parent / "web" / "locale"
DEFAULT_LANGUAGE = "fr"
#: Languages of the interface, with their name in that language.
LANGUAGES = {"fr": "Français", "en": "English"}
#: The locale variables, in the order gettext reads them.
_LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
#: The command line shows times in the places' time, with the zone's name (CET, CEST).
PARIS = ZoneInfo("Europe/Paris")


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; translate it where shown."""
    return message


class Translatable(Exception):
    """An error whose message is a msgid with its values: ``str()`` gives the English
    text (logs), ``text(gettext)`` the reader's language (the command line)."""

    def __init__(self, message: str, /, **values: Any) -> None:
        super().__init__(message % values if values else message)
        self.message, self.values = message, values

    def text(self, gettext: Callable[[str], str]) -> str:
        translated = gettext(self.message)
        if not self.values:
            return translated
        # A value may itself be a message (the cause of an error): said in the same language.
        values = {
            name: value.text(gettext) if isinstance(value, Translatable) else value
            for name, value in self.values.items()
        }
        return translated % values


class Phrase(Translatable):
    """A message kept to be said later (a report's warning) in the reader's language:
    a ``Translatable`` that is data rather than raised."""


#: The msgid under which a compiled catalogue (``messages.mo``) records the SHA-256 of
#: the ``messages.po`` it was compiled from: a catalogue compiled from another text is
#: not used.
SOURCE_DIGEST_MSGID = "papi-node:messages.po:sha256"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: the message ids themselves).

    ``messages.mo``, shipped next to ``messages.po``, when it was compiled from that very
    text; otherwise compiled here from the ``.po``. Compiling costs every process (each
    ``papi`` command, the node) 0.1 s and 2 MiB of memory that stays taken."""
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po_path.is_file():
        return gettext.NullTranslations()
    source = po_path.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    try:
        shipped = gettext.GNUTranslations(fp=BytesIO(po_path.with_suffix(".mo").read_bytes()))
    except (OSError, struct.error, UnicodeDecodeError):  # missing or damaged: compile
        shipped = None
    if shipped is not None and shipped.gettext(SOURCE_DIGEST_MSGID) == digest:
        return shipped
    return gettext.GNUTranslations(fp=BytesIO(compile_catalogue(source, language)))


def compile_catalogue(source: bytes, language: str) -> bytes:
    """The ``.mo`` of a ``.po`` text, recording the text's SHA-256."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(BytesIO(source), locale=language)
    catalog.add(SOURCE_DIGEST_MSGID, hashlib.sha256(source).hexdigest())
    compiled = BytesIO()
    write_mo(compiled, catalog)
    return compiled.getvalue()


def write_catalogues() -> list[Path]:
    """Compile every ``messages.po`` into the ``messages.mo`` beside it (after changing a
    catalogue: ``python -m node.i18n``); the written files."""
    written = []
    for po_path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po")):
        language = po_path.parent.parent.name
        mo_path = po_path.with_suffix(".mo")
        mo_path.write_bytes(compile_catalogue(po_path.read_bytes(), language))
        written.append(mo_path)
    return written


def locale_text(message: str, /, **values: Any) -> str:
    """``message`` (a msgid) in the command line's language (``locale_language``), with
    its values: what ``papi`` prints, from the modules that only it uses."""
    text = translations(locale_language()).gettext(message)
    return text % values if values else text


def locale_ngettext(singular: str, plural: str, count: int, /, **values: Any) -> str:
    """``locale_text`` for a count: ``%(num)s`` is the count."""
    text = translations(locale_language()).ngettext(singular, plural, count)
    return text % {"num": count, **values}


def local_time(moment: datetime | None) -> str:
    """``2026-11-25 14:03 CET``: a stored (UTC) time in Paris time, with its zone."""
    if moment is None:
        return "-"
    return moment.astimezone(PARIS).strftime("%Y-%m-%d %H:%M %Z")


def locale_language(environ: Mapping[str, str] | None = None) -> str:
    """The language of the command line: English when the locale asks for it
    (``LANG=en_GB.UTF-8``, ``LANGUAGE=en``), French otherwise (``C``, unset, ``fr_FR``):
    the node is French-first."""
    environ = os.environ if environ is None else environ
    for name in _LOCALE_VARIABLES:
        value = environ.get(name, "")
        if not value:
            continue
        first = value.split(":")[0].split("_")[0].split(".")[0].lower()
        if name == "LANGUAGE" and first not in LANGUAGES:
            continue  # a priority list naming none of ours: let the others decide
        return first if first in LANGUAGES else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


if __name__ == "__main__":
    for written in write_catalogues():
        print(written)
