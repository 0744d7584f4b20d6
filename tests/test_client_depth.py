"""A peer's answer nested deeper than ``MAX_ANSWER_DEPTH`` is refused before anything
walks it recursively; the walk that finds out goes level by level (docs/performance.md
10.2) and says exactly what the recursive definition says."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.client import MAX_ANSWER_DEPTH, PeerClient, _too_deep
from federation.errors import PeerError

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children, max_size=3)
    ),
    max_leaves=40,
)


def depth(value: Any) -> int:
    """Levels of containers (a scalar: 0, ``[]``: 1, ``[[1]]``: 2), recursively."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for level in range(levels):
        value = [value, 2] if level % 2 else {"k": value, "n": None}
    return value


@settings(max_examples=300, deadline=None)
@given(JSON, st.integers(min_value=0, max_value=6))
def test_the_walk_says_what_the_recursive_definition_says(value: Any, limit: int) -> None:
    assert _too_deep(value, limit) == (depth(value) > limit)


@pytest.mark.parametrize("levels", [1, 2, MAX_ANSWER_DEPTH - 1, MAX_ANSWER_DEPTH])
def test_answers_up_to_the_limit_pass(levels: int) -> None:
    assert depth(nested(levels)) == levels
    assert not _too_deep(nested(levels), MAX_ANSWER_DEPTH)


def test_one_level_more_is_too_deep_wherever_it_is() -> None:
    assert _too_deep(nested(MAX_ANSWER_DEPTH + 1), MAX_ANSWER_DEPTH)
    # Deep in the last of many shallow siblings, as in the last entry of a sync page.
    page = {"entries": [{"payload": {"a": 1}}] * 1000 + [nested(MAX_ANSWER_DEPTH)]}
    assert _too_deep(page, MAX_ANSWER_DEPTH)
    assert not _too_deep({"entries": [{"payload": {"a": 1}}] * 1000}, MAX_ANSWER_DEPTH)


async def test_a_peer_answer_nested_too_deeply_is_a_peer_error() -> None:
    body = json.dumps({"id": "x", "extra": nested(MAX_ANSWER_DEPTH)}).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with PeerClient(transport=transport) as client:
        with pytest.raises(PeerError, match="nested deeper"):
            await client.node_info("http://peer.example")
