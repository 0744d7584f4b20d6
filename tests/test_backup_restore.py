"""``papi backup`` and ``papi restore`` with real processes, and the promise that matters:
a node restored from an old backup never forks its own log."""

from __future__ import annotations

import io
import os
import pty
import re
import sqlite3
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import independent_verifier as iv
from tests.conftest import ROOT, NodeFactory, NodeProcess, run_papi, wait_until
from tests.test_federation_e2e import head, log_of, origin_id

pytestmark = pytest.mark.e2e


def publish(node: NodeProcess, title: str) -> httpx.Response:
    return httpx.post(
        node.url + "/api/v1/skills", json={"title": title}, headers=node.auth, timeout=10
    )


def own_titles(node: NodeProcess) -> list[str]:
    items = httpx.get(node.url + "/api/v1/skills", timeout=10).json()["items"]
    return sorted(item["title"] for item in items)


def forks_in(data_dir: Path) -> list[Any]:
    with sqlite3.connect(data_dir / "papi.sqlite3") as conn:
        return conn.execute("SELECT origin, seq FROM fork_evidence").fetchall()


def assert_clean_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("papi : erreur : "), result.stderr  # the tests' locale is French
    for fragment in fragments:
        assert fragment in line, line


def test_restored_node_never_forks_its_log(node_factory: NodeFactory, tmp_path: Path) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plougastel", commune="Plougastel-Daoulas")
    a.papi("peer", "add", b.url)
    b.papi("peer", "add", a.url)
    a_id = origin_id(a)
    for title in ("Courriels", "Tableur", "Banque en ligne"):
        assert publish(a, title).status_code == 201
    wait_until(lambda: head(b, a_id) == 4)

    backup = tmp_path / "a.tar.gz"
    a.papi("backup", str(backup))  # online: the node is serving
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    later = [f"Atelier {n}" for n in range(1, 11)]
    for title in later:
        assert publish(a, title).status_code == 201
    wait_until(lambda: head(b, a_id) == 14)

    refused = a.papi("restore", "--yes", str(backup), check=False)
    assert_clean_failure(refused, "un nœud tourne déjà", "arrêtez-le d'abord")
    assert head(a, a_id) == 14

    # Restore the old backup while no peer can be reached: the node must not write.
    a.stop()
    b.stop()
    restored = a.papi("restore", "--yes", str(backup))
    assert "son journal jusqu'à l'entrée 4, sauvegarde du " in restored.stdout
    assert re.search(r"sauvegarde du \d{4}-\d\d-\d\d \d\d:\d\d CES?T\)", restored.stdout)
    a.start()
    assert head(a, a_id) == 4
    r = publish(a, "Montage vidéo")
    assert r.status_code == 409 and r.json()["error"]["code"] == "recovering"
    failed = a.papi("sync", check=False)  # the peer is down: still refusing
    assert failed.returncode == 1
    assert publish(a, "Montage vidéo").status_code == 409

    # The peer is back: one round brings the 10 later entries home, then writes resume.
    b.start()
    a.papi("sync")
    assert head(a, a_id) == 14
    r = publish(a, "Montage vidéo")
    assert r.status_code == 201 and r.json()["seq"] == 15
    assert own_titles(a) == sorted(
        ["Courriels", "Tableur", "Banque en ligne", *later, "Montage vidéo"]
    )
    wait_until(lambda: head(b, a_id) == 15)

    assert log_of(a, a_id) == log_of(b, a_id)
    iv.verify_log(log_of(b, a_id))
    nodes = httpx.get(b.url + "/api/v1/nodes", timeout=10).json()["origins"]
    assert not next(row for row in nodes if row["id"] == a_id)["frozen"]
    a.stop()
    b.stop()
    assert forks_in(a.data_dir) == [] and forks_in(b.data_dir) == []


