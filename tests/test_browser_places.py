"""The orientation search in a real browser (Debian's chromium, Playwright), keyboard
only, across real ``papi serve`` processes: a front-desk animator finds the place that
helps with administrative procedures, open on a given day, nearest to a commune, and
opens its card. Also: the page without JavaScript, and the card as printed.

No request leaves this machine: map tiles are asked of the node itself (tests/conftest.py)
and the browser refuses any other host.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.conftest import ROOT, NodeFactory, NodeProcess, wait_until
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, api, connect

AIDE = "Aide aux démarches administratives"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing"),
]


@pytest.fixture(scope="module")
def node_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeFactory]:
    """One set of nodes for the module: the tests only read."""
    factory = NodeFactory(tmp_path_factory.mktemp("orientation"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def network(node_factory: NodeFactory) -> NodeProcess:
    """Three places; the first node follows the two others."""
    brest = node_factory("EPN Bellevue", commune="Brest")
    plougastel = node_factory("Médiathèque de Plougastel", commune="Plougastel-Daoulas")
    crozon = node_factory("Cybercommune de Crozon", commune="Crozon")
    api(
        brest,
        "PUT",
        "/api/v1/place",
        {
            "nom": "EPN Bellevue",
            "adresse": "1 place Napoléon III",
            "code_postal": "29200",
            "commune": "Brest",
            "latitude": 48.4023,
            "longitude": -4.5086,
            "horaires": "Mo-Fr 09:00-12:00,14:00-17:30; PH off",
            "services": [AIDE],
        },
    )
    api(
        plougastel,
        "PUT",
        "/api/v1/place",
        {
            "nom": "Médiathèque de Plougastel",
            "adresse": "Rue Jean Fournier",
            "code_postal": "29470",
            "commune": "Plougastel-Daoulas",
            "horaires": "Tu-Sa 10:00-12:00,14:00-18:00",
            "telephone": "+33298000002",
            "services": [AIDE, "Loisirs et créations numériques"],
            "modalites_acces": ["Se présenter"],
        },
    )
    api(
        crozon,
        "PUT",
        "/api/v1/place",
        {
            "nom": "Cybercommune de Crozon",
            "commune": "Crozon",
            "services": ["Loisirs et créations numériques"],
        },
    )
    connect(brest, plougastel)
    connect(brest, crozon)

    def known() -> bool:
        body = httpx.get(brest.url + "/api/v1/places", timeout=5).json()
        return bool(body["total"] == 3)

    wait_until(known, timeout=60)
    return brest


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def local_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests stay on 127.0.0.1; the others are refused and listed."""
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR", timezone_id="Europe/Paris")
    outside: list[str] = []

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    try:
        yield context.new_page(), outside
    finally:
        context.close()


def focused(page: Page) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate(
        "() => { const e = document.activeElement; return {tag: e.tagName, id: e.id,"
        " text: e.textContent.trim(), inResults: !!e.closest('.places')}; }"
    )
    return info


def tab_until(page: Page, condition: Any, limit: int = 40) -> dict[str, Any]:
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = focused(page)
        if condition(info):
            return info
    raise AssertionError(f"not reached with {limit} presses of Tab")


