"""The interface's catalogue: every string of the templates and web modules has a French
translation, with the same placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from node import i18n as node_i18n
from node.i18n import SOURCE_DIGEST_MSGID, compile_catalogue
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


def test_the_shipped_catalogues_are_compiled_from_their_po() -> None:
    """``messages.mo`` must be the compilation of the ``messages.po`` beside it, or every
    process compiles the ``.po`` again (0.1 s, 2 MiB). After changing a ``.po``:
    ``.venv/bin/python -m node.i18n``."""
    sources = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
    assert sources
    for po_path in sources:
        language = po_path.parent.parent.name
        shipped = po_path.with_suffix(".mo")
        assert shipped.is_file(), f"{shipped} missing: run .venv/bin/python -m node.i18n"
        compiled = compile_catalogue(po_path.read_bytes(), language)
        assert shipped.read_bytes() == compiled, f"{shipped} is stale: run python -m node.i18n"


def test_a_stale_compiled_catalogue_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``.mo`` compiled from another ``.po`` text (or damaged) is ignored: the ``.po``
    is compiled instead, and says what it says."""
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = (
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Search"\nmsgstr "{word}"\n'
    )
    (folder / "messages.po").write_text(po.format(word="Rechercher"))
    (folder / "messages.mo").write_bytes(
        compile_catalogue(po.format(word="Chercher").encode(), "fr")
    )
    monkeypatch.setattr(node_i18n, "LOCALE_DIR", tmp_path)
    node_i18n.translations.cache_clear()
    try:
        assert node_i18n.translations("fr").gettext("Search") == "Rechercher"
        node_i18n.translations.cache_clear()
        (folder / "messages.mo").write_bytes(b"\x00" * 40)
        assert node_i18n.translations("fr").gettext("Search") == "Rechercher"
        node_i18n.translations.cache_clear()
        node_i18n.write_catalogues()
        assert node_i18n.translations("fr").gettext("Search") == "Rechercher"
        assert node_i18n.translations("fr").gettext(SOURCE_DIGEST_MSGID) != SOURCE_DIGEST_MSGID
    finally:
        node_i18n.translations.cache_clear()
