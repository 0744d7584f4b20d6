"""The one receive path (node/services/receive.py): entries stored, peers learnt and
forwarding queued in one transaction, whoever brought the batch."""

from __future__ import annotations

import json

import pytest

from node.models import CurrentObject, Delivery, Peer
from node.services import receive as receive_module
from node.services.peers import add_peer
from node.services.receive import Forward, receive
from tests.conftest import InProcessNode
from tests.forger import Forger

ELSEWHERE = "http://elsewhere.test"


def place_with_endpoint() -> tuple[Forger, dict[str, object]]:
    author = Forger()
    entry = author.write("place", "place", {"nom": "Médiathèque", "endpoints": [ELSEWHERE]})
    return author, entry


async def test_a_received_place_is_stored_its_endpoint_learnt_and_forwarded(
    papi: InProcessNode,
) -> None:
    author, entry = place_with_endpoint()
    with papi.node.db.activated():
        relay = await add_peer("http://relay.test")
        report = await receive(papi.node, [entry], sender=None, source="test", forward=Forward(2))
        learnt = await Peer.get(url=ELSEWHERE)
        deliveries = await Delivery.all()
    assert [e.origin for e in report.accepted] == [author.origin]
    assert learnt.source == "discovered" and learnt.origin == author.origin
    # Forwarded with one hop less, to the relay only: never to the author's own node.
    assert [(d.peer_id, d.ttl) for d in deliveries] == [(relay.id, 1)]
    assert json.loads(deliveries[0].entries) == [[author.origin, 1]]


async def test_nothing_is_forwarded_without_hops_left(papi: InProcessNode) -> None:
    _, entry = place_with_endpoint()
    with papi.node.db.activated():
        await add_peer("http://relay.test")
        report = await receive(papi.node, [entry], sender=None, source="test", forward=Forward(0))
        assert report.accepted and not await Delivery.all()


async def test_the_batch_and_what_follows_are_one_transaction(
    papi: InProcessNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure while queueing the forwarding leaves nothing behind: not the entry, not
    the peer it named (the push handler used to store first, then forward apart)."""

    async def broken_enqueue(*args: object, **kwargs: object) -> int:
        raise RuntimeError("cannot queue")

    monkeypatch.setattr(receive_module, "enqueue_push", broken_enqueue)
    author, entry = place_with_endpoint()
    with papi.node.db.activated():
        await add_peer("http://relay.test")
        with pytest.raises(RuntimeError, match="cannot queue"):
            await receive(papi.node, [entry], sender=None, source="test", forward=Forward(2))
        assert not await CurrentObject.filter(origin=author.origin).exists()
        assert not await Peer.filter(url=ELSEWHERE).exists()
