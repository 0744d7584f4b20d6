"""``/admin/status``: what is wrong with the node in plain French, each problem with what
to do; and all is well when it is. The same page in a real chromium at the end."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from federation.timeutil import format_ts, utc_now
from node.models import ForkEvidence, Origin, Peer
from node.ops.backup import LAST_BACKUP_FILE, create_backup
from node.services.peers import add_peer
from node.services.sync import sync_all
from tests.conftest import InProcessNode, NodeFactory, in_process_node
from tests.network import network, url_of
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, add_user
from tests.test_browser import log_in as browser_log_in
from tests.test_web import log_in, make_user

FORKED = "ed25519:" + "F" * 43


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


async def status(node: InProcessNode) -> str:
    answer = await node.client.get("/admin/status")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return answer.text


async def test_a_node_in_trouble_says_what_is_wrong_and_what_to_do(tmp_path: Path) -> None:
    # min_free_disk_bytes above any disk: the node refuses new data, as on a full disk.
    async with in_process_node(tmp_path / "a", min_free_disk_bytes=2**62) as a:
        anonymous = await a.client.get("/admin/status")
        assert anonymous.status_code == 303 and "/admin/login" in anonymous.headers["location"]
        await make_user(a)
        await log_in(a)
        with a.node.db.activated():
            await add_peer("http://gone.test")
            await sync_all(a.node)  # no such host: the peer is failing
            await Peer.filter(url="http://gone.test").update(
                last_error="[unreachable] <script>alert(1)</script>"
            )
            await Origin.create(id=FORKED, name="EPN du Conquet", frozen=True, head_seq=4)
            await ForkEvidence.create(
                origin=FORKED, seq=3, header_a="{}", sig_a="a", header_b="{}", sig_b="b"
            )
        page = await status(a)
        text = text_of(page)
        assert "Ce nœud a besoin de soins maintenant" in text
        assert "Problème : Il ne reste que" in text and "n'accepte plus de nouvelles" in text
        assert "Problème : Le pair http://gone.test n'a jamais répondu depuis son ajout le" in text
        assert "1 tentatives échouées" in text
        assert "<script>" not in page and "&lt;script&gt;" in page  # a peer's words are text
        assert "Le lieu EPN du Conquet (" + FORKED + ") est gelé ici depuis le" in text
        assert "Aucune sauvegarde de ce nœud n'est enregistrée." in text
        assert text.count("Que faire :") == 4
        assert "Libérez de la place" in text and "papi backup FICHIER" in text
        dashboard = text_of((await a.client.get("/admin")).text)
        assert "2 problèmes empêchent ce nœud de faire son travail : voir l'état du nœud." in (
            dashboard
        )
        # In English on request.
        a.client.cookies.set("papi_lang", "en")
        english = text_of(await status(a))
        a.client.cookies.delete("papi_lang")
        assert "The peer http://gone.test has never answered" in english

        # A backup is recorded, then grows old.
        create_backup(a.node.settings, tmp_path / "a.papi")
        text = text_of(await status(a))
        assert "Aucune sauvegarde" not in text and "Dernière sauvegarde :" in text
        record = tmp_path / "a" / LAST_BACKUP_FILE
        old = json.loads(record.read_text())
        old["created"] = format_ts(utc_now() - timedelta(days=9))
        record.write_text(json.dumps(old))
        text = text_of(await status(a))
        assert "À surveiller : La dernière sauvegarde date du" in text
        assert "il y a plus de 7 jours" in text


async def test_all_is_well(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b"]) as (_, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            await add_peer(url_of("b"))
            [result] = await sync_all(a.node)
        assert result.synced
        create_backup(a.node.settings, tmp_path / "a.papi")
        await make_user(a)
        await log_in(a)
        text = text_of(await status(a))
        assert "Tout va bien" in text and "Que faire" not in text
        assert "Pairs qui répondent : 1 sur 1." in text
        assert "Dernière sauvegarde :" in text and "schéma de la base en version" in text
        assert "empêche" not in text_of((await a.client.get("/admin")).text)


# -- in a real browser ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is missing (/usr/bin/chromium)")
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


@pytest.mark.browser
@pytest.mark.e2e
def test_the_status_page_in_chromium(node_factory: NodeFactory, page: Page, tmp_path: Path) -> None:
    a = node_factory("EPN de Recouvrance")
    b = node_factory("Médiathèque de Lambézellec")
    a.papi("peer", "add", b.url)
    a.papi("sync")
    b.stop()  # then a's next rounds fail
    a.papi("sync", check=False)
    add_user(a)
    browser_log_in(page, a)
    # The dashboard announces the problem and leads to the status page.
    page.get_by_role("link", name=re.compile("empêche ce nœud de faire son travail")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("État du nœud")
    expect(page.get_by_role("link", name="État du nœud")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", level=2).first).to_have_text(
        "Ce nœud a besoin de soins maintenant"
    )
    problems = page.locator(".status-problems li")
    expect(problems.filter(has_text=f"Le pair {b.url} est injoignable depuis le")).to_have_count(1)
    expect(problems.filter(has_text="Aucune sauvegarde de ce nœud")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "admin-status.png"), full_page=True)
    # After a backup and with b back, nothing is left to do.
    a.papi("backup", str(tmp_path / "a.papi"))
    b.start()
    a.papi("sync")
    page.reload()
    expect(page.get_by_role("heading", level=2).first).to_have_text("Tout va bien")
    assert httpx.get(a.url + "/admin/status", follow_redirects=False).status_code == 303