def test_restored_node_catches_up_by_itself_when_its_peer_answers(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plougastel", commune="Plougastel-Daoulas")
    a.papi("peer", "add", b.url)
    a_id = origin_id(a)
    backup = tmp_path / "a.tar.gz"
    a.papi("backup", str(backup))
    for n in range(3):
        publish(a, f"Atelier {n}")
    wait_until(lambda: head(b, a_id) == 4)
    a.stop()
    a.papi("restore", "--yes", str(backup))
    a.start()  # its scheduler's first round reaches b
    wait_until(lambda: publish(a, "Scanner").status_code == 201)
    assert head(a, a_id) == 5
    assert not (a.data_dir / "restored").exists()


def test_encrypted_backup_restores_into_a_new_directory(
    node_factory: NodeFactory, tmp_path: Path
) -> None:
    a = node_factory("EPN Brest Bellevue")
    publish(a, "Courriels")
    passphrase = tmp_path / "phrase"
    passphrase.write_text("correct horse battery staple\n")
    backup = tmp_path / "a.papi"
    a.papi("backup", "--passphrase-file", str(passphrase), str(backup))
    assert backup.read_bytes().startswith(b"PAPISEAL")
    assert b"Courriels" not in backup.read_bytes()
    a.stop()

    target = tmp_path / "elsewhere"
    wrong = tmp_path / "wrong"
    wrong.write_text("not the right passphrase\n")
    result = run_papi("restore", "--yes", "--passphrase-file", str(wrong), str(backup),
                      "--data-dir", str(target), check=False)  # fmt: skip
    assert_clean_failure(result, "phrase de passe erronée")
    assert not (target / "node.key").exists()

    run_papi("restore", "--yes", "--passphrase-file", str(passphrase), str(backup),
             "--data-dir", str(target))  # fmt: skip
    for name in ("node.key", "papi.toml", "papi.sqlite3", "session.key"):
        assert (target / name).read_bytes() == (a.data_dir / name).read_bytes() or (
            name == "papi.sqlite3"
        )
        assert stat.S_IMODE((target / name).stat().st_mode) == 0o600
    with sqlite3.connect(target / "papi.sqlite3") as conn:
        titles = [row[0] for row in conn.execute("SELECT title FROM objects WHERE kind='skill'")]
    assert titles == ["Courriels"]


def test_backup_refuses_a_short_passphrase_and_an_existing_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "n"
    run_papi("init", "--data-dir", str(data_dir))
    existing = tmp_path / "old.tar.gz"
    existing.write_bytes(b"precious")
    result = run_papi("backup", "--data-dir", str(data_dir), str(existing), check=False)
    assert_clean_failure(result, "existe déjà")
    assert existing.read_bytes() == b"precious"
    short = tmp_path / "short"
    short.write_text("abc\n")
    result = run_papi("backup", "--data-dir", str(data_dir), "--passphrase-file", str(short),
                      str(tmp_path / "new"), check=False)  # fmt: skip
    assert_clean_failure(result, "trop courte")
    result = run_papi("backup", "--data-dir", str(tmp_path / "none"), str(tmp_path / "x"),
                      check=False)  # fmt: skip
    assert_clean_failure(result, "ne contient aucun nœud")
    result = run_papi("backup", "--data-dir", str(data_dir), str(data_dir / "b.tar.gz"),
                      check=False)  # fmt: skip
    assert_clean_failure(result, "hors du dossier de données")
    assert not (data_dir / "b.tar.gz").exists()
    assert not (tmp_path / "new").exists() and not (tmp_path / "x").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n", "old.tar.gz", "short"]


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"hello, not a backup", "n'est pas une sauvegarde papi"),
        (_tar_gz({"../escape": b"x"}), "entrée inattendue '../escape'"),
        (_tar_gz({"node.key": b"x"}), "n'a pas de papi-backup.json"),
    ],
    # Named, not drawn from the archives (their gzip header holds the time): pytest-xdist's
    # workers must collect the same ids.
    ids=["not-an-archive", "path-escape", "no-manifest"],
)
def test_restore_refuses_what_is_not_a_sound_backup(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    data_dir = tmp_path / "n"
    run_papi("init", "--data-dir", str(data_dir))
    before = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(content)
    result = run_papi("restore", "--yes", "--data-dir", str(data_dir), str(bad), check=False)
    assert_clean_failure(result, fragment)
    after = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}
    assert after.pop("serve.lock")  # the restore held the lock; nothing else changed
    assert after == before
    assert not (tmp_path / "escape").exists()


def test_restore_refuses_a_truncated_or_altered_backup(tmp_path: Path) -> None:
    data_dir = tmp_path / "n"
    run_papi("init", "--data-dir", str(data_dir))
    backup = tmp_path / "b.tar.gz"
    run_papi("backup", "--data-dir", str(data_dir), str(backup))
    data = backup.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    result = run_papi("restore", "--yes", "--data-dir", str(data_dir), str(truncated),
                      check=False)  # fmt: skip
    assert_clean_failure(result, "abîmée ou tronquée")

    # A consistent archive whose database differs from the manifest's hash.
    with tarfile.open(backup) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    members["papi.sqlite3"] = members["papi.sqlite3"][:-1] + b"\x01"
    altered = tmp_path / "altered.tar.gz"
    altered.write_bytes(_tar_gz(members))
    result = run_papi("restore", "--yes", "--data-dir", str(data_dir), str(altered),
                      check=False)  # fmt: skip
    assert_clean_failure(result, "papi.sqlite3 est abîmé dans la sauvegarde")
    assert not (data_dir / "restored").exists()


