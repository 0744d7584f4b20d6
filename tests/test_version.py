"""One version string (node/version.py, the installed distribution's): what
``GET /api/v1/node`` says, what peers see in the User-Agent, ``papi --version``, the
calendars' PRODID and the feeds' generator."""

from __future__ import annotations

from importlib.metadata import version

import httpx
import pytest

from federation.client import DEFAULT_USER_AGENT, PeerClient
from federation.errors import PeerBusy
from node.cli import main
from tests.conftest import InProcessNode

VERSION = version("papi-node")


async def test_node_info_says_the_version(papi: InProcessNode) -> None:
    info = (await papi.client.get("/api/v1/node")).json()
    assert info["software"] == f"papi-node {VERSION}"
    assert info["protocol"] == 1


async def test_peers_see_the_version_in_the_user_agent(papi: InProcessNode) -> None:
    seen: list[str] = []

    def peer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(503)

    papi.node.transport = httpx.MockTransport(peer)
    async with papi.node.peer_client() as client:
        with pytest.raises(PeerBusy):  # a 503: the request was made, which is the point
            await client.node_info("http://peer.test")
    assert seen == [f"papi-node/{VERSION} (+federation v1)"]
    # The library alone says what it is, not which application uses it.
    async with PeerClient(transport=httpx.MockTransport(peer)) as bare:
        with pytest.raises(PeerBusy):
            await bare.node_info("http://peer.test")
    assert seen[-1] == DEFAULT_USER_AGENT == "papi-federation (+federation v1)"


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"papi-node {VERSION}"


async def test_calendars_and_feeds_name_the_version(papi: InProcessNode) -> None:
    calendar = (await papi.client.get("/events.ics")).text
    assert f"PRODID:-//papi-node//papi-node {VERSION}//FR" in calendar
    feed = (await papi.client.get("/feed.atom")).text
    assert f'version="{VERSION}">papi-node</generator>' in feed
