"""``papi resources import|export``: a folder of Markdown files with a front matter and
their linked files, to and from this node's resources."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from node.demo_pdf import simple_pdf
from node.services.resource_files import (
    FrontMatterError,
    dump_front_matter,
    export_folder,
    import_folder,
    safe_oid,
    split_front_matter,
)
from tests.conftest import InProcessNode, run_papi

PDF = simple_pdf("Fiche", ["Une fiche à imprimer."])
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def test_front_matter_round_trip() -> None:
    meta = {
        "id": "creer-adresse",
        "title": "Atelier : créer son adresse",
        "themes": ["Courriels", "Sécurité numérique"],
        "licence": "CC-BY-SA-4.0",
        "duration_minutes": 90,
        "based_on": "ed25519:" + "A" * 43 + "/x",
        "summary": 'Dit "bonjour" # pas un commentaire',
    }
    text = dump_front_matter(meta) + "\n# Corps\n"
    assert 'title: "Atelier : créer son adresse"' in text  # ": " is quoted for YAML
    assert "licence: CC-BY-SA-4.0" in text
    parsed, body = split_front_matter(text)
    assert parsed == meta and body == "# Corps\n"


def test_front_matter_subset_of_yaml() -> None:
    text = "---\ntitle: 'L''atelier'\nthemes:\n  - Courriels\n  - \"Santé\"\n# note\n---\ncorps"
    assert split_front_matter(text) == (
        {"title": "L'atelier", "themes": ["Courriels", "Santé"]},
        "corps",
    )
    assert split_front_matter("pas de front matter") == ({}, "pas de front matter")
    for bad in ("---\ntitle: x\n", "---\nnot a pair\n---\n", '---\ntitle: "open\n---\n'):
        with pytest.raises(FrontMatterError):
            split_front_matter(bad)
    assert safe_oid("Créer son adresse (v2).md") == "Creer-son-adresse-v2-md"


def write_site(root: Path) -> None:
    (root / "fichiers").mkdir(parents=True)
    (root / "fichiers" / "fiche mail.pdf").write_bytes(PDF)
    (root / "fichiers" / "capture.png").write_bytes(PNG)
    (root / "fichiers" / "outil.exe").write_bytes(b"MZ")
    (root.parent / "secret.pdf").write_bytes(PDF)
    (root / "creer-adresse.md").write_text(
        "---\ntitle: Créer son adresse e-mail\nthemes: [Courriels]\nlicence: CC-BY-4.0\n"
        "duration_minutes: 90\n---\n# Étapes\n\n![capture](fichiers/capture.png)\n\n"
        '[La fiche](fichiers/fiche%20mail.pdf "PDF") · [outil](fichiers/outil.exe) · '
        "[hors du dossier](../secret.pdf) · [site](https://exemple.fr/x.pdf)\n",
        encoding="utf-8",
    )
    (root / "hameconnage.md").write_text(
        "# Reconnaître l'hameçonnage\n\nSans front matter : le titre vient du texte.\n",
        encoding="utf-8",
    )
    (root / "cassee.md").write_text("---\ntitle: x\nauteur: moi\n---\n", encoding="utf-8")


async def test_import_then_export_then_import_again(papi: InProcessNode, tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_site(site)
    with papi.node.db.activated():
        report = await import_folder(papi.node, site)
    assert sorted(report.created) == ["creer-adresse.md", "hameconnage.md"]
    assert [name for name, _ in report.errors] == ["cassee.md"]
    assert any("outil.exe" in str(message) for _, message in report.warnings)
    items = {i["id"]: i for i in (await papi.client.get("/api/v1/resources")).json()["items"]}
    fiche = items["creer-adresse"]
    assert fiche["themes"] == ["Courriels"] and fiche["duration_minutes"] == 90
    names = [a["name"] for a in fiche["attachments"]]
    assert names == ["capture.png", "fiche mail.pdf"]  # secret.pdf is outside the folder
    pdf_sha = hashlib.sha256(PDF).hexdigest()
    assert f'[La fiche](/blobs/{pdf_sha} "PDF")' in fiche["body"]
    assert "(../secret.pdf)" in fiche["body"] and "(https://exemple.fr/x.pdf)" in fiche["body"]
    assert items["hameconnage"]["title"] == "Reconnaître l'hameçonnage"

    out = tmp_path / "export"
    with papi.node.db.activated():
        exported = await export_folder(papi.node, out)
    assert sorted(exported.written) == ["creer-adresse.md", "hameconnage.md"]
    assert (out / "creer-adresse" / "fiche mail.pdf").read_bytes() == PDF
    text = (out / "creer-adresse.md").read_text()
    assert '(creer-adresse/fiche%20mail.pdf "PDF")' in text and "/blobs/" not in text

    with papi.node.db.activated():
        again = await import_folder(papi.node, out)
    assert sorted(again.unchanged) == ["creer-adresse.md", "hameconnage.md"]
    assert again.created == again.updated == again.errors == []
    (out / "hameconnage.md").write_text(
        (out / "hameconnage.md").read_text() + "\nUne ligne de plus.\n", encoding="utf-8"
    )
    with papi.node.db.activated():
        changed = await import_folder(papi.node, out)
    assert changed.updated == ["hameconnage.md"]


def test_the_commands(tmp_path: Path) -> None:
    """In French (the tests' locale), warnings included; in English when asked."""
    data = tmp_path / "data"
    run_papi("init", "--data-dir", str(data), "--name", "EPN", "--commune", "Brest")
    site = tmp_path / "site"
    write_site(site)
    result = run_papi("resources", "import", str(site), "--data-dir", str(data), check=False)
    assert "2 créées, 0 mises à jour, 0 inchangées, 1 non importées" in result.stdout
    warning = "attention : creer-adresse.md : fichiers/outil.exe : type de fichier non autorisé"
    assert warning + ", pas joint" in result.stderr
    assert "non importé : cassee.md : clé(s) inconnue(s) : auteur" in result.stderr
    assert result.returncode == 1
    (site / "cassee.md").unlink()
    result = run_papi("resources", "export", str(tmp_path / "out"), "--data-dir", str(data))
    assert "2 fiches écrites dans" in result.stdout
    english = {"LANGUAGE": "en"}
    again = run_papi(
        "resources", "import", str(tmp_path / "out"), "--data-dir", str(data), env=english
    )
    assert "0 created, 0 updated, 2 unchanged" in again.stdout
    result = run_papi("resources", "import", str(site), "--data-dir", str(data), env=english)
    assert "creer-adresse.md: fichiers/outil.exe: type not allowed, not attached" in result.stderr
    failed: Any = run_papi(
        "resources", "import", str(tmp_path / "nowhere"), "--data-dir", str(data), check=False
    )
    assert failed.returncode == 1 and "n'est pas un dossier" in failed.stderr
