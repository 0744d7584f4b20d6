"""Sneakernet bundles between real processes: what node A holds crosses to node D, which
never talks to A, on a file; D then serves it (its API, a third node pulling from D);
``--for`` carries only what is missing; a damaged bundle costs only what is damaged."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.demo_pdf import simple_pdf
from tests import independent_verifier as iv
from tests.conftest import NodeFactory, NodeProcess, run_papi, wait_until
from tests.test_federation_e2e import head, log_of, origin_id

pytestmark = pytest.mark.e2e

PDF = simple_pdf("Support d'atelier", [f"Ligne {n} : « accents » compris." for n in range(400)])
SHA = hashlib.sha256(PDF).hexdigest()
SKILLS = ["Courriels", "Tableur", "Banque en ligne"]


def publish_skill(node: NodeProcess, title: str) -> None:
    r = httpx.post(
        node.url + "/api/v1/skills", json={"title": title}, headers=node.auth, timeout=10
    )
    assert r.status_code == 201, r.text


def publish_resource(node: NodeProcess) -> None:
    r = httpx.post(
        node.url + "/api/v1/blobs",
        content=PDF,
        headers={**node.auth, "content-type": "application/pdf"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    body = {
        "title": "Atelier traitement de texte",
        "body": "# Support\n\nÀ imprimer avant l'atelier.",
        "attachments": [
            {"name": "Support.pdf", "media_type": "application/pdf", "size": len(PDF),
             "sha256": SHA}
        ],
    }  # fmt: skip
    r = httpx.post(node.url + "/api/v1/resources", json=body, headers=node.auth, timeout=10)
    assert r.status_code == 201, r.text


def bundle_members(path: Path) -> dict[str, bytes]:
    """The members of a bundle, read with Python's own tar reader (another reader)."""
    with tarfile.open(path, "r:") as tar:
        found = {}
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            assert handle is not None
            found[member.name] = handle.read()
        return found


def verify_signed_log(entries: list[dict[str, Any]]) -> None:
    """Each entry's signature, payload commitment and link to the previous one, checked
    with the independent verifier's primitives (it knows the brief's kinds only, not
    ``resource``)."""
    previous = None
    for seq, entry in enumerate(entries, 1):
        header = entry["header"]
        assert header["seq"] == seq
        key = iv.public_key_of(header["origin"])
        key.verify(iv.b64url_nopad_decode(entry["sig"], "sig"), iv.jcs(header))
        assert header["prev"] == (None if previous is None else iv.header_hash(previous))
        assert iv.sha256_tag(iv.jcs(entry["payload"])) == header["payload_hash"]
        previous = header


