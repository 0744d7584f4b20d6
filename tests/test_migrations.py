"""The versioned schema: data directories written by earlier releases (fixtures made by
tests/fixtures/make_upgrade_fixture.py from their commits) are migrated, at start or by
``papi migrate``, and served; a database newer than the code is never touched."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from node import migrations
from node.app import create_app
from node.datadir import init_data_dir
from node.db import Database
from node.settings import DATABASE_FILE, load_settings
from tests.conftest import NodeProcess, free_port_block, run_papi

FIXTURES = Path(__file__).parent / "fixtures"
#: 05d2407: release 0.1.0 as this session found it; 10535df: before pending_entries had
#: their source and size columns (migration 1 really alters a table).
RELEASES = ["datadir-05d2407", "datadir-10535df"]


def unpack(name: str, target: Path) -> dict[str, Any]:
    """A copy of the fixture's data directory at ``target``, with the modes its release
    gave (git keeps none), and its manifest."""
    shutil.copytree(FIXTURES / name / "data", target)
    packed = target / f"{DATABASE_FILE}.gz"
    (target / DATABASE_FILE).write_bytes(gzip.decompress(packed.read_bytes()))
    packed.unlink()
    target.chmod(0o700)
    for secret in ("node.key", "session.key", DATABASE_FILE):
        (target / secret).chmod(0o600)
    manifest: dict[str, Any] = json.loads((FIXTURES / name / "manifest.json").read_text())
    return manifest


def sql(path: Path, statement: str) -> list[Any]:
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        return db.execute(statement).fetchall()


def user_version(path: Path) -> int:
    return int(sql(path, "PRAGMA user_version")[0][0])


def columns(path: Path, table: str) -> set[str]:
    return {row[1] for row in sql(path, f"PRAGMA table_info({table})")}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.e2e
@pytest.mark.parametrize("release", RELEASES)
def test_a_data_directory_of_an_earlier_release_is_migrated_and_served(
    tmp_path: Path, release: str
) -> None:
    data_dir = tmp_path / "node"
    manifest = unpack(release, data_dir)
    database = data_dir / DATABASE_FILE
    assert user_version(database) == manifest["user_version"] == 0
    if release == "datadir-10535df":
        assert "source" not in columns(database, "pending_entries")
        doctor = run_papi("doctor", "--data-dir", str(data_dir), "--timeout", "0.5", check=False)
        assert f"le nœud la migrera vers la version {migrations.LATEST}" in doctor.stdout
        # papi migrate, by hand: French progress, then nothing left to do.
        done = run_papi("migrate", "--data-dir", str(data_dir))
        assert f"schéma version 0 ; ce logiciel écrit la version {migrations.LATEST}" in done.stdout
        assert "Migration 1/" in done.stderr and "entrées en attente" in done.stderr
        assert f"Base à jour : schéma version {migrations.LATEST}" in done.stdout
        assert {"source", "size"} <= columns(database, "pending_entries")
        again = run_papi("migrate", "--data-dir", str(data_dir))
        assert "déjà à jour" in again.stdout and again.stderr == ""
    # Else the node migrates at start.
    node = NodeProcess(
        data_dir,
        free_port_block(1),
        tmp_path / "node.log",
        {"PAPI_SCHEDULER": "false", "PAPI_LOG_LEVEL": "warning"},
        token=manifest["token"],
    )
    node.start()
    try:
        assert user_version(database) == migrations.LATEST
        info = httpx.get(f"{node.url}/api/v1/node").json()
        assert info["id"] == manifest["origin"] and info["seq"] == manifest["head_seq"]
        for collection, objects in manifest["objects"].items():
            for oid, title in objects.items():
                answer = httpx.get(f"{node.url}/api/v1/{collection}/{oid}")
                assert answer.status_code == 200 and answer.json()["title"] == title
        for collection, oid in manifest["deleted"].items():
            assert httpx.get(f"{node.url}/api/v1/{collection}/{oid}").status_code == 404
        # The full-text index came along; the old token still writes, after the old head.
        found = httpx.get(f"{node.url}/api/v1/search", params={"q": "courriel"}).json()
        assert any(item["title"] == "Créer son adresse courriel" for item in found["results"])
        created = httpx.post(
            f"{node.url}/api/v1/skills", json={"title": "Après la mise à jour"}, headers=node.auth
        )
        assert created.status_code == 201 and created.json()["seq"] == manifest["head_seq"] + 1
        if "blob" in manifest:
            blob = httpx.get(f"{node.url}/api/v1/blobs/{manifest['blob']['sha256']}").json()
            assert blob["held"] and blob["size"] == manifest["blob"]["size"]
        peers = run_papi("peer", "list", "--data-dir", str(data_dir)).stdout
        assert manifest["peer"] in peers
    finally:
        node.stop()
    [(email,)] = sql(database, "SELECT email FROM users")
    assert email == manifest["user"]["email"]


def newer_database(data_dir: Path) -> Path:
    """A data directory whose database says a later release wrote it."""
    unpack(RELEASES[0], data_dir)
    database = data_dir / DATABASE_FILE
    sql(database, f"PRAGMA user_version = {migrations.LATEST + 1}")
    return database


def test_a_node_never_starts_on_a_newer_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    database = newer_database(data_dir)
    before = digest(database)
    port = str(free_port_block(1))
    served = run_papi("serve", "--data-dir", str(data_dir), "--port", port, check=False)
    assert served.returncode == 1
    assert f"schéma version {migrations.LATEST + 1}, plus récent" in served.stderr
    assert "Rien n'a été modifié" in served.stderr and "papi restore" in served.stderr
    migrated = run_papi("migrate", "--data-dir", str(data_dir), check=False)
    assert migrated.returncode == 1 and "plus récent" in migrated.stderr
    assert run_papi("peer", "list", "--data-dir", str(data_dir), check=False).returncode == 1
    assert digest(database) == before
    assert user_version(database) == migrations.LATEST + 1
    doctor = run_papi("doctor", "--data-dir", str(data_dir), "--timeout", "0.5", check=False)
    assert "PROBLÈME  La base est au schéma version" in doctor.stdout


async def test_the_app_refuses_a_newer_database_before_writing(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    database = newer_database(data_dir)
    before = digest(database)
    app = create_app(load_settings(data_dir, {"scheduler": False}, environ={}))
    with pytest.raises(migrations.SchemaTooNew, match=str(database)):
        async with app.router.lifespan_context(app):
            pass
    await app.state.node.db.close()
    assert digest(database) == before


def test_restore_refuses_a_backup_of_a_newer_release(tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    newer_database(newer)
    backup = tmp_path / "newer.papi"
    run_papi("backup", str(backup), "--data-dir", str(newer))
    target = tmp_path / "target"
    restored = run_papi("restore", str(backup), "--yes", "--data-dir", str(target), check=False)
    assert restored.returncode == 1
    assert "la base de cette sauvegarde est au schéma version" in restored.stderr
    assert not (target / DATABASE_FILE).exists()


async def _open(data_dir: Path, progress: Any = None) -> migrations.Upgrade:
    database = Database(load_settings(data_dir, environ={}).db_url)
    try:
        return await database.open(progress)
    finally:
        await database.close()


async def test_a_new_database_is_created_at_the_latest_version_without_migrating(
    tmp_path: Path,
) -> None:
    init_data_dir(tmp_path, {})
    told: list[int] = []
    result = await _open(tmp_path, lambda migration, n, total: told.append(migration.version))
    assert result.created and not result.applied and told == []
    assert user_version(tmp_path / DATABASE_FILE) == migrations.LATEST


async def test_tables_new_to_this_code_are_created_on_a_migrated_database(tmp_path: Path) -> None:
    """Declaring a model is enough for a new table: old databases get it too."""
    data_dir = tmp_path / "node"
    unpack(RELEASES[1], data_dir)
    database = data_dir / DATABASE_FILE
    later = {"outbox_mails", "blobs", "listings"}  # models added after that release
    assert not later & {row[0] for row in sql(database, "SELECT name FROM sqlite_master")}
    result = await _open(data_dir)
    assert [m.version for m in result.applied] == [m.version for m in migrations.MIGRATIONS]
    assert (result.before, result.after) == (0, migrations.LATEST)
    assert "once_key" in columns(database, "outbox_mails")


async def test_a_failing_migration_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "node"
    unpack(RELEASES[0], data_dir)
    await _open(data_dir)  # at LATEST
    database = data_dir / DATABASE_FILE

    async def half_done(conn: Any) -> None:
        await migrations.add_column(conn, "peers", "note", "TEXT NOT NULL DEFAULT ''")
        raise RuntimeError("disk unplugged")

    broken = migrations.Migration(migrations.LATEST + 1, "une colonne", half_done)
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
    monkeypatch.setattr(migrations, "LATEST", broken.version)
    with pytest.raises(RuntimeError, match="disk unplugged"):
        await _open(data_dir)
    assert "note" not in columns(database, "peers")
    assert user_version(database) == broken.version - 1


async def test_add_column_leaves_absent_tables_to_the_models(tmp_path: Path) -> None:
    """A migration of release N+1 to a table that release N added: a database of N-1
    has no such table yet; the models create it whole after the migrations."""
    init_data_dir(tmp_path, {})
    await _open(tmp_path)
    database = Database(load_settings(tmp_path, environ={}).db_url)
    await database.open()
    try:
        conn = database.connection()
        await migrations.add_column(conn, "no_such_table", "c", "TEXT")
        await migrations.add_column(conn, "peers", "url", "TEXT")  # there already: nothing
        await migrations.add_column(conn, "peers", "note", "TEXT")
        assert not await migrations.table_exists(conn, "no_such_table")
    finally:
        await database.close()
    assert "note" in columns(tmp_path / DATABASE_FILE, "peers")


def test_papi_migrate_refuses_under_a_running_older_node(tmp_path: Path) -> None:
    """A node holds the data directory with migrations pending: it is an older release
    (a node migrates when it starts); papi migrate says to stop or restart it."""
    from node.ops import servelock

    data_dir = tmp_path / "node"
    unpack(RELEASES[0], data_dir)
    database = data_dir / DATABASE_FILE
    before = digest(database)
    with servelock.held(data_dir):
        refused = run_papi("migrate", "--data-dir", str(data_dir), check=False)
    assert refused.returncode == 1
    assert f"un nœud tourne sur {data_dir} (pid {os.getpid()})" in refused.stderr
    assert "il applique les migrations au démarrage" in refused.stderr
    assert digest(database) == before and user_version(database) == 0
    done = run_papi("migrate", "--data-dir", str(data_dir))
    assert f"Base à jour : schéma version {migrations.LATEST}" in done.stdout


def test_two_processes_opening_an_old_database_at_once_both_succeed(tmp_path: Path) -> None:
    """A command run while the node starts: both migrate; the second to take the write
    lock finds the migration done and skips it."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    data_dir = tmp_path / "node"
    unpack(RELEASES[1], data_dir)
    command = [sys.executable, "-m", "node.cli", "peer", "list", "--data-dir", str(data_dir)]
    running = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for process in running:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors.decode()
    assert user_version(data_dir / DATABASE_FILE) == migrations.LATEST
    assert {"source", "size"} <= columns(data_dir / DATABASE_FILE, "pending_entries")
