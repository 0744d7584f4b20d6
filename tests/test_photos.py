"""Photos of equipment and places (issue 17, item 8): blobs listed in ``photos`` with a
required text alternative, uploaded through the admin forms or the API, thumbnails made
on the node with Pillow, shown on cards and pages, fetched from peers like attachments."""

from __future__ import annotations

import hashlib
import html
import io
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from node.models import Blob, BlobFetch
from node.ops.backup import _data_files
from node.services import thumbnails
from node.services.blobs import collect_garbage
from node.services.blobstore import BlobStore
from node.services.bundles import export_bundle, import_bundle
from node.services.thumbnails import make_thumbnail, thumbnail_path
from node.web.photo_form import MAX_PHOTOS
from tests.conftest import InProcessNode
from tests.network import network
from tests.test_resources_api import PDF, upload
from tests.test_search import RemoteLog, ingest
from tests.test_web import api_items, csrf_of, log_in, make_user

ALT = "Le vidéoprojecteur posé sur une table, sa télécommande à côté"


def image_bytes(
    size: tuple[int, int] = (1600, 1200), kind: str = "JPEG", mode: str = "RGB", **save: Any
) -> bytes:
    color: Any = (200, 40, 40, 128) if mode == "RGBA" else (200, 40, 40)
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, kind, **save)
    return buffer.getvalue()


JPEG = image_bytes()
SHA = hashlib.sha256(JPEG).hexdigest()


