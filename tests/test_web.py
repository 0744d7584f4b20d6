"""The web interface, in process: public pages, escaping, admin login, sessions, CSRF,
rate limiting of failed logins, and the forms that publish signed entries."""

from __future__ import annotations

import html
import re
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from federation.timeutil import format_ts, utc_now
from node.models import LoginFailure, User
from node.web.accounts import add_user
from node.web.sessions import SESSION_COOKIE, SESSION_KEY_FILE
from tests.conftest import InProcessNode, in_process_node, run_papi
from tests.test_search import RemoteLog, ingest, put

EMAIL = "animatrice@exemple.fr"
PASSWORD = "mot de passe solide"
SCRIPT = "<script>alert('pwned')</script>"


def when(days: float, hours: float = 0) -> str:
    return format_ts(utc_now() + timedelta(days=days, hours=hours))


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF field in the page"
    return match.group(1)


def field_error(page: str, name: str) -> str:
    """The error message shown next to the form field ``name``."""
    match = re.search(rf'<p class="error-message" id="f-{name}-error">(.*?)</p>', page, re.S)
    assert match, f"no error next to {name}"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


async def make_user(papi: InProcessNode, email: str = EMAIL, password: str = PASSWORD) -> None:
    with papi.node.db.activated():
        await add_user(papi.node.db, email, password)


async def log_in(
    papi: InProcessNode, email: str = EMAIL, password: str = PASSWORD
) -> httpx.Response:
    page = await papi.client.get("/admin/login")
    return await papi.client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
    )


@pytest.fixture
async def admin(papi: InProcessNode) -> InProcessNode:
    """The in-process node with a logged-in animator."""
    await make_user(papi)
    response = await log_in(papi)
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    return papi


async def submit(papi: InProcessNode, path: str, data: dict[str, Any]) -> httpx.Response:
    """GET the form at ``path``, then POST ``data`` with its CSRF token."""
    page = await papi.client.get(path)
    assert page.status_code == 200, page.text
    return await papi.client.post(path, data={**data, "csrf_token": csrf_of(page.text)})


async def api_items(papi: InProcessNode, collection: str) -> list[dict[str, Any]]:
    response = await papi.client.get(f"/api/v1/{collection}")
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# -- public pages -----------------------------------------------------------------------


async def test_home_shows_the_place_and_its_offers(papi: InProcessNode) -> None:
    place = {
        "nom": "EPN Bellevue",
        "commune": "Brest",
        "adresse": "1 place Napoléon III",
        "code_postal": "29200",
        "horaires": "Mo-Fr 09:00-12:00,14:00-18:00; Sa 09:00-12:00",
        "telephone": "+33298000000",
        "courriels": ["epn@exemple.fr"],
        "services": ["Aide aux démarches administratives"],
        "presentation_resume": "Un espace public numérique au cœur du quartier.",
    }
    await papi.client.put("/api/v1/place", json=place, headers=papi.auth)
    await put(papi, "event", {"title": "Café numérique", "start": when(3)})
    await put(papi, "event", {"title": "Atelier d'hier", "start": when(-2)})
    await put(papi, "skill", {"title": "Créer son adresse courriel", "theme": "Courriels"})
    await put(papi, "equipment", {"title": "Vidéoprojecteur", "quantity": 2})

    response = await papi.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert '<html lang="fr">' in page
    assert '<a class="skip-link" href="#contenu">Aller au contenu</a>' in page
    for text in (
        "EPN Bellevue",
        "Un espace public numérique",
        "Du lundi au vendredi",
        "Du lundi au vendredi de 9 h à 12 h et de 14 h à 18 h",
        "Le samedi de 9 h à 12 h",
        "Mo-Fr 09:00-12:00,14:00-18:00; Sa 09:00-12:00",
        "02 98 00 00 00",
        "mailto:epn@exemple.fr",
        "Aide aux démarches administratives",
        "Prochains événements",
        "Café numérique",
        "Créer son adresse courriel",
        "Vidéoprojecteur",
        "2 exemplaires",
    ):
        assert text in page, text
    assert "Atelier d&#39;hier" not in page and "Atelier d'hier" not in page