def manifest_of(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(bundle_members(path)["papi-bundle.json"])
    return document


def test_bundle_carries_a_log_and_its_blob_to_an_unconnected_node(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    a = node_factory("EPN Ouessant", commune="Ouessant")
    d = node_factory("Médiathèque de Molène", commune="Île-Molène")
    publish_resource(a)
    for title in SKILLS:
        publish_skill(a, title)
    a_id = origin_id(a)
    a_log = log_of(a, a_id)

    everything = tmp_path / "ouessant.papi-bundle"
    exported = a.papi("bundle", "export", str(everything))
    assert "Paquet écrit" in exported.stdout and "1 pièces jointes" in exported.stdout
    members = bundle_members(everything)
    assert list(members) == ["papi-bundle.json", "entries.jsonl", f"blobs/{SHA}"]
    assert members[f"blobs/{SHA}"] == PDF
    manifest = manifest_of(everything)
    assert manifest["origin"] == a_id and "for" not in manifest
    assert manifest["blobs"] == [{"sha256": SHA, "size": len(PDF)}]

    imported = d.papi("bundle", "import", str(everything))  # while D serves
    assert f"{len(a_log)} entrées enregistrées" in imported.stdout
    assert "1 pièces jointes gardées" in imported.stdout
    assert log_of(d, a_id) == a_log
    verify_signed_log(log_of(d, a_id))
    r = httpx.get(d.url + f"/federation/v1/blobs/{SHA}", timeout=10)
    assert r.status_code == 200 and r.content == PDF
    found = httpx.get(
        d.url + "/api/v1/search", params={"origin": a_id, "kind": "skill"}, timeout=10
    ).json()["results"]
    assert sorted(result["title"] for result in found) == sorted(SKILLS)

    # The island writes its vector; A publishes more; only that comes back on the stick.
    vector = tmp_path / "molene.vector"
    d.papi("vector", str(vector))
    assert json.loads(vector.read_text())["vector"][a_id] == len(a_log)
    publish_skill(a, "Visioconférence")
    publish_skill(a, "Retouche photo")
    missing = tmp_path / "pour-molene.papi-bundle"
    a.papi("bundle", "export", str(missing), "--for", str(vector))
    manifest = manifest_of(missing)
    assert manifest["entries"] == 2 and manifest["blobs"] == []
    assert manifest["for"]["origin"] == origin_id(d)
    lines = bundle_members(missing)["entries.jsonl"].decode().splitlines()
    assert [json.loads(line)["header"]["seq"] for line in lines] == [
        len(a_log) + 1,
        len(a_log) + 2,
    ]
    a.stop()
    again = d.papi("bundle", "import", str(missing))
    assert "2 entrées enregistrées, 0 déjà présentes" in again.stdout
    assert head(d, a_id) == len(a_log) + 2

    # A third node that only knows D gets A's entries, signatures intact, and the blob.
    e = node_factory("Cybercommune de Crozon", commune="Crozon")
    e.papi("peer", "add", d.url)
    e.papi("sync")
    assert log_of(e, a_id) == log_of(d, a_id)
    verify_signed_log(log_of(e, a_id))
    wait_until(
        lambda: httpx.get(e.url + f"/federation/v1/blobs/{SHA}", timeout=10).status_code == 200,
        timeout=60,
    )
    assert httpx.get(e.url + f"/federation/v1/blobs/{SHA}", timeout=10).content == PDF


# -- damaged bundles ---------------------------------------------------------------------


class Island:
    """A fresh node that is not served: its database is read directly."""

    def __init__(self, base: Path, name: str) -> None:
        self.data_dir = base / name
        run_papi("init", "--data-dir", str(self.data_dir), "--name", name, "--commune", "Sein")

    def papi(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_papi(*args, "--data-dir", str(self.data_dir), check=False)

    def seqs(self, origin: str) -> list[int]:
        with sqlite3.connect(self.data_dir / "papi.sqlite3") as conn:
            rows = conn.execute("SELECT seq FROM entries WHERE origin = ? ORDER BY seq", [origin])
            return [row[0] for row in rows]

    def pending(self, origin: str) -> list[int]:
        with sqlite3.connect(self.data_dir / "papi.sqlite3") as conn:
            rows = conn.execute(
                "SELECT seq FROM pending_entries WHERE origin = ? ORDER BY seq", [origin]
            )
            return [row[0] for row in rows]

    def holds_blob(self) -> bool:
        with sqlite3.connect(self.data_dir / "papi.sqlite3") as conn:
            rows = conn.execute("SELECT count(*) FROM blobs WHERE sha256 = ?", [SHA]).fetchall()
        file = self.data_dir / "blobs" / SHA[:2] / SHA[2:]
        return bool(rows[0][0]) or file.exists()


def refused_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("refusée : ")]


def assert_partial_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("papi: error: ")


def flip(data: bytes, needle: bytes, at: int = 0, to: bytes | None = None) -> bytes:
    """``data`` with one byte changed (to ``to``, else its lowest bit flipped) inside
    the only occurrence of ``needle``."""
    assert data.count(needle) == 1, needle
    where = data.index(needle) + at
    changed = to if to is not None else bytes([data[where] ^ 0x01])
    assert changed != data[where : where + 1]
    return data[:where] + changed + data[where + 1 :]


def rebuilt(members: dict[str, bytes]) -> bytes:
    """A bundle written again by Python's tarfile (ustar), from ``members``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_a_damaged_bundle_costs_only_what_is_damaged(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    a = node_factory("EPN Ouessant", commune="Ouessant")
    publish_resource(a)
    for title in SKILLS:
        publish_skill(a, title)
    a_id = origin_id(a)
    count = len(log_of(a, a_id))
    pristine_path = tmp_path / "ouessant.papi-bundle"
    a.papi("bundle", "export", str(pristine_path))
    a.stop()
    pristine = pristine_path.read_bytes()
    members = bundle_members(pristine_path)
    lines = members["entries.jsonl"].splitlines()
    assert len(lines) == count
    resource_line = next(
        n for n, line in enumerate(lines, 1) if json.loads(line)["header"]["kind"] == "resource"
    )
    assert resource_line < count - 1  # skills follow it
    cases = tmp_path / "cases"
    cases.mkdir()

    def bundle(name: str, data: bytes) -> str:
        path = cases / name
        path.write_bytes(data)
        return str(path)

    # A byte of the last entry's payload: that entry is refused, the others stored.
    node = Island(tmp_path, "payload")
    result = node.papi("bundle", "import", bundle("payload", flip(pristine, b'"Banque en', 3)))
    assert_partial_failure(result)
    assert len(refused_lines(result)) == 1
    assert f"ligne {count} ({a_id} seq {count}) : payload_mismatch" in refused_lines(result)[0]
    assert node.seqs(a_id) == list(range(1, count))
    assert node.holds_blob()

    # A byte of a signature in the middle: refused; what follows is kept aside beyond
    # the gap, and the intact bundle fills it.
    node = Island(tmp_path, "signature")
    sig = json.loads(lines[1])["sig"].encode()
    other = b"B" if sig[20:21] == b"A" else b"A"  # still base64url: only the signature fails
    result = node.papi("bundle", "import", bundle("signature", flip(pristine, sig, 20, other)))
    assert_partial_failure(result)
    assert len(refused_lines(result)) == 1
    assert f"ligne 2 ({a_id} seq 2) : bad_signature" in refused_lines(result)[0]
    assert node.seqs(a_id) == [1]
    assert node.pending(a_id) == list(range(3, count + 1))
    assert f"{count - 2} en attente" in result.stdout
    healed = node.papi("bundle", "import", str(pristine_path))
    assert healed.returncode == 0, healed.stderr
    assert node.seqs(a_id) == list(range(1, count + 1)) and node.pending(a_id) == []

    # A line that is no longer JSON.
    node = Island(tmp_path, "json")
    result = node.papi("bundle", "import", bundle("json", flip(pristine, lines[-1])))
    assert_partial_failure(result)
    assert f"ligne {count} (entrée illisible) : malformed" in refused_lines(result)[0]
    assert node.seqs(a_id) == list(range(1, count))

    # A byte of the blob: the blob is refused and not kept; every entry is stored.
    node = Island(tmp_path, "blob")
    result = node.papi("bundle", "import", bundle("blob", flip(pristine, PDF, 2000)))
    assert_partial_failure(result)
    assert f"pièce jointe refusée : {SHA} : son contenu ne correspond pas" in result.stderr
    assert node.seqs(a_id) == list(range(1, count + 1))
    assert not node.holds_blob()

    # Truncated in the middle of the blob: the entries are stored, the blob is not.
    node = Island(tmp_path, "cut-blob")
    cut = pristine.index(PDF) + len(PDF) // 2
    result = node.papi("bundle", "import", bundle("cut-blob", pristine[:cut]))
    assert_partial_failure(result)
    assert "le paquet est tronqué" in result.stderr
    assert node.seqs(a_id) == list(range(1, count + 1))
    assert not node.holds_blob()

    # Truncated in the middle of entries.jsonl: the whole lines before the cut are stored.
    node = Island(tmp_path, "cut-entries")
    cut = pristine.index(lines[resource_line]) + 10  # inside the line after the resource
    result = node.papi("bundle", "import", bundle("cut-entries", pristine[:cut]))
    assert_partial_failure(result)
    assert "le paquet est tronqué" in result.stderr
    assert node.seqs(a_id) == list(range(1, resource_line + 1))
    assert not node.holds_blob()

    # A version this node does not know: nothing is read, nothing stored.
    node = Island(tmp_path, "version")
    newer = json.loads(members["papi-bundle.json"])
    newer["version"] = 2
    data = rebuilt({**members, "papi-bundle.json": json.dumps(newer).encode()})
    result = node.papi("bundle", "import", bundle("version", data))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "format version 2" in result.stderr and "mettez papi-node à jour" in result.stderr
    assert "rien n'a été importé" in result.stderr
    assert node.seqs(a_id) == []

    # Written again by another tar writer, the intact content imports cleanly.
    node = Island(tmp_path, "tarfile")
    result = node.papi("bundle", "import", bundle("tarfile", rebuilt(members)))
    assert result.returncode == 0, result.stderr
    assert node.seqs(a_id) == list(range(1, count + 1)) and node.holds_blob()
