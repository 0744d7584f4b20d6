"""The pages of resources, in process: the fiche, its attachments for people, versions
and differences, the editor (multipart, preview without script, uploads), adapting."""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

import httpx
import pytest

from node.demo_pdf import simple_pdf
from tests.conftest import InProcessNode
from tests.test_resources_api import PDF, SHA, attachment, fiche, upload
from tests.test_search import RemoteLog, ingest
from tests.test_web import csrf_of, field_error, log_in, make_user

SCRIPT = "<script>alert('pwned')</script>"


@pytest.fixture
async def admin(papi: InProcessNode) -> InProcessNode:
    """The in-process node with a logged-in animator."""
    await make_user(papi)
    assert (await log_in(papi)).status_code == 303
    return papi


async def create(papi: InProcessNode, **extra: Any) -> dict[str, Any]:
    r = await papi.client.post("/api/v1/resources", json=fiche(**extra), headers=papi.auth)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def page_text(response: httpx.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


async def test_the_fiche_page(papi: InProcessNode) -> None:
    await upload(papi, PDF)
    body = f"# Étapes\n\n{SCRIPT}\n\n[piège](javascript:alert(1)) et [site](https://exemple.fr)"
    item = await create(papi, body=body, attachments=[attachment("Fiche à imprimer.pdf")])
    url = f"/o/{papi.node.origin}/resource/{item['id']}"
    r = await papi.client.get(url)
    assert r.status_code == 200
    assert "<h2>Étapes</h2>" in r.text
    assert SCRIPT not in r.text and "&lt;script&gt;" in r.text
    assert 'href="javascript:' not in r.text.lower()
    assert 'href="https://exemple.fr" rel="nofollow noopener noreferrer"' in r.text
    text = page_text(r)
    assert "Ouvrir une boîte mail gratuite pas à pas." in text
    assert "Courriels, Sécurité numérique" in text and "1 h 30" in text
    assert "Partage dans les mêmes conditions" in text and "(CC-BY-SA-4.0)" in text
    assert "Fiche à imprimer.pdf" in text and "Document PDF" in text
    assert "Adapter cette fiche" in text
    assert f'href="/blobs/{SHA}?r=' in r.text
    assert "Version 2," in text  # the place profile is seq 1


async def test_attachments_for_people(papi: InProcessNode) -> None:
    await upload(papi, PDF)
    item = await create(papi, attachments=[attachment("Fiche « mail ».exe")])
    r = await papi.client.get(f"/blobs/{SHA}", params={"r": f"{papi.node.origin}/{item['id']}"})
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    # The type's extension is added; the exact name is given percent-encoded (RFC 8187).
    assert "filename*=UTF-8''Fiche%20%C2%AB%20mail%20%C2%BB.exe.pdf" in disposition
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    r = await papi.client.get(f"/blobs/{SHA}", headers={"range": "bytes=0-3"})
    assert r.status_code == 206 and r.content == b"%PDF"
    missing = "1" * 64
    r = await papi.client.get(f"/blobs/{missing}")
    assert r.status_code == 404 and "pas encore arrivée" in r.text


async def test_an_attachment_not_arrived_is_listed_with_fetch_now(papi: InProcessNode) -> None:
    remote = RemoteLog("EPN de Crozon", "Crozon")
    other = simple_pdf("Ailleurs", ["texte"])
    sha = hashlib.sha256(other).hexdigest()
    place = remote.place_entry()
    entry = remote.entry(
        "resource",
        "fiche-distante",
        "put",
        {"title": "Fiche distante", "attachments": [
            {"name": "distante.pdf", "media_type": "application/pdf", "size": len(other),
             "sha256": sha}]},
    )  # fmt: skip
    await ingest(papi, [place, entry])
    url = f"/o/{remote.origin}/resource/fiche-distante"
    r = await papi.client.get(url)
    text = page_text(r)
    assert "distante.pdf" in text and "Pas encore arrivée sur ce nœud." in text
    assert f'action="/blobs/{sha}/fetch"' in r.text
    assert f'href="/blobs/{sha}' not in r.text
    r = await papi.client.post(f"/blobs/{sha}/fetch", data={"next": url})
    assert r.status_code == 303 and r.headers["location"] == url
    r = await papi.client.post(f"/blobs/{sha}/fetch", data={"next": "https://evil.example/"})
    assert r.headers["location"] == "/"


async def test_versions_and_differences(papi: InProcessNode) -> None:
    item = await create(papi, body="Ligne une\nLigne deux\n<b>gras</b>")
    oid = item["id"]
    changed = {**fiche(), "body": "Ligne une\nLigne 2\n<b>gras</b>\nLigne trois"}
    r = await papi.client.put(f"/api/v1/resources/{oid}", json=changed, headers=papi.auth)
    assert r.status_code == 200
    page = await papi.client.get(f"/o/{papi.node.origin}/resource/{oid}")
    assert "Version 3," in page_text(page) and "Version 2," in page_text(page)
    link = f"/o/{papi.node.origin}/resource/{oid}/versions?from=2&amp;to=3"
    assert link in page.text
    r = await papi.client.get(html.unescape(link))
    assert r.status_code == 200
    assert '<span class="diff-del">' in r.text and '<span class="diff-add">' in r.text
    assert "&lt;b&gt;gras&lt;/b&gt;" in r.text and "<b>gras</b>" not in r.text
    text = page_text(r)
    assert "Ligne deux" in text and "Ligne 2" in text and "Ligne trois" in text
    missing = await papi.client.get(
        f"/o/{papi.node.origin}/resource/{oid}/versions", params={"from": 1, "to": 3}
    )
    assert missing.status_code == 404  # seq 1 is the place, not a version of it


async def test_no_derivatives_means_no_adaptation(admin: InProcessNode) -> None:
    item = await create(admin, licence="CC-BY-ND-4.0")
    page = await admin.client.get(f"/o/{admin.node.origin}/resource/{item['id']}")
    assert "Adapter cette fiche" not in page.text
    assert "interdit les modifications" in page_text(page)
    form = await admin.client.get(
        "/admin/resources/adapt", params={"from": f"{admin.node.origin}/{item['id']}"}
    )
    r = await admin.client.post(
        "/admin/resources/adapt",
        data={"from": f"{admin.node.origin}/{item['id']}", "csrf_token": csrf_of(form.text)},
    )
    assert r.status_code == 409
    assert len((await admin.client.get("/api/v1/resources")).json()["items"]) == 1


async def test_adapting_keeps_licence_attachments_and_names_the_original(
    admin: InProcessNode,
) -> None:
    await upload(admin, PDF)
    item = await create(admin, licence="CC-BY-4.0", attachments=[attachment()])
    reference = f"{admin.node.origin}/{item['id']}"
    form = await admin.client.get("/admin/resources/adapt", params={"from": reference})
    assert form.status_code == 200
    r = await admin.client.post(
        "/admin/resources/adapt", data={"from": reference, "csrf_token": csrf_of(form.text)}
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/resources/")
    copies = [
        i for i in (await admin.client.get("/api/v1/resources")).json()["items"]
        if i["id"] != item["id"]
    ]  # fmt: skip
    assert len(copies) == 1
    copy = copies[0]
    assert copy["based_on"] == reference and copy["licence"] == "CC-BY-4.0"
    assert copy["attachments"] == item["attachments"]
    page = await admin.client.get(f"/o/{admin.node.origin}/resource/{copy['id']}")
    assert "Adaptée de" in page_text(page)
    assert f'href="/o/{reference.replace("/", "/resource/")}"' in page.text
    original = await admin.client.get(f"/o/{reference.replace('/', '/resource/')}")
    assert "Adaptations connues" in page_text(original)
    assert f"/o/{admin.node.origin}/resource/{copy['id']}" in original.text


def multipart(
    token: str, fields: dict[str, Any], files: list[tuple[str, bytes]] | None = None
) -> dict[str, Any]:
    """httpx arguments for a multipart form; with no file, the empty file part that
    browsers send for an untouched file input."""
    data = {**fields, "csrf_token": token}
    return {
        "data": data,
        "files": [("files", (name, content)) for name, content in (files or [("", b"")])],
    }


async def test_the_editor_previews_then_publishes_with_an_upload(admin: InProcessNode) -> None:
    page = await admin.client.get("/admin/resources/new")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    token = csrf_of(page.text)
    fields = {
        "title": "Reconnaître un e-mail d'hameçonnage",
        "summary": "Les indices qui trahissent un faux message.",
        "body": "# Les indices\n\n- l'adresse de l'expéditeur\n- **l'urgence**",
        "licence": "CC-BY-SA-4.0",
        "themes": ["Sécurité numérique", "Courriels"],
        "audience": "public",
        "duration_minutes": "60",
        "action": "preview",
    }
    r = await admin.client.post(
        "/admin/resources/new", **multipart(token, fields, [("../../fiche.pdf", PDF)])
    )
    assert r.status_code == 200, r.text
    assert "Aperçu (pas encore publié)" in r.text
    assert "<strong>l&#39;urgence</strong>" in r.text or "<strong>l'urgence</strong>" in r.text
    assert f'name="att_sha" value="{SHA}"' in r.text
    assert 'value="fiche.pdf"' in r.text  # the path is dropped
    assert (await admin.client.get("/api/v1/resources")).json()["items"] == []
    # Save: the upload of the preview is carried by the form.
    saved = {**fields, "action": "save", "att_sha": SHA, "att_name": "Fiche hameçonnage.pdf",
             "att_type": "application/pdf"}  # fmt: skip
    r = await admin.client.post("/admin/resources/new", **multipart(token, saved))
    assert r.status_code == 303, r.text
    items = (await admin.client.get("/api/v1/resources")).json()["items"]
    assert len(items) == 1
    item = items[0]
    assert item["attachments"] == [
        {"name": "Fiche hameçonnage.pdf", "media_type": "application/pdf",
         "size": len(PDF), "sha256": SHA}
    ]  # fmt: skip
    assert item["themes"] == ["Courriels", "Sécurité numérique"]
    assert item["duration_minutes"] == 60
    assert r.headers["location"] == "/admin#resources"
    dashboard = page_text(await admin.client.get("/admin"))
    assert "Reconnaître un e-mail d'hameçonnage" in dashboard
    assert "sur ce nœud : 2,7 ko utilisés sur 2 Go." in dashboard
    # Edit: remove the attachment.
    edit = await admin.client.get(f"/admin/resources/{item['id']}")
    assert f'value="{SHA}"' in edit.text
    removal = {**saved, "att_remove": SHA}
    r = await admin.client.post(
        f"/admin/resources/{item['id']}", **multipart(csrf_of(edit.text), removal)
    )
    assert r.status_code == 303
    item = (await admin.client.get(f"/api/v1/resources/{item['id']}")).json()
    assert "attachments" not in item


async def test_the_editor_refuses_bad_files_and_bad_forms(admin: InProcessNode) -> None:
    page = await admin.client.get("/admin/resources/new")
    token = csrf_of(page.text)
    fields = {"title": "Fiche", "licence": "CC-BY-SA-4.0", "action": "save"}
    r = await admin.client.post(
        "/admin/resources/new", **multipart(token, fields, [("script.exe", b"MZ")])
    )
    assert r.status_code == 400 and "ce type de fichier n" in html.unescape(r.text)
    r = await admin.client.post(
        "/admin/resources/new", **multipart(token, fields, [("faux.pdf", b"<html>")])
    )
    assert r.status_code == 400 and "son contenu ne correspond pas" in html.unescape(r.text)
    assert (await admin.client.get("/api/v1/resources")).json()["items"] == []
    r = await admin.client.post("/admin/resources/new", **multipart("wrong", fields))
    assert r.status_code == 403
    r = await admin.client.post("/admin/resources/new", data={**fields, "csrf_token": token})
    assert r.status_code == 415  # not multipart
    r = await admin.client.post("/admin/resources/new", **multipart(token, {**fields, "title": ""}))
    assert r.status_code == 400 and field_error(r.text, "title")


async def test_search_page_finds_resources_by_licence(papi: InProcessNode) -> None:
    await create(papi)
    await create(papi, title="Tableur", body="Cellules", licence="CC0-1.0")
    r = await papi.client.get("/search", params={"kind": "resource", "licence": "CC0-1.0"})
    text = page_text(r)
    assert "Tableur" in text and "Créer son adresse e-mail" not in text
    r = await papi.client.get("/search", params={"q": "hameconnage"})
    assert "Créer son adresse e-mail" in page_text(r)
    home = await papi.client.get("/")
    assert "Fiches et supports d'atelier" in page_text(home)
