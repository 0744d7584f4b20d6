"""Everyday use of /admin in a real browser (issue 17): Debian's chromium driven by
Playwright against real ``papi serve`` processes on 127.0.0.1; forms filled with the
keyboard alone."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.conftest import NodeFactory, wait_until
from tests.test_browser import (
    PHONE,
    add_user,
    browser,
    drawn_projector,
    log_in,
    page,
    pytestmark,
)

__all__ = ["browser", "page", "pytestmark"]


def test_admin_tables_are_stacked_cards_on_a_phone(
    node_factory: NodeFactory, browser: Browser
) -> None:
    node = node_factory("EPN Bellevue")
    add_user(node)
    node.papi("peer", "add", "http://127.0.0.1:9/un-pair-qui-ne-repond-pas")
    context = browser.new_context(viewport=PHONE, locale="fr-FR", is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        log_in(phone, node)
        phone.goto(node.url + "/admin/peers")
        row = phone.locator("table.stack tbody tr").first
        expect(row).to_be_visible()
        # Every column is on screen: no sideways scroll, in the page or in the table.
        overflow = phone.evaluate(
            "() => [document.documentElement.scrollWidth - window.innerWidth,"
            " ...[...document.querySelectorAll('.table-wrap')].map("
            "w => w.scrollWidth - w.clientWidth)]"
        )
        assert all(extra <= 0 for extra in overflow), overflow
        state = row.locator("td").nth(1)
        label = state.evaluate("td => getComputedStyle(td, '::before').content")
        assert label == '"État"'
        box = phone.locator("table.stack thead").first.bounding_box()
        assert box is not None and box["height"] <= 1
    finally:
        context.close()


def test_admin_tables_stay_tables_on_a_desktop(node_factory: NodeFactory, page: Page) -> None:
    node = node_factory("EPN Bellevue")
    add_user(node)
    log_in(page, node)
    page.goto(node.url + "/admin/peers")
    header = page.get_by_role("columnheader", name="Version")
    expect(header).to_be_visible()
    display = page.locator("table.stack tbody tr").first.evaluate(
        "tr => getComputedStyle(tr).display"
    )
    assert display == "table-row"


def test_place_form_with_the_keyboard_alone(node_factory: NodeFactory, page: Page) -> None:
    node = node_factory("EPN Plougastel", commune="Plougastel-Daoulas")
    add_user(node)
    log_in(page, node)
    page.goto(node.url + "/admin/place")
    keyboard = page.keyboard

    def type_into(selector: str, text: str) -> None:
        page.locator(selector).focus()
        keyboard.press("Control+A")
        keyboard.type(text)

    type_into("#f-adresse", "Place du Calvaire")
    type_into("#f-commune", "Plougastel-Daoulas 29470")
    for day in ("Tu", "We", "Th", "Fr"):
        for slot, start, end in ((1, "0930", "1200"), (2, "1330", "1800")):
            type_into(f"#h_{day}_{slot}_start", start)
            type_into(f"#h_{day}_{slot}_end", end)
    page.locator("#f-typologie-MUNI").focus()
    keyboard.press("Space")
    page.locator("#h-holidays-closed").focus()
    keyboard.press("Space")
    type_into("#f-pivot", "212 901 890 00016")
    page.get_by_role("button", name="Enregistrer et publier").focus()
    keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Le profil du lieu est enregistré et publié.")
    expect(page.locator("#open-data-notice")).to_have_count(0)  # complete for the open data
    place = httpx.get(node.url + "/api/v1/place", timeout=5).json()
    assert place["commune"] == "Plougastel-Daoulas" and place["code_postal"] == "29470"
    assert place["code_insee"] == "29189" and place["typologie"] == ["MUNI"]
    assert place["horaires"] == "Tu-Fr 09:30-12:00,13:30-18:00; PH off"
    assert place["pivot"] == "21290189000016"
    page.goto(node.url + "/admin/place")
    words = page.locator("#hours-words")
    expect(words).to_contain_text("Du mardi au vendredi de 9 h 30 à 12 h et de 13 h 30 à 18 h")
    expect(words).to_contain_text("Fermé les jours fériés")


def test_the_map_pin_sets_the_position(node_factory: NodeFactory, page: Page) -> None:
    node = node_factory("EPN Plougastel", commune="Plougastel-Daoulas")
    add_user(node)
    log_in(page, node)
    page.goto(node.url + "/admin/place")
    page.locator("#f-commune").fill("Plougastel-Daoulas 29470")
    page.get_by_role("button", name="Enregistrer et publier").click()
    page.goto(node.url + "/admin/place")
    latitude = page.locator("#f-latitude")
    start = float(latitude.input_value())
    pin_map = page.locator("[data-pin-map]")
    expect(pin_map).to_be_visible()
    box = pin_map.bounding_box()
    assert box is not None
    pin_map.click(position={"x": box["width"] / 2, "y": 20})  # north of the pin
    wait_until(lambda: float(latitude.input_value()) > start)
    # Suggestions from the whole of France as one types (the datalist of the page has
    # only the département's communes).
    page.locator("#f-commune").fill("")
    page.locator("#f-commune").press_sequentially("Ouessa")
    wait_until(lambda: page.locator("#communes option[value='Ouessant 29242']").count() == 1)


def test_an_equipment_photo_with_the_keyboard_alone(
    node_factory: NodeFactory, page: Page, tmp_path: Path
) -> None:
    node = node_factory("EPN Bellevue")
    add_user(node)
    log_in(page, node)
    photo = tmp_path / "projecteur.jpg"
    photo.write_bytes(drawn_projector())
    page.goto(node.url + "/admin/equipment/new")
    keyboard = page.keyboard
    page.locator("#f-title").focus()
    keyboard.type("Vidéoprojecteur Epson")
    page.locator("#photo-file").focus()
    with page.expect_file_chooser() as chooser:
        keyboard.press("Space")  # opens the file dialog, as for a person
    chooser.value.set_files(str(photo))
    # Sent without its description: refused, the summary says where, the focus can go.
    page.get_by_role("button", name="Enregistrer et publier").focus()
    keyboard.press("Enter")
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Ce que montre la nouvelle photo : Décrivez la photo")
    summary.get_by_role("link").first.focus()
    keyboard.press("Enter")
    expect(page.locator("#photo-file-alt")).to_be_focused()
    keyboard.type("Le vidéoprojecteur posé sur une table, sa télécommande à côté")
    page.locator("#photo-file").focus()
    with page.expect_file_chooser() as chooser:
        keyboard.press("Space")
    chooser.value.set_files(str(photo))
    page.get_by_role("button", name="Enregistrer et publier").focus()
    keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("« Vidéoprojecteur Epson » est publié.")
    [item] = httpx.get(node.url + "/api/v1/equipment", timeout=5).json()["items"]
    page.goto(node.url + f"/o/{item['origin']}/equipment/{item['id']}")
    image = page.get_by_role("img", name="Le vidéoprojecteur posé sur une table")
    expect(image).to_be_visible()
    wait_until(lambda: image.evaluate("img => img.complete && img.naturalWidth") == 960)
    page.goto(node.url + "/")
    card = page.locator("img.card-photo")
    wait_until(lambda: card.evaluate("img => img.complete && img.naturalWidth") == 320)


def test_accounts_and_tokens_with_the_keyboard_alone(node_factory: NodeFactory, page: Page) -> None:
    node = node_factory("EPN Bellevue")
    add_user(node)  # the first account: an administrator
    log_in(page, node)
    keyboard = page.keyboard
    page.goto(node.url + "/admin/accounts")
    page.locator("#account-email").focus()
    keyboard.type("benevole@exemple.fr")
    keyboard.press("Tab")
    keyboard.type("une autre phrase")
    page.locator("#account-role-animator").focus()
    keyboard.press("Space")
    page.get_by_role("button", name="Créer le compte").focus()
    keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Le compte benevole@exemple.fr est créé")
    row = page.locator("table.stack tbody tr", has_text="benevole@exemple.fr")
    expect(row).to_contain_text("animateur")
    # A token: created, shown once, it publishes; revoked, it is refused at once.
    page.goto(node.url + "/admin/tokens")
    page.locator("#token-label").focus()
    keyboard.type("agenda du site de la mairie")
    keyboard.press("Enter")
    token = page.locator("#new-token code").inner_text().strip()
    headers = {"authorization": f"Bearer {token}"}
    event = {"title": "Atelier", "start": "2031-03-14T14:00:00+01:00"}
    published = httpx.post(node.url + "/api/v1/events", json=event, headers=headers, timeout=5)
    assert published.status_code == 201, published.text
    page.goto(node.url + "/admin/tokens")
    revoke = page.get_by_role("link", name="Révoquer agenda du site de la mairie")
    revoke.focus()
    keyboard.press("Enter")
    page.get_by_role("button", name="Révoquer le jeton").focus()
    keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("est révoqué")
    refused = httpx.post(node.url + "/api/v1/events", json=event, headers=headers, timeout=5)
    assert refused.status_code == 401