async def test_pages_escape_user_text(papi: InProcessNode) -> None:
    oid = await put(
        papi,
        "skill",
        {
            "title": SCRIPT,
            "description": "Voir <img src=x onerror=alert(1)>"
            " et [ici](javascript:alert(2))\n**gras**",
        },
    )
    origin = papi.node.origin
    for path in ("/", "/search", "/search?q=script", "/search?q=pwned", f"/o/{origin}/skill/{oid}"):
        page = (await papi.client.get(path)).text
        # The page's JSON-LD holds the text as data, its "<" escaped: it cannot open a tag.
        head, _, rest = page.partition('<script type="application/ld+json">')
        data, _, tail = rest.partition("</script>")
        assert "<" not in data and ">" not in data, path
        page = head + tail
        assert "<script>alert" not in page, path
        page = page.replace("<mark>", "").replace("</mark>", "")  # matched words, marked
        assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page, path
        assert "onerror=alert" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
        assert 'href="javascript:' not in page, path
    page = (await papi.client.get(f"/o/{origin}/skill/{oid}")).text
    assert "<strong>gras</strong>" in page  # Markdown rendered, then sanitised


async def test_object_page_says_who_offers_it_and_how_to_ask(papi: InProcessNode) -> None:
    remote = RemoteLog("Médiathèque de Crozon", "Crozon")
    remote.place.update(
        {
            "courriels": ["media@crozon.fr"],
            "telephone": "+33298270000",
            "site_web": ["https://mediatheque.crozon.fr"],
            "horaires": "Tu-Sa 10:00-18:00",
        }
    )
    await ingest(
        papi,
        [
            remote.place_entry(),
            remote.entry(
                "equipment",
                "cam",
                "put",
                {
                    "title": "Caméra 4K",
                    "quantity": 1,
                    "loan_conditions": "Chèque de caution",
                },
            ),
        ],
    )
    page = (await papi.client.get(f"/o/{remote.origin}/equipment/cam")).text
    for text in (
        "Caméra 4K",
        "Proposé par Médiathèque de Crozon, Crozon",
        "Comment l'emprunter ?",
        "mailto:media@crozon.fr?subject=Cam%C3%A9ra%204K",
        'href="tel:+33298270000"',
        "https://mediatheque.crozon.fr",
        "Chèque de caution",
        "Du mardi au samedi",
    ):
        assert text in page, text
    place_page = await papi.client.get(f"/o/{remote.origin}/place/place")
    assert place_page.status_code == 200 and "Caméra 4K" in place_page.text


async def test_unknown_object_is_a_french_404(papi: InProcessNode) -> None:
    response = await papi.client.get(f"/o/{papi.node.origin}/skill/nope")
    assert response.status_code == 404
    assert "Page introuvable" in response.text and 'lang="fr"' in response.text
    response = await papi.client.get(f"/o/{papi.node.origin}/place/other")
    assert response.status_code == 404


async def test_nodes_lists_every_origin_with_counts_and_freshness(papi: InProcessNode) -> None:
    remote = RemoteLog("Cybercommune de Ouessant", "Ouessant")
    await ingest(
        papi,
        [
            remote.place_entry(),
            remote.entry("skill", "a", "put", {"title": "A"}),
            remote.entry("skill", "b", "put", {"title": "B"}),
            remote.entry("event", "c", "put", {"title": "C", "start": when(2)}),
        ],
    )
    page = (await papi.client.get("/nodes")).text
    assert "2 lieux connus." in page
    assert "EPN test" in page and "Ce nœud" in page
    assert "Cybercommune de Ouessant" in page and "Ouessant" in page
    assert "2 compétences" in page and "1 événement" in page
    assert "Données reçues à l&#39;instant (version 4)." in page
    assert f'href="/o/{remote.origin}/place/place"' in page


