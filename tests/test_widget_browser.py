"""The widget framed by another site, in a real chromium: it shows, the other pages of
the node refuse to be framed, and no script runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import NodeFactory, free_port_block, wait_until
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, api, local

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    try:
        yield context.new_page()
    finally:
        context.close()


class _Site(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def site_serving(page: bytes) -> Iterator[str]:
    """The place's own site: a page of another origin than the node's (another port),
    on 127.0.0.1 like the node (chromium lets no public page frame a local address)."""
    handler = type("Site", (_Site,), {"page": page})
    server = ThreadingHTTPServer(("127.0.0.1", free_port_block(1)), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_site_can_frame_the_widget_and_nothing_else(
    node_factory: NodeFactory, page: Page
) -> None:
    node = node_factory("EPN Bellevue")
    api(node, "POST", "/api/v1/equipment", {"title": "Vidéoprojecteur portable", "quantity": 1})
    start = local(5, 14)
    api(node, "POST", "/api/v1/events", {"title": "Café numérique", "start": start.isoformat()})
    host = (
        "<!doctype html><title>Site du lieu</title><h1>Notre agenda</h1>"
        f'<iframe id="widget" src="{node.url}/widget" width="600" height="500"></iframe>'
        f'<iframe id="home" src="{node.url}/" width="600" height="300"></iframe>'
    ).encode()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    with site_serving(host) as site:
        page.goto(site)
        widget = page.frame_locator("#widget")
        expect(widget.get_by_role("heading", level=1)).to_have_text("EPN Bellevue")
        expect(widget.get_by_role("link", name="Vidéoprojecteur portable")).to_be_visible()
        expect(widget.get_by_role("link", name="Café numérique", exact=True)).to_be_visible()
        add = widget.get_by_role("link", name="Ajouter à mon agenda : Café numérique")
        expect(add).to_be_visible()
        # The home page refuses to be framed: its frame never shows the place.
        home = page.frame(url=lambda url: not url.startswith((site, node.url + "/widget")))
        wait_until(lambda: any("frame-ancestors" in text for text in console), timeout=15)
        assert home is None or "EPN Bellevue" not in home.content()
