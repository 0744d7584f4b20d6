"""``papi init`` on a node that already exists (for instance started by scripts/serve)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import NodeFactory, run_papi
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


def test_init_refuses_a_url_or_name_the_place_profile_cannot_hold(tmp_path: Path) -> None:
    """A typo in ``--url`` (or a name over the profile's 200 characters) is a one-line
    error naming the setting, before anything is written: no key, no config that would
    make every later command fail (it used to be a traceback, and ``papi serve`` could not
    start on the data directory it left)."""
    bad = [
        ("--url", "notaurl"),
        ("--url", "http://exa mple.fr"),
        ("--url", "http://127.0.0.1:99999"),
        ("--name", "n" * 201),
        ("--commune", "c" * 101),
    ]
    for number, (option, value) in enumerate(bad):
        data = tmp_path / f"new{number}"
        result = run_papi("init", "--data-dir", str(data), option, value, check=False)
        assert result.returncode == 1, (option, value, result.stderr)
        assert result.stderr.startswith("papi : erreur :"), result.stderr
        assert "Traceback" not in result.stderr
        assert f"réglage {option.removeprefix('--')}" in result.stderr, result.stderr
        assert not data.exists(), (option, value)
    # On an existing node, the config keeps its good value and the node still starts.
    data = tmp_path / "existing"
    run_papi("init", "--data-dir", str(data), "--url", "http://127.0.0.1:8001")
    result = run_papi("init", "--data-dir", str(data), "--url", "notaurl", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert 'url = "http://127.0.0.1:8001"' in (data / "papi.toml").read_text()


def test_a_hand_edited_url_the_profile_cannot_hold_is_a_one_line_error(tmp_path: Path) -> None:
    data = tmp_path / "papi-data"
    run_papi("init", "--data-dir", str(data))
    config = data / "papi.toml"
    config.write_text(config.read_text() + 'url = "http://exa mple.fr"\n')
    result = run_papi("init", "--data-dir", str(data), check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("papi : erreur :") and "url" in result.stderr, result.stderr
    assert str(config) in result.stderr


def test_init_says_to_restart_a_running_node_whose_url_it_changed(
    node_factory: NodeFactory,
) -> None:
    """The running node read ``url`` when it started: until it restarts it advertises
    none, and a profile saved with ``PUT /api/v1/place`` leaves the new one out. ``papi
    init`` says so (it used to say nothing, as after ``scripts/serve`` in README)."""
    node = node_factory("EPN Kerinou")
    result = node.papi("init", "--url", "https://papi.exemple.fr")
    assert "redémarrez-le" in result.stderr, result.stderr
    assert 'url = "https://papi.exemple.fr"' in (node.data_dir / "papi.toml").read_text()
    # Only the url needs it: the name is read from the published profile.
    assert "redémarrez-le" not in node.papi("init", "--name", "EPN de Kerinou").stderr
