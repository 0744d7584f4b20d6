"""End to end in a real browser: Debian's chromium driven by Playwright against real
``papi serve`` processes on 127.0.0.1.

Screenshots of the main pages (desktop and phone) are saved under the test's temporary
directory. With ``PAPI_UPDATE_SCREENSHOTS=1`` they are also copied to ``docs/img/`` for
the user guide.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import ROOT, NodeFactory, NodeProcess, run_papi, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EMAIL = "animatrice@exemple.fr"
PASSWORD = "une phrase de passe"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PARIS = ZoneInfo("Europe/Paris")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is missing (/usr/bin/chromium); install it with "
        "'apt-get install -y chromium'",
    ),
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
    opened = context.new_page()
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        yield opened
    finally:
        context.close()
    assert dialogs == [], f"a script ran and opened a dialog: {dialogs}"


def local(days: int, hour: int, minute: int = 0) -> datetime:
    day = datetime.now(PARIS).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def add_user(node: NodeProcess) -> None:
    run_papi(
        "user",
        "add",
        EMAIL,
        "--data-dir",
        str(node.data_dir),
        env={**node.env, "PAPI_PASSWORD": PASSWORD},
        input="",
    )


def api(node: NodeProcess, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.request(method, node.url + path, json=body, headers=node.auth, timeout=10)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def origin_of(node: NodeProcess) -> str:
    origin: str = httpx.get(node.url + "/api/v1/node", timeout=5).json()["id"]
    return origin


def log_in(page: Page, node: NodeProcess) -> None:
    page.goto(node.url + "/admin")
    expect(page).to_have_url(node.url + "/admin/login?next=%2Fadmin")
    page.get_by_label("Adresse électronique").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Administration")


def connect(reader: NodeProcess, publisher: NodeProcess) -> None:
    """``reader`` follows ``publisher``: peer add, then one sync round now."""
    reader.papi("peer", "add", publisher.url)
    reader.papi("sync", check=False)  # the scheduler (every 2 s) retries if this fails


def search_api(node: NodeProcess, q: str) -> list[dict[str, Any]]:
    response = httpx.get(node.url + "/api/v1/search", params={"q": q}, timeout=5)
    results: list[dict[str, Any]] = response.json()["results"]
    return results


# -- the scenarios of the issue ---------------------------------------------------------


def test_log_in_create_an_event_and_see_it_on_the_home_page(
    node_factory: NodeFactory, page: Page
) -> None:
    node = node_factory("EPN Bellevue")
    add_user(node)
    log_in(page, node)
    page.get_by_role("link", name="Ajouter un événement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ajouter un événement")
    start = local(12, 14)
    page.get_by_label("Titre").fill("Atelier : premiers pas sur tablette")
    page.get_by_label("Description").fill("Pour les grands débutants.\nTablettes prêtées.")
    page.get_by_label("Début").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Fin").fill(start.replace(hour=16).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Nombre de places").fill("8")
    page.get_by_label("Public", exact=True).select_option("public")
    page.get_by_role("button", name="Enregistrer et publier").click()
    expect(page.get_by_role("status")).to_have_text(
        "« Atelier : premiers pas sur tablette » est publié."
    )

    page.goto(node.url + "/")
    events = page.get_by_role("region", name="Prochains événements")
    link = events.get_by_role("link", name="Atelier : premiers pas sur tablette")
    expect(link).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Atelier : premiers pas sur tablette")
    expect(page.get_by_text("de 14:00 à 16:00")).to_be_visible()
    # Published as a signed entry of the node's log, like through the API.
    events_json = httpx.get(node.url + "/api/v1/events").json()["items"]
    assert [e["start"] for e in events_json] == [start.isoformat(timespec="minutes")]


def test_search_on_a_second_node_finds_what_the_first_published(
    node_factory: NodeFactory, page: Page
) -> None:
    first = node_factory("EPN Bellevue", commune="Brest")
    second = node_factory("Cybercommune de Crozon", commune="Crozon")
    api(
        first,
        "POST",
        "/api/v1/skills",
        {
            "title": "Sécurité numérique : déjouer les arnaques",
            "theme": "Sécurité numérique",
            "level": "Débutant",
            "description": "Reconnaître un faux message de la banque.",
        },
    )
    connect(second, first)
    wait_until(lambda: search_api(second, "arnaques"), timeout=30)

    page.goto(second.url + "/search")
    page.get_by_label("Mots recherchés").fill("securite arnaque")
    page.get_by_label("Mots recherchés").press("Enter")
    expect(page.get_by_role("heading", level=2, name="1 résultat")).to_be_visible()
    result = page.get_by_role("link", name="Sécurité numérique : déjouer les arnaques")
    expect(result).to_be_visible()
    expect(page.get_by_text("Proposé par EPN Bellevue, Brest")).to_be_visible()
    result.click()
    expect(page.get_by_role("heading", name="Comment demander ?")).to_be_visible()
    assert page.url.startswith(second.url + "/o/")  # served by the second node's replica


def test_keyboard_alone_reaches_the_search_field_and_the_results(
    node_factory: NodeFactory, page: Page
) -> None:
    node = node_factory("EPN Bellevue")
    api(node, "POST", "/api/v1/equipment", {"title": "Vidéoprojecteur portable", "quantity": 1})

    def focused() -> dict[str, Any]:
        info: dict[str, Any] = page.evaluate(
            "() => { const e = document.activeElement; return {tag: e.tagName, id: e.id,"
            " text: e.textContent.trim(), inResults: !!e.closest('.results')}; }"
        )
        return info

    def tab_until(condition: Any, limit: int = 40) -> dict[str, Any]:
        for _ in range(limit):
            page.keyboard.press("Tab")
            info = focused()
            if condition(info):
                return info
        raise AssertionError(f"not reached with {limit} presses of Tab")

    page.goto(node.url + "/")
    page.keyboard.press("Tab")
    assert focused()["text"] == "Aller au contenu"
    tab_until(lambda info: info["text"] == "Chercher dans le réseau")
    page.keyboard.press("Enter")
    page.wait_for_url(node.url + "/search")
    tab_until(lambda info: info["id"] == "q")
    page.keyboard.type("videoproj")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=videoproj*")
    info = tab_until(lambda info: info["inResults"])
    assert info["text"] == "Vidéoprojecteur portable"
    # Focus is visible: an outline is drawn around the focused link.
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vidéoprojecteur portable")


def test_a_script_in_a_title_is_shown_as_text(node_factory: NodeFactory, page: Page) -> None:
    node = node_factory("EPN Bellevue")
    title = '<script>window.pwned = 1; alert("pwned")</script><img src=x onerror="window.pwned=2">'
    created = api(
        node,
        "POST",
        "/api/v1/skills",
        {
            "title": title,
            "description": "Texte <script>window.pwned = 3</script> [lien](javascript:alert(4))",
        },
    )
    for path in ("/", "/search?q=pwned", f"/o/{origin_of(node)}/skill/{created['id']}"):
        page.goto(node.url + path)
        expect(page.get_by_text(title).first).to_be_visible()
        assert page.evaluate("() => window.pwned") is None
        assert page.locator("main script, main img").count() == 0
    assert page.locator("a[href^='javascript:']").count() == 0


# -- screenshots ------------------------------------------------------------------------


def drawn_projector() -> bytes:
    """A drawing of a projector on a table (a photo for tests and screenshots)."""
    image = Image.new("RGB", (1600, 1200), (225, 232, 238))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 820, 1600, 1200), fill=(176, 132, 92))  # the table
    draw.rounded_rectangle((420, 520, 1180, 840), radius=60, fill=(245, 245, 245),
                           outline=(90, 90, 90), width=8)  # fmt: skip
    draw.ellipse((480, 580, 700, 800), fill=(40, 40, 48), outline=(120, 120, 130), width=14)
    draw.ellipse((540, 640, 640, 740), fill=(80, 110, 160))
    for x in range(780, 1120, 40):
        draw.rectangle((x, 600, x + 20, 760), fill=(200, 200, 205))
    draw.rounded_rectangle((1260, 760, 1420, 830), radius=20, fill=(30, 30, 36))  # remote
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def wait_for_image(page: Page, selector: str) -> None:
    """Until the first image of ``selector`` has loaded (lazy images load when shown)."""
    image = page.locator(selector).first
    image.scroll_into_view_if_needed()
    wait_until(lambda: bool(image.evaluate("i => i.complete && i.naturalWidth > 0")))


def upload_photo(node: NodeProcess, content: bytes, alt: str) -> dict[str, Any]:
    """Upload an image; the ``photos`` entry that lists it."""
    headers = {**node.auth, "content-type": "image/jpeg"}
    response = httpx.post(node.url + "/api/v1/blobs", content=content, headers=headers, timeout=10)
    assert response.status_code in (200, 201), response.text
    sha256, size = response.json()["sha256"], len(content)
    return {"sha256": sha256, "media_type": "image/jpeg", "size": size, "alt": alt}


def populate(first: NodeProcess, second: NodeProcess) -> dict[str, str]:
    """Realistic data of the Pays de Brest on two nodes; returns a few object ids."""
    api(
        first,
        "PUT",
        "/api/v1/place",
        {
            "nom": "EPN Brest Bellevue",
            "adresse": "1 place Napoléon III",
            "code_postal": "29200",
            "commune": "Brest",
            "code_insee": "29019",
            "horaires": "Tu-Fr 09:30-12:00,13:30-18:00; Sa 10:00-12:30; PH off",
            "telephone": "+33298000000",
            "courriels": ["epn.bellevue@exemple.fr"],
            "site_web": ["https://epn-bellevue.exemple.fr"],
            "presentation_resume": "Un espace public numérique de quartier : accès libre, "
            "ateliers et accompagnement aux démarches en ligne.",
            "services": [
                "Aide aux démarches administratives",
                "Maîtrise des outils numériques du quotidien",
                "Accès internet et matériel informatique",
            ],
            "publics_specifiquement_adresses": ["Seniors", "Familles et/ou enfants"],
            "frais_a_charge": ["Gratuit"],
            "modalites_acces": ["Se présenter", "Téléphoner"],
            "modalites_accompagnement": ["Accompagnement individuel", "Dans un atelier collectif"],
        },
    )
    ids = {}
    ids["event"] = api(
        first,
        "POST",
        "/api/v1/events",
        {
            "title": "Café numérique : sauvegarder ses photos",
            "start": local(6, 14).isoformat(),
            "end": local(6, 16, 30).isoformat(),
            "capacity": 12,
            "audience": "public",
            "description": "Clés USB, disque dur ou nuage : on compare **ensemble** les solutions.",
        },
    )["id"]
    api(
        first,
        "POST",
        "/api/v1/events",
        {
            "title": "Formation animateurs : accompagner sans faire à la place",
            "start": local(20, 9).isoformat(),
            "end": local(20, 17).isoformat(),
            "audience": "animateurs",
            "location": "Maison de quartier de Bellevue",
        },
    )
    api(
        first,
        "POST",
        "/api/v1/skills",
        {
            "title": "Créer et gérer son adresse courriel",
            "theme": "Courriels",
            "level": "Débutant",
        },
    )
    api(
        first,
        "POST",
        "/api/v1/skills",
        {
            "title": "Déclarer ses impôts en ligne",
            "theme": "Banque et achats en ligne",
            "level": "Intermédiaire",
        },
    )
    ids["equipment"] = api(
        first,
        "POST",
        "/api/v1/equipment",
        {
            "title": "Vidéoprojecteur Epson",
            "category": "Vidéoprojection",
            "quantity": 2,
            "condition": "Bon état",
            "loan_conditions": "Prêt d'une semaine, chèque de caution.",
            "photos": [
                upload_photo(
                    first,
                    drawn_projector(),
                    "Le vidéoprojecteur posé sur une table, sa télécommande à côté",
                )
            ],
        },
    )["id"]
    api(
        second,
        "PUT",
        "/api/v1/place",
        {
            "nom": "Cybercommune de Crozon",
            "commune": "Crozon",
            "code_postal": "29160",
            "horaires": "Mo,We 14:00-18:00; Sa 09:00-12:00",
            "courriels": ["cyber@crozon.exemple.fr"],
            "services": ["Loisirs et créations numériques"],
        },
    )
    api(
        second,
        "POST",
        "/api/v1/skills",
        {
            "title": "Retoucher ses photos",
            "theme": "Créer avec le numérique",
            "level": "Avancé",
        },
    )
    api(
        second,
        "POST",
        "/api/v1/equipment",
        {
            "title": "Vidéoprojecteur de poche",
            "category": "Vidéoprojection",
            "quantity": 1,
        },
    )
    return ids


def test_screenshots_of_the_main_pages(
    node_factory: NodeFactory, browser: Browser, tmp_path: Path
) -> None:
    first = node_factory("EPN Brest Bellevue")
    second = node_factory("Cybercommune de Crozon", commune="Crozon")
    ids = populate(first, second)
    add_user(first)
    connect(first, second)
    connect(second, first)
    wait_until(lambda: search_api(first, "poche") and search_api(second, "sauvegarder"))

    shots = tmp_path / "screenshots"
    shots.mkdir()
    for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(
            viewport=viewport,
            locale="fr-FR",
            device_scale_factor=1,
            is_mobile=device == "phone",
            has_touch=device == "phone",
        )
        page = context.new_page()

        def shot(name: str, page: Page = page, device: str = device) -> None:
            page.screenshot(path=str(shots / f"{name}-{device}.png"), full_page=True)

        page.goto(first.url + "/")
        wait_for_image(page, "img.card-photo")
        shot("accueil")
        page.goto(first.url + "/search?q=videoprojecteur")
        expect(page.get_by_role("heading", level=2, name="2 résultats")).to_be_visible()
        wait_for_image(page, "img.card-photo")
        shot("recherche")
        page.goto(first.url + f"/o/{origin_of(first)}/equipment/{ids['equipment']}")
        wait_for_image(page, ".photos img")
        shot("objet")
        page.goto(first.url + "/nodes")
        shot("annuaire")
        page.goto(first.url + "/admin")
        shot("connexion")
        log_in(page, first)
        shot("admin")
        page.goto(first.url + "/admin/events/new")
        page.get_by_label("Début").fill("2031-03-14T14:00")
        page.get_by_label("Fin").fill("2031-03-14T12:00")
        page.get_by_role("button", name="Enregistrer et publier").click()
        expect(page.get_by_role("alert")).to_be_visible()
        shot("admin-erreurs")
        page.goto(first.url + "/admin/place")
        shot("admin-lieu")
        page.goto(first.url + f"/admin/equipment/{ids['equipment']}")
        expect(page.locator(".photo-list img")).to_be_visible()
        wait_for_image(page, ".photo-list img")
        shot("admin-materiel")
        page.goto(first.url + "/admin/peers")
        shot("admin-pairs")
        page.goto(first.url + "/admin/accounts")
        shot("admin-comptes")
        context.close()

    names = sorted(path.name for path in shots.iterdir())
    assert len(names) == 22 and all((shots / name).stat().st_size > 10_000 for name in names)
    if os.environ.get("PAPI_UPDATE_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "img"
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(shots / name, target / name)
