"""Everyday use of /admin in a real browser (issue 17): Debian's chromium driven by
Playwright against real ``papi serve`` processes on 127.0.0.1; forms filled with the
keyboard alone."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.conftest import NodeFactory
from tests.test_browser import PHONE, add_user, browser, log_in, page, pytestmark

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
