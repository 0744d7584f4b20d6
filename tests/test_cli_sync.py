"""``papi sync``'s exit status (BRIEF §8): 0 when at least one peer synced and every
failure is only "unreachable" or "refused by policy" (printed as warnings); 1 when no peer
could be synced, a peer answered nonsense, or an entry was rejected."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from federation.entry import build_entry
from federation.keys import NodeKey
from federation.timeutil import utc_now
from tests.conftest import NodeFactory, free_port


class Nonsense(BaseHTTPRequestHandler):
    """A web server that is not a papi node: HTML to everything."""

    def _answer(self) -> None:
        body = b"<html>not a node</html>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def nonsense_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Nonsense)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_and_refused_peers_are_warnings(node_factory: NodeFactory) -> None:
    b = node_factory("b")
    c = node_factory("c")
    a = node_factory("a", start=False)
    dead = f"http://127.0.0.1:{free_port()}"
    a.papi("peer", "add", b.url)
    a.papi("peer", "add", dead)
    b.papi("peer", "add", c.url)
    b.papi("sync")  # b holds c's place, whose endpoint a will discover through b

    first = a.papi("sync", check=False)
    assert first.returncode == 0, first.stderr
    assert f"attention : {dead} : unreachable : " in first.stderr

    second = a.papi("sync", check=False)  # c is now a discovered peer, on 127.0.0.1
    assert second.returncode == 0, second.stderr
    assert f"attention : {c.url} : refused : " in second.stderr
    assert f"attention : {dead} : unreachable : " in second.stderr
    assert not [line for line in second.stderr.splitlines() if line.startswith("erreur :")]


def test_no_peer_synced_is_an_error(node_factory: NodeFactory) -> None:
    a = node_factory("a", start=False)
    a.papi("peer", "add", f"http://127.0.0.1:{free_port()}")
    result = a.papi("sync", check=False)
    assert result.returncode == 1
    assert (
        "aucun pair n'a pu être synchronisé" in result.stderr and "Traceback" not in result.stderr
    )


def test_a_peer_answering_nonsense_is_an_error(
    node_factory: NodeFactory, nonsense_url: str
) -> None:
    b = node_factory("b")
    a = node_factory("a", start=False)
    a.papi("peer", "add", b.url)
    a.papi("peer", "add", nonsense_url)
    result = a.papi("sync", check=False)
    assert result.returncode == 1
    assert f"erreur : {nonsense_url} : protocol : " in result.stderr


def push_an_entry_dated_ahead(url: str) -> None:
    """A place and a skill dated 3 days ahead, pushed to the node at ``url`` (which takes
    them); a node with the default day of tolerance refuses the skill."""
    key = NodeKey.generate()
    place = build_entry(
        key, seq=1, prev=None, kind="place", oid="place", op="put",
        payload={"nom": "Lieu pressé", "commune": "Brest"},
    )  # fmt: skip
    ahead = build_entry(
        key, seq=2, prev=place.header_hash, kind="skill", oid="s", op="put",
        payload={"title": "Atelier"}, ts=utc_now() + timedelta(days=3),
    )  # fmt: skip
    entries = [place.to_json(), ahead.to_json()]
    r = httpx.post(url + "/federation/v1/push", json={"entries": entries})
    assert len(r.json()["accepted"]) == 2


def test_a_rejected_entry_is_an_error(node_factory: NodeFactory) -> None:
    # b takes entries dated up to 10 days ahead; a, the default day.
    b = node_factory("b", max_future_seconds=10 * 86400)
    push_an_entry_dated_ahead(b.url)
    a = node_factory("a", start=False)
    a.papi("peer", "add", b.url)
    result = a.papi("sync", check=False)
    assert result.returncode == 1
    assert "1 refusées" in result.stderr


# -- papi peer add URL --sync: add, then the round of `papi sync` with that peer ---------


def test_peer_add_with_sync_adds_and_syncs_in_one_command(node_factory: NodeFactory) -> None:
    b = node_factory("b")
    c = node_factory("c")
    b.papi("peer", "add", c.url)
    b.papi("sync")  # b holds c's place too
    a = node_factory("a", start=False)

    result = a.papi("peer", "add", "--sync", b.url, check=False)
    assert result.returncode == 0, result.stderr
    assert re.search(rf"{b.url} ajouté : b \(ed25519:[A-Za-z0-9_-]{{43}}\)", result.stdout)
    outcome = re.search(rf"{b.url}: (\d+) acceptées, 0 refusées", result.stderr)
    assert outcome and int(outcome.group(1)) >= 2, result.stderr  # b's place and c's
    # One page of progress says so in the singular.
    assert re.search(r"^  1 page : \d+ entrées acceptées", result.stderr, re.M), result.stderr

    again = a.papi("sync")  # the round above stored everything b holds
    assert f"{b.url}: déjà synchronisé" in again.stderr
    listed = a.papi("peer", "list").stdout
    assert b.url in listed and "ok" in listed.split(b.url)[1].splitlines()[0]


def test_peer_add_with_sync_keeps_an_unreachable_peer_and_says_what_to_do(
    node_factory: NodeFactory,
) -> None:
    a = node_factory("a", start=False)
    dead = f"http://127.0.0.1:{free_port()}"
    result = a.papi("peer", "add", dead, "--sync", check=False)
    assert result.returncode == 1  # as `papi sync` with this peer alone
    assert f"{dead} ajouté, mais il ne répond pas pour l'instant" in result.stdout
    assert f"{dead} est ajouté mais pas synchronisé" in result.stderr
    assert "lancer 'papi sync'" in result.stderr and "Traceback" not in result.stderr
    assert dead in a.papi("peer", "list").stdout  # kept


def test_peer_add_with_sync_fails_on_a_rejected_entry(node_factory: NodeFactory) -> None:
    b = node_factory("b", max_future_seconds=10 * 86400)
    push_an_entry_dated_ahead(b.url)
    a = node_factory("a", start=False)
    result = a.papi("peer", "add", "--sync", b.url, check=False)
    assert result.returncode == 1  # as `papi sync`: an entry was rejected
    assert "1 refusées" in result.stderr
    assert f"{b.url} est ajouté mais pas synchronisé" in result.stderr