def _restore_on_a_terminal(data_dir: Path, backup: Path, answer: str) -> tuple[int, str]:
    """Run ``papi restore`` with a pseudo-terminal as standard input, answer the prompt."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "restore", "--data-dir", str(data_dir), str(backup)],
        stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True,
    )  # fmt: skip
    os.close(terminal)
    os.write(controller, answer.encode() + b"\n")
    stdout, stderr = process.communicate(timeout=60)
    os.close(controller)
    return process.returncode, stdout + stderr


def test_restore_asks_for_confirmation_on_a_terminal(tmp_path: Path) -> None:
    data_dir = tmp_path / "n"
    run_papi("init", "--data-dir", str(data_dir), "--name", "EPN")
    backup = tmp_path / "b.tar.gz"
    run_papi("backup", "--data-dir", str(data_dir), str(backup))

    result = run_papi("restore", "--data-dir", str(data_dir), str(backup), check=False)
    assert_clean_failure(result, "ajoutez --yes")  # no terminal, no --yes: refused

    code, output = _restore_on_a_terminal(data_dir, backup, "non")
    assert code == 1 and "Tapez « oui »" in output and "restauration annulée" in output
    assert not (data_dir / "restored").exists()

    other = tmp_path / "other"
    run_papi("init", "--data-dir", str(other))
    code, output = _restore_on_a_terminal(other, backup, "oui")
    assert "un AUTRE nœud" in output
    assert code == 0, output
    assert (other / "node.key").read_bytes() == (data_dir / "node.key").read_bytes()
    assert (other / "restored").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the directory to another user")
def test_root_is_told_to_run_as_the_owner(tmp_path: Path) -> None:
    data_dir = tmp_path / "n"
    run_papi("init", "--data-dir", str(data_dir))
    os.chown(data_dir, 65534, 65534)
    result = run_papi("backup", "--data-dir", str(data_dir), str(tmp_path / "b"), check=False)
    assert_clean_failure(result, "lancez cette commande en tant que cet utilisateur", "sudo -u")
    result = run_papi("restore", "--yes", "--data-dir", str(data_dir), str(tmp_path / "b"),
                      check=False)  # fmt: skip
    assert_clean_failure(result, "lancez cette commande en tant que cet utilisateur")
    assert not any(p.name.endswith(("-wal", "-shm")) for p in data_dir.iterdir())


def test_an_isolated_restored_node_may_be_allowed_to_write(tmp_path: Path) -> None:
    data_dir = tmp_path / "n"
    run_papi("init", "--data-dir", str(data_dir))
    backup = tmp_path / "b.tar.gz"
    run_papi("backup", "--data-dir", str(data_dir), str(backup))
    run_papi("restore", "--yes", "--data-dir", str(data_dir), str(backup))
    assert (data_dir / "restored").exists()
    run_papi("init", "--new-log", "--data-dir", str(data_dir))
    assert not (data_dir / "restored").exists()
    # Nor does a 'new-log' marker outlive the command on a node whose log has begun: it
    # would let a later lost database start a fork.
    assert not (data_dir / "new-log").exists()


def test_backup_script_rotates_and_never_writes_plain_when_asked_to_encrypt(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "n"
    run_papi("init", "--data-dir", str(data_dir))
    dest = tmp_path / "backups"
    dest.mkdir()
    old = ["papi-backup-20240101-031500.tar.gz", "papi-backup-20250101-031500.tar.gz.enc"]
    for name in [*old, "notes.txt", "avant-mise-a-jour.tar.gz"]:
        (dest / name).write_text("x")
    script = ROOT / "deploy" / "backup.sh"
    # 'papi' of the test environment (scripts/test's .venv) first on the PATH.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

    def backup(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(script), *args], capture_output=True, text=True, cwd=ROOT,
            env={**env, **extra}, timeout=120, check=False,
        )  # fmt: skip

    done = backup(str(data_dir), str(dest), "2")
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in dest.iterdir())
    new = [n for n in names if n.startswith("papi-backup-2") and n not in old]
    assert len(new) == 1 and new[0].endswith(".tar.gz")
    # The two newest backups are kept (the new one and last year's); others are untouched.
    assert names == sorted([*new, old[1], "notes.txt", "avant-mise-a-jour.tar.gz"])
    assert f"removed old backup {dest}/{old[0]}" in done.stdout

    passphrase = tmp_path / "phrase"
    passphrase.write_text("une phrase de passe assez longue\n")
    done = backup(str(data_dir), str(tmp_path / "sealed"), "1",
                  PAPI_BACKUP_PASSPHRASE_FILE=str(passphrase))  # fmt: skip
    assert done.returncode == 0, done.stderr
    [sealed] = (tmp_path / "sealed").iterdir()
    assert sealed.name.endswith(".tar.gz.enc") and sealed.read_bytes().startswith(b"PAPISEAL")

    refused = backup(str(data_dir), str(dest), "0")
    assert refused.returncode == 2 and "KEEP must be a whole number" in refused.stderr
