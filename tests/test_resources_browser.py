"""Resources in a real browser (Debian's chromium through Playwright, real nodes): what a
fiche's body holds stays inert, the editor publishes with a preview and an upload and no
script, and the fiche prints on A4 without the navigation.

With ``PAPI_UPDATE_SCREENSHOTS=1`` the screenshots go to ``docs/img/`` for the user guide.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from node.demo_pdf import simple_pdf
from tests import test_browser as harness
from tests.conftest import ROOT, NodeFactory

pytestmark = harness.pytestmark
browser = harness.browser
page = harness.page

PDF = simple_pdf("Reconnaître un e-mail d'hameçonnage", ["Les cinq indices."] * 20)


def test_script_and_javascript_links_in_a_fiche_stay_inert(
    node_factory: NodeFactory, page: Page
) -> None:
    node = node_factory("EPN Bellevue")
    body = (
        "# Piège\n\n<script>window.pwned = 1; alert('script')</script>\n\n"
        '<img src=x onerror="window.pwned = 2">\n\n'
        "[lien](javascript:window.pwned=3) [LIEN](JAVASCRIPT:window.pwned=4) "
        '[encodé](jav&#x09;ascript:window.pwned=5) <a href="javascript:window.pwned=6">a</a>\n\n'
        "![image](javascript:window.pwned=7) ![pisteur](https://pisteur.example/p.png)\n"
    )
    created = harness.api(node, "POST", "/api/v1/resources", {"title": "Piège", "body": body})
    page.goto(node.url + f"/o/{harness.origin_of(node)}/resource/{created['id']}")
    expect(page.get_by_role("heading", level=2, name="Piège")).to_be_visible()
    document = page.locator(".document")
    expect(document).to_contain_text("<script>window.pwned = 1")
    assert document.locator("script, img, iframe, object").count() == 0
    assert page.locator("a[href^='javascript:' i], [onerror], [onclick]").count() == 0
    for link in document.locator("a").all():
        link.click()
    assert page.evaluate("() => window.pwned") is None


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_write_preview_publish_and_print_a_fiche(
    node_factory: NodeFactory, browser: Browser, page: Page, tmp_path: Path
) -> None:
    node = node_factory("Médiathèque de Plougastel-Daoulas", commune="Plougastel-Daoulas")
    harness.add_user(node)
    harness.log_in(page, node)
    page.get_by_role("link", name="Ajouter une fiche").click()
    page.get_by_label("Titre").fill("Reconnaître un e-mail d'hameçonnage")
    page.get_by_label("Résumé").fill("Les indices qui trahissent un faux message.")
    page.get_by_label("Texte de la fiche").fill(
        "# Les indices\n\n- **l'urgence** ;\n- une adresse d'expéditeur bizarre.\n"
    )
    page.get_by_label("Sécurité numérique").check()
    page.get_by_label("Licence").select_option("CC-BY-4.0")
    files = tmp_path / "fichiers"
    files.mkdir()
    (files / "indices.pdf").write_bytes(PDF)
    page.get_by_label("Ajouter des fichiers").set_input_files(str(files / "indices.pdf"))
    page.get_by_role("button", name="Aperçu").click()
    preview = page.locator(".preview")
    expect(preview.get_by_role("heading", name="Les indices")).to_be_visible()
    expect(preview.locator("strong")).to_have_text("l'urgence")
    expect(page.get_by_label("Nom du fichier")).to_have_value("indices.pdf")
    shots = tmp_path / "shots"
    shots.mkdir()
    shot(page, shots, "editeur-fiche-desktop")
    page.get_by_role("button", name="Enregistrer et publier").click()
    expect(page.get_by_role("status")).to_contain_text("est publié")
    page.get_by_role("link", name="Reconnaître un e-mail d'hameçonnage", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reconnaître un e-mail d'hameçonnage")
    link = page.get_by_role("link", name="indices.pdf")
    href = link.get_attribute("href")
    assert href is not None
    assert httpx.get(node.url + href, timeout=10).content == PDF
    shot(page, shots, "fiche-ressource-desktop")
    page.set_viewport_size(harness.PHONE)
    shot(page, shots, "fiche-ressource-phone")

    # On paper: A4, no navigation, the attachment with its full address.
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.get_by_role("link", name="Adapter cette fiche")).to_be_hidden()
    expect(page.locator(".attachments .print-only")).to_contain_text(node.url + "/blobs/")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
    if os.environ.get("PAPI_UPDATE_SCREENSHOTS") == "1":
        for path in shots.iterdir():
            shutil.copyfile(path, ROOT / "docs" / "img" / path.name)
