"""The ``papi`` command line as an operator uses it: real subprocesses, real data
directories, real ``papi serve`` processes on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import re
import socket
import sqlite3
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests import independent_verifier as iv
from tests.conftest import NodeFactory, NodeProcess, free_port_block, run_papi

pytestmark = pytest.mark.e2e

ORIGIN_RE = re.compile(r"ed25519:[A-Za-z0-9_-]{43}")
COLLECTIONS = ("skills", "equipment", "events")
TOKEN_RE = re.compile(r"papi_[A-Za-z0-9_-]{20,}")


def papi(data_dir: Path, *args: str, **kwargs: Any) -> Any:
    return run_papi(*args, "--data-dir", str(data_dir), **kwargs)


def node_id_of(stdout: str) -> str:
    match = re.search(r"^Identifiant du nœud : (\S+)$", stdout, re.MULTILINE)
    assert match, stdout
    return match.group(1)


def origin_of_key_file(path: Path) -> str:
    """The origin id of a key file, computed without ``federation``."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def assert_clean_failure(result: Any, *fragments: str) -> str:
    """Non-zero exit, one line on stderr naming the problem, never a traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line: str = lines[0]
    assert line.startswith("papi : erreur : "), line
    for fragment in fragments:
        assert fragment in line, line
    return line


def fetch_log(url: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    while True:
        response = httpx.get(
            url + "/federation/v1/entries", params={"after": len(entries), "limit": 500}
        )
        assert response.status_code == 200, response.text
        page = response.json()["entries"]
        if not page:
            return entries
        entries.extend(page)


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


# -- papi init ------------------------------------------------------------------------


def test_init_creates_key_config_and_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "deep" / "papi-data"
    result = papi(
        data_dir, "init", "--name", "EPN Bellevue", "--commune", "Brest",
        "--url", "https://papi.exemple.fr",
    )  # fmt: skip
    assert result.returncode == 0
    node_id = node_id_of(result.stdout)
    assert ORIGIN_RE.fullmatch(node_id)

    key = data_dir / "node.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert origin_of_key_file(key) == node_id
    assert stat.S_IMODE(data_dir.stat().st_mode) & 0o077 == 0

    config = tomllib.loads((data_dir / "papi.toml").read_text())
    assert config == {"name": "EPN Bellevue", "commune": "Brest", "url": "https://papi.exemple.fr"}

    with sqlite3.connect(data_dir / "papi.sqlite3") as conn:
        rows = conn.execute(
            "SELECT origin, seq, header, sig, payload FROM entries ORDER BY seq"
        ).fetchall()
    # The place, then the declaration of the offline recovery key (docs/protocol.md 17).
    assert [(origin, seq) for origin, seq, *_ in rows] == [(node_id, 1), (node_id, 2)]
    iv.verify_log([{"header": json.loads(h), "sig": s, "payload": json.loads(p)}
                   for _, _, h, s, p in rows])  # fmt: skip
    declared = json.loads(rows[1][4])
    assert declared["node_key"] == node_id and declared["recovery_key"] != node_id
    words = result.stdout.split("CLÉ DE SECOURS")[1]
    from federation.recovery import key_from_words

    typed = " ".join(re.findall(r"\d+\. (\S+)", words))
    assert key_from_words(typed).origin == declared["recovery_key"]
    # Never stored: not in any file of the data directory.
    stored = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())
    assert typed.encode() not in stored
    payload = rows[0][4]
    place = json.loads(payload)
    assert place["nom"] == "EPN Bellevue"
    assert place["commune"] == "Brest"
    assert place["endpoints"] == ["https://papi.exemple.fr"]


def test_key_recovery_for_a_place_made_without_one(tmp_path: Path) -> None:
    """A node made without a recovery key (before they existed, or by the Docker image)
    gets one later, declared in its log and shown once; a second one is refused."""
    data_dir = tmp_path / "papi-data"
    node_id = node_id_of(papi(data_dir, "init", "--name", "EPN", "--no-recovery-key").stdout)
    result = papi(data_dir, "key", "recovery")
    assert result.returncode == 0, result.stderr
    typed = " ".join(re.findall(r"\d+\. (\S+)", result.stdout.split("CLÉ DE SECOURS")[1]))
    with sqlite3.connect(data_dir / "papi.sqlite3") as conn:
        rows = conn.execute("SELECT seq, payload FROM entries ORDER BY seq").fetchall()
    assert [seq for seq, _ in rows] == [1, 2]
    from federation.recovery import key_from_words

    declared = json.loads(rows[1][1])
    assert declared == {"node_key": node_id, "recovery_key": key_from_words(typed).origin}
    stored = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())
    assert typed.encode() not in stored
    again = papi(data_dir, "key", "recovery", check=False)
    assert again.returncode == 1 and "déjà une clé de secours" in again.stderr
    assert "CLÉ DE SECOURS" not in again.stdout
    with sqlite3.connect(data_dir / "papi.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM entries").fetchone() == (2,)


def test_init_again_keeps_the_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "papi-data"
    first = papi(data_dir, "init", "--name", "EPN Bellevue")
    key_bytes = (data_dir / "node.key").read_bytes()
    second = papi(data_dir, "init")
    assert node_id_of(second.stdout) == node_id_of(first.stdout)
    assert "clé conservée" in second.stdout
    assert (data_dir / "node.key").read_bytes() == key_bytes
    with sqlite3.connect(data_dir / "papi.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM entries").fetchone() == (2,)
    # A new name keeps the key too; it is recorded and published (tests/test_cli_init.py).
    third = papi(data_dir, "init", "--name", "Autre nom")
    assert node_id_of(third.stdout) == node_id_of(first.stdout)
    assert (data_dir / "node.key").read_bytes() == key_bytes
    assert 'name = "Autre nom"' in (data_dir / "papi.toml").read_text()


def test_data_dir_from_the_environment(tmp_path: Path) -> None:
    data_dir = tmp_path / "from-env"
    result = run_papi("init", env={"PAPI_DATA_DIR": str(data_dir)})
    assert origin_of_key_file(data_dir / "node.key") == node_id_of(result.stdout)


# -- papi token create ----------------------------------------------------------------


def test_token_create_prints_the_token_on_the_last_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "papi-data"
    papi(data_dir, "init")
    first = papi(data_dir, "token", "create", "--label", "mon script")
    second = papi(data_dir, "token", "create")
    tokens = [r.stdout.strip().splitlines()[-1] for r in (first, second)]
    assert all(TOKEN_RE.fullmatch(t) for t in tokens), tokens
    assert tokens[0] != tokens[1]
    # Stored hashed: the token itself is nowhere in the database.
    database = (data_dir / "papi.sqlite3").read_bytes()
    assert tokens[0].encode() not in database
    with sqlite3.connect(data_dir / "papi.sqlite3") as conn:
        rows = conn.execute("SELECT label, token_hash FROM api_tokens").fetchall()
    assert sorted(label for label, _ in rows) == ["", "mon script"]
    assert all(tokens[0] not in token_hash for _, token_hash in rows)


def test_token_create_refuses_a_label_longer_than_its_column(tmp_path: Path) -> None:
    data_dir = tmp_path / "papi-data"
    papi(data_dir, "init")
    result = papi(data_dir, "token", "create", "--label", "x" * 101, check=False)
    assert result.returncode == 1 and result.stdout == "", result.stderr
    assert result.stderr == "papi : erreur : --label : 100 caractères au plus\n"
    with sqlite3.connect(data_dir / "papi.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM api_tokens").fetchone() == (0,)
    papi(data_dir, "token", "create", "--label", "x" * 100)


def test_token_works_as_bearer(node_factory: NodeFactory) -> None:
    node = node_factory("EPN Kerinou")
    # A token created while the node runs works at once.
    result = node.papi("token", "create", "--label", "script")
    token = result.stdout.strip().splitlines()[-1]
    response = httpx.post(
        node.url + "/api/v1/skills",
        json={"title": "Bureautique"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    response = httpx.post(
        node.url + "/api/v1/skills",
        json={"title": "Bureautique"},
        headers={"authorization": f"Bearer {token}x"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


# -- papi serve -----------------------------------------------------------------------


def test_serve_initialises_an_empty_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "papi-data"
    node = NodeProcess(data_dir, free_port_block(1), tmp_path / "serve.log")
    try:
        node.start()
        info = httpx.get(node.url + "/api/v1/node").json()
        assert stat.S_IMODE((data_dir / "node.key").stat().st_mode) == 0o600
        assert info["id"] == origin_of_key_file(data_dir / "node.key")
        assert (data_dir / "papi.toml").exists()
        log = fetch_log(node.url)
        assert [e["header"]["kind"] for e in log] == ["place"]
        iv.verify_log(log)
    finally:
        node.stop()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_restart_keeps_data_and_continues_the_sequence(node_factory: NodeFactory) -> None:
    node = node_factory("EPN Saint-Martin")
    headers = node.auth
    created: dict[str, tuple[str, dict[str, Any]]] = {}
    steps: list[tuple[str, dict[str, Any]]] = [
        ("skills", {"title": "Démarches en ligne", "theme": "Santé"}),
        ("skills", {"title": "Réseaux sociaux", "theme": "Réseaux sociaux"}),
        ("equipment", {"title": "Tablette", "quantity": 4}),
        ("events", {"title": "Café numérique", "start": "2026-06-03T10:00:00+02:00"}),
    ]
    for collection, body in steps:
        response = httpx.post(f"{node.url}/api/v1/{collection}", json=body, headers=headers)
        assert response.status_code == 201, response.text
        created[body["title"]] = (collection, response.json())
    skill = created["Démarches en ligne"][1]
    response = httpx.put(
        f"{node.url}/api/v1/skills/{skill['id']}",
        json={"title": "Démarches en ligne (ANTS, CAF)", "theme": "Santé"},
        headers=headers,
    )
    assert response.status_code == 200
    removed = created["Réseaux sociaux"][1]
    response = httpx.delete(f"{node.url}/api/v1/skills/{removed['id']}", headers=headers)
    assert response.status_code == 204

    def state() -> dict[str, Any]:
        return {
            "node": httpx.get(node.url + "/api/v1/node").json(),
            "place": httpx.get(node.url + "/api/v1/place").json(),
            **{c: httpx.get(f"{node.url}/api/v1/{c}").json() for c in COLLECTIONS},
        }

    before, log_before = state(), fetch_log(node.url)
    assert len(log_before) == 7
    iv.verify_log(log_before)

    node.stop()
    node.start()
    assert state() == before
    assert fetch_log(node.url) == log_before

    response = httpx.post(
        node.url + "/api/v1/equipment", json={"title": "Imprimante 3D"}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["seq"] == len(log_before) + 1
    log_after = fetch_log(node.url)
    assert log_after[: len(log_before)] == log_before
    assert log_after[-1]["header"]["seq"] == 8
    assert log_after[-1]["header"]["prev"] == iv.header_hash(log_before[-1]["header"])
    iv.verify_log(log_after)


def test_hard_kill_keeps_acknowledged_writes(node_factory: NodeFactory) -> None:
    node = node_factory("EPN Recouvrance")
    for i in range(5):
        response = httpx.post(
            node.url + "/api/v1/skills", json={"title": f"Atelier {i}"}, headers=node.auth
        )
        assert response.status_code == 201
    log_before = fetch_log(node.url)
    node.kill()
    node.start()
    assert fetch_log(node.url) == log_before
    response = httpx.post(node.url + "/api/v1/skills", json={"title": "Après"}, headers=node.auth)
    assert response.json()["seq"] == 7
    iv.verify_log(fetch_log(node.url))


# -- clear errors ---------------------------------------------------------------------


def test_port_in_use(tmp_path: Path, listening_port: int) -> None:
    result = papi(tmp_path / "d", "serve", "--port", str(listening_port), check=False)
    assert_clean_failure(result, "déjà utilisé", str(listening_port))


def test_port_out_of_range(tmp_path: Path) -> None:
    result = papi(tmp_path / "d", "serve", "--port", "70000", check=False)
    assert_clean_failure(result, "70000")


@pytest.mark.parametrize("command", [["init"], ["serve"], ["token", "create"]])
def test_data_dir_under_a_regular_file(tmp_path: Path, command: list[str]) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("I am a file\n")
    data_dir = blocker / "papi-data"
    result = papi(data_dir, *command, check=False)
    assert_clean_failure(result, str(data_dir))
    assert blocker.read_text() == "I am a file\n"


@pytest.mark.parametrize("command", [["init"], ["serve"], ["token", "create"]])
def test_data_dir_is_a_file(tmp_path: Path, command: list[str]) -> None:
    data_dir = tmp_path / "papi-data"
    data_dir.write_text("oops\n")
    result = papi(data_dir, *command, check=False)
    assert_clean_failure(result, str(data_dir), "pas un dossier")
    assert data_dir.read_text() == "oops\n"


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (b"name = [\n", "n'est pas un fichier TOML valide"),
        (b"name = 'EPN'\nname = 'x'\n", "n'est pas un fichier TOML valide"),
        (b"\x00\x01binary", "n'est pas un fichier TOML valide"),
        (b"\xff\xfename = 'EPN'\n", "n'est pas un fichier TOML valide"),
        (b"colour = 'blue'\n", "réglage inconnu colour"),
        (b"[node]\nname = 'EPN'\n", "réglage inconnu node"),
        (b"port = 'eighty'\n", "réglage port"),
        (b"name = 42\n", "réglage name"),
        (b"pull_only = 'maybe'\n", "réglage pull_only"),
        (b"database_url = 'postgres://db/papi'\n", "« database_url » a été retiré"),
    ],
    ids=[
        "toml",
        "duplicate",
        "control",
        "not-utf8",
        "unknown",
        "table",
        "int",
        "str",
        "bool",
        "removed",
    ],
)
@pytest.mark.parametrize("command", [["init"], ["serve"], ["token", "create"]])
def test_corrupt_config(tmp_path: Path, command: list[str], config: bytes, fragment: str) -> None:
    data_dir = tmp_path / "papi-data"
    data_dir.mkdir()
    (data_dir / "papi.toml").write_bytes(config)
    result = papi(data_dir, *command, check=False)
    assert_clean_failure(result, "papi.toml", fragment)
    assert (data_dir / "papi.toml").read_bytes() == config


def test_bad_setting_in_the_environment(tmp_path: Path) -> None:
    result = run_papi(
        "serve", "--data-dir", str(tmp_path / "d"), env={"PAPI_PORT": "http"}, check=False
    )
    assert_clean_failure(result, "PAPI_PORT")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
@pytest.mark.parametrize("command", [["init"], ["serve"], ["token", "create"]])
def test_key_readable_by_others(tmp_path: Path, command: list[str], mode: int) -> None:
    data_dir = tmp_path / "papi-data"
    papi(data_dir, "init")
    key = data_dir / "node.key"
    key_bytes = key.read_bytes()
    key.chmod(mode)
    result = papi(data_dir, *command, check=False)
    assert_clean_failure(result, str(key), f"chmod 600 {key}")
    assert key.read_bytes() == key_bytes
    assert stat.S_IMODE(key.stat().st_mode) == mode  # reported, not silently "fixed"


@pytest.mark.parametrize("command", [["init"], ["serve"], ["token", "create"]])
def test_corrupt_key(tmp_path: Path, command: list[str]) -> None:
    data_dir = tmp_path / "papi-data"
    papi(data_dir, "init")
    (data_dir / "node.key").write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n")
    result = papi(data_dir, *command, check=False)
    assert_clean_failure(result, "node.key", "abîmé", "restaurez-le")
    assert (data_dir / "node.key").read_text().endswith("garbage\n")  # never overwritten


@pytest.mark.parametrize("command", [["serve"], ["token", "create"]])
def test_corrupt_database(tmp_path: Path, command: list[str]) -> None:
    data_dir = tmp_path / "papi-data"
    papi(data_dir, "init")
    (data_dir / "papi.sqlite3").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (data_dir / f"papi.sqlite3{suffix}").unlink(missing_ok=True)
    result = papi(data_dir, *command, check=False)
    assert_clean_failure(result, "impossible d'ouvrir la base")
