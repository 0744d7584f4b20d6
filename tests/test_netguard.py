"""The SSRF guard: which addresses are public unicast, and a connection that goes to the
address that was checked (no second resolution for DNS rebinding to exploit)."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from federation.client import PeerClient
from federation.errors import AddressRefused
from federation.netguard import address_problem, normalise_url
from federation.pinned import PinnedBackend, PinnedTransport
from node.models import Peer
from node.services.peers import add_peer
from node.services.sync import sync_with
from tests.conftest import run_papi
from tests.network import network
from tests.peer_fakes import misbehaving

REFUSED = [
    "0.0.0.0",
    "0.1.2.3",
    "10.1.2.3",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "127.8.9.10",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.0.170",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "233.252.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::127.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:100.64.1.1",
    "2002:7f00:1::",
    "2002:a00:1::1",
    "2002:c000:8::",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::e000:1",
    "64:ff9b:1::a00:1",
    "100::1",
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo to 192.0.2.45
    "2001:0:4136:e378::80ff:fffe",  # Teredo to 127.0.0.1
    "2001:2::1",
    "2001:db8::1",
    "3fff::1",
    "5f00::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%1",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "4000::1",
]
PUBLIC = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.1",
    "172.32.0.1",
    "192.0.1.1",
    "198.20.0.1",
    "223.255.255.254",
    "2606:4700:4700::1111",
    "2a00:1450:4007:80e::200e",
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "::ffff:8.8.8.8",
]


@pytest.mark.parametrize("address", REFUSED)
def test_addresses_that_are_not_public_unicast(address: str) -> None:
    assert address_problem(address) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_unicast_addresses(address: str) -> None:
    assert address_problem(address) is None


class FakeStream(httpcore.AsyncNetworkStream):
    """Records what httpx writes and answers ``{}``; records the TLS server name."""

    def __init__(self, log: dict[str, Any]) -> None:
        self.log = log
        self.answered = False

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.log["written"] = self.log.get("written", b"") + buffer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self.answered:
            return b""
        self.answered = True
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"

    async def aclose(self) -> None:
        pass

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.log["tls_server_name"] = server_hostname
        self.log["tls_verifies"] = ssl_context.verify_mode == ssl.CERT_REQUIRED
        return self

    def get_extra_info(self, info: str) -> Any:
        return None


class RecordingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.connected: list[tuple[str, int]] = []
        self.log: dict[str, Any] = {}

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected.append((host, port))
        return FakeStream(self.log)


class RebindingResolver:
    """First answer public, every later one private: what a rebinding attacker serves."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return ["93.184.216.34"] if self.calls == 1 else ["127.0.0.1"]


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_the_connection_goes_to_the_checked_address(scheme: str) -> None:
    resolver, inner = RebindingResolver(), RecordingBackend()
    transport = PinnedTransport(PinnedBackend(resolver, inner))
    async with httpx.AsyncClient(transport=transport) as client:
        r = await client.get(f"{scheme}://rebind.example:8443/api/v1/node")
    assert r.json() == {}
    assert resolver.calls == 1
    assert inner.connected == [("93.184.216.34", 8443)]
    # The name, not the address, in the Host header and for TLS (SNI, certificate).
    assert b"Host: rebind.example:8443\r\n" in inner.log["written"]
    if scheme == "https":
        assert inner.log["tls_server_name"] == "rebind.example"
        assert inner.log["tls_verifies"]


async def test_a_name_with_one_private_address_is_refused_without_connecting() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    inner = RecordingBackend()
    transport = PinnedTransport(PinnedBackend(mixed, inner))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(AddressRefused, match=r"10\.0\.0\.7"):
            await client.get("http://mixed.example/api/v1/node")
    assert inner.connected == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_a_public_only_client_never_reaches_a_local_server(host: str) -> None:
    async with misbehaving("silent") as server:
        url = f"http://{host}:{server.port}"
        async with PeerClient(public_only=True, deadline=10.0) as client:
            with pytest.raises(AddressRefused):
                await client.node_info(url)
        assert server.connections == 0


async def test_a_discovered_peer_on_a_rebinding_name_is_refused(tmp_path: Path) -> None:
    """Through the node: a discovered peer whose name resolves to a private address is
    refused by policy, and recorded so."""
    async with network(tmp_path, ["a"], {"a": {"allow_private_peers": False}}) as (_, nodes):
        a = nodes["a"]
        with a.node.db.activated():
            peer = await add_peer("http://[64:ff9b::7f00:1]:8000", source="discovered")
            result = await sync_with(a.node, peer)
            peer = await Peer.get(id=peer.id)
        assert result.error_kind == "refused" and peer.state == "refused"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:70000", "http://papi.exemple.fr:0", "https://[::1]:65536"]
)
def test_a_url_whose_port_no_connection_can_use_is_not_a_url(url: str) -> None:
    """It used to pass, then fail at the connection: ``papi peer add`` stored the peer and
    ended in a traceback, and a place advertising it became a peer no round could reach."""
    with pytest.raises(ValueError, match="port"):
        normalise_url(url)
    assert normalise_url("http://127.0.0.1:65535/") == "http://127.0.0.1:65535"


def test_papi_peer_add_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    data = str(tmp_path / "papi-data")
    run_papi("init", "--data-dir", data)
    result = run_papi("peer", "add", "--data-dir", data, "http://127.0.0.1:70000", check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("papi : erreur :") and "Traceback" not in result.stderr
    assert "70000" not in run_papi("peer", "list", "--data-dir", data).stdout


@pytest.mark.parametrize(
    "url", ["http://papi exemple.fr", "http://papi.exemple.fr/\x00", "https://papi\u00a0exemple.fr"]
)
def test_a_url_with_a_space_or_a_control_character_is_not_a_url(url: str) -> None:
    """As the schema's endpoints say: ``papi peer add`` took such a typo and retried it."""
    with pytest.raises(ValueError):
        normalise_url(url)
    assert normalise_url(" http://papi.exemple.fr/ \n") == "http://papi.exemple.fr"