async def test_search_page_finds_filters_and_highlights(papi: InProcessNode) -> None:
    remote = RemoteLog("EPN Landerneau", "Landerneau")
    await ingest(
        papi,
        [
            remote.place_entry(),
            remote.entry(
                "skill",
                "s",
                "put",
                {
                    "title": "Sécurité en ligne",
                    "theme": "Sécurité numérique",
                    "description": "Reconnaître les arnaques et protéger ses comptes.",
                },
            ),
        ],
    )
    # Noon in Paris, five days ahead: the date filter below works on Paris days.
    day = (utc_now() + timedelta(days=5)).strftime("%Y-%m-%d")
    await put(papi, "event", {"title": "Atelier arnaques", "start": f"{day}T12:00:00+01:00"})
    page = (await papi.client.get("/search", params={"q": "securite"})).text
    assert "1 résultat" in page and "<mark>Sécurité</mark> en ligne" in page
    assert "Proposé par EPN Landerneau, Landerneau" in page
    page = (await papi.client.get("/search", params={"q": "arnaques"})).text
    assert "2 résultats" in page and "<mark>arnaques</mark>" in page
    page = (await papi.client.get("/search", params={"q": "arnaques", "kind": "event"})).text
    assert "1 résultat" in page and "Atelier <mark>arnaques</mark>" in page
    page = (await papi.client.get("/search", params={"commune": "Landerneau"})).text
    assert "1 résultat" in page and "<option selected>Landerneau</option>" in page
    page = (await papi.client.get("/search", params={"from": day, "to": day})).text
    assert "1 résultat" in page and "Atelier arnaques" in page


async def test_search_page_explains_bad_input_in_french(papi: InProcessNode) -> None:
    response = await papi.client.get("/search", params={"from": "demain", "kind": "vouch"})
    assert response.status_code == 400
    assert "Indiquez une date, par exemple 05/12/2026." in response.text
    assert "La recherche est à corriger" in response.text


async def test_english_interface_on_request(papi: InProcessNode) -> None:
    response = await papi.client.get("/lang/en", params={"next": "/search"})
    assert response.status_code == 303 and response.headers["location"] == "/search"
    page = (await papi.client.get("/search")).text
    assert '<html lang="en">' in page and "Search the network" in page
    response = await papi.client.get("/lang/fr", params={"next": "//evil.example"})
    assert response.headers["location"] == "/"
    assert "Chercher dans le réseau" in (await papi.client.get("/search")).text


async def test_static_stylesheet_is_served(papi: InProcessNode) -> None:
    response = await papi.client.get("/static/style.css")
    assert response.status_code == 200 and ":focus-visible" in response.text


# -- login, sessions, CSRF, rate limit --------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/admin", "/admin/place", "/admin/skills/new", "/admin/events/x", "/admin/peers"]
)
async def test_admin_pages_need_a_login(papi: InProcessNode, path: str) -> None:
    response = await papi.client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login?next=")


async def test_admin_posts_need_a_login(papi: InProcessNode) -> None:
    page = await papi.client.get("/admin/login")
    response = await papi.client.post(
        "/admin/skills/new", data={"title": "Intrus", "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/login")
    assert await api_items(papi, "skills") == []


async def test_login_then_logout(papi: InProcessNode) -> None:
    await make_user(papi)
    response = await log_in(papi, EMAIL.upper(), PASSWORD)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    page = await papi.client.get("/admin")
    assert page.status_code == 200 and "Bienvenue, animatrice@exemple.fr." in page.text
    assert page.headers["cache-control"] == "no-store"
    response = await papi.client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    assert (await papi.client.get("/admin")).status_code == 303
    assert "Vous êtes déconnecté·e." in (await papi.client.get("/admin/login")).text


async def test_wrong_password_is_refused_in_french(papi: InProcessNode) -> None:
    await make_user(papi)
    response = await log_in(papi, EMAIL, "pas le bon")
    assert response.status_code == 401
    assert "Adresse électronique ou mot de passe incorrect." in response.text
    response = await log_in(papi, "inconnu@exemple.fr", PASSWORD)
    assert response.status_code == 401
    assert (await papi.client.get("/admin")).status_code == 303


async def test_login_without_csrf_token_is_rejected(papi: InProcessNode) -> None:
    await make_user(papi)
    await papi.client.get("/admin/login")
    response = await papi.client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 403 and "Formulaire expiré" in response.text
    assert (await papi.client.get("/admin")).status_code == 303


async def test_forms_without_the_right_csrf_token_change_nothing(admin: InProcessNode) -> None:
    for token in ("", "forged-token-" + "x" * 40):
        response = await admin.client.post(
            "/admin/skills/new", data={"title": "Piège", "csrf_token": token}
        )
        assert response.status_code == 403
        assert "Ce formulaire a expiré ou ne vient pas de ce site." in response.text
    response = await admin.client.post(
        "/admin/skills/new", json={"title": "Piège"}, headers={"content-type": "application/json"}
    )
    assert response.status_code == 415
    assert await api_items(admin, "skills") == []


async def test_a_token_from_another_session_is_refused(papi: InProcessNode) -> None:
    await make_user(papi)
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=papi.app), base_url="http://t")
    async with other:
        stolen = csrf_of((await other.get("/admin/login")).text)
    await papi.client.get("/admin/login")
    response = await papi.client.post(
        "/admin/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": stolen}
    )
    assert response.status_code == 403