def huge_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` pixels (with almost no data):
    what a decompression bomb looks like before it is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.fixture
async def admin(papi: InProcessNode) -> InProcessNode:
    await make_user(papi)
    assert (await log_in(papi)).status_code == 303
    return papi


def page_text(response: httpx.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def photo_error(page: str, input_id: str) -> str:
    match = re.search(rf'<p class="error-message" id="{input_id}-error">(.*?)</p>', page, re.S)
    assert match, f"no error next to {input_id}"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


async def post_form(
    papi: InProcessNode,
    path: str,
    fields: dict[str, Any],
    photo: tuple[str, bytes] | None = None,
) -> httpx.Response:
    """GET the form at ``path`` then POST it as a browser does (multipart; an untouched
    file input is an empty file part)."""
    page = await papi.client.get(path)
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    name, content = photo or ("", b"")
    return await papi.client.post(
        path,
        data={**fields, "csrf_token": csrf_of(page.text)},
        files=[("photo_file", (name, content))],
    )


async def blob_count(papi: InProcessNode) -> int:
    with papi.node.db.activated():
        return await Blob.all().count()


# -- thumbnails ---------------------------------------------------------------------------


def test_thumbnails_are_resized_flattened_and_turned_upright(tmp_path: Path) -> None:
    source, target = tmp_path / "photo", tmp_path / "thumbs" / "t.jpg"
    source.write_bytes(image_bytes((1600, 1200), "PNG", "RGBA"))
    assert make_thumbnail(source, target, 320)
    with Image.open(target) as thumb:
        assert thumb.format == "JPEG" and thumb.mode == "RGB" and thumb.size == (320, 240)
        # Half-transparent red on white.
        red, green, _ = thumb.getpixel((10, 10))  # type: ignore[misc]
        assert red > 200 and 100 < green < 180
    assert target.stat().st_mode & 0o777 == 0o600
    # A phone photo taken upright: stored sideways, its EXIF says "turn 90°".
    exif = Image.Exif()
    exif[0x0112] = 6
    source.write_bytes(image_bytes((1200, 900), exif=exif.tobytes()))
    assert make_thumbnail(source, target, 320)
    with Image.open(target) as thumb:
        assert thumb.size == (320, 427)
    # Smaller than asked: never enlarged.
    source.write_bytes(image_bytes((200, 100), "GIF", "P"))
    assert make_thumbnail(source, target, 960)
    with Image.open(target) as thumb:
        assert thumb.size == (200, 100)


@pytest.mark.parametrize(
    "content",
    [PDF, b"\xff\xd8\xff" + b"\0" * 100, huge_png(50_000, 50_000)],
    ids=["pdf", "broken-jpeg", "bomb"],
)
def test_what_is_not_a_decodable_photo_gives_no_thumbnail(tmp_path: Path, content: bytes) -> None:
    source, target = tmp_path / "photo", tmp_path / "thumbs" / "t.jpg"
    source.write_bytes(content)
    assert not make_thumbnail(source, target, 320)
    assert not target.exists() and not list(tmp_path.glob("thumbs/.*"))


async def test_an_image_that_gives_no_thumbnail_is_not_decoded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BlobStore(tmp_path / "blobs")
    source = tmp_path / "photo"
    source.write_bytes(huge_png(50_000, 50_000))
    calls: list[int] = []

    def counted(source: Path, target: Path, width: int) -> bool:
        calls.append(width)
        return make_thumbnail(source, target, width)

    monkeypatch.setattr(thumbnails, "make_thumbnail", counted)
    assert await thumbnails.thumbnail(store, SHA, source, 320) is None
    assert await thumbnails.thumbnail(store, SHA, source, 320) is None
    assert calls == [320]
    store.remove(SHA)  # with the blob, what was learnt of it goes
    assert not list(store.thumbs_dir.iterdir())


# -- the admin forms ----------------------------------------------------------------------


async def test_an_equipment_photo_from_the_form_to_the_pages(admin: InProcessNode) -> None:
    fields = {"title": "Vidéoprojecteur Epson", "quantity": "1", "photo_file_alt": ALT}
    r = await post_form(admin, "/admin/equipment/new", fields, ("projecteur.jpg", JPEG))
    assert r.status_code == 303, page_text(r)
    [item] = await api_items(admin, "equipment")
    assert item["photos"] == [
        {"sha256": SHA, "media_type": "image/jpeg", "size": len(JPEG), "alt": ALT}
    ]
    page = await admin.client.get(f"/o/{admin.node.origin}/equipment/{item['id']}")
    assert f'<img src="/photos/{SHA}/960" alt="{ALT}"' in html.unescape(page.text)
    card = f'<img class="card-photo" src="/photos/{SHA}/320" alt="{ALT}"'
    search = await admin.client.get("/search", params={"q": "vidéoprojecteur"})
    assert card in html.unescape(search.text)
    assert card in html.unescape((await admin.client.get("/")).text)
    for width, size in ((320, (320, 240)), (960, (960, 720))):
        thumb = await admin.client.get(f"/photos/{SHA}/{width}")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert "immutable" in thumb.headers["cache-control"]
        with Image.open(io.BytesIO(thumb.content)) as image:
            assert image.size == size
    assert thumbnail_path(admin.node.blobs, SHA, 320).is_file()
    for bad in (f"/photos/{SHA}/500", f"/photos/{'0' * 64}/320", f"/photos/{SHA.upper()}/320"):
        assert (await admin.client.get(bad)).status_code == 404, bad


async def test_a_photo_needs_its_description_and_an_image(admin: InProcessNode) -> None:
    fields = {"title": "Tablette", "photo_file_alt": "  "}
    r = await post_form(admin, "/admin/equipment/new", fields, ("tablette.jpg", JPEG))
    assert r.status_code == 400
    assert photo_error(r.text, "photo-file-alt").startswith("Décrivez la photo")
    summary = page_text(r).split("Le formulaire est à corriger")[1]
    assert summary.lstrip().startswith("Ce que montre la nouvelle photo : Décrivez la photo")
    assert '<a href="#photo-file-alt">' in r.text
    fields["photo_file_alt"] = "Une tablette"
    r = await post_form(admin, "/admin/equipment/new", fields, ("tablette.jpg", PDF))
    assert r.status_code == 400
    assert photo_error(r.text, "photo-file") == "Ce fichier n'est pas l'image que son nom annonce."
    r = await post_form(admin, "/admin/equipment/new", fields, ("tablette.pdf", PDF))
    assert r.status_code == 400 and "JPEG, PNG, GIF ou WebP" in photo_error(r.text, "photo-file")
    r = await post_form(admin, "/admin/equipment/new", fields)  # a description, no file
    assert r.status_code == 400
    assert photo_error(r.text, "photo-file") == "Choisissez le fichier de la photo."
    assert await api_items(admin, "equipment") == []
    assert await blob_count(admin) == 0


async def test_a_photo_sent_with_a_mistake_elsewhere_is_not_lost(admin: InProcessNode) -> None:
    fields = {"title": "", "photo_file_alt": ALT}
    r = await post_form(admin, "/admin/equipment/new", fields, ("projecteur.jpg", JPEG))
    assert r.status_code == 400
    assert f'name="photo_sha" value="{SHA}"' in r.text and f'value="{ALT}"' in html.unescape(r.text)
    assert 'id="photo-file-alt" name="photo_file_alt" value=""' in r.text
    # The page sent back carries the photo; with the title, it is published.
    r = await admin.client.post(
        "/admin/equipment/new",
        data={"title": "Vidéoprojecteur", "photo_sha": SHA, "photo_alt": ALT,
              "csrf_token": csrf_of(r.text)},
        files=[("photo_file", ("", b""))],
    )  # fmt: skip
    assert r.status_code == 303, page_text(r)
    [item] = await api_items(admin, "equipment")
    assert [photo["sha256"] for photo in item["photos"]] == [SHA]


async def test_photos_are_described_again_removed_and_dropped(admin: InProcessNode) -> None:
    second = image_bytes((800, 800), "PNG")
    second_sha = hashlib.sha256(second).hexdigest()
    fields = {"title": "Imprimante 3D", "photo_file_alt": "L'imprimante de face"}
    assert (
        await post_form(admin, "/admin/equipment/new", fields, ("a.jpg", JPEG))
    ).status_code == 303
    [item] = await api_items(admin, "equipment")
    path = f"/admin/equipment/{item['id']}"
    fields = {"title": "Imprimante 3D", "photo_sha": SHA, "photo_alt": "",
              "photo_file_alt": "Une pièce imprimée"}  # fmt: skip
    r = await post_form(admin, path, fields, ("b.png", second))
    assert r.status_code == 400  # the first photo lost its description
    assert photo_error(r.text, "photo_alt_1").startswith("Décrivez la photo")
    fields["photo_alt"] = "L'imprimante, vue de face"
    r = await post_form(admin, path, fields, ("b.png", second))
    assert r.status_code == 303, page_text(r)
    [item] = await api_items(admin, "equipment")
    assert [(p["sha256"], p["alt"]) for p in item["photos"]] == [
        (SHA, "L'imprimante, vue de face"), (second_sha, "Une pièce imprimée")
    ]  # fmt: skip
    assert (await admin.client.get(f"/photos/{SHA}/320")).status_code == 200
    form = await admin.client.get(path)
    assert form.text.count('name="photo_sha"') == 2
    # Remove the first: once no live object lists it, its blob and thumbnails go.
    r = await post_form(admin, path, {
        "title": "Imprimante 3D", "photo_sha": [SHA, second_sha],
        "photo_alt": ["L'imprimante, vue de face", "Une pièce imprimée"], "photo_remove": SHA,
    })  # fmt: skip
    assert r.status_code == 303, page_text(r)
    [item] = await api_items(admin, "equipment")
    assert [p["sha256"] for p in item["photos"]] == [second_sha]
    with admin.node.db.activated():
        assert await collect_garbage(admin.node.db, admin.node.blobs) == 1
    assert not thumbnail_path(admin.node.blobs, SHA, 320).exists()
    assert (await admin.client.get(f"/photos/{SHA}/320")).status_code == 404
    assert (await admin.client.get(f"/photos/{second_sha}/320")).status_code == 200


async def test_at_most_eight_photos(admin: InProcessNode) -> None:
    shas = []
    for n in range(MAX_PHOTOS):
        content = image_bytes((40 + n, 30))
        assert (await upload(admin, content, "image/jpeg")).status_code in (200, 201)
        shas.append(hashlib.sha256(content).hexdigest())
    photos = [{"sha256": s, "media_type": "image/jpeg", "size": len(image_bytes((40 + n, 30))),
               "alt": f"Photo {n}"} for n, s in enumerate(shas)]  # fmt: skip
    r = await admin.client.post(
        "/api/v1/equipment", json={"title": "Lot", "photos": photos}, headers=admin.auth
    )
    assert r.status_code == 201, r.text
    item = r.json()
    fields = {"title": "Lot", "photo_sha": shas, "photo_alt": [p["alt"] for p in photos],
              "photo_file_alt": "Une de trop"}  # fmt: skip
    r = await post_form(admin, f"/admin/equipment/{item['id']}", fields, ("c.jpg", JPEG))
    assert r.status_code == 400
    assert photo_error(r.text, "photo-file") == "8 photos au plus : retirez-en une d'abord."


async def test_the_place_carries_photos(admin: InProcessNode) -> None:
    alt = "La salle : douze ordinateurs autour d'une grande table"
    fields = {"nom": "EPN Bellevue", "commune": "Brest 29200", "photo_file_alt": alt}
    r = await post_form(admin, "/admin/place", fields, ("salle.jpg", JPEG))
    assert r.status_code == 303, page_text(r)
    place = (await admin.client.get("/api/v1/place")).json()
    assert place["photos"] == [{"sha256": SHA, "media_type": "image/jpeg", "size": len(JPEG),
                                "alt": alt}]  # fmt: skip
    home = await admin.client.get("/")
    assert f'<img src="/photos/{SHA}/960" alt="{alt}"' in html.unescape(home.text)
    # Saved again without touching the photos: they stay.
    form = await admin.client.get("/admin/place")
    assert f'name="photo_sha" value="{SHA}"' in form.text
    r = await post_form(admin, "/admin/place", {
        "nom": "EPN Bellevue", "commune": "Brest 29200", "photo_sha": SHA, "photo_alt": alt,
    })  # fmt: skip
    assert r.status_code == 303
    assert (await admin.client.get("/api/v1/place")).json()["photos"][0]["alt"] == alt


# -- the API and the network --------------------------------------------------------------


async def test_the_api_checks_photos(papi: InProcessNode) -> None:
    photo = {"sha256": SHA, "media_type": "image/jpeg", "size": len(JPEG), "alt": ALT}
    r = await papi.client.post(
        "/api/v1/equipment", json={"title": "Casque", "photos": [photo]}, headers=papi.auth
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "photos.0.sha256"
    assert (await upload(papi, JPEG, "image/jpeg")).status_code in (200, 201)
    for bad, field in (({**photo, "alt": ""}, "photos.0.alt"),
                       ({**photo, "size": 3}, "photos.0.size"),
                       ({k: v for k, v in photo.items() if k != "alt"}, "photos.0")):  # fmt: skip
        r = await papi.client.post(
            "/api/v1/equipment", json={"title": "Casque", "photos": [bad]}, headers=papi.auth
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"].startswith(field), r.json()
    assert await api_items(papi, "equipment") == []
    r = await papi.client.post(
        "/api/v1/equipment", json={"title": "Casque", "photos": [photo]}, headers=papi.auth
    )
    assert r.status_code == 201, r.text


async def test_photos_of_other_places_are_fetched_and_shown_by_their_text(
    papi: InProcessNode,
) -> None:
    remote = RemoteLog("EPN de Crozon", "Crozon")
    photo = {"sha256": SHA, "media_type": "image/jpeg", "size": len(JPEG), "alt": ALT}
    await ingest(papi, [
        remote.place_entry(),
        remote.entry("equipment", "projecteur", "put", {"title": "Projecteur", "photos": [photo]}),
    ])  # fmt: skip
    with papi.node.db.activated():
        fetch = await BlobFetch.get(sha256=SHA)
    assert (fetch.size, fetch.state) == (len(JPEG), "pending")
    page = await papi.client.get(f"/o/{remote.origin}/equipment/projecteur")
    assert f'alt="{ALT}"' in html.unescape(page.text)
    assert (await papi.client.get(f"/photos/{SHA}/960")).status_code == 404  # not here yet
    # A photo whose blob is not an image (a hostile author) gives no thumbnail.
    pdf_sha = hashlib.sha256(PDF).hexdigest()
    assert (await upload(papi, PDF)).status_code in (200, 201)
    fake = {"sha256": pdf_sha, "media_type": "image/png", "size": len(PDF), "alt": "Faux"}
    await ingest(
        papi, [remote.entry("equipment", "faux", "put", {"title": "Faux", "photos": [fake]})]
    )
    assert (await papi.client.get(f"/photos/{pdf_sha}/320")).status_code == 404


def test_backups_leave_thumbnails_out(tmp_path: Path) -> None:
    """Thumbnails are made again from their blobs: a backup does not carry them."""
    store = BlobStore(tmp_path / "blobs")
    (tmp_path / "blobs" / SHA[:2]).mkdir(parents=True)
    (tmp_path / "blobs" / SHA[:2] / SHA[2:]).write_bytes(JPEG)
    source = tmp_path / "blobs" / SHA[:2] / SHA[2:]
    assert make_thumbnail(source, thumbnail_path(store, SHA, 320), 320)
    assert _data_files(tmp_path) == [f"blobs/{SHA[:2]}/{SHA[2:]}"]


async def test_a_bundle_carries_photos_like_attachments(tmp_path: Path) -> None:
    """``papi bundle export`` carries the photos its entries list; the other node keeps
    them (the entries it holds list them) and makes their thumbnails."""
    async with network(tmp_path, ["a", "d"]) as (_, nodes):
        a, d = nodes["a"], nodes["d"]
        assert (await upload(a, JPEG, "image/jpeg")).status_code == 201
        photo = {"sha256": SHA, "media_type": "image/jpeg", "size": len(JPEG), "alt": ALT}
        r = await a.client.post(
            "/api/v1/equipment", json={"title": "Projecteur", "photos": [photo]}, headers=a.auth
        )
        assert r.status_code == 201, r.text
        output = tmp_path / "photos.papi-bundle"
        with a.node.db.activated():
            report = await export_bundle(a.node, output)
        assert report.manifest["blobs"] == [{"sha256": SHA, "size": len(JPEG)}]
        with d.node.db.activated():
            imported = await import_bundle(d.node, output)
        assert imported.blobs_kept == 1 and not imported.blobs_rejected
        assert (await d.client.get(f"/photos/{SHA}/320")).status_code == 200
