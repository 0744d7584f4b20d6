"""Bundles between in-process nodes that never talk to each other: the rules a blob must
meet to be kept, members that do not belong, the operator's import not charged as a
sender, and the vector file (frozen origins claimed complete, blobs still wanted)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from federation import bundle
from node.models import BlobFetch
from node.services.bundles import (
    BundleRefused,
    ImportReport,
    export_bundle,
    import_bundle,
    vector_document,
)
from node.services.sync import FROZEN_SEQ
from tests.conftest import InProcessNode
from tests.network import network
from tests.test_resources_api import PDF, SHA, attachment, fiche, upload


async def publish_resource(node: InProcessNode) -> None:
    assert (await upload(node, PDF)).status_code == 201
    r = await node.client.post(
        "/api/v1/resources", json=fiche(attachments=[attachment()]), headers=node.auth
    )
    assert r.status_code == 201, r.text


async def log(node: InProcessNode) -> list[dict[str, Any]]:
    origin = node.node.origin
    r = await node.client.get("/federation/v1/entries", params={"origin": origin, "after": 0})
    entries: list[dict[str, Any]] = r.json()["entries"]
    return entries


def write_bundle(
    path: Path,
    entries: list[dict[str, Any]],
    blobs: list[tuple[str, bytes]],
    *,
    listed: list[tuple[str, int]] | None = None,
    extra: list[tuple[str, bytes]] | None = None,
) -> Path:
    """A bundle written member by member, as another implementation would."""
    lines = b"".join(bundle.dump_json(entry) + b"\n" for entry in entries)
    manifest = {
        "format": "papi-bundle",
        "version": 1,
        "created": "2026-11-26T09:30:00Z",
        "origin": entries[0]["header"]["origin"],
        "entries": len(entries),
        "blobs": [
            {"sha256": sha, "size": size}
            for sha, size in (listed or [(name, len(data)) for name, data in blobs])
        ],
    }
    members = [
        (bundle.MANIFEST, bundle.dump_json(manifest)),
        *(extra or []),
        (bundle.ENTRIES, lines),
        *((bundle.blob_member(name), data) for name, data in blobs),
    ]
    with path.open("wb") as out:
        for name, data in members:
            bundle.write_member(out, name, len(data), io.BytesIO(data), 0)
        out.write(bundle.END_OF_ARCHIVE)
    return path


async def run_import(node: InProcessNode, path: Path) -> ImportReport:
    with node.node.db.activated():
        return await import_bundle(node.node, path)


async def test_blob_rules(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "d", "small"], {"small": {"blob_quota_bytes": 1000}}) as (
        _,
        nodes,
    ):
        a, d, small = nodes["a"], nodes["d"], nodes["small"]
        await publish_resource(a)
        entries = await log(a)
        stray = b"not listed by any resource"
        stray_sha = hashlib.sha256(stray).hexdigest()
        path = write_bundle(
            tmp_path / "rules.papi-bundle",
            entries,
            [(SHA, PDF), (stray_sha, stray)],
            listed=[(SHA, len(PDF)), (stray_sha, len(stray)), ("0" * 64, 10)],
            extra=[("notes.txt", b"hello"), (bundle.blob_member(SHA), PDF)],
        )
        report = await run_import(d, path)
        assert report.notes == []
        assert report.accepted == len(entries) and not report.rejected
        assert report.blobs_kept == 1
        reasons = {r.name: r.reason for r in report.blobs_rejected}
        assert reasons == {
            stray_sha: "aucune ressource de ce nœud ne cite cette pièce jointe",
            "0" * 64: "annoncée par le manifeste, absente du paquet",
        }
        assert report.problems == [
            "élément 'notes.txt' ignoré (inattendu)",
            f"élément 'blobs/{SHA}' ignoré (avant entries.jsonl)",
        ]
        assert (await d.client.get(f"/federation/v1/blobs/{SHA}")).content == PDF
        assert (await d.client.get(f"/federation/v1/blobs/{stray_sha}")).status_code == 404
        with d.node.db.activated():
            assert (await BlobFetch.get(sha256=SHA)).state == "done"

        # Again: nothing new, the blob is held already.
        again = await run_import(d, path)
        assert again.accepted == 0 and again.duplicate == len(entries)
        assert again.blobs_kept == 0 and again.blobs_held == 1

        # A node whose quota is too small keeps the entries and says why not the blob.
        report = await run_import(small, path)
        assert report.accepted == len(entries)
        assert "quota" in {r.name: r.reason for r in report.blobs_rejected}[SHA]
        assert (await small.client.get(f"/federation/v1/blobs/{SHA}")).status_code == 404


async def test_a_blob_listed_with_another_size_is_refused(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "d"]) as (_, nodes):
        a, d = nodes["a"], nodes["d"]
        await publish_resource(a)
        longer = PDF + b"\n"
        # The member's name is the hash of its bytes, but the resource lists another size.
        path = write_bundle(
            tmp_path / "size.papi-bundle",
            await log(a),
            [(hashlib.sha256(longer).hexdigest(), longer)],
        )
        report = await run_import(d, path)
        assert report.blobs_kept == 0
        assert [r.reason for r in report.blobs_rejected] == [
            "aucune ressource de ce nœud ne cite cette pièce jointe"
        ]
        # Same name, wrong length: refused before a byte is written.
        path = write_bundle(tmp_path / "len.papi-bundle", await log(a), [(SHA, longer)])
        report = await run_import(d, path)
        assert report.blobs_rejected[0].reason.startswith("les ressources qui la citent")


async def test_the_operators_import_is_not_charged_for_new_origins(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "b", "c", "d"], {"d": {"new_origins_per_hour": 1}}) as (
        _,
        nodes,
    ):
        entries = [entry for name in "abc" for entry in await log(nodes[name])]
        path = write_bundle(tmp_path / "three.papi-bundle", entries, [])
        report = await run_import(nodes["d"], path)
        assert report.accepted == len(entries) and report.clean


async def test_vector_file_and_export_for_it(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "d"]) as (_, nodes):
        a, d = nodes["a"], nodes["d"]
        await publish_resource(a)
        path = write_bundle(tmp_path / "no-blob.papi-bundle", await log(a), [])
        await run_import(d, path)
        with d.node.db.activated():
            document = await vector_document(d.node)
        # D holds the resource, not its blob: it says it wants it.
        assert document["wants"] == [SHA]
        assert document["vector"][a.node.origin] == len(await log(a))
        assert bundle.parse_vector_file(bundle.dump_json(document)) == document

        output = tmp_path / "for-d.papi-bundle"
        with a.node.db.activated():
            report = await export_bundle(a.node, output, document)
            with pytest.raises(BundleRefused, match="existe déjà"):
                await export_bundle(a.node, output, document)
        # D lacks nothing A holds; the blob it wants is carried all the same.
        assert report.entries == 0 and report.manifest["entries"] == 0
        assert report.manifest["for"]["origin"] == d.node.origin
        assert report.manifest["blobs"] == [{"sha256": SHA, "size": len(PDF)}]
        # Imported by another node than the one it was written for: said, not refused.
        other = await run_import(a, output)
        assert other.clean and other.blobs_held == 1
        assert other.notes and d.node.origin in other.notes[0]


async def test_frozen_origins_are_claimed_complete(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "d"]) as (_, nodes):
        a, d = nodes["a"], nodes["d"]
        path = write_bundle(tmp_path / "a.papi-bundle", await log(a), [])
        await run_import(d, path)
        with d.node.db.activated():
            async with in_transaction() as conn:
                await conn.execute_query(
                    "UPDATE origins SET frozen = 1 WHERE id = ?", [a.node.origin]
                )
            document = await vector_document(d.node)
        assert document["vector"][a.node.origin] == FROZEN_SEQ
        assert json.loads(bundle.dump_json(document))["vector"][a.node.origin] == FROZEN_SEQ


async def test_altered_blob_bytes_are_not_kept(tmp_path: Path) -> None:
    async with network(tmp_path, ["a", "d"]) as (_, nodes):
        a, d = nodes["a"], nodes["d"]
        await publish_resource(a)
        altered = bytearray(PDF)
        altered[len(PDF) // 2] ^= 0x20  # same name, same length, one byte changed
        path = write_bundle(tmp_path / "altered.papi-bundle", await log(a), [(SHA, bytes(altered))])
        report = await run_import(d, path)
        assert [r.reason for r in report.blobs_rejected] == [
            "son contenu ne correspond pas à son empreinte SHA-256 (abîmée ou modifiée)"
        ]
        assert (await d.client.get(f"/federation/v1/blobs/{SHA}")).status_code == 404
        assert not (d.data_dir / "blobs" / SHA[:2] / SHA[2:]).exists()
        assert list((d.data_dir / "blobs" / "tmp").iterdir()) == []