async def test_failed_logins_are_rate_limited_from_one_address(papi: InProcessNode) -> None:
    await make_user(papi)
    for _ in range(5):
        assert (await log_in(papi, EMAIL, "mauvais")).status_code == 401
    response = await log_in(papi, EMAIL, PASSWORD)  # even the right password now waits
    assert response.status_code == 429
    assert response.headers["retry-after"] == "900"
    assert "Trop de tentatives échouées. Attendez 15 minutes avant de réessayer." in response.text
    assert (await papi.client.get("/admin")).status_code == 303
    # Once the failures are older than the window, the account can log in again.
    with papi.node.db.activated():
        await LoginFailure.all().update(at=utc_now() - timedelta(minutes=16))
    assert (await log_in(papi, EMAIL, PASSWORD)).status_code == 303


async def test_failed_logins_are_rate_limited_per_client(papi: InProcessNode) -> None:
    await make_user(papi)
    for number in range(5):
        assert (await log_in(papi, f"essai{number}@exemple.fr", "x")).status_code == 401
    assert (await log_in(papi, EMAIL, PASSWORD)).status_code == 429


async def test_a_new_password_ends_existing_sessions(admin: InProcessNode) -> None:
    assert (await admin.client.get("/admin")).status_code == 200
    await make_user(admin, EMAIL, "un tout autre mot de passe")
    assert (await admin.client.get("/admin")).status_code == 303


async def test_session_cookie_is_secure_behind_https(tmp_path: Path) -> None:
    async with in_process_node(tmp_path / "n", url="https://papi.exemple.fr") as papi:
        await make_user(papi)
        page = await papi.client.get("https://testserver/admin/login")
        assert "secure" in page.headers["set-cookie"].lower()
    key = tmp_path / "n" / SESSION_KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    secret = key.read_text()
    async with in_process_node(tmp_path / "n"):
        assert key.read_text() == secret  # generated once, kept


async def test_user_add_command_reads_papi_password(tmp_path: Path) -> None:
    data_dir = tmp_path / "cli"
    env = {"PAPI_PASSWORD": PASSWORD}
    result = run_papi(
        "user", "add", "Anim@Exemple.fr", "--data-dir", str(data_dir), env=env, input=""
    )
    assert "anim@exemple.fr" in result.stdout.lower()
    short = run_papi(
        "user",
        "add",
        "b@exemple.fr",
        "--data-dir",
        str(data_dir),
        env={"PAPI_PASSWORD": "court"},
        input="",
        check=False,
    )
    assert short.returncode == 1 and "au moins 8 caractères" in short.stderr
    async with in_process_node(data_dir) as papi:
        with papi.node.db.activated():
            assert [u.email for u in await User.all()] == ["anim@exemple.fr"]
        assert (await log_in(papi, "anim@exemple.fr", PASSWORD)).status_code == 303


# -- admin forms ------------------------------------------------------------------------


