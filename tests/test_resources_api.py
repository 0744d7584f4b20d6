"""Resources and their attachments through the JSON API, in process: the kind's CRUD,
uploads (types, sizes, quota), serving (verification, ranges, headers), search, and
blobs dropped when no live resource references them."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.demo_pdf import simple_pdf
from node.models import Blob, BlobFetch
from node.services.blob_fetch import run_blob_work
from tests.conftest import InProcessNode, in_process_node

PDF = simple_pdf("Créer son adresse e-mail", ["Étape 1 : ouvrir le navigateur."] * 40)
SHA = hashlib.sha256(PDF).hexdigest()


async def upload(
    papi: InProcessNode, data: bytes, media_type: str = "application/pdf"
) -> httpx.Response:
    return await papi.client.post(
        "/api/v1/blobs", content=data, headers={**papi.auth, "content-type": media_type}
    )


def fiche(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Créer son adresse e-mail",
        "summary": "Ouvrir une boîte mail gratuite pas à pas.",
        "body": "# Étapes\n\nChoisir un **mot de passe** solide : l'hameçonnage guette.",
        "licence": "CC-BY-SA-4.0",
        "themes": ["Courriels", "Sécurité numérique"],
        "audience": "public",
        "duration_minutes": 90,
        **extra,
    }


def attachment(name: str = "fiche.pdf", data: bytes = PDF) -> dict[str, Any]:
    return {
        "name": name,
        "media_type": "application/pdf",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


async def blob_work(papi: InProcessNode) -> int:
    with papi.node.db.activated():
        return await run_blob_work(papi.node)


async def test_upload_then_publish_a_resource_with_its_attachment(papi: InProcessNode) -> None:
    r = await upload(papi, PDF)
    assert r.status_code == 201, r.text
    assert r.json() == {"sha256": SHA, "size": len(PDF)}
    path = papi.data_dir / "blobs" / SHA[:2] / SHA[2:]
    assert path.read_bytes() == PDF
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700

    r = await papi.client.post(
        "/api/v1/resources", json=fiche(attachments=[attachment()]), headers=papi.auth
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["kind"] == "resource" and created["attachments"][0]["sha256"] == SHA
    oid = created["id"]
    listed = (await papi.client.get("/api/v1/resources")).json()["items"]
    assert [item["id"] for item in listed] == [oid]
    r = await papi.client.put(
        f"/api/v1/resources/{oid}", json={**created, "title": "Ma boîte mail"}, headers=papi.auth
    )
    assert r.status_code == 200 and r.json()["title"] == "Ma boîte mail"
    got = (await papi.client.get(f"/api/v1/resources/{oid}")).json()
    assert got["seq"] == created["seq"] + 1


async def test_an_attachment_must_be_uploaded_first(papi: InProcessNode) -> None:
    r = await papi.client.post(
        "/api/v1/resources", json=fiche(attachments=[attachment()]), headers=papi.auth
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "attachments.0.sha256"
    await upload(papi, PDF)
    wrong_size = {**attachment(), "size": len(PDF) + 1}
    r = await papi.client.post(
        "/api/v1/resources", json=fiche(attachments=[wrong_size]), headers=papi.auth
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "attachments.0.size"
    assert (await papi.client.get("/api/v1/resources")).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x", "licence": "CC BY"}, "licence"),
        ({"title": "x", "themes": ["Cuisine"]}, "themes.0"),
        ({"title": "x", "summary": "s" * 501}, "summary"),
        ({"title": "x", "based_on": "ailleurs"}, "based_on"),
        ({"title": "x", "description": "not a resource field"}, "description"),
    ],
)
async def test_invalid_resources_are_refused(
    papi: InProcessNode, body: dict[str, Any], field: str
) -> None:
    r = await papi.client.post("/api/v1/resources", json=body, headers=papi.auth)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == field


async def test_a_body_of_200000_accented_characters_is_accepted(papi: InProcessNode) -> None:
    """A resource payload may exceed max_payload_bytes (128 KiB): up to 1 MiB."""
    body = "é" * 200_000  # 400 KB canonical, 1.2 MB as ASCII-escaped JSON
    r = await papi.client.post(
        "/api/v1/resources", json={"title": "Long", "body": body}, headers=papi.auth
    )
    assert r.status_code == 201, r.text[:200]
    r = await papi.client.post(
        "/api/v1/resources", json={"title": "Trop long", "body": body + "é"}, headers=papi.auth
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "body"
    # Past 1 MiB of canonical JSON (control characters take 6 bytes each): refused.
    controls = {"title": "x", "body": "\u0001" * 190_000}
    r = await papi.client.post("/api/v1/resources", json=controls, headers=papi.auth)
    assert r.status_code == 422 and r.json()["error"]["field"] == ""


def _zip(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, PDF if name.endswith(".pdf") else b"texte")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "media_type", "status", "code"),
    [
        (b"<svg onload=alert(1)>", "image/svg+xml", 415, "unsupported_media_type"),
        (b"<html><script>alert(1)</script>", "text/html", 415, "unsupported_media_type"),
        (b"MZ\x90\x00 not a pdf", "application/pdf", 415, "unsupported_media_type"),
        (b"\x00\x01binary", "text/plain", 415, "unsupported_media_type"),
        (_zip(["fiche.pdf", "virus.exe"]), "application/zip", 415, "unsupported_media_type"),
        (b"", "application/pdf", 400, "bad_request"),
        (_zip(["fiche.pdf", "notes.txt"]), "application/zip", 201, None),
        ("Bonjour, voilà.\n".encode(), "text/plain; charset=utf-8", 201, None),
    ],
)
async def test_uploads_are_checked(
    papi: InProcessNode, data: bytes, media_type: str, status: int, code: str | None
) -> None:
    r = await upload(papi, data, media_type)
    assert r.status_code == status, r.text
    if code:
        assert r.json()["error"]["code"] == code
    with papi.node.db.activated():
        assert await Blob.all().count() == (1 if status == 201 else 0)
    leftovers = list((papi.data_dir / "blobs" / "tmp").glob("*"))
    assert leftovers == []


async def test_upload_needs_a_token_and_respects_size_and_quota(tmp_path: Path) -> None:
    async with in_process_node(
        tmp_path / "n", blob_max_bytes=len(PDF) + 10, blob_quota_bytes=2 * len(PDF) + 10
    ) as papi:
        r = await papi.client.post(
            "/api/v1/blobs", content=PDF, headers={"content-type": "application/pdf"}
        )
        assert r.status_code == 401
        big = PDF + b"x" * 20
        assert (await upload(papi, big)).json()["error"]["code"] == "too_large"

        async def chunked() -> Any:  # no content-length: bounded while streaming
            yield big[:100]
            yield big[100:]

        r = await papi.client.post(
            "/api/v1/blobs",
            content=chunked(),
            headers={**papi.auth, "content-type": "application/pdf"},
        )
        assert r.status_code == 413
        assert (await upload(papi, PDF)).status_code == 201
        assert (await upload(papi, PDF)).status_code == 201  # held already: no more space used
        other = simple_pdf("Autre", ["texte"] * 41)
        assert (await upload(papi, other)).status_code == 201
        third = simple_pdf("Troisième", ["texte"] * 40)
        r = await upload(papi, third)
        assert r.status_code == 507 and r.json()["error"]["code"] == "quota_exceeded"


async def test_served_to_peers_verified_with_ranges(papi: InProcessNode) -> None:
    await upload(papi, PDF)
    url = f"/federation/v1/blobs/{SHA}"
    r = await papi.client.get(url)
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"].startswith("sandbox")
    assert r.headers["etag"] == f'"{SHA}"' and r.headers["accept-ranges"] == "bytes"
    r = await papi.client.get(url, headers={"range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == PDF[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(PDF)}"
    r = await papi.client.get(url, headers={"range": "bytes=-5"})
    assert r.status_code == 206 and r.content == PDF[-5:]
    r = await papi.client.get(url, headers={"range": f"bytes={len(PDF)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(PDF)}"
    r = await papi.client.get(url, headers={"range": "bytes=0-1,5-6"})
    assert r.status_code == 200 and r.content == PDF  # several ranges: the whole file
    r = await papi.client.get(url, headers={"range": "bytes=0-9", "if-range": '"other"'})
    assert r.status_code == 200 and r.content == PDF
    r = await papi.client.get(url, headers={"if-none-match": f'"{SHA}"'})
    assert r.status_code == 304
    r = await papi.client.head(url)
    assert r.status_code == 200 and r.headers["content-length"] == str(len(PDF))
    assert r.content == b""
    assert (await papi.client.get("/federation/v1/blobs/" + "0" * 64)).status_code == 404
    assert (await papi.client.get("/federation/v1/blobs/../../node.key")).status_code == 404
    assert (await papi.client.get("/federation/v1/blobs/" + SHA.upper())).status_code == 404


async def test_bytes_damaged_on_disk_are_never_served_and_fetched_again(
    papi: InProcessNode,
) -> None:
    await upload(papi, PDF)
    await papi.client.post(
        "/api/v1/resources", json=fiche(attachments=[attachment()]), headers=papi.auth
    )
    url = f"/federation/v1/blobs/{SHA}"
    assert (await papi.client.get(url)).content == PDF  # verified once, marker kept
    path = papi.data_dir / "blobs" / SHA[:2] / SHA[2:]
    damaged = bytearray(PDF)
    damaged[100] ^= 0xFF
    path.write_bytes(bytes(damaged))
    r = await papi.client.get(url)
    assert r.status_code == 404
    assert not path.exists()
    state = (await papi.client.get(f"/api/v1/blobs/{SHA}")).json()
    assert state["held"] is False and state["fetch"]["state"] == "pending"


async def test_search_covers_resources_with_theme_and_licence_filters(
    papi: InProcessNode,
) -> None:
    await papi.client.post("/api/v1/resources", json=fiche(), headers=papi.auth)
    await papi.client.post(
        "/api/v1/resources",
        json={"title": "Tableur : premiers pas", "body": "Cellules et formules.",
              "themes": ["Bureautique"]},
        headers=papi.auth,
    )  # fmt: skip
    await papi.client.post("/api/v1/skills", json={"title": "Hameçonnage"}, headers=papi.auth)

    async def titles(**params: str) -> list[str]:
        r = await papi.client.get("/api/v1/search", params=params)
        assert r.status_code == 200, r.text
        return sorted(result["title"] for result in r.json()["results"])

    # Words of the body and of the summary, without accents.
    assert await titles(q="hameconnage") == ["Créer son adresse e-mail", "Hameçonnage"]
    assert await titles(q="boite gratuite") == ["Créer son adresse e-mail"]
    assert await titles(q="formules", kind="resource") == ["Tableur : premiers pas"]
    # Either theme of a resource; licence (an absent one is CC-BY-SA-4.0).
    assert await titles(theme="Sécurité numérique") == ["Créer son adresse e-mail"]
    assert await titles(theme="courriels", q="mot") == ["Créer son adresse e-mail"]
    assert await titles(licence="CC-BY-SA-4.0") == [
        "Créer son adresse e-mail", "Tableur : premiers pas"
    ]  # fmt: skip
    assert await titles(licence="CC0-1.0") == []
    result = (await papi.client.get("/api/v1/search", params={"q": "tableur"})).json()
    assert result["results"][0]["themes"] == ["Bureautique"]


async def test_deleting_a_resource_drops_its_blob(papi: InProcessNode) -> None:
    await upload(papi, PDF)
    body = fiche(attachments=[attachment()])
    first = (await papi.client.post("/api/v1/resources", json=body, headers=papi.auth)).json()
    second = (await papi.client.post("/api/v1/resources", json=body, headers=papi.auth)).json()
    path = papi.data_dir / "blobs" / SHA[:2] / SHA[2:]
    await papi.client.delete(f"/api/v1/resources/{first['id']}", headers=papi.auth)
    await blob_work(papi)
    assert path.exists(), "another live resource still uses it"
    await papi.client.delete(f"/api/v1/resources/{second['id']}", headers=papi.auth)
    await blob_work(papi)
    assert not path.exists()
    with papi.node.db.activated():
        assert await Blob.all().count() == 0 and await BlobFetch.all().count() == 0


async def test_an_unreferenced_upload_is_kept_for_a_while(papi: InProcessNode) -> None:
    await upload(papi, PDF)
    await blob_work(papi)
    assert (papi.data_dir / "blobs" / SHA[:2] / SHA[2:]).exists()
