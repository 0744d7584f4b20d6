"""Membership, key rotation and recovery between real ``papi serve`` processes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from federation.keys import NodeKey
from tests.conftest import NodeFactory, NodeProcess, free_port_block, wait_until
from tests.independent_verifier import verify_log
from tests.test_federation_e2e import log_of, origin_id, search
from tests.test_key_rotation import old_key_entry

pytestmark = pytest.mark.e2e


def found(node: NodeProcess, words: str) -> set[str]:
    return {item["origin"] for item in search(node, words)}


def membership(node: NodeProcess) -> dict[str, Any]:
    r = httpx.get(node.url + "/api/v1/membership", headers=node.auth, timeout=10)
    result: dict[str, Any] = r.json()
    return result


def push(node: NodeProcess, entries: list[dict[str, Any]]) -> dict[str, Any]:
    r = httpx.post(node.url + "/federation/v1/push", json={"entries": entries}, timeout=10)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def founder(node_factory: NodeFactory, name: str) -> NodeProcess:
    """A node that is the founder of its network."""
    node = node_factory(name, start=False)
    origin = re.search(r"(ed25519:[A-Za-z0-9_-]{43})", node.init_output)
    assert origin is not None
    node.env["PAPI_FOUNDERS"] = origin.group(1)
    node.start()
    return node


def test_unvouched_node_is_refused_everywhere_until_vouched_then_revoked(
    node_factory: NodeFactory,
) -> None:
    a = founder(node_factory, "EPN Brest Bellevue")
    founders = origin_id(a)
    b = node_factory("Médiathèque de Plougastel", founders=founders)
    c = node_factory("Cybercommune de Landerneau", founders=founders)
    b.papi("peer", "add", a.url)
    c.papi("peer", "add", a.url)
    a.papi("vouch", origin_id(b))
    a.papi("vouch", origin_id(c))
    httpx.post(b.url + "/api/v1/skills", json={"title": "Tableur"}, headers=b.auth)
    wait_until(lambda: found(c, "tableur") == {origin_id(b)})

    d = node_factory("Tiers-lieu de Crozon", founders=founders)
    d.papi("peer", "add", b.url)  # d knows only b
    d_id = origin_id(d)
    httpx.post(d.url + "/api/v1/skills", json={"title": "Vannerie"}, headers=d.auth)
    wait_until(lambda: d_id in {x["origin"] for x in membership(b)["candidates"]})
    for node in (a, b, c):
        assert found(node, "vannerie") == set()
        assert log_of(node, d_id) == []  # refused by every member, relayed by none
    assert d_id not in {x["origin"] for x in membership(c)["candidates"]}  # never reached

    a.papi("vouch", d_id)  # the founder vouches: every node takes d's log
    for node in (a, b, c):
        wait_until(lambda node=node: found(node, "vannerie") == {d_id})
    verify_log(log_of(c, d_id))

    a.papi("vouch", "--revoke", d_id, "--reason", "le lieu a fermé")
    for node in (a, b, c):
        wait_until(lambda node=node: found(node, "vannerie") == set())
    assert log_of(c, d_id) == []  # hidden, and no longer relayed
    assert [h["origin"] for h in membership(c)["hidden"]] == [d_id]


def test_a_rotated_key_is_followed_by_b_and_c(node_factory: NodeFactory) -> None:
    a = node_factory("EPN Brest Bellevue")
    b = node_factory("Médiathèque de Plougastel")
    c = node_factory("Cybercommune de Landerneau")
    b.papi("peer", "add", a.url)
    c.papi("peer", "add", b.url)
    a_id = origin_id(a)
    old = NodeKey.load(a.data_dir / "node.key")
    a.stop()
    out = a.papi("key", "rotate").stdout
    a.start()
    new = NodeKey.load(a.data_dir / "node.key")
    assert new.origin != old.origin and new.origin in out
    assert origin_id(a) == a_id  # the same place
    httpx.post(a.url + "/api/v1/skills", json={"title": "Impression 3D"}, headers=a.auth)
    for node in (b, c):
        wait_until(lambda node=node: found(node, "impression") == {a_id})
    log = log_of(c, a_id)
    assert log[-1]["header"]["signer"] == new.origin
    verify_log(log)
    answer = push(c, [old_key_entry(old, log, "Vieille")])
    assert answer["rejected"][0]["code"] == "wrong_key"


def test_recovery_with_the_printed_words_on_a_fresh_machine(
    node_factory: NodeFactory, tmp_path: Any
) -> None:
    a = node_factory("EPN Brest Bellevue", with_recovery_key=True)
    b = node_factory("Médiathèque de Plougastel")
    c = node_factory("Cybercommune de Landerneau")
    b.papi("peer", "add", a.url)
    c.papi("peer", "add", b.url)
    a_id = origin_id(a)
    httpx.post(a.url + "/api/v1/skills", json={"title": "Tableur"}, headers=a.auth)
    wait_until(lambda: found(c, "tableur") == {a_id})
    words = " ".join(re.findall(r"\d+\. (\S+)", a.init_output.split("CLÉ DE SECOURS")[1]))
    assert len(words.split()) == 24
    stolen = NodeKey.load(a.data_dir / "node.key")
    a.stop()  # the Raspberry Pi is gone

    # A fresh machine: only the printed words and the address of a member's node.
    port = free_port_block(1)
    fresh = NodeProcess(tmp_path / "fresh", port, tmp_path / "fresh.log", dict(b.env))
    out = fresh.papi(
        "recover", a_id, "--peer", b.url, "--url", fresh.url, input=words.upper()
    ).stdout
    assert a_id in out
    fresh.token = fresh.papi("token", "create").stdout.strip().splitlines()[-1]
    fresh.start()
    node_factory.nodes.append(fresh)
    assert origin_id(fresh) == a_id
    r = httpx.post(fresh.url + "/api/v1/skills", json={"title": "Courriels"}, headers=fresh.auth)
    assert r.status_code == 201, r.text
    for node in (b, c):
        wait_until(lambda node=node: found(node, "courriels") == {a_id})
    log = log_of(c, a_id)
    verify_log(log)
    # The stolen key's new entries are refused by the network.
    for node in (b, c):
        answer = push(node, [old_key_entry(stolen, log, "Arnaque")])
        assert answer["rejected"][0]["code"] == "wrong_key"
    wrong = fresh.papi("recover", a_id, "--peer", b.url, check=False, input="abandon " * 24)
    assert wrong.returncode == 1


def test_invite_join_and_vouch_from_the_command_line(node_factory: NodeFactory) -> None:
    a = founder(node_factory, "EPN Brest Bellevue")
    n = node_factory("Médiathèque de Ouessant", commune="Ouessant")  # no founders yet
    n_id = origin_id(n)
    code = a.papi("invite").stdout.strip().splitlines()[-1]
    assert code.startswith("PAPI1-")
    # A running node would keep the open network it read at start: refused, nothing done.
    refused = n.papi("join", code, check=False)
    assert refused.returncode == 1 and "/admin/reseau" in refused.stderr
    assert "founders" not in (n.data_dir / "papi.toml").read_text()
    n.stop()
    out = n.papi("join", code).stdout
    assert a.url in out
    assert origin_id(a) in (n.data_dir / "papi.toml").read_text()  # the founders adopted
    request = f"demande   {n_id}  Médiathèque de Ouessant (Ouessant) : papi vouch {n_id}"
    assert request in a.papi("members").stdout.splitlines()
    n.start()
    httpx.post(n.url + "/api/v1/skills", json={"title": "Vannerie"}, headers=n.auth)
    wait_until(lambda: n_id in {x["origin"] for x in membership(a)["candidates"]})
    assert found(a, "vannerie") == set()
    a.papi("vouch", n_id)
    wait_until(lambda: found(a, "vannerie") == {n_id})
    assert n_id in {m["id"] for m in membership(n)["members"]}
    assert "demande" not in a.papi("members").stdout  # the request is answered