async def test_create_edit_and_delete_an_event(admin: InProcessNode) -> None:
    response = await submit(
        admin,
        "/admin/events/new",
        {
            "title": "Atelier smartphone",
            "description": "Apporter son téléphone.",
            "start": "2031-03-14T14:00",
            "end": "2031-03-14T16:30",
            "capacity": "8",
            "audience": "public",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin#events"
    [event] = await api_items(admin, "events")
    assert event["start"] == "2031-03-14T14:00+01:00" and event["end"] == "2031-03-14T16:30+01:00"
    assert event["capacity"] == 8 and event["audience"] == "public"
    dashboard = (await admin.client.get("/admin")).text
    assert "« Atelier smartphone » est publié." in dashboard
    assert "Atelier smartphone" in (await admin.client.get("/")).text

    path = f"/admin/events/{event['id']}"
    form = (await admin.client.get(path)).text
    assert 'value="2031-03-14T14:00"' in form and "Apporter son téléphone." in form
    response = await submit(
        admin, path, {"title": "Atelier smartphone (complet)", "start": "14/03/2031 14:00"}
    )
    assert response.status_code == 303
    [event] = await api_items(admin, "events")
    assert event["title"] == "Atelier smartphone (complet)"
    assert "end" not in event and "capacity" not in event  # emptied fields are removed

    response = await submit(admin, path + "/delete", {})
    assert response.status_code == 303
    assert await api_items(admin, "events") == []
    assert (
        await admin.client.get(f"/o/{admin.node.origin}/event/{event['id']}")
    ).status_code == 404


async def test_form_errors_are_shown_next_to_the_fields(admin: InProcessNode) -> None:
    response = await submit(
        admin,
        "/admin/events/new",
        {
            "title": "",
            "start": "2031-03-14T14:00",
            "end": "2031-03-14T12:00",
            "capacity": "huit",
        },
    )
    assert response.status_code == 400
    page = response.text
    assert field_error(page, "title") == "Erreur : Ce champ est obligatoire."
    assert field_error(page, "capacity") == "Erreur : Indiquez un nombre entier, par exemple 4."
    assert field_error(page, "end") == "Erreur : La fin doit être après le début."
    assert 'id="f-title" name="title" aria-describedby="f-title-error" aria-invalid="true"' in page
    assert "Le formulaire est à corriger" in page and 'href="#f-title"' in page
    assert 'value="huit"' in page  # what was typed is kept
    # Once the form's own checks pass, the schema's verdict lands on the right field too.
    response = await submit(admin, "/admin/place", {"nom": "EPN", "presentation_resume": "x" * 281})
    assert response.status_code == 400
    assert field_error(response.text, "presentation_resume") == ("Erreur : 280 caractères au plus.")
    response = await submit(admin, "/admin/skills/new", {"title": "x" * 201})
    assert field_error(response.text, "title") == "Erreur : 200 caractères au plus."
    assert await api_items(admin, "events") == [] and await api_items(admin, "skills") == []


async def test_skill_and_equipment_forms(admin: InProcessNode) -> None:
    form = (await admin.client.get("/admin/skills/new")).text
    assert '<option value="Sécurité numérique">Sécurité numérique</option>' in form
    response = await submit(
        admin,
        "/admin/skills/new",
        {
            "title": "Protéger ses comptes",
            "theme": "Sécurité numérique",
            "level": "Débutant",
        },
    )
    assert response.status_code == 303
    [skill] = await api_items(admin, "skills")
    assert skill["theme"] == "Sécurité numérique" and skill["level"] == "Débutant"
    response = await submit(admin, "/admin/skills/new", {"title": "X", "theme": "Inventé"})
    assert field_error(response.text, "theme") == "Erreur : Choisissez une valeur dans la liste."

    response = await submit(
        admin,
        "/admin/equipment/new",
        {
            "title": "Vidéoprojecteur",
            "category": "Vidéoprojection",
            "quantity": "0",
        },
    )
    assert field_error(response.text, "quantity") == "Erreur : Au moins 1."
    response = await submit(
        admin,
        "/admin/equipment/new",
        {
            "title": "Vidéoprojecteur",
            "category": "Vidéoprojection",
            "quantity": "2",
            "loan_conditions": "Caution de 100 €",
        },
    )
    assert response.status_code == 303
    [item] = await api_items(admin, "equipment")
    assert item["quantity"] == 2 and item["loan_conditions"] == "Caution de 100 €"
    assert (await admin.client.get("/admin/unknown/new")).status_code == 404


async def test_place_profile_form(admin: InProcessNode) -> None:
    form = (await admin.client.get("/admin/place")).text
    services = re.findall(r'name="services" value="([^"]+)"', form)
    assert (
        len(services) == 9 and "Acquisition de matériel informatique à prix solidaire" in services
    )
    assert 'name="h_Mo_1_start"' in form and 'name="horaires"' in form  # editor, raw syntax
    data = {
        "nom": "EPN Bellevue",
        "commune": "Brest",
        "code_postal": "2920",
        "telephone": "02 98 00 00 00",
        "courriels": "a@exemple.fr\nnot-an-email",
        "horaires": "Mo-Fr 09:00-18:00",
        "services": ["Loisirs et créations numériques", "Aide aux démarches administratives"],
    }
    response = await submit(admin, "/admin/place", data)
    assert response.status_code == 400
    assert field_error(response.text, "code_postal") == (
        "Erreur : Cinq chiffres, par exemple 29200."
    )
    assert 'value="Loisirs et créations numériques" checked' in response.text
    data["code_postal"] = "29200"
    response = await submit(admin, "/admin/place", data)
    assert field_error(response.text, "courriels").startswith(
        "Erreur : Chaque ligne doit être une adresse électronique"
    )
    data["courriels"] = "a@exemple.fr\nb@exemple.fr"
    response = await submit(admin, "/admin/place", data)
    assert response.status_code == 303
    place = (await admin.client.get("/api/v1/place")).json()
    assert place["telephone"] == "+33298000000"
    assert place["courriels"] == ["a@exemple.fr", "b@exemple.fr"]
    # In the order of the standard's closed list, whatever the order sent.
    assert place["services"] == [
        "Aide aux démarches administratives",
        "Loisirs et créations numériques",
    ]
    assert "EPN Bellevue" in (await admin.client.get("/")).text
    form = (await admin.client.get("/admin/place")).text
    assert 'value="02 98 00 00 00"' in form


async def test_peers_panel(admin: InProcessNode) -> None:
    remote = RemoteLog("EPN Guipavas", "Guipavas")
    await ingest(admin, [remote.place_entry()])
    page = (await admin.client.get("/admin/peers")).text
    assert "Aucun pair pour l'instant" in page and "EPN Guipavas" in page
    response = await submit(admin, "/admin/peers", {"url": "pas une adresse"})
    assert response.status_code == 400
    response = await submit(admin, "/admin/peers", {"url": "http://192.0.2.10:8000"})
    assert response.status_code == 303
    page = (await admin.client.get("/admin/peers")).text
    assert "http://192.0.2.10:8000" in page and "Pas encore contacté" in page


async def test_admin_explains_a_node_recovering_its_log(tmp_path: Path) -> None:
    from tests.conftest import in_process_node

    async with in_process_node(tmp_path / "n"):
        pass
    for suffix in ("", "-wal", "-shm"):  # the database is lost, the key is kept
        (tmp_path / "n" / f"papi.sqlite3{suffix}").unlink(missing_ok=True)
    async with in_process_node(tmp_path / "n") as node:
        await make_user(node)
        await log_in(node)
        response = await submit(node, "/admin/skills/new", {"title": "Tableur"})
        assert "récupère ses propres publications" in response.text
        entries = (await node.client.get("/federation/v1/entries")).json()["entries"]
        assert entries == []


async def test_directory_links_to_the_open_data_export(papi: InProcessNode) -> None:
    page = (await papi.client.get("/nodes")).text
    assert "Données ouvertes" in page
    assert 'href="/api/v1/export/lamednum.csv?scope=network"' in page
    export = await papi.client.get("/api/v1/export/lamednum.csv", params={"scope": "network"})
    assert export.status_code == 200 and export.text.startswith("id,pivot,nom")
