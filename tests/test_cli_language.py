"""The command line speaks one language at a time: French by default and with
``LANGUAGE=fr``, English with ``LANGUAGE=en``, through the catalogue of the web
interface (node/i18n.py); times in Paris time with their zone. Real ``papi`` processes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port, run_papi

pytestmark = pytest.mark.e2e

#: A time as the command line prints it: Paris time, with the zone's name.
PARIS_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST)\b")
#: Words that only one of the two languages would print in these commands' output.
FRENCH_ONLY = ("nœud", "PROBLÈME", "attention :", "erreur :", "Paquet", "utilisation")
ENGLISH_ONLY = ("node ", "PROBLEM ", "warning:", "error:", "Bundle", "usage:")


def papi(data_dir: Path, language: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_papi(*args, "--data-dir", str(data_dir), env={"LANGUAGE": language}, check=False)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def speaks(text: str, language: str) -> None:
    """``text`` has none of the other language's words."""
    other = ENGLISH_ONLY if language == "fr" else FRENCH_ONLY
    assert not [word for word in other if word in text], text


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("language") / "n1"
    run_papi(
        "init", "--data-dir", str(data_dir), "--name", "EPN Brest Bellevue",
        "--url", "http://127.0.0.1:9", "--no-recovery-key",
    )  # fmt: skip
    for name in ("papi.toml", "papi.sqlite3"):
        (data_dir / name).chmod(0o600)
    return data_dir


def test_doctor_speaks_the_locale_language_with_paris_times(node: Path) -> None:
    run_papi("backup", str(node.parent / "backup.tar.gz"), "--data-dir", str(node))

    english = papi(node, "en", "doctor", "--timeout", "2")
    assert english.returncode == 1  # no peer yet, and the advertised URL does not answer
    out = english.stdout
    assert f"papi doctor: {node} (seen from this machine)" in out
    assert "intact (integrity_check)." in out and "Database schema up to date" in out
    assert "PROBLEM   No peer: this node receives and sends nothing." in out
    assert re.search(r"problems? to fix\.$", out.strip())
    assert re.search(r"Last backup: " + PARIS_TIME.pattern, out), out
    speaks(out, "en")

    french = papi(node, "fr", "doctor", "--timeout", "2")
    out = french.stdout
    assert f"papi doctor : {node} (vu depuis cette machine)" in out
    assert "PROBLÈME  Aucun pair : ce nœud ne reçoit ni n'envoie rien." in out
    assert re.search(r"problèmes? à corriger\.$", out.strip())
    assert re.search(r"Dernière sauvegarde : " + PARIS_TIME.pattern, out), out
    speaks(out, "fr")

    # The machine's own locale decides when LANGUAGE says nothing of ours; French otherwise.
    unset = {"LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}
    doctor = ("doctor", "--data-dir", str(node), "--timeout", "2")
    default = run_papi(*doctor, env={**unset, "LANG": "C.UTF-8"}, check=False)
    assert f"papi doctor : {node}" in default.stdout
    british = run_papi(*doctor, env={**unset, "LANG": "en_GB.UTF-8"}, check=False)
    assert f"papi doctor: {node}" in british.stdout


def test_bundle_commands_speak_the_locale_language(node: Path) -> None:
    for language, written, other_node, header in (
        ("en", "Bundle written to", "On the other node: papi bundle import",
         "Bundle from node ed25519:"),
        ("fr", "Paquet écrit dans", "Sur l'autre nœud : papi bundle import",
         "Paquet du nœud ed25519:"),
    ):  # fmt: skip
        bundle = node.parent / f"bundle-{language}.tar"
        exported = papi(node, language, "bundle", "export", str(bundle))
        assert exported.returncode == 0, exported.stderr
        assert written in exported.stdout and other_node in exported.stdout
        speaks(exported.stdout + exported.stderr, language)

        again = papi(node, language, "bundle", "export", str(bundle))
        assert again.returncode == 1
        speaks(again.stderr, language)

        imported = papi(node, language, "bundle", "import", str(bundle))
        assert imported.returncode == 0, imported.stderr
        assert header in imported.stderr
        # When the bundle was written: its manifest says it in UTC, shown in Paris time.
        assert PARIS_TIME.search(imported.stderr), imported.stderr
        speaks(imported.stdout + imported.stderr, language)

    english = papi(node, "en", "bundle", "import", str(node.parent / "absent.tar"))
    assert english.returncode == 1
    assert english.stderr.strip().endswith("absent.tar is not a file")
    french = papi(node, "fr", "bundle", "import", str(node.parent / "absent.tar"))
    assert french.stderr.startswith("papi : erreur : ")
    assert french.stderr.strip().endswith("absent.tar n'est pas un fichier")


def test_sync_labels_speak_the_locale_language(node: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    added = papi(node, "fr", "peer", "add", dead)
    assert added.returncode == 0, added.stderr

    english = papi(node, "en", "sync")
    assert english.returncode == 1  # the exit status, not the words, is for scripts
    assert f"warning: {dead}: unreachable: " in english.stderr
    assert "papi: error: no peer could be synced" in english.stderr
    speaks(english.stderr, "en")

    french = papi(node, "fr", "sync")
    assert french.returncode == 1
    assert f"attention : {dead} : unreachable : " in french.stderr
    assert "papi : erreur : aucun pair n'a pu être synchronisé" in french.stderr
    speaks(french.stderr, "fr")

    peers = papi(node, "en", "peer", "list")
    assert PARIS_TIME.search(peers.stdout), peers.stdout  # its next attempt
    papi(node, "fr", "peer", "remove", dead, "--yes")


def test_lamednum_import_reasons_speak_the_locale_language(node: Path) -> None:
    path = node.parent / "lieux.csv"
    path.write_text("id,nom\n", encoding="utf-8")
    english = papi(node, "en", "import", "lamednum", str(path))
    assert english.returncode == 1
    assert "required columns of the standard missing: " in english.stderr
    french = papi(node, "fr", "import", "lamednum", str(path))
    assert "colonnes obligatoires du standard absentes : " in french.stderr


def test_help_and_usage_speak_the_locale_language(node: Path) -> None:
    english = run_papi("bundle", "export", "--help", env={"LANGUAGE": "en"})
    assert english.stdout.startswith("usage: papi bundle export")
    assert "positional arguments:" in english.stdout and "--for VECTOR_FILE" in english.stdout
    assert "write a bundle" not in english.stdout  # the subcommand's help is in its parent
    french = run_papi("bundle", "export", "--help", env={"LANGUAGE": "fr"})
    assert french.stdout.startswith("utilisation : papi bundle export")
    assert "--for FICHIER_VECTEUR" in french.stdout and "FICHIER" in french.stdout
    assert "fichier paquet à créer (jamais écrasé)" in french.stdout

    top = run_papi("--help", env={"LANGUAGE": "fr"}).stdout
    assert "COMMANDE" in top and "se porter garant d'un lieu (membre)" in top
    assert "vouch for a place" not in top

    wrong = run_papi("bundle", env={"LANGUAGE": "fr"}, check=False)
    assert wrong.returncode == 2
    assert "papi bundle : erreur : " in wrong.stderr, wrong.stderr
