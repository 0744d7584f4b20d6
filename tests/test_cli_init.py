"""``papi init`` on a node that already exists (for instance started by scripts/serve)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import run_papi
from tests.independent_verifier import verify_log


def places(data_dir: Path) -> list[dict[str, object]]:
    db = sqlite3.connect(data_dir / "papi.sqlite3")
    try:
        rows = db.execute("SELECT header, sig, payload FROM entries ORDER BY seq").fetchall()
    finally:
        db.close()
    return [
        {"header": json.loads(h), "sig": s, "payload": json.loads(p) if p else None}
        for h, s, p in rows
    ]


def test_init_names_an_existing_node_without_a_new_key(tmp_path: Path) -> None:
    data = tmp_path / "papi-data"
    first = run_papi("init", "--data-dir", str(data)).stdout
    again = run_papi(
        "init", "--data-dir", str(data), "--name", "EPN Brest Bellevue", "--commune", "Brest"
    ).stdout
    assert first.splitlines()[1] == again.splitlines()[2]  # same node id
    assert "déjà initialisé (clé conservée)" in again
    log = places(data)
    assert [e["payload"] for e in log if e["header"]["kind"] == "place"] == [
        {"nom": "Nouveau lieu"},
        {"nom": "EPN Brest Bellevue", "commune": "Brest"},
    ]
    verify_log(log)
    assert 'name = "EPN Brest Bellevue"' in (data / "papi.toml").read_text()
    # Nothing changes: nothing is published.
    run_papi("init", "--data-dir", str(data), "--name", "EPN Brest Bellevue")
    assert len(places(data)) == 3  # two places and the recovery key declaration


def test_init_hint_gives_the_port_of_a_second_node(tmp_path: Path) -> None:
    first = run_papi("init", "--data-dir", str(tmp_path / "a"), "--url", "http://127.0.0.1:8000")
    assert first.stdout.splitlines()[-1].endswith(f"papi serve --data-dir {tmp_path / 'a'}")
    second = run_papi("init", "--data-dir", str(tmp_path / "b"), "--url", "http://127.0.0.1:8001")
    assert second.stdout.splitlines()[-1].endswith(
        f"papi serve --data-dir {tmp_path / 'b'} --port 8001"
    )
    behind_a_proxy = run_papi(
        "init", "--data-dir", str(tmp_path / "c"), "--url", "https://papi.exemple.fr"
    )
    assert behind_a_proxy.stdout.splitlines()[-1].endswith(f"--data-dir {tmp_path / 'c'}")
