"""``papi doctor`` on a healthy node and on data directories broken in every way an
operator meets: each problem is reported with its fix, and the exit status says so."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from node.ops.doctor import _local_host
from tests.conftest import NodeFactory, free_port_block, run_papi

pytestmark = pytest.mark.e2e


def doctor(data_dir: Path) -> subprocess.CompletedProcess[str]:
    result = run_papi("doctor", "--data-dir", str(data_dir), "--timeout", "3", check=False)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Each PROBLÈME line with the fix line under it."""
    lines = result.stdout.splitlines()
    return [
        line + "\n" + lines[index + 1]
        for index, line in enumerate(lines)
        if line.startswith("PROBLÈME")
    ]


def private(data_dir: Path) -> None:
    """The modes 'papi init' gives these files (0600), whatever its version."""
    for name in ("papi.toml", "papi.sqlite3"):
        (data_dir / name).chmod(0o600)


def new_node(tmp_path: Path, name: str = "n") -> Path:
    data_dir = tmp_path / name
    run_papi("init", "--data-dir", str(data_dir), "--name", "EPN", "--url", "http://127.0.0.1:9")
    private(data_dir)
    return data_dir


def test_a_healthy_node(node_factory: NodeFactory) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plougastel")
    a.papi("peer", "add", b.url)
    a.papi("sync")
    private(a.data_dir)
    result = doctor(a.data_dir)
    assert result.returncode == 0, result.stdout
    assert problems(result) == []
    out = result.stdout
    assert "Base" in out and "intègre" in out
    assert f"L'adresse annoncée {a.url} répond avec l'identité de ce nœud" in out
    assert "vu depuis cette machine" in out
    assert f"Horloge à l'heure (comparée au pair {b.url})" in out
    assert "Le nœud tourne (pid" in out
    assert "INFO      Aucune clé de secours déclarée" in out  # made without one
    assert out.rstrip().endswith("Aucun problème trouvé.")


def test_a_node_whose_key_was_rotated(node_factory: NodeFactory) -> None:
    """Regression: doctor took the key's id for the place's, so after 'papi key rotate' it
    found the place's log empty and its advertised address answering as another node."""
    a = node_factory("EPN Brest Bellevue", start=False)
    place = re.search(r"(ed25519:[A-Za-z0-9_-]{43})", a.init_output)
    assert place is not None
    a.papi("key", "rotate")
    a.start()
    words = a.papi("key", "recovery").stdout  # declared by the rotated key, the node running
    private(a.data_dir)
    result = doctor(a.data_dir)
    out = result.stdout
    assert f"L'adresse annoncée {a.url} répond avec l'identité de ce nœud" in out, out
    assert "Journal de ce nœud : 3 entrées." in out
    assert "OK        Clé de secours déclarée" in out and "CLÉ DE SECOURS" in words
    assert f"lieu {place.group(1)}" in out
    assert not [p for p in problems(result) if "journal" in p or "autre nœud" in p]


def test_missing_data_directory(tmp_path: Path) -> None:
    result = doctor(tmp_path / "nowhere")
    assert result.returncode == 1
    [problem] = problems(result)
    assert "n'existe pas" in problem and "papi init --data-dir" in problem


def test_permissions(tmp_path: Path) -> None:
    data_dir = new_node(tmp_path)
    data_dir.chmod(0o755)
    (data_dir / "node.key").chmod(0o644)
    (data_dir / "papi.toml").chmod(0o640)
    (data_dir / "session.key").write_text("x" * 64 + "\n")
    (data_dir / "session.key").chmod(0o604)
    result = doctor(data_dir)
    assert result.returncode == 1
    found = "\n".join(problems(result))
    assert f"→ chmod 700 {data_dir}\n" in found + "\n"
    assert f"→ chmod 600 {data_dir / 'node.key'}" in found
    assert "refuse de démarrer" in found
    assert f"→ chmod 600 {data_dir / 'papi.toml'}" in found
    assert f"→ chmod 600 {data_dir / 'session.key'}" in found


@pytest.mark.parametrize(
    ("damage", "message", "fix"),
    [
        ("key_missing", "La clé du nœud", "papi restore FICHIER"),
        ("key_corrupt", "La clé du nœud est inutilisable", "Restaurez la clé"),
        ("config_invalid", "La configuration ne peut pas être lue", "Corrigez ou retirez"),
        ("config_unknown", "réglage inconnu colour", "docs/configuration.md"),
        ("database_garbage", "La base est abîmée", "papi restore FICHIER"),
        ("database_damaged", "La base est abîmée", "mv "),
        ("database_missing", "La base", "papi restore FICHIER"),
        ("restored", "Restauré depuis une sauvegarde", "papi init --new-log"),
        ("log_lost", "Le journal de ce nœud est vide", "papi peer add URL"),
    ],
)
def test_broken_data_directory(tmp_path: Path, damage: str, message: str, fix: str) -> None:
    data_dir = new_node(tmp_path)
    database = data_dir / "papi.sqlite3"
    if damage == "key_missing":
        (data_dir / "node.key").unlink()
    elif damage == "key_corrupt":
        (data_dir / "node.key").write_text("-----BEGIN PRIVATE KEY-----\nnope\n")
    elif damage == "config_invalid":
        (data_dir / "papi.toml").write_text('name = "EPN\n')
    elif damage == "config_unknown":
        (data_dir / "papi.toml").write_text('colour = "bleu"\n')
    elif damage == "database_garbage":
        database.write_bytes(os.urandom(8192))
    elif damage == "database_damaged":
        data = bytearray(database.read_bytes())
        page = 4096
        data[2 * page : 4 * page] = os.urandom(2 * page)  # B-tree pages, header intact
        database.write_bytes(bytes(data))
    elif damage == "database_missing":
        database.unlink()
    elif damage == "restored":
        (data_dir / "restored").write_text("restored\n")
    elif damage == "log_lost":
        database.unlink()
        run_papi("peer", "list", "--data-dir", str(data_dir))  # a new, empty database
        private(data_dir)
    result = doctor(data_dir)
    assert result.returncode == 1
    matching = [problem for problem in problems(result) if message in problem]
    assert matching, result.stdout
    assert fix in matching[0].splitlines()[1], matching[0]


