"""The interface's catalogue: every string of the templates and web modules has a French
translation, with the same placeholders."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from node.web.i18n import LOCALE_DIR, translations

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "node" / "web"


def extracted_ids() -> set[str]:
    with (WEB / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    # The config's patterns are relative to the repository root.
    ids: set[str] = set()
    for _, _, message, _, _ in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_string_has_a_french_translation() -> None:
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    translated = {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalog
        if message.id
        and all(message.string if isinstance(message.string, tuple) else [message.string])
        and not message.fuzzy
    }
    ids = extracted_ids()
    assert len(ids) > 200
    assert sorted(ids - translated) == [], "run the commands in node/web/i18n.py"
    errors = [(message.id, problems) for message, problems in catalog.check()]
    assert errors == []


def test_plural_forms_follow_french_rules() -> None:
    french = translations("fr")
    assert french.ngettext("%(num)s result", "%(num)s results", 1) == "%(num)s résultat"
    assert french.ngettext("%(num)s result", "%(num)s results", 0) == "%(num)s résultat"
    assert french.ngettext("%(num)s result", "%(num)s results", 2) == "%(num)s résultats"
    assert translations("en").gettext("Search") == "Search"
