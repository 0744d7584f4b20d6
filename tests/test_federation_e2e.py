"""Federation between real ``papi serve`` processes on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.bulk import network_logs
from tests.conftest import ROOT, NodeFactory, NodeProcess, free_port_block, wait_until
from tests.independent_verifier import verify_log

pytestmark = pytest.mark.e2e


def search(node: NodeProcess, q: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = httpx.get(
        node.url + "/api/v1/search", params={"q": q}, timeout=10
    ).json()["results"]
    return results


def log_of(node: NodeProcess, origin: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    while True:
        page = httpx.get(
            node.url + "/federation/v1/entries",
            params={"origin": origin, "after": len(entries), "limit": 500},
            timeout=10,
        ).json()["entries"]
        entries.extend(page)
        if len(page) < 500:
            return entries


def origin_id(node: NodeProcess) -> str:
    return str(httpx.get(node.url + "/api/v1/node", timeout=10).json()["id"])


def head(node: NodeProcess, origin: str) -> int:
    for row in httpx.get(node.url + "/api/v1/nodes", timeout=10).json()["origins"]:
        if row["id"] == origin:
            return int(row["seq"])
    return 0


def test_chain_store_and_forward_and_catch_up(node_factory: NodeFactory) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plougastel-Daoulas", commune="Plougastel-Daoulas")
    c = node_factory("Cybercommune de Landerneau", commune="Landerneau")
    b.papi("peer", "add", a.url)
    c.papi("peer", "add", b.url)  # c only knows b
    a_id = origin_id(a)

    r = httpx.post(a.url + "/api/v1/equipment", json={"title": "Vidéoprojecteur"}, headers=a.auth)
    oid = r.json()["id"]
    wait_until(lambda: search(c, "videoprojecteur"))
    httpx.put(a.url + f"/api/v1/equipment/{oid}", json={"title": "Caméra"}, headers=a.auth)
    wait_until(lambda: search(c, "camera") and not search(c, "videoprojecteur"))
    assert httpx.delete(a.url + f"/api/v1/equipment/{oid}", headers=a.auth).status_code == 204
    wait_until(lambda: not search(c, "camera"))
    copy = log_of(c, a_id)
    assert copy == log_of(a, a_id)
    verify_log(copy)

    # A goes away; D joins knowing only C and still gets all of A's data.
    httpx.post(a.url + "/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
    wait_until(lambda: search(c, "tableur"))
    a.stop()
    d = node_factory("Point numérique de Crozon", commune="Crozon")
    d.papi("peer", "add", c.url)
    wait_until(lambda: search(d, "tableur"))
    verify_log(log_of(d, a_id))

    # While A is down the others keep changing; A restarted catches up through B.
    httpx.post(c.url + "/api/v1/events", headers=c.auth, json={
        "title": "Atelier sécurité", "start": "2030-01-10T14:00:00+01:00",
        "end": "2030-01-10T16:00:00+01:00"})  # fmt: skip
    a.papi("peer", "add", b.url)
    a.start()
    wait_until(lambda: search(a, "securite"))
    c_id = origin_id(c)
    wait_until(lambda: head(a, c_id) == head(c, c_id))


def test_kill_9_during_large_sync_loses_nothing(node_factory: NodeFactory) -> None:
    source = node_factory("Source")
    logs = network_logs(origins=12, per_origin=150)
    with httpx.Client(base_url=source.url, timeout=60) as client:
        for log in logs:
            for start in range(0, len(log), 500):
                r = client.post("/federation/v1/push", json={"entries": log[start : start + 500]})
                assert r.status_code == 200 and not r.json()["rejected"]
    total = sum(len(log) for log in logs)
    origins = [log[0]["header"]["origin"] for log in logs]

    # Small pages make the sync long enough to be interrupted in the middle.
    sink = node_factory("Sink", start=False, sync_page_bytes=4096)
    sink.papi("peer", "add", source.url)
    sink.start()

    def held() -> int:
        return sum(head(sink, origin) for origin in origins)

    wait_until(lambda: held() > 100, interval=0.05)
    sink.kill()
    db = sqlite3.connect(sink.data_dir / "papi.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        partial = db.execute("SELECT count(*) FROM entries").fetchone()[0]
    finally:
        db.close()
    assert partial < total, "the sync was not interrupted"

    sink.start()
    wait_until(lambda: held() == total, timeout=120)
    for log in logs:
        assert log_of(sink, log[0]["header"]["origin"]) == log
    verify_log(log_of(sink, origins[0]))


def test_demo_starts_relays_and_stops_cleanly(tmp_path: Any) -> None:
    port = free_port_block(5)
    # Its own process group, as a terminal gives it: Ctrl-C is sent to the whole group.
    process = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "demo", "--data-dir", str(tmp_path),
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, text=True,
        start_new_session=True, env={**os.environ, "LANGUAGE": "fr"},
    )  # fmt: skip
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        assert sum("/admin :" in line for line in lines) == 5, lines
        last = f"http://127.0.0.1:{port + 4}"
        # Each node prints an administrator login that opens its /admin.
        login = re.search(r"/admin : (\S+), mot de passe (\S+)", lines[1])
        assert login, lines
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as browser:
            form = browser.get("/admin/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token
            answer = browser.post(
                "/admin/login",
                data={"email": login[1], "password": login[2], "csrf_token": token[1]},
            )
            assert answer.status_code == 303 and answer.headers["location"] == "/admin"
            assert "Administration" in browser.get("/admin").text

        def relayed() -> bool:
            r = httpx.get(last + "/api/v1/search", params={"q": "epson"}, timeout=5)
            return bool(r.json()["results"])

        wait_until(relayed, timeout=60)
        # The fiches too, and their PDF: fetched by the next node from the author.
        first, second = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
        fiche = httpx.get(first + "/api/v1/resources", timeout=5).json()["items"][0]
        sha = fiche["attachments"][0]["sha256"]

        def fetched() -> bool:
            r = httpx.get(second + f"/api/v1/blobs/{sha}", timeout=5)
            return r.status_code == 200 and r.json()["held"]

        wait_until(fetched, timeout=60)
        r = httpx.get(last + "/api/v1/search", params={"q": "hameconnage"}, timeout=5)
        assert any(result["kind"] == "resource" for result in r.json()["results"])
        # A closed network: the first node founded it and vouched for the four others.
        founder = httpx.get(first + "/api/v1/node", timeout=5).json()["id"]

        def members() -> bool:
            view = httpx.get(last + "/api/v1/membership", timeout=5).json()
            return view["founders"] == [founder] and len(view["members"]) == 5

        wait_until(members, timeout=60)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "Démonstration arrêtée." in out
    for log in sorted((tmp_path / "demo").glob("node*.log")):
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def test_papi_sync_next_to_a_serving_node(node_factory: NodeFactory) -> None:
    """The CLI and the node write the same SQLite file at once: no "database is locked"."""
    source = node_factory("Source")
    logs = network_logs(origins=6, per_origin=60)
    with httpx.Client(base_url=source.url, timeout=60) as client:
        for log in logs:
            assert client.post("/federation/v1/push", json={"entries": log}).status_code == 200
    sink = node_factory("Sink", sync_page_bytes=8192, sync_interval_seconds=1)
    sink.papi("peer", "add", source.url)
    for _ in range(3):  # the node's own rounds run meanwhile
        result = sink.papi("sync", check=False)
        assert result.returncode == 0, result.stderr
        assert "locked" not in result.stderr
    total = sum(len(log) for log in logs)
    wait_until(lambda: sum(head(sink, log[0]["header"]["origin"]) for log in logs) == total)


def test_demo_refuses_a_busy_port_in_one_line(tmp_path: Any) -> None:
    import socket

    from tests.conftest import run_papi

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_papi("demo", "--data-dir", str(tmp_path), "--port", str(port), check=False)
    assert result.returncode == 1
    assert "déjà utilisé" in result.stderr and "Traceback" not in result.stderr