def test_advertised_url_that_does_not_answer_or_is_another_node(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    data_dir = new_node(tmp_path)
    port = free_port_block(1)
    run_papi("init", "--data-dir", str(data_dir), "--url", f"http://127.0.0.1:{port}")
    private(data_dir)
    [problem] = [p for p in problems(doctor(data_dir)) if "adresse annoncée" in p]
    assert "ne répond pas" in problem and "Le nœud ne tourne pas : démarrez-le." in problem

    other = node_factory("Autre lieu")
    run_papi("init", "--data-dir", str(data_dir), "--url", other.url)
    [problem] = [p for p in problems(doctor(data_dir)) if "adresse annoncée" in p]
    assert "mène à un autre nœud" in problem and "papi init --url" in problem


class _LateClock(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"id": "ed25519:n0Ir1ZsKrUAEftdPC1jfag1gW1oPFrQhgSyPpMqQvaA", "name": "x"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        return format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def late_peer() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port_block(1)), _LateClock)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_clock_compared_with_a_peer(tmp_path: Path) -> None:
    data_dir = new_node(tmp_path)
    with late_peer() as url:
        run_papi("peer", "add", url, "--data-dir", str(data_dir))
        result = doctor(data_dir)
    [problem] = [p for p in problems(result) if "horloge" in p.lower()]
    found = re.search(r"diffère de (\d+) secondes de celle du pair (\S+)\.", problem)
    assert found and found[2] == url, problem
    assert abs(int(found[1]) - 3600) <= 5  # HTTP dates count whole seconds
    assert "timedatectl set-ntp true" in problem


def test_no_peer_and_peers_that_fail(tmp_path: Path) -> None:
    data_dir = new_node(tmp_path)
    assert any("Aucun pair :" in p for p in problems(doctor(data_dir)))
    dead = f"http://127.0.0.1:{free_port_block(1)}"
    run_papi("peer", "add", dead, "--data-dir", str(data_dir))
    run_papi("sync", "--data-dir", str(data_dir), check=False)
    [problem] = [p for p in problems(doctor(data_dir)) if "pair" in p]
    assert "Aucun pair n'a répondu" in problem and dead in problem


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand files to another user")
def test_files_of_another_owner_and_root_on_the_node_directory(tmp_path: Path) -> None:
    data_dir = new_node(tmp_path)
    os.chown(data_dir / "papi.toml", 65534, 65534)
    [problem] = [p for p in problems(doctor(data_dir)) if "propriétaire" in p]
    assert "papi.toml" in problem and f"chown -R 0:0 {data_dir}" in problem

    os.chown(data_dir, 65534, 65534)  # now the directory is another user's, we are root
    for path in (data_dir / "papi.sqlite3-wal", data_dir / "papi.sqlite3-shm"):
        path.unlink(missing_ok=True)
    result = doctor(data_dir)
    assert "la base n'est pas ouverte" in result.stdout
    assert "sudo -u nobody papi doctor" in result.stdout
    assert not (data_dir / "papi.sqlite3-wal").exists()


def test_local_hosts_may_use_plain_http() -> None:
    assert _local_host("127.0.0.1") and _local_host("192.168.1.20") and _local_host("papi.local")
    assert not _local_host("papi.exemple.fr") and not _local_host("93.184.216.34")


def test_files_left_by_an_interrupted_backup(tmp_path: Path) -> None:
    data_dir = new_node(tmp_path)
    left = data_dir / ".papi-staging-x1y2"
    left.mkdir()
    (left / "papi.sqlite3").write_bytes(b"x" * 1000)
    assert not [p for p in problems(doctor(data_dir)) if "interrompue" in p]  # maybe running
    os.utime(left, (0, 0))
    [problem] = [p for p in problems(doctor(data_dir)) if "interrompue" in p]
    assert f"rm -rf {left}" in problem


def test_backups_old_recent_or_none(tmp_path: Path) -> None:
    """The last backup papi backup recorded: none is information, a recent one is fine,
    one older than backup_max_age_days is a problem with its fix."""
    data_dir = new_node(tmp_path)
    assert (
        "INFO      Aucune sauvegarde de ce nœud n'est enregistrée ici." in doctor(data_dir).stdout
    )
    run_papi("backup", str(tmp_path / "n.papi"), "--data-dir", str(data_dir))
    assert "OK        Dernière sauvegarde : " in doctor(data_dir).stdout
    record = data_dir / "last-backup.json"
    written = json.loads(record.read_text())
    written["created"] = (datetime.now(UTC) - timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    record.write_text(json.dumps(written))
    [problem] = [p for p in problems(doctor(data_dir)) if "sauvegarde" in p]
    assert "La dernière sauvegarde date du" in problem and "plus de 7 jours" in problem
    assert "→ papi backup" in problem