def screenshot(page: Page, name: str, directory: Path) -> None:
    """Saved with the test; with PAPI_UPDATE_SCREENSHOTS=1, also for the user guide."""
    path = directory / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    if os.environ.get("PAPI_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(path, ROOT / "docs" / "img" / name)


def test_orientation_search_with_the_keyboard_alone(
    network: NodeProcess, local_page: tuple[Page, list[str]], tmp_path: Path
) -> None:
    page, outside = local_page
    page.goto(network.url + "/")
    tab_until(page, lambda info: info["text"] == "Trouver un lieu")
    page.keyboard.press("Enter")
    page.wait_for_url(network.url + "/lieux")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Trouver le bon lieu pour une personne"
    )
    tab_until(page, lambda info: info["id"] == "service")
    page.keyboard.type("Aide")  # a closed list: typing selects the option
    expect(page.get_by_label("Service")).to_have_value(AIDE)
    tab_until(page, lambda info: info["id"] == "near")
    page.keyboard.type("Plougastel-Daoulas")
    tab_until(page, lambda info: info["id"] == "day")
    # Wednesday 9 September 2026: the same digits whether the field reads day/month
    # (a French browser) or month/day (this test's headless one).
    page.keyboard.type("09092026")
    tab_until(page, lambda info: info["id"] == "time")
    page.keyboard.type("1430")
    tab_until(page, lambda info: info["id"] == "open_only")
    page.keyboard.press("Space")
    expect(page.get_by_label("Seulement les lieux ouverts à ce moment-là")).to_be_checked()
    tab_until(page, lambda info: info["text"] == "Trouver des lieux")
    page.keyboard.press("Enter")
    page.wait_for_url("**/lieux?*")

    expect(page.get_by_role("heading", level=2, name="2 lieux")).to_be_visible()
    expect(
        page.get_by_text("Distances à vol d'oiseau depuis Plougastel-Daoulas (29).")
    ).to_be_visible()
    results = page.locator("ol.places > li h3")
    expect(results).to_have_text(["Médiathèque de Plougastel", "EPN Bellevue"])
    first = page.locator("ol.places > li").first
    expect(first).to_contain_text("Ouvert, jusqu'à 18 h")
    expect(first).to_contain_text("(depuis le centre de sa commune)")
    # The crozon place offers another service: not listed.
    expect(page.get_by_text("Cybercommune de Crozon")).to_have_count(0)
    # With JavaScript, the map shows both places (one placed at its commune).
    expect(page.locator(".leaflet-container")).to_be_visible()
    expect(page.locator(".leaflet-marker-icon")).to_have_count(2)
    screenshot(page, "lieux-desktop.png", tmp_path)

    info = tab_until(page, lambda info: info["inResults"])
    assert info["text"] == "Médiathèque de Plougastel"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Médiathèque de Plougastel")
    expect(
        page.get_by_text("Le mercredi 9 septembre 2026 à 14:30 : Ouvert, jusqu'à 18 h")
    ).to_be_visible()
    expect(page.get_by_text("Du mardi au samedi de 10 h à 12 h et de 14 h à 18 h")).to_be_visible()
    expect(page.get_by_role("button", name="Imprimer cette fiche")).to_be_visible()
    screenshot(page, "fiche-desktop.png", tmp_path)
    assert outside == []


def test_without_javascript_the_list_is_the_page(
    network: NodeProcess,
    browser: Browser,
) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(network.url + f"/lieux?service={AIDE}&near=Brest")
        expect(page.locator("ol.places > li h3")).to_have_text(
            ["EPN Bellevue", "Médiathèque de Plougastel"]
        )
        expect(page.locator("[data-map]")).to_be_hidden()
        # The card: no print button without a script (the browser's own print works).
        page.locator("ol.places > li h3 a").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("EPN Bellevue")
        expect(page.get_by_role("button", name="Imprimer cette fiche")).to_be_hidden()
    finally:
        context.close()


def test_the_card_as_printed(
    network: NodeProcess, local_page: tuple[Page, list[str]], tmp_path: Path
) -> None:
    page, outside = local_page
    page.goto(network.url + "/lieux?near=Brest")
    page.locator("ol.places > li h3 a", has_text="Médiathèque de Plougastel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Médiathèque de Plougastel")
    expect(page.get_by_text("Fiche imprimée le")).to_be_hidden()
    page.emulate_media(media="print")
    expect(page.get_by_text("Fiche imprimée le")).to_be_visible()
    screenshot(page, "fiche-imprimee.png", tmp_path)
    for hidden in (".site-header", ".site-footer", "[data-print]", ".map", "#evenements"):
        for element in page.locator(hidden).all():
            expect(element).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    for shown in (
        "Rue Jean Fournier",
        "Du mardi au samedi de 10 h à 12 h et de 14 h à 18 h",
        "02 98 00 00 02",
        "Comment s'y rendre ?",
        "Se présenter",
    ):
        expect(page.get_by_text(shown).filter(visible=True).first).to_be_visible()
    expect(page.get_by_text("Prochains événements")).to_be_hidden()
    assert outside == []
