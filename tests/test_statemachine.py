from __future__ import annotations

from enum import StrEnum

import pytest

from federation.statemachine import Lifecycle, TransitionRefused


class Light(StrEnum):
    off = "off"
    on = "on"
    broken = "broken"


LIGHT = Lifecycle(
    "light",
    Light,
    {Light.off: {"press": Light.on, "smash": Light.broken}, Light.on: {"press": Light.off}},
    initial=Light.off,
)


def test_declared_moves_only() -> None:
    assert LIGHT.next(Light.off, "press") is Light.on
    assert LIGHT.actions(Light.off) == ["press", "smash"]
    assert LIGHT.is_final(Light.broken)
    with pytest.raises(TransitionRefused, match="'smash' is not allowed in state 'on'"):
        LIGHT.next(Light.on, "smash")
    with pytest.raises(TransitionRefused):
        LIGHT.next(Light.broken, "press")


def test_parse_and_types() -> None:
    assert LIGHT.parse("on") is Light.on
    with pytest.raises(ValueError):
        LIGHT.parse("dim")
    with pytest.raises(TypeError):
        Lifecycle("bad", Light, {Light.off: {"x": "on"}}, initial=Light.off)  # type: ignore[dict-item]


def test_a_finished_delivery_never_moves_again() -> None:
    from node.services.deliveries import DELIVERY, DeliveryState

    assert DELIVERY.initial is DeliveryState.pending
    assert DELIVERY.next(DeliveryState.pending, "retry") is DeliveryState.pending
    for final in (DeliveryState.done, DeliveryState.failed):
        assert DELIVERY.is_final(final)
        with pytest.raises(TransitionRefused):
            DELIVERY.next(final, "sent")


def test_every_exchange_with_a_peer_ends_in_a_declared_state() -> None:
    from node.services.peers import PEER, PeerState

    for state in PeerState:
        assert PEER.next(state, "succeeded") is PeerState.ok
        assert PEER.next(state, "failed") is PeerState.failing
        assert PEER.next(state, "refused") is PeerState.refused
    with pytest.raises(ValueError):
        PEER.parse("sleeping")  # a row with an undeclared state is a bug, said loudly
