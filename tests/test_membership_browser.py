"""Joining the network as a person would, in Chromium against real nodes: a member's
/admin writes an invitation code, the new place pastes it in its own /admin, the member
vouches with one click, and the whole network then accepts the new place."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect

from tests.conftest import NodeFactory, wait_until
from tests.test_browser import DESKTOP, add_user, log_in, pytestmark  # noqa: F401
from tests.test_browser import browser as browser
from tests.test_federation_e2e import log_of, origin_id
from tests.test_federation_e2e_membership import found, founder, membership


def test_invitation_through_the_web_pages(node_factory: NodeFactory, browser: Browser) -> None:
    a = founder(node_factory, "EPN Brest Bellevue")
    founders = origin_id(a)
    c = node_factory("Cybercommune de Landerneau", founders=founders)
    c.papi("peer", "add", a.url)
    a.papi("vouch", origin_id(c))
    n = node_factory("Médiathèque de Ouessant", commune="Ouessant")  # no founders yet
    n_id = origin_id(n)
    for node in (a, n):
        add_user(node)
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    try:
        page = context.new_page()
        log_in(page, a)
        page.get_by_role("link", name="Membres du réseau").click()
        page.get_by_role("button", name="Inviter un lieu").click()
        code = page.get_by_label("Code d'invitation", exact=True).input_value()
        assert code.startswith("PAPI1-")

        other = context.browser.new_context(viewport=DESKTOP, locale="fr-FR") if \
            context.browser else None  # fmt: skip
        assert other is not None
        newcomer = other.new_page()
        log_in(newcomer, n)
        newcomer.get_by_role("link", name="Membres du réseau").click()
        expect(newcomer.get_by_text("Réseau ouvert")).to_be_visible()
        newcomer.get_by_label("Code d'invitation reçu d'un membre").fill(code)
        newcomer.get_by_role("button", name="Envoyer la demande").click()
        expect(newcomer.get_by_text("Votre demande est envoyée.")).to_be_visible()
        # The founders came with the code: the new node is a closed network's node now.
        expect(newcomer.get_by_text("pas encore membre du réseau")).to_be_visible()
        other.close()
        httpx.post(n.url + "/api/v1/skills", json={"title": "Vannerie"}, headers=n.auth)
        wait_until(lambda: n_id in {x["origin"] for x in membership(a)["candidates"]})
        assert log_of(a, n_id) == []

        page.reload()
        page.get_by_role("button", name="Se porter garant de Médiathèque de Ouessant").click()
        expect(page.get_by_text("Ce lieu se porte garant de")).to_be_visible()
        expect(page.get_by_text("Ce lieu s'en porte garant")).to_be_visible()
    finally:
        context.close()
    for node in (a, c):
        wait_until(lambda node=node: found(node, "vannerie") == {n_id}, timeout=60)
