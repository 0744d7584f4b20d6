"""Resources and their attachments between real ``papi serve`` processes on 127.0.0.1:
a 5 MB PDF relayed A -> B -> C and served by C while A is stopped, wrong bytes from a
hostile peer refused, the quota, blobs gone from every disk after a delete, and an
adaptation made on B through its web pages, listed on A."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.demo_pdf import simple_pdf
from tests.conftest import NodeFactory, NodeProcess, run_papi, wait_until

pytestmark = pytest.mark.e2e

EMAIL = "animatrice@exemple.fr"
PASSWORD = "une phrase de passe"


def big_pdf(megabytes: float) -> bytes:
    """A real PDF of about ``megabytes`` MB (pages of numbered lines)."""
    lines = [f"Ligne {n} : exercice de saisie, « accents » compris." for n in range(10)]
    paragraphs = lines * int(megabytes * 1_000_000 / 600)
    data = simple_pdf("Support d'atelier", paragraphs)
    return data


PDF = big_pdf(5)
SHA = hashlib.sha256(PDF).hexdigest()


def origin_id(node: NodeProcess) -> str:
    return str(httpx.get(node.url + "/api/v1/node", timeout=10).json()["id"])


def publish(node: NodeProcess, **extra: Any) -> dict[str, Any]:
    r = httpx.post(
        node.url + "/api/v1/blobs",
        content=PDF,
        headers={**node.auth, "content-type": "application/pdf"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    body = {
        "title": "Atelier traitement de texte",
        "summary": "Le support complet de l'atelier.",
        "body": "# Support\n\nLe PDF est à imprimer.",
        "themes": ["Bureautique"],
        "attachments": [
            {"name": "Support d'atelier.pdf", "media_type": "application/pdf",
             "size": len(PDF), "sha256": SHA}
        ],
        **extra,
    }  # fmt: skip
    r = httpx.post(node.url + "/api/v1/resources", json=body, headers=node.auth, timeout=10)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def blob_state(node: NodeProcess, sha256: str = SHA) -> dict[str, Any]:
    r = httpx.get(node.url + f"/api/v1/blobs/{sha256}", timeout=10)
    result: dict[str, Any] = r.json() if r.status_code == 200 else {}
    return result


def holds(node: NodeProcess, sha256: str = SHA) -> bool:
    return bool(blob_state(node, sha256).get("held"))


def blob_file(node: NodeProcess, sha256: str = SHA) -> Path:
    return node.data_dir / "blobs" / sha256[:2] / sha256[2:]


def has_resource(node: NodeProcess, q: str) -> bool:
    r = httpx.get(node.url + "/api/v1/search", params={"q": q, "kind": "resource"}, timeout=10)
    return bool(r.json()["results"])


def test_a_5mb_pdf_reaches_c_through_b_and_c_serves_it_with_a_stopped(
    node_factory: NodeFactory,
) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plougastel", commune="Plougastel-Daoulas")
    c = node_factory("Cybercommune de Landerneau", commune="Landerneau")
    b.papi("peer", "add", a.url)
    c.papi("peer", "add", b.url)  # C only knows B; A is a discovered, private address
    publish(a)
    wait_until(lambda: holds(b), timeout=60)
    a.stop()
    wait_until(lambda: has_resource(c, "traitement texte"), timeout=60)
    wait_until(lambda: holds(c), timeout=90)
    r = httpx.get(c.url + f"/blobs/{SHA}", timeout=30)
    assert r.status_code == 200
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert "Support%20d%27atelier.pdf" in r.headers["content-disposition"]
    r = httpx.get(c.url + f"/blobs/{SHA}", headers={"range": "bytes=1000000-1000099"}, timeout=30)
    assert r.status_code == 206 and r.content == PDF[1_000_000:1_000_100]
    assert blob_file(c).read_bytes() == PDF


class HostilePeer(ThreadingHTTPServer):
    """Claims to be some node (``claims``) and answers every blob request with bytes that
    are not the blob (same length)."""

    asked: list[str]
    claims: str


class _Hostile(BaseHTTPRequestHandler):
    server: HostilePeer

    def do_GET(self) -> None:
        if self.path.startswith("/federation/v1/blobs/"):
            self.server.asked.append(self.path)
            wrong = bytearray(PDF)
            wrong[len(wrong) // 2] ^= 0xFF
            self.send_response(200)
            self.send_header("content-length", str(len(wrong)))
            self.end_headers()
            self.wfile.write(bytes(wrong))
            return
        if self.path == "/api/v1/node":
            body = json.dumps({"id": self.server.claims}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[HostilePeer]:
    server = HostilePeer(("127.0.0.1", 0), _Hostile)
    server.asked = []
    server.claims = ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_corrupted_blob_from_a_hostile_peer_is_refused_and_fetched_from_another(
    node_factory: NodeFactory, hostile: HostilePeer
) -> None:
    a = node_factory("Auteur")
    c = node_factory("Lecteur", start=False)
    hostile.claims = origin_id(a)  # it pretends to be the author: asked first
    hostile_url = f"http://127.0.0.1:{hostile.server_address[1]}"
    c.papi("peer", "add", hostile_url)
    c.papi("peer", "add", a.url)
    c.start()
    publish(a)
    wait_until(lambda: holds(c), timeout=90)
    assert hostile.asked == [f"/federation/v1/blobs/{SHA}"]
    assert blob_file(c).read_bytes() == PDF
    assert list((c.data_dir / "blobs" / "tmp").iterdir()) == []
    assert httpx.get(c.url + f"/federation/v1/blobs/{SHA}", timeout=30).content == PDF


def test_quota_respected_then_a_delete_empties_every_disk(node_factory: NodeFactory) -> None:
    a = node_factory("Auteur")
    b = node_factory("Relais")
    small = node_factory("Petit disque", blob_quota_bytes=len(PDF) - 1)
    b.papi("peer", "add", a.url)
    small.papi("peer", "add", b.url)
    created = publish(a)
    wait_until(lambda: holds(b), timeout=60)
    wait_until(lambda: blob_state(small).get("fetch", {}).get("state") == "over_quota", timeout=90)
    assert not blob_file(small).exists()
    assert all(path.is_dir() for path in (small.data_dir / "blobs").rglob("*"))
    page = httpx.get(small.url + f"/o/{origin_id(a)}/resource/{created['id']}", timeout=10)
    assert "pièces jointes est plein" in page.text

    r = httpx.delete(a.url + f"/api/v1/resources/{created['id']}", headers=a.auth, timeout=10)
    assert r.status_code == 204
    for node in (a, b):
        wait_until(lambda node=node: not blob_file(node).exists(), timeout=90)
    wait_until(lambda: not has_resource(small, "traitement texte"), timeout=60)
    for node in (a, b, small):
        assert not holds(node) and blob_state(node) == {}


def log_in(client: httpx.Client) -> None:
    page = client.get("/admin/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = client.post(
        "/admin/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token[1]}
    )
    assert r.status_code == 303


def test_an_adaptation_made_on_b_names_a_and_a_lists_it(node_factory: NodeFactory) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Point numérique de Crozon", commune="Crozon")
    a.papi("peer", "add", b.url)
    b.papi("peer", "add", a.url)
    run_papi(
        "user", "add", EMAIL, "--data-dir", str(b.data_dir),
        env={**b.env, "PAPI_PASSWORD": PASSWORD}, input="",
    )  # fmt: skip
    original = publish(a)
    a_id = origin_id(a)
    reference = f"{a_id}/{original['id']}"
    wait_until(lambda: has_resource(b, "traitement texte"), timeout=60)
    with httpx.Client(base_url=b.url, timeout=30) as client:
        log_in(client)
        form = client.get("/admin/resources/adapt", params={"from": reference})
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        r = client.post("/admin/resources/adapt", data={"from": reference, "csrf_token": token[1]})
        assert r.status_code == 303
    copy = httpx.get(b.url + "/api/v1/resources", timeout=10).json()["items"][0]
    assert copy["based_on"] == reference
    page = httpx.get(b.url + f"/o/{origin_id(b)}/resource/{copy['id']}", timeout=10)
    assert "Adaptée de" in page.text
    assert f'href="/o/{a_id}/resource/{original["id"]}"' in page.text
    assert "EPN Brest Bellevue" in page.text

    def listed_on_a() -> bool:
        r = httpx.get(a.url + f"/o/{a_id}/resource/{original['id']}", timeout=10)
        return f"/o/{origin_id(b)}/resource/{copy['id']}" in r.text

    wait_until(listed_on_a, timeout=60)
    page = httpx.get(a.url + f"/o/{a_id}/resource/{original['id']}", timeout=10)
    assert "Adaptations connues" in page.text and "Point numérique de Crozon" in page.text
